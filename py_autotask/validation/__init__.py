"""Client-side validation and conversion of write bodies, picklist labels and UDFs by name.

>>> from py_autotask import AutotaskClient
>>> from py_autotask.validation import FieldValidator, ValidationConfig
>>> client = AutotaskClient(validation_config=ValidationConfig())  # doctest: +SKIP
>>> client.tickets.create({"title": "Printer down", "status": "New", "priority": "2",
...                        "companyID": "0", "dueDateTime": "2024-05-01T10:00:00+02:00"})  # doctest: +SKIP

Values are converted (``"2"`` -> ``2``, ISO strings -> ``2024-05-01T08:00:00.000Z``), labels are
resolved against the tenant's picklists, UDFs are checked against the tenant's definitions, and any
problem raises :class:`~py_autotask.exceptions.AutotaskInputError` listing every problem before
anything is sent. SOAP-era entity and field names (``client.accounts``, ``accountID``) work with a
``DeprecationWarning`` naming the REST replacement.
"""

from __future__ import annotations

from .._types import UdfValue
from ..exceptions import AutotaskInputError
from ._config import FieldValidator, ValidationConfig, ValidationContext, ValidatorFunc
from ._convert import format_wire_datetime
from ._helpers import AsyncPicklists, AsyncValidator, Picklists, Validator, localize, udf_values

__all__ = [
    "AsyncPicklists",
    "AsyncValidator",
    "AutotaskInputError",
    "FieldValidator",
    "Picklists",
    "UdfValue",
    "ValidationConfig",
    "ValidationContext",
    "Validator",
    "ValidatorFunc",
    "format_wire_datetime",
    "localize",
    "udf_values",
]
