"""The done-when test of real-time sync: 1,000 mixed changes made through the API to the
simulator, delivered by its webhook callouts to ``py-autotask sync --listen`` in a child process
that is SIGKILLed once in the middle and down for 60 s of simulator time once, end with the
database equal, row for row, to the simulator's state."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.resilience import PacingConfig
from py_autotask.simulator import Simulator
from py_autotask.webhooks import WebhookRegistry
from tests._cli import cli_env
from tests.sync.helpers import allow_ui_delete, assert_same, db_rows, expected_rows

pytestmark = pytest.mark.xdist_group("realtime-e2e")

SECRET = "e2e-webhook-secret"
TIME_SCALE = 30.0  # simulator seconds per real second: 60 s of downtime take 2 s


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny",
        seed=23,
        counts={"Tickets": 300},
        thread_limit=0,
        hourly_threshold=100_000_000,
        time_scale=TIME_SCALE,
    ) as s:
        allow_ui_delete(s)
        yield s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """``py-autotask sync Tickets --db ... --listen 127.0.0.1:PORT`` as a child process."""

    def __init__(self, db: Path, port: int, env: dict[str, str], log: Path) -> None:
        self.argv = [sys.executable, "-m", "py_autotask.cli", "sync", "Tickets", "--db", str(db)]
        # --every 60: no scheduled run during the test, only the one at each start
        self.argv += ["--listen", f"127.0.0.1:{port}", "--every", "60"]
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not listen: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(10)
            raise AssertionError(self.log.read_text()[-6000:]) from None


def _change(client: AutotaskClient, rng: random.Random, live: list[int], company: int) -> None:
    roll = rng.random()
    if roll < 0.3 or len(live) < 50:
        created = client.tickets.create(
            {"companyID": company, "title": f"t{rng.random():.6f}", "status": 1, "priority": 2}
        )
        live.append(int(getattr(created, "id", created)))
    elif roll < 0.85:
        tid = rng.choice(live)
        client.tickets.update(
            {"id": tid, "title": f"u{rng.random():.6f}", "priority": rng.choice([1, 2, 3])}
        )
    else:
        tid = live.pop(rng.randrange(len(live)))
        client.raw_request("DELETE", f"Tickets/{tid}")


def test_1000_changes_with_sigkill_and_60s_downtime_end_equal_row_for_row(
    sim: Simulator, tmp_path: Path
) -> None:
    started = time.monotonic()
    db = tmp_path / "mirror.db"
    url = f"sqlite:///{db}"
    port = _free_port()
    env = cli_env(sim.environ, tmp_path, AUTOTASK_WEBHOOK_SECRET=SECRET, PYTHONFAULTHANDLER="1")
    receiver = Receiver(db, port, env, tmp_path / "receiver.log")
    receiver.start()
    receiver.wait_listening(port)
    rng = random.Random(15)
    # the tenant's budget read at once (not the 10,000/h assumed until the first reading)
    pacing = PacingConfig(threshold_first_poll_after=0, backend="local")
    with AutotaskClient(**sim.credentials, pacing=pacing) as client:
        hook = WebhookRegistry(client).register(
            "Tickets",
            url=f"http://127.0.0.1:{port}/",
            secret_key=SECRET,
            fields=["title", "priority", "status"],
            exclude_resources=[],  # this test's changes are made by the API user itself
        )
        assert hook.guid
        company = int(client.companies.query(max_records=1).items[0].id)
        live = sorted(db_rows(url, "tickets", "Tickets"))
        for n in range(1_000):
            _change(client, rng, live, company)
            if n == 400:
                receiver.kill()  # SIGKILL in the middle: events it acknowledged stay queued
                receiver.start()
                receiver.wait_listening(port)
            if n == 700:
                assert receiver.terminate() == 0
                down = sim.state.clock.time()
                while sim.state.clock.time() - down < 60:
                    time.sleep(0.05)
                receiver.start()
        receiver.wait_listening(port)
        assert sim.webhooks.wait_idle(timeout=40), "the simulator's callouts did not drain"
        deadline = time.monotonic() + 20
        expected = expected_rows(sim, "Tickets")
        while db_rows(url, "tickets", "Tickets") != expected and time.monotonic() < deadline:
            time.sleep(0.2)
    assert receiver.terminate() == 0
    assert_same(expected, db_rows(url, "tickets", "Tickets"))
    deliveries: list[Any] = sim.webhook_deliveries()
    ok = [d for d in deliveries if d.outcome == "ok"]
    failed = [d for d in deliveries if d.outcome != "ok"]
    assert len(ok) >= 900 and failed, (len(ok), len(failed))  # events did the work; some failed
    log = (tmp_path / "receiver.log").read_text()
    assert "Traceback" not in log and SECRET not in log
    assert time.monotonic() - started < 60


def test_the_webhooks_example_runs_and_prints_the_events(tmp_path: Path) -> None:
    env = cli_env({}, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "examples.webhooks_events", "--changes", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    topics = [line.split()[0] for line in result.stdout.splitlines()]
    assert topics == ["ticket.created", "ticket.updated"] * 2
    assert "4 events received" in result.stderr and "Traceback" not in result.stderr
