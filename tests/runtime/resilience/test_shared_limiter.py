"""The default request limiter is shared by every process of the machine (one private SQLite file
in the user's cache folder), can be pointed elsewhere (``AUTOTASK_LIMITER_URL``) or kept in the
process (``local``), never throttles one tenant for another, and gives back at once the slots of a
process killed while it held them."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from py_autotask import AutotaskClient
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.resilience import PacingConfig
from py_autotask.resilience._backends import SqliteBackend
from py_autotask.simulator import Simulator

from .conftest import creds

ROOT = Path(__file__).resolve().parents[3]


def _backend_url(client: AutotaskClient) -> str:
    report = client.health().pacing
    return str(report["backend"])


def test_default_is_one_private_file_in_the_cache_folder(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOTASK_LIMITER_URL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    old = os.umask(0o022)
    try:
        with AutotaskClient(**creds(sim)) as client:
            assert client.tickets.count() >= 0
            assert _backend_url(client) == "sqlite"
    finally:
        os.umask(old)
    folder = tmp_path / "cache" / "py-autotask"
    path = folder / "limiter.sqlite3"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    slots = folder / "limiter.sqlite3.slots"  # one lock file per in-flight slot (POSIX)
    assert stat.S_IMODE(slots.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in slots.iterdir()} == {0o600}
    # what the client left there: its token bucket, keyed by hashes (no credential in the file)
    data = path.read_bytes() + b"".join(p.read_bytes() for p in folder.glob("limiter.sqlite3-*"))
    for secret in (sim.credentials["secret"], sim.credentials["integration_code"]):
        assert secret.encode() not in data
    assert sim.credentials["username"].encode() not in data


def test_environment_and_local_choose_another_backend(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOTASK_LIMITER_URL", "local")
    with AutotaskClient(**creds(sim)) as client:
        assert _backend_url(client) == "local"
    monkeypatch.setenv("AUTOTASK_LIMITER_URL", "memcached://x")
    with pytest.raises(AutotaskConfigError, match="AUTOTASK_LIMITER_URL must be"):
        AutotaskClient(**creds(sim))
    # an explicit backend wins over the environment
    with AutotaskClient(**creds(sim), pacing=PacingConfig(backend="local")) as client:
        assert _backend_url(client) == "local"


def test_an_unusable_cache_folder_falls_back_to_per_process_limits(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("AUTOTASK_LIMITER_URL", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with caplog.at_level(logging.WARNING, "py_autotask.resilience"):
        with AutotaskClient(**creds(sim)) as client:
            assert client.tickets.count() >= 0
            assert _backend_url(client) == "local"
    assert "AUTOTASK_LIMITER_URL" in caplog.text and "per process" in caplog.text


def test_two_tenants_never_share_slots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two simulators with the same credentials are two tenants (the zone host differs): their
    slot keys differ, so one tenant's work never waits for the other's."""
    with Simulator(profile="tiny", seed=1) as a, Simulator(profile="tiny", seed=1) as b:
        with AutotaskClient(**creds(a)) as ca, AutotaskClient(**creds(b)) as cb:
            ca.tickets.count()
            cb.tickets.count()
            engine_a = ca._resilience.engine
            engine_b = cb._resilience.engine
            assert engine_a.slot_key("tickets") != engine_b.slot_key("tickets")
            assert engine_a.bucket_key != engine_b.bucket_key


_HOLDER = """
import sys, time
from py_autotask.resilience._backends import SqliteBackend
backend = SqliteBackend(sys.argv[1])
for _ in range(3):
    backend.acquire("k", 3, 300.0)
print("held", flush=True)
time.sleep(60)
"""


def test_slots_of_a_killed_process_are_given_back_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "limiter.sqlite3")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, path], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        backend = SqliteBackend(path)
        assert backend.in_flight("k") == 3
        assert backend.try_acquire("k", 3, 300.0) is None  # a live holder keeps its slots
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        token = backend.acquire("k", 3, 300.0)  # its 300 s leases are not waited out
        assert time.monotonic() - started < 1.0
        assert backend.in_flight("k") == 1
        backend.release("k", token)
        backend.close()
    finally:
        holder.kill()
        holder.wait(10)
