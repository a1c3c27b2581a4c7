"""``py-autotask health`` in child processes against a ``simulator serve`` child (real sockets,
real processes): exit codes for cron and probes, JSON checked against the simulator's own
ThresholdInformation, Autotask's words on a wrong secret, a nearly used-up budget, a dead host,
``--log-format json`` lines that parse and hold no secret, and bad options refused before
anything is sent."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._cli import cli_env, run_cli
from tests._serve import served

pytest.importorskip("py_autotask.simulator")

UNHEALTHY = 7
USAGE = 2


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, str]]]:
    with served(
        *("py_autotask.cli", "simulator", "serve", "--port", "0", "--profile", "tiny"),
        *("--count", "Tickets=5"),
    ) as found:
        yield found


@pytest.fixture
def sim(server: tuple[str, dict[str, str]]) -> Iterator[dict[str, Any]]:
    """The served simulator, its journal emptied and its budget back to 0 of 10,000."""
    url, headers = server
    root = url.split("/ATServicesRest")[0]
    httpx.post(f"{root}/_sim/reset", timeout=10).raise_for_status()
    yield {"url": url, "root": root, "headers": headers}
    httpx.post(f"{root}/_sim/threshold", json={"reset": True}, timeout=10)


@pytest.fixture
def env(sim: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    h = sim["headers"]
    environ = {
        "AUTOTASK_USERNAME": h["UserName"],
        "AUTOTASK_SECRET": h["Secret"],
        "AUTOTASK_INTEGRATION_CODE": h["ApiIntegrationCode"],
        "AUTOTASK_API_URL": sim["url"],
    }
    return cli_env(
        environ,
        tmp_path,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


def _journal(sim: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{sim['root']}/_sim/journal", timeout=10).json()
    return entries


def _threshold(sim: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{sim['root']}/_sim/threshold", timeout=10).json()
    return answer


def _checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def _secrets(env: dict[str, str]) -> list[str]:
    return [env["AUTOTASK_SECRET"], env["AUTOTASK_INTEGRATION_CODE"], env["AUTOTASK_USERNAME"]]


def test_healthy_exits_0_and_the_budget_equals_the_simulators(
    sim: dict[str, Any], env: dict[str, str]
) -> None:
    done = run_cli("health", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "ok" and report["api_url"] == sim["url"]
    checks = _checks(done.stdout)
    assert list(checks) == [
        "api",
        "zone",
        "budget",
        "in_flight",
        "breakers",
        "cache",
        "limiter",
    ]
    assert all(c["status"] == "ok" for c in checks.values())
    server = _threshold(sim)
    budget = checks["budget"]["data"]
    assert budget["used"] == server["currentTimeframeRequestCount"] == 1
    assert budget["limit"] == server["externalRequestThreshold"] == 10_000
    assert budget["remaining"] == 10_000 - 1
    # the limiter backend is the machine's SQLite file, here under XDG_CACHE_HOME
    assert checks["limiter"]["data"]["backend"] == "sqlite"
    assert checks["limiter"]["data"]["where"].startswith(env["XDG_CACHE_HOME"])
    assert [e["operation"] for e in _journal(sim)] == ["threshold"]

    table = run_cli("health", env=env)
    assert table.returncode == 0, table.stderr
    assert "health: ok" in table.stdout and "budget" in table.stdout


def test_wrong_secret_is_unhealthy_with_autotasks_words(
    sim: dict[str, Any], env: dict[str, str]
) -> None:
    wrong = "wrong-secret-Zq81x"
    done = run_cli("health", "-o", "json", env={**env, "AUTOTASK_SECRET": wrong})
    assert done.returncode == UNHEALTHY, done.stderr
    api = _checks(done.stdout)["api"]
    assert api["status"] == "unhealthy" and "authentication failed" in api["detail"]
    assert "invalid user name or secret" in api["detail"]
    assert json.loads(done.stdout)["status"] == "unhealthy"
    assert wrong not in done.stdout + done.stderr
    assert [(e["operation"], e["status"]) for e in _journal(sim)] == [("threshold", 401)]


def test_budget_nearly_used_up_is_degraded_and_fails_only_when_asked(
    sim: dict[str, Any], env: dict[str, str]
) -> None:
    httpx.post(f"{sim['root']}/_sim/threshold", json={"count": 9_500}, timeout=10)
    done = run_cli("health", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr  # degraded is not a failure by default
    budget = _checks(done.stdout)["budget"]
    assert budget["status"] == "degraded" and json.loads(done.stdout)["status"] == "degraded"
    assert budget["data"]["used"] == _threshold(sim)["currentTimeframeRequestCount"] == 9_501

    # (--limiter local: this machine's shared limiter already paces the next requests slower)
    strict = run_cli("health", "--fail-on", "degraded", "--limiter", "local", "-o", "json", env=env)
    assert strict.returncode == UNHEALTHY, strict.stderr
    lenient = run_cli(
        *("health", "--budget-degraded-at", "0.99", "--limiter", "local", "-o", "json"), env=env
    )
    assert lenient.returncode == 0 and json.loads(lenient.stdout)["status"] == "ok"


def test_dead_host_is_unhealthy(env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"http://127.0.0.1:{port}/ATServicesRest/V1.0/"
    done = run_cli("health", "-o", "json", env={**env, "AUTOTASK_API_URL": dead}, timeout=60)
    assert done.returncode == UNHEALTHY, done.stderr
    api = _checks(done.stdout)["api"]
    assert api["status"] == "unhealthy" and api["detail"].startswith("unreachable")


def test_json_logs_parse_line_by_line_and_hold_no_secret(
    sim: dict[str, Any], env: dict[str, str]
) -> None:
    done = run_cli(
        *("--log-format", "json", "--log-level", "debug", "health", "-o", "json"), env=env
    )
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # stdout holds the data only
    lines = done.stderr.splitlines()
    assert lines, "debug logging produced no line"
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(
        r["logger"] == "py_autotask" and "ThresholdInformation" in r["message"] for r in records
    )
    for secret in _secrets(env):
        assert secret not in done.stderr and secret not in done.stdout

    # an error is one JSON line too, with its exit code
    failed = run_cli("--log-format", "json", "health", "--budget-degraded-at", "2", env=env)
    assert failed.returncode == USAGE
    (error,) = [json.loads(line) for line in failed.stderr.splitlines()]
    assert error["level"] == "error" and error["exit_code"] == USAGE
    assert "--budget-degraded-at" in error["message"]


def test_json_logs_cover_progress_and_status_lines_of_other_commands(
    sim: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "export"
    done = run_cli(
        *("--log-format", "json", "--log-level", "info", "export", "Tickets"),
        *("--format", "jsonl", "--output", str(out)),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(r["logger"] == "py_autotask.cli" and "5/5 rows" in r["message"] for r in records)
    assert len((out / "tickets.jsonl").read_text().splitlines()) == 5
    for secret in _secrets(env):
        assert secret not in done.stderr


def test_a_secret_in_a_log_message_is_scrubbed(sim: dict[str, Any], env: dict[str, str]) -> None:
    """A wrong secret sent by flag lands in no line, whatever the level."""
    wrong = "flag-secret-Pp93k"
    done = run_cli(
        *("--log-format", "json", "--log-level", "debug", "health", "--secret", wrong),
        env=env,
    )
    assert done.returncode == UNHEALTHY
    for line in done.stderr.splitlines():
        json.loads(line)
    assert wrong not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--log-format", "xml", "health"), "--log-format must be text or json"),
        (("--log-level", "loud", "health"), "--log-level must be one of"),
        (("health", "--budget-degraded-at", "0"), "--budget-degraded-at must be a fraction"),
    ],
)
def test_bad_options_exit_2_in_one_line_and_send_nothing(
    sim: dict[str, Any], env: dict[str, str], args: tuple[str, ...], words: str
) -> None:
    done = run_cli(*args, env=env)
    assert done.returncode == USAGE
    assert done.stderr.count("\n") == 1 and words in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert _journal(sim) == []
