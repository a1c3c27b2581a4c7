"""``--metrics-port`` on the long CLI jobs: a child ``py-autotask export`` serves ``/metrics``
while it runs (scraped over HTTP); a port in use or out of range is a usage error (exit 2) with
nothing sent to Autotask and nothing written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from py_autotask.cli import app
from py_autotask.simulator import Simulator

from .._cli import cli_env

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=11, counts={"Tickets": 300}) as s:
        yield s


@pytest.fixture
def sim(module_sim: Simulator) -> Simulator:
    module_sim.reset()
    return module_sim


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith("AUTOTASK_"):
            monkeypatch.delenv(key)
    return cli_env(sim.environ, tmp_path, AUTOTASK_WEBHOOK_SECRET="s" * 32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def requests_counted(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "autotask_requests_total"
    )


def test_a_cli_export_serves_metrics_while_it_runs(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    # slow pages keep the job running while the test scrapes it
    sim.add_fault(
        {
            "match": {"entity": "Tickets", "operation": "query"},
            "effect": {"type": "latency", "seconds": 0.5},
            "count": 2,
        }
    )
    port = free_port()
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "py_autotask.cli",
            "export",
            "Tickets",
            "--output",
            str(out),
            "--format",
            "csv",
            "-q",
            "--metrics-port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    scraped: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                response = httpx.get(url, timeout=2)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            assert response.status_code == 200
            scraped.append(response.text)
            time.sleep(0.1)
        _stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert f"metrics: {url}" in stderr
    assert scraped, "the endpoint never answered while the export ran"
    seen = [requests_counted(text) for text in scraped]
    assert max(seen) >= 1 and max(seen) <= len(sim.journal())
    assert seen == sorted(seen)  # counters only grow
    for secret in (
        env["AUTOTASK_SECRET"],
        env["AUTOTASK_INTEGRATION_CODE"],
        env["AUTOTASK_USERNAME"],
    ):
        assert all(secret not in text for text in scraped)
    assert (out / "tickets.csv").exists()
    # the job is over: nothing listens any more
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)


@pytest.mark.parametrize(
    "command",
    [
        ["export", "Tickets", "--output", "{tmp}/out", "--format", "csv"],
        ["sync", "Tickets", "--db", "sqlite:///{tmp}/mirror.db"],
        ["sync", "Tickets", "--db", "sqlite:///{tmp}/mirror.db", "--listen", ":0"],
        ["bulk-create", "Companies", "--csv", "{tmp}/rows.csv", "--journal", "{tmp}/j.db"],
        ["bulk", "resume", "{tmp}/j.db"],
    ],
    ids=["export", "sync", "sync-listen", "bulk-create", "bulk-resume"],
)
def test_a_port_in_use_is_a_usage_error_before_anything_is_sent(
    sim: Simulator, env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "rows.csv").write_text("companyName,companyType\nX,1\n", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [part.replace("{tmp}", str(tmp_path)) for part in command]
        result = CliRunner().invoke(app, [*args, "--metrics-port", str(port)], env=env)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sim.journal() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("port", ["70000", "-1", "nine"])
def test_a_bad_port_is_a_usage_error(
    sim: Simulator, env: dict[str, str], tmp_path: Path, port: str
) -> None:
    result = CliRunner().invoke(
        app, ["export", "Tickets", "--output", str(tmp_path / "o"), "--metrics-port", port], env=env
    )
    assert result.exit_code == 2
    assert "--metrics-port" in result.stderr
    assert sim.journal() == []
    assert not (tmp_path / "o").exists()
