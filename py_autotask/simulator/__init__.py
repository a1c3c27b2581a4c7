"""A high-fidelity Autotask PSA REST API simulator (a real HTTP server), driven by ``schemas/``.

Install with ``pip install "py-autotask[simulator]"``. Start it with ``Simulator`` (background
thread), ``python -m py_autotask.simulator serve`` or the ``autotask_simulator`` pytest fixture.
"""

from __future__ import annotations

try:
    import orjson  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'The Autotask simulator needs the "simulator" extra: pip install "py-autotask[simulator]"'
    ) from exc

from ._app import SimulatorApp, create_app
from ._config import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
    ApiUser,
    SimulatorConfig,
)
from ._faults import FaultRule, Faults
from ._journal import ChangeEvent, JournalEntry
from ._limits import Clock
from ._metadata import SchemasNotFoundError
from ._server import Simulator
from ._state import SimulatorState

__all__ = [
    "DEFAULT_INTEGRATION_CODE",
    "DEFAULT_SECRET",
    "DEFAULT_USERNAME",
    "ApiUser",
    "ChangeEvent",
    "Clock",
    "FaultRule",
    "Faults",
    "JournalEntry",
    "SchemasNotFoundError",
    "Simulator",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorState",
    "create_app",
]
