"""CSV keeps null and the empty string apart, written and read the same way everywhere
(py_autotask._csv): ``export -F csv``, ``query -o csv`` and a bulk job's failures CSV write null
as an empty field and ``""`` as ``""``; ``bulk`` reads them back so, and sends ``""`` to a text
field while an empty cell stays "not given". Real files, real CLI processes, the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask._csv import csv_line, read_records
from py_autotask.bulk._input import read_rows
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=13, hourly_threshold=0) as s:
        yield s


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    with AutotaskClient(**{**sim.credentials, "api_url": sim.url}) as c:
        yield c


@pytest.fixture(scope="module")
def pair(client: AutotaskClient) -> tuple[int, int]:
    """Two new tickets: ``description`` is ``""`` on the first and null on the second."""
    t = client.tickets.query(max_records=1).items[0]
    base = {"companyID": t.company_id, "status": t.status, "priority": t.priority}
    empty = client.tickets.create({"title": "empty description", "description": "", **base})
    null = client.tickets.create({"title": "null description", "description": None, **base})
    return empty, null


def _by_id(path: Path) -> dict[int, dict[str, Any]]:
    columns, rows = read_rows(path)
    assert "id" in columns
    return {int(values["id"]): values for _, values in rows}


def test_export_csv_writes_null_and_empty_apart_and_bulk_reads_them_back(
    sim: Simulator, pair: tuple[int, int], tmp_path: Path
) -> None:
    empty, null = pair
    out = tmp_path / "exp"
    proc = run_cli(
        "export",
        "Tickets",
        "--format",
        "csv",
        "--filter",
        f"id >= {empty}",
        "--output",
        str(out),
        "-q",
        env=cli_env(sim.environ, tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = out / "tickets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(read_records(lines[0]))[1]
    at = header.index("description")
    cells = {
        int(str(c[header.index("id")])): c[at] for _, c in read_records("\n".join(lines[1:]) + "\n")
    }
    assert cells == {empty: "", null: None}
    # the raw bytes: "" for the empty string, nothing at all for null
    raw = {line.split(",", 1)[0]: line for line in lines[1:]}
    assert ',"",' in raw[str(empty)] and ',"",' not in raw[str(null)]
    # bulk reads the file as it was written
    rows = _by_id(path)
    assert rows[empty]["description"] == "" and rows[null]["description"] is None


def test_query_output_csv_writes_null_and_empty_apart(
    sim: Simulator, pair: tuple[int, int], tmp_path: Path
) -> None:
    empty, null = pair
    proc = run_cli(
        "query",
        "Tickets",
        "--filter",
        f"id >= {empty}",
        "--fields",
        "id,description,title",
        "-o",
        "csv",
        env=cli_env(sim.environ, tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        '"id","description","title"',
        f'{empty},"","empty description"',
        f'{null},,"null description"',
    ]
    records = [cells for _, cells in read_records(proc.stdout)]
    assert records[1:] == [
        [str(empty), "", "empty description"],
        [str(null), None, "null description"],
    ]


def test_bulk_update_keeps_empty_string_and_the_failures_csv_round_trips(
    sim: Simulator, client: AutotaskClient, tmp_path: Path
) -> None:
    t = client.tickets.query(max_records=1).items[0]
    base = {"companyID": t.company_id, "status": t.status, "priority": t.priority}
    a = client.tickets.create({"title": "a", "description": "was a", **base})
    b = client.tickets.create({"title": "b", "description": "was b", **base})
    c = client.tickets.create({"title": "c", "description": "was c", **base})
    updates = tmp_path / "updates.csv"
    with updates.open("w", encoding="utf-8", newline="") as fh:
        fh.write(csv_line(["id", "title", "description", "priority"]))
        fh.write(csv_line([a, "a2", "", None]))  # description -> "" (quoted)
        fh.write(csv_line([b, "b2", None, None]))  # description not given (empty field)
        fh.write(csv_line([c, "c2", "", 999]))  # invalid priority: goes to the failures CSV
    failures = tmp_path / "failures.csv"
    env = cli_env(sim.environ, tmp_path)
    proc = run_cli(
        "bulk-update",
        "Tickets",
        "--csv",
        str(updates),
        "--on-invalid",
        "skip",
        "--failures",
        str(failures),
        "-q",
        env=env,
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr
    got = {i: client.tickets.get(i) for i in (a, b)}
    assert got[a].description == "" and got[a].title == "a2"  # type: ignore[union-attr]
    assert got[b].description == "was b" and got[b].title == "b2"  # type: ignore[union-attr]

    # the failures CSV keeps "" and the empty priority... and the row fixed, fed back, applies ""
    rows = read_rows(failures)[1]
    assert len(rows) == 1
    values = rows[0][1]
    assert values["description"] == "" and values["title"] == "c2"
    assert values["priority"] == "999"
    fixed = tmp_path / "fixed.csv"
    text = failures.read_text(encoding="utf-8")
    assert ',"",' in text
    fixed.write_text(text.replace('"999"', str(t.priority)).replace(",999", f",{t.priority}"))
    proc = run_cli("bulk-update", "Tickets", "--csv", str(fixed), "-q", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = client.tickets.get(c)
    assert done.description == "" and done.title == "c2"  # type: ignore[union-attr]
