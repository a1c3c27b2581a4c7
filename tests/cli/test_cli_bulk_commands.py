"""The bulk commands are reachable from the main ``py-autotask`` CLI, and ``sync --from sql
--to autotask`` pushes SQL rows into Autotask through the bulk path (against the simulator)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from py_autotask import AutotaskClient, F
from py_autotask.cli import EXIT_USAGE, app
from py_autotask.simulator import Simulator

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=5, hourly_threshold=1_000_000) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sim.reset()
    for key in list(os.environ):
        if key.startswith("AUTOTASK_"):
            monkeypatch.delenv(key)
    return {**sim.environ, "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config")}


def test_bulk_commands_are_registered() -> None:
    runner = CliRunner()
    for command in (
        ["bulk-create", "--help"],
        ["bulk-update", "--help"],
        ["bulk-delete", "--help"],
        ["bulk", "--help"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.stderr)
    assert "undo" in runner.invoke(app, ["bulk", "--help"]).stdout


def test_sync_from_sql_to_autotask_creates_the_rows(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    with AutotaskClient(
        api_url=sim.url, **{k: v for k, v in sim.credentials.items() if k != "api_url"}
    ) as client:
        owner = client.resources.query_all()[0].id
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "create table companies (companyName text, companyType int, ownerResourceID int, phone text)"
        )
        conn.executemany(
            "insert into companies values (?, ?, ?, ?)",
            [(f"Pushed Co {i}", 1, owner, f"555-010{i}") for i in range(3)],
        )
    args = [
        "sync",
        "Companies",
        "--from",
        "sql",
        "--to",
        "autotask",
        "--connection",
        f"sqlite:///{db}",
        "--table",
        "companies",
    ]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    with AutotaskClient(
        api_url=sim.url, **{k: v for k, v in sim.credentials.items() if k != "api_url"}
    ) as client:
        names = sorted(
            c.company_name or ""
            for c in client.companies.query_all(F("companyName").begins_with("Pushed Co"))
        )
    assert names == ["Pushed Co 0", "Pushed Co 1", "Pushed Co 2"]
    assert env["AUTOTASK_SECRET"] not in result.stdout + result.stderr


def test_sync_direction_must_be_real(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["sync", "Companies", "--from", "sql", "--to", "db"], env=env)
    assert result.exit_code == EXIT_USAGE
    assert "not a sync direction" in result.stderr
