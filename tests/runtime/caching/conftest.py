"""A simulator per test module (real HTTP server) and clients with a cache."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.caching import CacheConfig

simulator = pytest.importorskip("py_autotask.simulator")

pytestmark = pytest.mark.xdist_group("caching")


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=7, profile="tiny", hourly_threshold=0, thread_limit=0) as s:
        yield s


@pytest.fixture
def fresh_sim(sim: Any) -> Any:
    sim.reset()
    return sim


@pytest.fixture
def make_client(fresh_sim: Any) -> Iterator[Callable[..., AutotaskClient]]:
    clients: list[AutotaskClient] = []

    def make(config: CacheConfig | None = None, **kwargs: Any) -> AutotaskClient:
        client = AutotaskClient(
            **fresh_sim.credentials,
            cache_config=config if config is not None else CacheConfig(),
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_async_client(fresh_sim: Any) -> Callable[..., AsyncAutotaskClient]:
    def make(config: CacheConfig | None = None, **kwargs: Any) -> AsyncAutotaskClient:
        return AsyncAutotaskClient(
            **fresh_sim.credentials,
            cache_config=config if config is not None else CacheConfig(),
            **kwargs,
        )

    return make


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own, so tests sharing the session's Redis never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


def requests(sim: Any, **filters: Any) -> list[Any]:
    """API requests the simulator received (metadata calls included), in order."""
    return list(sim.journal(**filters))
