"""py-autotask: a typed, code-generated client for the Autotask PSA REST API.

>>> from py_autotask import AutotaskClient, F
>>> with AutotaskClient() as client:  # doctest: +SKIP
...     for ticket in client.tickets.query_all_iter(F("status").eq(1)):
...         print(ticket.id, ticket.title)

Importing the package is cheap: the clients (httpx, pydantic) load on first attribute access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .exceptions import (
    AutotaskAmbiguousWriteError,
    AutotaskAPIError,
    AutotaskAuthError,
    AutotaskBudgetExhaustedError,
    AutotaskCircuitOpenError,
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskInputError,
    AutotaskMethodNotAllowedError,
    AutotaskNotFoundError,
    AutotaskOperationNotSupportedError,
    AutotaskPermissionError,
    AutotaskRateLimitError,
    AutotaskServerError,
    AutotaskUnknownEntityError,
    AutotaskValidationError,
)
from .query import F, Filter, FilterArg, and_, build_query_body, or_

if TYPE_CHECKING:
    from ._client import AsyncAutotaskClient, AutotaskClient
    from ._config import Credentials
    from ._model import AutotaskModel, Page, PageDetails
    from ._reconcile import CorrelationUdf, ReconcileConfig
    from ._zones import ZoneOptions


def _find_generated_in_checkout() -> None:
    """In a source checkout with nothing installed, put ``generated/`` on ``sys.path``.

    Installed (wheel or editable), ``py_autotask_generated`` is importable already and this does
    nothing.
    """
    import importlib.util
    import os
    import sys

    if importlib.util.find_spec("py_autotask_generated") is not None:
        return
    candidate = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "generated"
    )
    if os.path.isdir(os.path.join(candidate, "py_autotask_generated")):
        sys.path.append(candidate)


_find_generated_in_checkout()

__all__ = [
    "AsyncAutotaskClient",
    "AutotaskAPIError",
    "AutotaskAmbiguousWriteError",
    "AutotaskAuthError",
    "AutotaskBudgetExhaustedError",
    "AutotaskCircuitOpenError",
    "AutotaskClient",
    "AutotaskConfigError",
    "AutotaskConnectionError",
    "AutotaskError",
    "AutotaskInputError",
    "AutotaskMethodNotAllowedError",
    "AutotaskModel",
    "AutotaskNotFoundError",
    "AutotaskOperationNotSupportedError",
    "AutotaskPermissionError",
    "AutotaskRateLimitError",
    "AutotaskServerError",
    "AutotaskUnknownEntityError",
    "AutotaskValidationError",
    "CorrelationUdf",
    "Credentials",
    "F",
    "Filter",
    "FilterArg",
    "Page",
    "PageDetails",
    "ReconcileConfig",
    "ZoneOptions",
    "__version__",
    "and_",
    "build_query_body",
    "from_dataframe",
    "or_",
    "to_dataframe",
]

_LAZY = {
    "AutotaskClient": "._client",
    "AsyncAutotaskClient": "._client",
    "Credentials": "._config",
    "AutotaskModel": "._model",
    "Page": "._model",
    "PageDetails": "._model",
    "to_dataframe": "._client",
    "from_dataframe": ".dataframe",
    "ZoneOptions": "._zones",
    "ReconcileConfig": "._reconcile",
    "CorrelationUdf": "._reconcile",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'py_autotask' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
