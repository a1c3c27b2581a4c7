"""``py-autotask graphql`` against the simulator: json output in a child process; table output,
``--file``, ``--schema``, ``--estimate`` and the user errors (exit 2, one line, nothing sent, nothing
written) in process, where the schema is built once for all of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from py_autotask import AutotaskClient
from py_autotask.cli import app
from py_autotask.query import F
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli
from tests.graph._tenant import reopen_half

pytestmark = pytest.mark.xdist_group("graph-api-cli")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        seed=3, profile="tiny", counts={"Tickets": 30}, hourly_threshold=0, thread_limit=0
    ) as s:
        reopen_half(s)
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sim.clear_journal()
    monkeypatch.setenv("PY_AUTOTASK_CONFIG_DIR", str(tmp_path / "config"))
    return cli_env(sim.environ, tmp_path)


def invoke(*args: str, env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def _data_requests(sim: Simulator) -> list[Any]:
    return [e for e in sim.journal() if e.operation != "meta"]


def test_json_output_matches_direct_reads(sim: Simulator, env: dict[str, str]) -> None:
    proc = run_cli("graphql", "{ tickets(priority: [1, 2]) { id company { name } } }", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    with AutotaskClient(**sim.credentials) as client:
        direct = client.tickets.query_all(filter=F("priority").in_([1, 2]))
        names = {c.id: c.company_name for c in client.companies.query_all()}
    assert [t["id"] for t in data["tickets"]] == [t.id for t in direct]
    assert [t["company"]["name"] for t in data["tickets"]] == [names[t.company_id] for t in direct]


def test_file_and_table_output(sim: Simulator, env: dict[str, str], tmp_path: Path) -> None:
    query = tmp_path / "q.graphql"
    query.write_text("{ tickets(first: 3) { id title statusLabel } }")
    proc = invoke("graphql", "--file", str(query), "-o", "table", env=env)
    assert proc.exit_code == 0, proc.stderr
    with AutotaskClient(**sim.credentials) as client:
        first = client.tickets.query_all()[:3]
    for t in first:
        assert str(t.id) in proc.stdout
    assert "statusLabel" in proc.stdout


def test_schema_prints_the_sdl(env: dict[str, str]) -> None:
    proc = run_cli("graphql", "--schema", env=env)
    assert proc.returncode == 0, proc.stderr
    sdl = (
        Path(__file__).resolve().parents[2]
        / "generated"
        / "py_autotask_generated"
        / "schema.graphql"
    )
    assert proc.stdout == sdl.read_text()


def test_estimate_prints_the_cost(sim: Simulator, env: dict[str, str]) -> None:
    proc = invoke("graphql", "--estimate", "{ tickets { id company { name } } }", env=env)
    assert proc.exit_code == 0, proc.stderr
    assert "tickets.company" in proc.stdout and "total" in proc.stdout
    assert {e.operation for e in _data_requests(sim)} == {"count"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["{ tickets { id nope } }"], ["nope", "Ticket"]),
        (['{ tickets(status: "Shelved") { id } }'], ["Shelved", "valid labels"]),
        (['{ tickets(filter: "id >") { id } }'], ["argument filter of tickets"]),
        ([], ["--file"]),
        (["--file", "missing.graphql"], ["missing.graphql"]),
        (["--db", "sqlite:///x.db", "{ tickets { id } }"], ["database"]),
    ],
)
def test_user_errors_exit_2_with_one_clear_line(
    sim: Simulator,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    proc = invoke("graphql", *args, env=env)
    assert proc.exit_code == 2, (proc.exit_code, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert proc.stdout == ""
    assert _data_requests(sim) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in ("config", "journals")) == []
    assert sim.credentials["secret"] not in proc.stderr
