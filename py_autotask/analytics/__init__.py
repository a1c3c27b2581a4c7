"""Ticket analytics, resolution-time predictions and the HTML report (extra ``analytics``).

``TicketAnalyzer(source).analyze_trends(...)``, ``PredictiveModel(source)`` and
:func:`build_report`; a source is a client (sync or async), a pandas DataFrame of tickets or a sync
mirror's URL. See docs/analytics.md.
"""

from __future__ import annotations

import importlib.util

from ..exceptions import AutotaskConfigError

for _module in ("pandas", "sklearn", "matplotlib"):
    if importlib.util.find_spec(_module) is None:
        raise AutotaskConfigError(
            f"py_autotask.analytics needs {_module}: pip install 'py-autotask[analytics]'"
        )

from ._model import ModelReport, Prediction, PredictiveModel  # noqa: E402
from ._report import build_report  # noqa: E402
from ._trends import MetricAvailability, TicketAnalyzer, TrendResult  # noqa: E402

__all__ = [
    "MetricAvailability",
    "ModelReport",
    "Prediction",
    "PredictiveModel",
    "TicketAnalyzer",
    "TrendResult",
    "build_report",
]
