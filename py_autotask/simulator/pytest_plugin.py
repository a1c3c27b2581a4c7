"""pytest plugin (entry point ``pytest11``): a session-wide simulator and a per-test reset.

- ``autotask_simulator`` (session): a running :class:`Simulator` (seed 42, profile ``tiny``).
  Override its options with ``--autotask-sim-profile`` / ``--autotask-sim-seed`` /
  ``--autotask-sim-messy 0.05`` (a fraction of seeded records with real-tenant off-type values) or
  by redefining the ``autotask_simulator_options`` fixture (a dict of Simulator keyword arguments,
  e.g. ``{"messy": 0.05}``).
- ``autotask_sim`` (function): the same simulator, reset to its seeded state (records, journal,
  faults, clock budget) before the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["autotask_sim", "autotask_simulator", "autotask_simulator_options"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autotask-simulator")
    group.addoption("--autotask-sim-profile", default="tiny", help="seed profile for the simulator")
    group.addoption("--autotask-sim-seed", type=int, default=42, help="seed for the simulator")
    group.addoption(
        "--autotask-sim-messy",
        type=float,
        default=0.0,
        help="fraction of seeded records with off-type values as real tenants send them",
    )


@pytest.fixture(scope="session")
def autotask_simulator_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {
        "profile": request.config.getoption("--autotask-sim-profile"),
        "seed": request.config.getoption("--autotask-sim-seed"),
    }
    messy = request.config.getoption("--autotask-sim-messy")
    if messy:
        options["messy"] = messy
    return options


@pytest.fixture(scope="session")
def autotask_simulator(autotask_simulator_options: dict[str, Any]) -> Iterator[Any]:
    from py_autotask.simulator import Simulator

    with Simulator(**autotask_simulator_options) as sim:
        yield sim


@pytest.fixture
def autotask_sim(autotask_simulator: Any) -> Any:
    autotask_simulator.reset()
    return autotask_simulator
