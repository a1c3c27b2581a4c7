"""Rate limits as a user meets them on the command line: real ``py-autotask`` processes (stderr is
a pipe, not a terminal) against the simulator, with its limits on and faults injected.

- any 429 that is neither Autotask's thread limit nor its hourly threshold (a proxy's) is retried,
  honouring ``Retry-After``: an export and a bulk-create through 30% of them finish, exit 0;
- the hourly budget: ``--on-budget fail`` exits 4 in one line, ``--on-budget wait`` announces the
  wait and finishes; a bulk job stopped by it leaves its rows pending, not in a failures CSV;
- a long wait is one line on stderr, also with ``-q`` and without a terminal;
- a bulk summary counts every request the server received.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask.simulator import Simulator

pytestmark = pytest.mark.xdist_group("cli-rate-limits")

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 5000
BUDGET_TEXT = "Request threshold exceeded: the limit of requests for this database was reached."


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=5, counts={"Tickets": TICKETS}) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    sim.reset()
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTASK_")}
    return {
        **base,
        **sim.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
        "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config"),
        "PY_AUTOTASK_BULK_DIR": str(tmp_path / "bulk"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # the limiter's state, if it lives on disk
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "py_autotask.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def plain_429(probability: float = 1.0, count: int | None = None, **match: str) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "match": match,
        "effect": {"type": "status", "status": 429, "retry_after": 1},
        "probability": probability,
    }
    if count is not None:
        rule["count"] = count
    return rule


def budget_429(retry_after: int | None = None) -> dict[str, Any]:
    effect: dict[str, Any] = {"type": "status", "status": 429, "errors": [BUDGET_TEXT]}
    if retry_after is not None:
        effect["retry_after"] = retry_after
    return effect


def tickets(sim: Simulator) -> list[dict[str, Any]]:
    """Every ticket the simulator's store holds (read directly: no request in the journal)."""
    entity = sim.state.schema.entity("Tickets")
    assert entity is not None
    rows = sim.state.store.select_page(entity, "", [], limit=10**6)
    return [json.loads(doc) for _id, doc in rows]


def ticket_csv(sim: Simulator, path: Path, n: int, title: str) -> Path:
    base = tickets(sim)[0]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["companyID", "status", "priority", "title"])
        for i in range(n):
            writer.writerow([base["companyID"], base["status"], base["priority"], f"{title} {i}"])
    return path


def created(sim: Simulator, title: str) -> Counter[str]:
    """Titles of the tickets the simulator holds that start with ``title``, with their counts."""
    return Counter(str(t["title"]) for t in tickets(sim) if str(t["title"]).startswith(title))


# --- plain 429s are retried ---------------------------------------------------------------------


def test_export_through_30_percent_plain_429s_with_retry_after_completes(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    sim.add_fault(plain_429(0.3, entity="Tickets"))
    out = tmp_path / "tickets"
    result = cli(env, "export", "Tickets", "-F", "csv", "-O", str(out), "-q")
    assert result.returncode == 0, result.stderr
    with (out / "tickets.csv").open(encoding="utf-8") as fh:
        ids = [row["id"] for row in csv.DictReader(fh)]
    assert len(ids) == TICKETS and len(set(ids)) == TICKETS
    journal = sim.journal()
    assert sum(e.status == 429 for e in journal) >= 2  # the faults really fired (seeded)
    # the summary's request count is what the server received, the 429s included
    assert f"({len(journal)} requests" in result.stdout


def test_bulk_create_through_30_percent_plain_429s_completes_once_each(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    rows = ticket_csv(sim, tmp_path / "new.csv", 20, "plain429")
    sim.add_fault(plain_429(0.3, method="POST", operation="create"))
    result = cli(env, "bulk-create", "Tickets", "--csv", str(rows), "-o", "json", "-q")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["ok"] == 20
    creates = sim.journal(operation="create")
    assert sum(e.status == 429 for e in creates) >= 2
    ids = [i for e in creates if e.status == 200 for i in e.item_ids]
    assert len(ids) == 20 and len(set(ids)) == 20  # every row created once, no duplicate
    assert set(created(sim, "plain429").values()) == {1} and len(created(sim, "plain429")) == 20
    # every request the server received is in the summary: the rejected attempts too
    assert sum(summary["requests"].values()) == len(sim.journal())
    assert summary["rate_limits"]["throttled"]["rejected"] == sum(
        e.status == 429 for e in sim.journal()
    )
    assert not list((tmp_path / "bulk").glob("*.failures.csv"))


def test_bulk_create_with_one_plain_429_creates_every_row_and_writes_no_failures(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    rows = ticket_csv(sim, tmp_path / "new.csv", 20, "one429")
    sim.add_fault(plain_429(count=1, method="POST", operation="create"))
    result = cli(env, "bulk-create", "Tickets", "--csv", str(rows), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok=20" in result.stdout
    assert len(created(sim, "one429")) == 20
    assert not list((tmp_path / "bulk").glob("*.failures.csv"))


# --- the hourly budget ----------------------------------------------------------------------------


def test_budget_fail_exits_4_in_one_line_and_wait_announces_the_wait_and_finishes(
    sim: Simulator, env: dict[str, str]
) -> None:
    sim.add_fault({"match": {"operation": "count"}, "effect": budget_429(6), "count": 1})
    failed = cli(env, "count", "Tickets", "--on-budget", "fail")
    assert failed.returncode == 4, failed.stderr
    assert "Request threshold exceeded" in failed.stderr and "Traceback" not in failed.stderr
    assert "--on-budget wait" in failed.stderr  # the CLI's words, not the library's
    assert len(sim.journal()) == 1

    sim.reset()
    sim.add_fault({"match": {"operation": "count"}, "effect": budget_429(6), "count": 1})
    started = time.monotonic()
    waited = cli(env, "count", "Tickets", "--on-budget", "wait")
    assert waited.returncode == 0, waited.stderr
    assert time.monotonic() - started >= 5
    lines = [line for line in waited.stderr.splitlines() if line.startswith("waiting ")]
    assert len(lines) == 1, waited.stderr  # one line, stderr not a terminal
    assert "hourly request budget used up" in lines[0] and "resumes about" in lines[0]
    assert str(TICKETS) in waited.stdout


def test_bulk_stopped_by_the_budget_exits_4_rows_pending_not_failed_and_resume_finishes(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    rows = ticket_csv(sim, tmp_path / "new.csv", 20, "budget")
    journal = tmp_path / "job.sqlite"
    sim.add_fault({"match": {"operation": "create"}, "sequence": ["ok"] * 5 + [budget_429()] * 40})
    first = cli(env, "bulk-create", "Tickets", "--csv", str(rows), "--journal", str(journal), "-q")
    assert first.returncode == 4, first.stdout + first.stderr
    assert "bulk resume" in first.stderr and "failed rows written" not in first.stderr
    assert not list(tmp_path.rglob("*.failures.csv"))
    status = json.loads(cli(env, "bulk", "status", str(journal)).stdout)
    assert status["rows"].get("pending", 0) + status["rows"].get("queued", 0) >= 10
    assert "failed" not in status["rows"]
    sim.faults.clear()
    resumed = cli(env, "bulk", "resume", str(journal), "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    titles = created(sim, "budget")
    assert len(titles) == 20 and set(titles.values()) == {1}


def test_bad_on_budget_and_limiter_values_are_one_line_usage_errors(
    sim: Simulator, env: dict[str, str]
) -> None:
    for option, value in (
        ("--on-budget", "later"),
        ("--limiter", "memcached://x"),
        ("--limiter", "sqlite://relative.db"),
    ):
        result = cli(env, "count", "Tickets", option, value)
        assert result.returncode == 2, (option, value, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and option in lines[0] and value in lines[0], result.stderr
    assert sim.journal() == []


def test_a_shared_limiter_url_is_used(sim: Simulator, env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "limits.db"
    result = cli(env, "count", "Tickets", "--limiter", f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert db.exists()  # the slots and the bucket lived there


# --- waiting is visible ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_budget() -> Iterator[Simulator]:
    """A tenant whose hourly threshold is 30: after its first ThresholdInformation reading the
    client paces itself to a few requests an hour (the issue's silent export)."""
    with Simulator(profile="tiny", seed=6, counts={"Tickets": 6000}, hourly_threshold=30) as s:
        yield s


def test_a_paced_export_says_it_is_waiting_with_q_and_no_terminal(
    small_budget: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    small_budget.reset()
    env = {**env, **small_budget.environ}
    argv = ["export", "Tickets", "-F", "csv", "-O", str(tmp_path / "out"), "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "py_autotask.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the first line: it must come, and soon
    finally:
        proc.terminate()
        proc.wait(15)
    assert line.startswith("waiting "), line
    assert "pacing requests to this client's share of the hourly request budget" in line
    assert "resumes about" in line and "UTC" in line
    minutes = line.split()[1]
    assert "m" in minutes  # minutes of waiting, announced instead of silence
