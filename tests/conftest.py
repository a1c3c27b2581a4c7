"""Session-wide fixtures: real Redis and PostgreSQL servers for the features that use them."""

from __future__ import annotations

import logging
import shutil
import tempfile
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_autotask.exceptions import AutotaskError
from py_autotask.simulator._config import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
)
from tests.servers import PostgresServer, RedisServer, ServerUnavailable


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` group again: pytest-xdist marks a test of an ``xdist_group`` by
    appending ``@<group>`` to its node id through ``item._nodeid``, which pytest 9.2 no longer
    reads (node ids live in ``item._id``), so every group was ignored and each worker built the
    groups' module- and session-scoped simulators for itself (pytest-dev/pytest-xdist#1386).
    Runs after xdist's own hook and does nothing where that one worked."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if not names:
            continue
        suffix = "@" + "_".join(sorted(names))
        if not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a module's last test (its module fixtures are gone by now), collect cycles and hand
    the freed heap back: a worker runs a hundred modules, and glibc kept each one's peak (the
    50,000-ticket export module's worker sat at ~600 MB for the rest of the run)."""
    if nextitem is not None and getattr(nextitem, "module", None) is getattr(item, "module", None):
        return
    import gc

    from py_autotask._memory import trim_heap

    gc.collect()
    trim_heap()


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


@pytest.fixture(autouse=True)
def _private_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own user cache and state folders: the default request limiter (one
    file per machine in the cache folder, shared by every process) and the default webhook queue
    (in the state folder; it remembers every delivery it saw, to drop replays) are the test's own.
    Child processes a test starts inherit the variables, even when a test strips the
    ``AUTOTASK_*`` credentials from their environment."""
    monkeypatch.delenv("AUTOTASK_LIMITER_URL", raising=False)
    base = tmp_path_factory.getbasetemp() / f"user-{uuid.uuid4().hex}"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))


# --- secrets never leak -------------------------------------------------------------------------

_KNOWN_SECRETS = (DEFAULT_SECRET, DEFAULT_INTEGRATION_CODE, DEFAULT_USERNAME)


class _SecretScan(logging.Handler):
    """Records every py_autotask log record (any level) that contains a credential."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string is not our concern here
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(*record.exc_info))
        if any(secret in text for secret in _KNOWN_SECRETS):
            self.leaks.append(f"log {record.name}:{record.levelname}: {text[:300]}")


@pytest.fixture(autouse=True)
def _no_secret_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs with py_autotask logging at DEBUG and records every AutotaskError built;
    afterwards neither a log line nor an exception's str/repr may hold the simulator's Secret,
    ApiIntegrationCode or UserName (the credentials the whole suite uses)."""
    handler = _SecretScan()
    logger = logging.getLogger("py_autotask")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    raised: list[BaseException] = []
    original_init = AutotaskError.__init__

    def recording_init(self: AutotaskError, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        raised.append(self)

    monkeypatch.setattr(AutotaskError, "__init__", recording_init)
    yield
    logger.removeHandler(handler)
    logger.setLevel(previous)
    leaks = list(handler.leaks)
    for exc in raised:
        text = f"{exc!s} {exc!r} {exc.args!r}"
        if any(secret in text for secret in _KNOWN_SECRETS):
            leaks.append(f"{type(exc).__name__}: {text[:300]}")
    assert not leaks, "credentials leaked into logs or exceptions:\n" + "\n".join(leaks)
