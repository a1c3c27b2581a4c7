"""One syncer per database: a second syncer (another process, another daemon, the same process) is
refused while the first holds the database's sync lock, the lock dies with its holder (kill -9
included), ``lock_timeout`` waits for the holder, and PostgreSQL locks are per database and schema.

Every holder here is a real ``py-autotask sync`` process against the simulator, writing a real
SQLite file, DuckDB file or PostgreSQL database."""

from __future__ import annotations

import datetime as _dt
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from py_autotask.simulator import Simulator
from py_autotask.sync import (
    LOCK_SUFFIX,
    LOCK_TABLE,
    RUNS_TABLE,
    SyncLockedError,
    open_database,
    sync_lock_status,
)
from py_autotask.sync._lock import FileLock, acquire_sync_lock
from tests.sync.helpers import client_for

pytestmark = [pytest.mark.xdist_group("sync_lock"), pytest.mark.timeout(180)]

EXIT_LOCKED = 6
PG_PASSWORD = "Pg-Pa55word-never-shown"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=11, counts={"Tickets": 2_000}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


@pytest.fixture
def fresh(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


@pytest.fixture
def postgres_ready(postgres_server: Any) -> None:
    """tests/servers.py waits for the port only; a worker whose first test needs PostgreSQL can
    meet "the database system is starting up". Wait for a real connection first."""
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(postgres_server.url, connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _secrets(sim: Simulator) -> list[str]:
    c = sim.credentials
    return [c["secret"], c["integration_code"], c["username"], PG_PASSWORD]


def _env(sim: Simulator) -> dict[str, str]:
    return {**os.environ, **sim.environ}


CLI = str(Path(sys.executable).parent / "py-autotask")


def _sync(sim: Simulator, url: str, entities: list[str], **kwargs: Any) -> Any:
    with client_for(sim) as client:
        return client.create_syncer().sync_to_database(
            url, entities, handle_signals=False, **kwargs
        )


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.db'}"
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'mirror.duckdb'}"
    request.getfixturevalue("postgres_ready")
    url = str(request.getfixturevalue("postgres_url"))
    # trust authentication ignores it, but it must never show up in a message or a lock record
    return url.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)


class Daemon:
    """``py-autotask sync ... --every 60 -o json`` in its own process; ``first_run()`` waits for
    the summary of its first run, after which it sleeps (holding the lock) until SIGTERM."""

    def __init__(self, sim: Simulator, url: str, entities: list[str], *extra: str) -> None:
        self.proc = subprocess.Popen(
            [CLI, "sync", *entities, "--db", url, "-q", "-o", "json", *extra],
            env=_env(sim),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def first_run(self, timeout: float = 60) -> dict[str, Any]:
        text = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line == "":
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the daemon exited ({self.proc.wait()}): {err}")
            text += line
            if line.rstrip("\n") == "}":
                summary: dict[str, Any] = json.loads(text)
                return summary
        raise AssertionError("the daemon did not finish its first run")

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)


def _lock_record(url: str) -> str:
    """What the holder wrote about itself: the lock file, or its row in autotask_sync_lock."""
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as conn:
            rows = conn.execute(f'SELECT holder FROM "{LOCK_TABLE}"').fetchall()
        return "".join(r[0] for r in rows)
    path = url.split(":///", 1)[1]
    return Path(path + LOCK_SUFFIX).read_text()


def _wait_for_holder(url: str, pid: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = _lock_record(url)
        except (OSError, psycopg.Error):
            text = ""
        if text.strip():
            data: dict[str, Any] = json.loads(text)
            if data.get("pid") == pid:
                return data
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not take the lock on {url}")


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_a_second_syncer_is_refused_while_a_daemon_holds_the_database(
    backend: str,
    fresh: Simulator,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    daemons: list[Daemon],
) -> None:
    url = _url(backend, tmp_path, request)
    daemon = Daemon(fresh, url, ["Companies"], "--every", "60")
    daemons.append(daemon)
    first = daemon.first_run()
    assert first["ok"] and first["entities"][0]["mode"] == "full"
    # the daemon is now asleep until its next run: it still holds the lock
    record = _wait_for_holder(url, daemon.pid)
    assert record["host"] == socket.gethostname() and record["mode"] == "daemon, every 60 min"
    assert not any(s in json.dumps(record) for s in _secrets(fresh))

    # `sync --status` names the holder without disturbing it
    held, holder = sync_lock_status(url)
    assert held and holder is not None and holder.pid == daemon.pid
    status = subprocess.run(
        [CLI, "sync", "--status", "--db", url, "-o", "json"],
        env=_env(fresh),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert f"sync lock: held by pid {daemon.pid} on host {socket.gethostname()}" in status.stderr
    assert "daemon, every 60 min" in status.stderr and PG_PASSWORD not in status.stderr
    assert [r["entity"] for r in json.loads(status.stdout)] == ["Companies"]
    if backend == "duckdb":
        # the sleeping daemon has the file closed: another process can read the mirror
        path = url.split(":///", 1)[1]
        with duckdb.connect(path, read_only=True) as con:
            row = con.execute("SELECT count(*) FROM companies").fetchone()
        assert row is not None and row[0] == first["entities"][0]["rows"]

    sent_before = len(fresh.journal())
    with pytest.raises(SyncLockedError) as info:
        _sync(fresh, url, ["Companies", "Tickets"])
    err = info.value
    assert err.holder is not None and err.holder.pid == daemon.pid
    assert err.holder.host == socket.gethostname() and err.holder.mode == "daemon, every 60 min"
    text = str(err)
    assert f"pid {daemon.pid} on host {socket.gethostname()}" in text
    assert "since " in text and "Companies" in text and "--lock-timeout" in text
    assert "\n" not in text and not any(s in text for s in _secrets(fresh))
    if backend == "postgresql":
        assert PG_PASSWORD not in err.database and "backend pid" in text
    # the refused syncer sent nothing to Autotask (no doubled requests)
    assert len(fresh.journal()) == sent_before

    # a second daemon from the CLI: one line on stderr, exit code 6, nothing sent
    second = subprocess.run(
        [CLI, "sync", "Companies", "--db", url, "-q", "--every", "5"],
        env=_env(fresh),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == EXIT_LOCKED, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: another syncer is already syncing")
    assert f"pid {daemon.pid}" in lines[0] and socket.gethostname() in lines[0]
    assert not any(s in second.stderr + second.stdout for s in _secrets(fresh))
    assert len(fresh.journal()) == sent_before
    assert daemon.proc.poll() is None  # the holder was not disturbed

    # a clean stop releases it: the next run proceeds at once, incrementally
    assert daemon.terminate() == 0
    assert sync_lock_status(url) == (False, None)
    result = _sync(fresh, url, ["Companies"])
    assert result.ok and result.entities[0].mode == "incremental"


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_kill_9_of_the_holder_frees_the_lock_at_once(
    backend: str,
    fresh: Simulator,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    daemons: list[Daemon],
) -> None:
    url = _url(backend, tmp_path, request)
    daemon = Daemon(fresh, url, ["Companies"], "--every", "60")
    daemons.append(daemon)
    daemon.first_run()
    _wait_for_holder(url, daemon.pid)
    with pytest.raises(SyncLockedError):
        _sync(fresh, url, ["Companies"])
    daemon.kill()
    if backend != "postgresql":
        # the killed holder's details are still in the file, yet the status says free
        assert str(daemon.pid) in _lock_record(url)
        assert sync_lock_status(url) == (False, None)
    # nothing to clean up: the OS (files) or the server (PostgreSQL session) dropped the lock.
    # The server sees the closed socket a moment after the kill, hence the short wait there.
    start = time.monotonic()
    result = _sync(fresh, url, ["Companies"], lock_timeout=5 if backend == "postgresql" else 0)
    assert time.monotonic() - start < 4.5
    assert result.ok and result.entities[0].mode == "incremental"
    if backend != "postgresql":
        # the lock file outlived the killed holder but was not stale: it is free again now
        assert Path(url.split(":///", 1)[1] + LOCK_SUFFIX).exists()
        assert _sync(fresh, url, ["Companies"]).ok


def test_lock_timeout_waits_for_the_holder_then_runs(
    fresh: Simulator, tmp_path: Path, daemons: list[Daemon]
) -> None:
    db = tmp_path / "wait.db"
    url = f"sqlite:///{db}"
    fresh.add_fault(
        {
            "id": "slow-tickets",
            "match": {"path": "/Tickets/query"},
            "effect": {"type": "latency", "dist": "fixed", "seconds": 0.6},
        }
    )
    # a one-shot run of Tickets: 5 pages at 0.6 s
    holder = Daemon(fresh, url, ["Tickets"])
    daemons.append(holder)
    _wait_for_holder(url, holder.pid)

    # the lock is per database, not per entity: a Companies sync waits for the Tickets run too
    with pytest.raises(SyncLockedError) as info:
        _sync(fresh, url, ["Companies"], lock_timeout=0.4)
    assert 0.4 <= info.value.waited < 3 and "Waited" in str(info.value)
    assert info.value.holder is not None and info.value.holder.mode == "one run"
    assert holder.proc.poll() is None

    start = time.monotonic()
    result = _sync(fresh, url, ["Companies"], lock_timeout=60)
    waited = time.monotonic() - start
    assert result.ok and holder.proc.wait(5) == 0
    assert waited > 0.5
    # the runs did not interleave: ours started after the holder had finished
    db_ = open_database(url)
    try:
        runs = db_.query(f'SELECT entity, started_at, finished_at FROM "{RUNS_TABLE}"')
    finally:
        db_.close()
    (tickets,) = [r for r in runs if r[0] == "Tickets"]
    (companies,) = [r for r in runs if r[0] == "Companies"]
    assert companies[1] >= tickets[2]


def test_postgres_locks_are_per_database_and_schema(
    fresh: Simulator,
    postgres_ready: None,
    postgres_server: Any,
    daemons: list[Daemon],
) -> None:
    suffix = f"{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    url_a = postgres_server.create_database(f"lock_a_{suffix}")
    url_b = postgres_server.create_database(f"lock_b_{suffix}")
    with psycopg.connect(url_a, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA other")
    daemon = Daemon(fresh, url_a, ["Companies"], "--every", "60")
    daemons.append(daemon)
    daemon.first_run()
    _wait_for_holder(url_a, daemon.pid)

    # another database of the same server: not blocked
    assert _sync(fresh, url_b, ["Companies"]).ok
    # another schema of the same database (its own tables and state): not blocked either
    other = url_a + "?options=-csearch_path%3Dother"
    result = _sync(fresh, other, ["Companies"])
    assert result.ok and result.entities[0].mode == "full"
    with psycopg.connect(url_a) as conn:
        schemas = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'companies'"
        ).fetchall()
    assert sorted(s for (s,) in schemas) == ["other", "public"]
    # the same database and schema: refused
    with pytest.raises(SyncLockedError) as info:
        _sync(fresh, url_a, ["Companies"])
    assert info.value.holder is not None and info.value.holder.pid == daemon.pid
    assert daemon.terminate() == 0


def test_a_lost_postgres_lock_session_is_taken_again_or_stops_the_syncer(
    postgres_ready: None, postgres_url: str
) -> None:
    first = acquire_sync_lock(postgres_url, mode="one run")
    try:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            (backend,) = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = current_database()",
                ("py-autotask sync lock",),
            ).fetchone() or (None,)
            assert backend is not None
            # the server ends the holder's session (as after its machine lost the network)
            conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
            time.sleep(0.2)
        # nobody else took it meanwhile: the holder takes it again and carries on
        first.verify()
        assert first.held
        with pytest.raises(SyncLockedError):
            acquire_sync_lock(postgres_url)
        # now the session dies and another syncer takes the lock before the holder notices
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                ("py-autotask sync lock",),
            )
            time.sleep(0.2)
        second = acquire_sync_lock(postgres_url, mode="daemon, every 5 min")
        try:
            with pytest.raises(SyncLockedError) as info:
                first.verify()
            assert "lost the sync lock" in str(info.value)
            assert info.value.holder is not None and info.value.holder.pid == os.getpid()
            assert info.value.holder.mode == "daemon, every 5 min"
        finally:
            second.release()
    finally:
        first.release()


def test_two_syncers_in_one_process_exclude_each_other(fresh: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'threads.db'}"
    runs: list[Any] = []
    ready = threading.Event()
    with client_for(fresh) as client:
        daemon = client.create_syncer()

        def on_run(result: Any) -> None:
            runs.append(result)
            ready.set()

        thread = threading.Thread(
            target=daemon.sync_to_database,
            args=(url, ["Companies"], _dt.timedelta(hours=1)),
            kwargs={"on_run": on_run, "handle_signals": False},
        )
        thread.start()
        try:
            assert ready.wait(60)
            with pytest.raises(SyncLockedError) as info:
                _sync(fresh, url, ["Companies"])
            assert info.value.holder is not None and info.value.holder.pid == os.getpid()
        finally:
            daemon.stop()
            thread.join(30)
    assert len(runs) == 1
    assert _sync(fresh, url, ["Companies"]).ok


def test_a_deleted_lock_file_is_locked_again_or_stops_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "gone.db"
    lock_file = Path(str(db) + LOCK_SUFFIX)
    first = acquire_sync_lock(f"sqlite:///{db}", mode="one run")
    try:
        assert isinstance(first, FileLock) and lock_file.exists()
        lock_file.unlink()
        first.verify()  # nobody else: it locks the new file and writes its details again
        assert json.loads(lock_file.read_text())["pid"] == os.getpid()
        with pytest.raises(SyncLockedError):
            acquire_sync_lock(f"sqlite:///{db}")

        lock_file.unlink()
        second = acquire_sync_lock(f"sqlite:///{db}", mode="daemon, every 5 min")
        try:
            with pytest.raises(SyncLockedError) as info:
                first.verify()
            assert "lost the sync lock" in str(info.value)
        finally:
            second.release()
    finally:
        first.release()


def test_cli_rejects_a_negative_lock_timeout(fresh: Simulator, tmp_path: Path) -> None:
    out = subprocess.run(
        [CLI, "sync", "Companies", "--db", str(tmp_path / "x.db"), "--lock-timeout", "-1"],
        env=_env(fresh),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--lock-timeout" in out.stderr


def test_status_probes_never_make_a_starting_syncer_give_up(tmp_path: Path) -> None:
    # A killed holder's details stay in the lock file, so `sync --status` probes the OS lock for
    # a few microseconds; a syncer starting at that instant (lock_timeout=0) must still get it.
    db = tmp_path / "mirror.db"
    lock_file = Path(str(db) + LOCK_SUFFIX)
    stale = json.dumps({"pid": 999999, "host": "gone", "tool": "py-autotask sync"})
    stop = threading.Event()
    probes = 0

    def probe() -> None:
        nonlocal probes
        while not stop.is_set():
            assert sync_lock_status(str(db))[0] in (False, True)
            probes += 1
            time.sleep(0)

    thread = threading.Thread(target=probe)
    lock_file.write_text(stale)
    thread.start()
    starts = 0
    deadline = time.monotonic() + 30
    try:
        # interleave until both sides have run plenty (thread scheduling differs from box to box)
        while (starts < 300 or probes < 300) and time.monotonic() < deadline:
            lock_file.write_text(stale)  # as a kill -9 leaves it (release truncates)
            lock = acquire_sync_lock(str(db), timeout=0)
            assert lock.held
            lock.release()
            starts += 1
            time.sleep(0)  # let the prober run
    finally:
        stop.set()
        thread.join()
    assert starts >= 300 and probes >= 300, (starts, probes)
