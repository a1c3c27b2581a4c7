"""The CLI against a tenant that sends values off their declared types (the simulator's
``messy=``): reading commands read every record and say what was off; ``--strict`` refuses the
first off-type value naming entity, id, field, type and value (exit 1); ``simulator serve
--messy`` seeds such a tenant."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from py_autotask import AutotaskClient
from py_autotask.cli import EXIT_ERROR, app
from py_autotask.simulator import Simulator
from tests._serve import served

pytestmark = pytest.mark.xdist_group("cli-messy")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny",
        seed=5,
        counts={"Tickets": 400},
        messy=0.2,
        thread_limit=0,
        hourly_threshold=0,
    ) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith("AUTOTASK_"):
            monkeypatch.delenv(key)
    return {**sim.environ, "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config")}


def _run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env)


def test_export_reads_every_record_and_reports_what_was_off(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "tickets.csv"
    result = _run(["export", "Tickets", "-F", "csv", "--output", str(tmp_path / "t"), "-q"], env)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"warning: Tickets\.\w+: \d+ value\(s\) not \w+ as declared", result.stderr)
    files = list((tmp_path / "t").rglob("Tickets*.csv")) or list((tmp_path / "t").rglob("*.csv"))
    assert files, list((tmp_path / "t").rglob("*"))
    with files[0].open(newline="", encoding="utf-8-sig") as fh:
        ids = [int(row["id"]) for row in csv.DictReader(fh)]
    with AutotaskClient(**sim.credentials) as client:
        assert sorted(ids) == sorted(t.id for t in client.tickets.query_all())
    assert not out.exists()


def test_strict_refuses_the_first_off_type_value_with_where_and_what(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    result = _run(
        ["export", "Tickets", "-F", "csv", "--output", str(tmp_path / "s"), "-q", "--strict"], env
    )
    assert result.exit_code == EXIT_ERROR
    message = " ".join(result.stderr.split())
    assert re.search(r"Tickets id \d+: field '\w+' is declared \w+ but Autotask sent", message)
    assert "strict=True refuses off-type values" in message
    assert sim.credentials["secret"] not in result.stderr


def test_query_with_strict_names_the_record_and_without_it_reads_everything(
    sim: Simulator, env: dict[str, str]
) -> None:
    tolerant = _run(["query", "Tickets", "--max", "500", "-o", "jsonl"], env)
    assert tolerant.exit_code == 0, tolerant.stderr
    assert len(tolerant.stdout.splitlines()) == 400
    strict = _run(["query", "Tickets", "--max", "500", "-o", "jsonl", "--strict"], env)
    assert strict.exit_code == EXIT_ERROR
    assert re.search(r"Tickets.*field.*\w+", " ".join(strict.stderr.split()))


def test_simulator_serve_messy_seeds_off_type_values() -> None:
    with served(
        *("py_autotask.cli", "simulator", "serve", "--port", "0"),
        *("--count", "Tickets=300", "--messy", "0.3"),
    ) as (url, creds):
        with AutotaskClient(
            creds["UserName"], creds["Secret"], creds["ApiIntegrationCode"], url
        ) as client:
            tickets = client.tickets.query_all()
            assert len(tickets) == 300
            assert sum(1 for t in tickets if t.off_type_fields) > 0
            assert client.stats.off_type_total > 0
