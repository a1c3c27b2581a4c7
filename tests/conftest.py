"""Session-wide fixtures: real Redis and PostgreSQL servers for the features that use them."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import PostgresServer, RedisServer, ServerUnavailable


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private, empty Redis server (started for this session, stopped after it)."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except ServerUnavailable as exc:
        pytest.fail(str(exc))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Outside pytest's private (0700) temp tree: the server runs as the postgres user when we
    # are root and must be able to reach its data directory.
    workdir = Path(tempfile.mkdtemp(prefix="py-autotask-pg-"))
    try:
        server = PostgresServer(workdir / "cluster")
    except ServerUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(str(exc))
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh, empty PostgreSQL database for one test."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(autouse=True)
def _private_zone_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own zone cache file, so a zone discovered (or mocked) by one test is
    never served from ``~/.cache/py-autotask/zones.json`` to another."""
    path = tmp_path_factory.getbasetemp() / f"zones-{uuid.uuid4().hex}.json"
    monkeypatch.setenv("PY_AUTOTASK_ZONE_CACHE", str(path))
