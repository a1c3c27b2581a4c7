"""A small simulator shared by the plugin tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from py_autotask.simulator import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=16, counts={"Tickets": 12}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s
