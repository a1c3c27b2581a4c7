"""Shared helpers for the resilient-pipeline tests: simulators with limits on, fast retry configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests._retry import fast_retry

__all__ = ["ALL", "creds", "fast_retry", "paged", "secrets_of"]

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

ALL = {"filter": [{"op": "gte", "field": "id", "value": 0}]}


def paged(max_records: int) -> dict[str, Any]:
    return {**ALL, "MaxRecords": max_records}


def creds(sim: Any) -> dict[str, Any]:
    return {**sim.credentials, "api_url": sim.url}


def secrets_of(sim: Any) -> list[str]:
    c = sim.credentials
    return [c["username"], c["secret"], c["integration_code"]]


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    """A simulator with Autotask's thread limit (3) and hourly threshold switched on."""
    with simulator.Simulator(seed=42, profile="tiny", counts={"Tickets": 120}) as s:
        yield s


@pytest.fixture
def fresh(sim: Any) -> Any:
    sim.reset()
    return sim


@pytest.fixture
def tenant(sim: Any) -> Iterator[Callable[..., Any]]:
    """The module's simulator, reset, with another hourly threshold and clock speed (restored
    afterwards): cheaper than starting a simulator per test."""

    def configure(threshold: int = 10_000, time_scale: float = 1.0) -> Any:
        sim.reset()
        sim.state.budget.threshold = threshold
        sim.clock.set_scale(time_scale)
        return sim

    yield configure
    sim.state.budget.threshold = 10_000
    sim.clock.set_scale(1.0)
    sim.reset()
