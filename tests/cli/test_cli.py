"""The ``py-autotask`` commands through typer's CliRunner against the simulator (real sockets), plus
one run of the installed entry point in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from py_autotask.cli import EXIT_AUTH, EXIT_ERROR, EXIT_PARTIAL, EXIT_RATE, EXIT_USAGE, app
from py_autotask.simulator import Simulator
from tests.sync.helpers import sim_records

pytestmark = pytest.mark.xdist_group("cli")

TICKETS = 700


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=11, counts={"Tickets": TICKETS}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sim.reset()
    for key in list(os.environ):
        if key.startswith("AUTOTASK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PY_AUTOTASK_CONFIG_DIR", str(tmp_path / "config"))
    return {**sim.environ, "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config")}


def run(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> Any:
    result = CliRunner().invoke(app, args, env=env, input=input)
    return result


def no_secret(result: Any, secret: str) -> None:
    assert secret not in result.stdout and secret not in result.stderr


def test_entities_and_offline_describe_need_no_credentials() -> None:
    from py_autotask import __version__

    version = run(["--version"])
    assert version.exit_code == 0 and version.stdout.strip() == f"py-autotask {__version__}"
    result = run(["entities", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert "query" in rows["Tickets"]["operations"] and rows["Tickets"]["attribute"] == "tickets"
    assert rows["Tickets"]["change_tracking_field"] == "lastActivityDate"
    assert "Tickets/{id}/Notes" in rows["TicketNotes"]["child_routes"]
    result = run(["describe", "tickets", "--offline", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    fields = {f["name"]: f for f in json.loads(result.stdout)}
    assert fields["id"]["read_only"] and fields["companyID"]["required"]
    assert fields["companyID"]["reference"] == "Company"


def test_describe_shows_the_tenants_picklists(env: dict[str, str], sim: Simulator) -> None:
    result = run(["describe", "Tickets", "-o", "json"], env)
    assert result.exit_code == 0, result.stderr
    fields = {f["name"]: f for f in json.loads(result.stdout)}
    meta = json.loads(sim.state.schema.entity("Tickets").raw("fields"))
    status = next(f for f in meta["fields"] if f["name"] == "status")
    assert [p["value"] for p in fields["status"]["picklist"]] == [
        p["value"] for p in status["picklistValues"]
    ]
    table = run(["describe", "Tickets"], env)
    assert table.exit_code == 0 and "status" in table.stdout
    no_secret(table, env["AUTOTASK_SECRET"])


def test_query_with_a_filter_expression_matches_the_simulator(
    env: dict[str, str], sim: Simulator
) -> None:
    records = sim_records(sim, "Tickets")
    expected = [
        r["id"]
        for r in records
        if r["priority"] is not None and r["priority"] <= 2 and r["status"] != 5
    ]
    result = run(
        [
            "query",
            "Tickets",
            "--filter",
            "priority <= 2 and status != 5",
            "--fields",
            "id,title,priority",
            "-o",
            "json",
        ],
        env,
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == expected and len(expected) > 0
    assert set(rows[0]) == {"id", "title", "priority"}
    # more than one page, followed to the end
    everything = run(["query", "Tickets", "-o", "jsonl"], env)
    lines = everything.stdout.splitlines()
    assert len(lines) == TICKETS and json.loads(lines[-1])["id"] == records[-1]["id"]
    # --max, csv
    out = run(["query", "tickets", "--max", "7", "--fields", "id,title", "-o", "csv"], env)
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [int(r["id"]) for r in parsed] == [r["id"] for r in records[:7]]
    # table output names the entity
    tab = run(["query", "Tickets", "--max", "3", "--fields", "id,title"], env)
    assert tab.exit_code == 0 and "Tickets" in tab.stdout and str(records[0]["id"]) in tab.stdout
    no_secret(tab, env["AUTOTASK_SECRET"])


def test_get_and_count(env: dict[str, str], sim: Simulator) -> None:
    records = sim_records(sim, "Tickets")
    one = records[3]
    result = run(["get", "Tickets", str(one["id"]), "-o", "json"], env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == one
    missing = run(["get", "Tickets", "987654321"], env)
    assert missing.exit_code == EXIT_ERROR and "not found" in missing.stderr
    n = sum(1 for r in records if r["status"] == 1)
    result = run(["count", "Tickets", "--filter", "status = 1"], env)
    assert result.exit_code == 0 and result.stdout.strip() == str(n)
    result = run(["count", "Tickets", "-o", "json"], env)
    assert json.loads(result.stdout) == [{"entity": "Tickets", "count": TICKETS}]


def test_estimate(env: dict[str, str]) -> None:
    result = run(["estimate", "Tickets", "-o", "json"], env)
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["records"] == TICKETS and row["pages"] == 2 and row["requests"] == 3


def test_estimate_reads_the_tenant_usage_and_times_query_and_export(tmp_path: Path) -> None:
    with Simulator(profile="tiny", seed=3, counts={"Tickets": 2600}) as sim:
        sim.preload_threshold(2500)  # a quarter of the 10,000 requests per hour already used
        sim.add_fault(match={"entity": "Tickets"}, effect={"type": "latency", "seconds": 0.3})
        env = {**sim.environ, "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config")}
        result = run(["estimate", "Tickets", "--filter", "id > 100", "-o", "json"], env)
        assert result.exit_code == 0, result.stderr
        (row,) = json.loads(result.stdout)
        assert row["records"] == 2500 and row["pages"] == 5 and row["requests"] == 6
        assert 0.3 <= row["latency_per_request"] < 3.0  # measured on the count request
        assert row["query_seconds"] == pytest.approx(5 * row["latency_per_request"], rel=0.01)
        assert row["export_seconds"] == pytest.approx(row["query_seconds"] / 3, rel=0.01)
        # the usage comes from one ThresholdInformation reading (2,500 preloaded + this one)
        assert 0.25 <= row["usage_before"] <= 0.2504
        assert row["usage_after"] == pytest.approx(row["usage_before"] + 6 / 10_000, abs=1e-4)
        ops = [e.operation for e in sim.journal()]
        assert ops.count("threshold") == 1 and ops.count("count") == 1 and "query" not in ops


def test_sync_command_and_exit_code_5_when_the_guard_holds(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    result = run(["sync", "Tickets", "Companies", "--db", db, "-o", "json", "-q"], env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    by = {e["entity"]: e for e in summary["entities"]}
    assert by["Tickets"]["created"] == TICKETS and by["Tickets"]["mode"] == "full"
    meta = sim.state.schema.entity("Tickets")
    for r in sim_records(sim, "Tickets")[:400]:
        sim.state.store.delete(meta, r["id"])
    result = run(["sync", "Tickets", "--db", db, "--reconcile", "-q"], env)
    assert result.exit_code == EXIT_PARTIAL
    assert "more than the 50% allowed" in result.stderr
    result = run(["sync", "Tickets", "--db", db, "--reconcile", "--force", "-q", "-o", "json"], env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["entities"][0]["deleted"] == 400
    state = run(["sync", "--status", "--db", db, "-o", "json"], {})
    assert state.exit_code == 0, state.stderr
    by = {s["entity"]: s for s in json.loads(state.stdout)}
    assert by["Tickets"]["rows"] == TICKETS - 400 and by["Tickets"]["status"] == "ok"
    assert by["DeletedTicketLogs->Tickets"]["watermark"]
    assert "sync lock: free (no sync is running on this database)" in state.stderr
    assert run(["sync", "--db", db], env).exit_code == EXIT_USAGE
    # --status never creates a database, and says when one was not written by a sync
    missing = tmp_path / "typo.db"
    nothing = run(["sync", "--status", "--db", str(missing)], {})
    assert nothing.exit_code == EXIT_USAGE and not missing.exists()
    assert f"no database at {missing}: nothing has been synced there yet" in nothing.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (a INTEGER)").connection.commit()
    foreign = run(["sync", "--status", "--db", str(other)], {})
    assert foreign.exit_code == EXIT_ERROR
    assert "has no sync state (no autotask_sync_state table)" in foreign.stderr
    assert [r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")] == ["t"]


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    bad = run(["query", "Tickets", "--filter", "status = 5 and (priority <= 2"], env)
    assert bad.exit_code == EXIT_USAGE
    assert "bad filter at column 16: missing ')'" in bad.stderr
    assert "                ^" in bad.stderr
    unknown = run(["count", "Tikets"], env)
    assert unknown.exit_code == EXIT_USAGE and "Tickets" in unknown.stderr
    wrong_op = run(["get", "ContractServiceAdjustments", "1"], env)
    assert wrong_op.exit_code == EXIT_USAGE
    assert (
        "ContractServiceAdjustments does not support 'get' at its root collection "
        "(it supports: create)" in wrong_op.stderr
    )
    missing = run(["get", "DeletedTicketActivityLogs", "999999"], env)
    assert missing.exit_code == EXIT_ERROR
    assert "DeletedTicketActivityLogs 999999 not found" in missing.stderr
    typer_usage = run(["query"], env)
    assert typer_usage.exit_code == EXIT_USAGE
    # an unreachable database: one line on stderr, exit 1, no password
    down = run(["sync", "--status", "--db", "postgresql://u:pw-not-shown@127.0.0.1:1/x"], env)
    assert down.exit_code == EXIT_ERROR and len(down.stderr.strip().splitlines()) == 1
    assert "error: database postgresql://u:***@127.0.0.1:1/x: connection failed" in down.stderr
    assert "pw-not-shown" not in down.stderr and "Traceback" not in down.stderr


def test_filter_and_field_mistakes_are_caught_before_any_data_request(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    # Autotask answers these with an opaque HTTP 500; the CLI points at the mistake instead
    typo = run(["count", "Tickets", "--filter", "status = 1 and priorty <= 2"], env)
    assert typo.exit_code == EXIT_USAGE
    assert (
        "bad filter at column 16: Tickets has no field 'priorty'; did you mean priority?"
        in typo.stderr
    )
    assert "\n  status = 1 and priorty <= 2\n                 ^" in typo.stderr
    label = run(["query", "Tickets", "--filter", "priority = High"], env)
    assert label.exit_code == EXIT_USAGE
    assert "Tickets.priority is an integer picklist field; 'High' is not a whole number" in (
        label.stderr
    )
    text_op = run(["estimate", "Tickets", "--filter", "priority contains 2"], env)
    assert text_op.exit_code == EXIT_USAGE and "works on text fields only" in text_op.stderr
    out = tmp_path / "never"
    export = run(
        [
            "export",
            "Tickets",
            "Companies",
            "--format",
            "csv",
            "--output",
            str(out),
            "--filter",
            "isActive = 1",
        ],
        env,
    )
    assert export.exit_code == EXIT_USAGE
    assert "Tickets has no field 'isActive'" in export.stderr and not out.exists()
    fields = run(["query", "Tickets", "--fields", "id,titel"], env)
    assert fields.exit_code == EXIT_USAGE
    assert "--fields: Tickets has no field 'titel'; did you mean title?" in fields.stderr
    udf = run(["count", "Tickets", "--filter", 'udf."No Such UDF" = 1'], env)
    assert udf.exit_code == EXIT_USAGE and "no user-defined field 'No Such UDF'" in udf.stderr
    # only metadata was read (unknown names are looked up in the tenant's own field list)
    ops = {(e.method, e.operation) for e in sim.journal()}
    assert ops == {("GET", "meta")}, ops
    assert not [e for e in sim.journal() if e.operation in ("query", "count")]
    # a correct filter with a UDF and mixed-case names still runs
    ok = run(["count", "Tickets", "--filter", "PRIORITY <= 2 and Status != 5"], env)
    records = sim_records(sim, "Tickets")
    expected = sum(1 for r in records if (r["priority"] or 9) <= 2 and r["status"] != 5)
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.strip() == str(expected)


def test_export_default_outputs_are_named_per_format_and_do_not_collide(
    env: dict[str, str], sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for fmt in ("json", "parquet", "sqlite"):
        result = run(["export", "Tickets", "--format", fmt, "--quiet"], env)
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tickets-json" / "tickets.json").is_file()
    assert (tmp_path / "tickets-parquet" / "tickets.parquet").is_file()
    assert (tmp_path / "tickets.db").is_file()
    rows = json.loads((tmp_path / "tickets-json" / "tickets.json").read_text())
    assert [r["id"] for r in rows] == [r["id"] for r in sim_records(sim, "Tickets")]
    pg = run(["export", "Tickets", "--format", "postgresql"], env)
    assert pg.exit_code == EXIT_USAGE and "needs --output postgresql://" in pg.stderr


def test_export_date_range_includes_the_whole_end_day_and_refuses_a_bad_date(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    from py_autotask._values import parse_datetime

    tickets = sim_records(sim, "Tickets")
    created = sorted(parse_datetime(t["createDate"]) for t in tickets)
    start, end = created[len(created) // 4].date(), created[len(created) // 2].date()
    out = tmp_path / "range"
    result = run(
        ["export", "Tickets", "-F", "json", "--output", str(out), "--quiet",
         "--date-range", f"{start},{end}"],
        env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    got = sorted(r["id"] for r in json.loads((out / "tickets.json").read_text()))
    want = sorted(
        t["id"] for t in tickets if start <= parse_datetime(t["createDate"]).date() <= end
    )
    assert got == want and want
    sim.clear_journal()
    bad = run(["export", "Tickets", "-F", "json", "--output", str(tmp_path / "bad"),
               "--date-range", f"{start},2024-13-45"], env)  # fmt: skip
    assert bad.exit_code == EXIT_USAGE
    assert "--date-range end '2024-13-45' is not a date (YYYY-MM-DD)" in bad.stderr
    assert sim.journal() == []


def test_auth_errors_exit_3_and_never_show_the_secret(env: dict[str, str]) -> None:
    no_creds = run(["count", "Tickets"], {"PY_AUTOTASK_CONFIG_DIR": env["PY_AUTOTASK_CONFIG_DIR"]})
    assert no_creds.exit_code == EXIT_AUTH and "no Autotask credentials" in no_creds.stderr
    wrong = dict(env, AUTOTASK_SECRET="definitely-wrong-secret")
    result = run(["count", "Tickets"], wrong)
    assert result.exit_code == EXIT_AUTH, result.stderr
    no_secret(result, "definitely-wrong-secret")
    no_secret(result, env["AUTOTASK_SECRET"])


def test_rate_limit_exits_4(env: dict[str, str], sim: Simulator) -> None:
    # two thread-limit rejections are waited out; the exhausted hourly budget stops it (exit 4)
    sim.add_fault({"match": {"path": "/query/count"}, "effect": {"type": "throttle"}, "count": 2})
    sim.add_fault(
        {
            "match": {"path": "/query/count"},
            "effect": {"type": "status", "status": 429, "errors": ["Request threshold exceeded"]},
        }
    )
    try:
        result = run(["count", "Tickets"], env)
    finally:
        sim.faults.clear()
    assert result.exit_code == EXIT_RATE, (result.exit_code, result.stderr)


def test_profiles_store_secrets_privately_and_follow_precedence(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    secret = env["AUTOTASK_SECRET"]
    profile_env = {"PY_AUTOTASK_CONFIG_DIR": env["PY_AUTOTASK_CONFIG_DIR"]}
    added = run(
        [
            "profile",
            "add",
            "sim",
            "--username",
            env["AUTOTASK_USERNAME"],
            "--integration-code",
            env["AUTOTASK_INTEGRATION_CODE"],
            "--api-url",
            sim.url,
            "--secret-stdin",
        ],
        profile_env,
        input=secret + "\n",
    )
    assert added.exit_code == 0, added.stderr
    no_secret(added, secret)
    path = Path(env["PY_AUTOTASK_CONFIG_DIR"]) / "profiles.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["profiles"]["sim"]["secret"] == secret
    listed = run(["profile", "list", "-o", "json"], profile_env)
    assert json.loads(listed.stdout)[0]["secret"] == "set"
    no_secret(listed, secret)

    # profile only
    by_profile = run(["count", "Tickets", "--profile", "sim"], profile_env)
    assert by_profile.exit_code == 0 and by_profile.stdout.strip() == str(TICKETS)
    # the default profile is used without --profile
    assert run(["count", "Tickets"], profile_env).exit_code == 0
    # env beats the profile ...
    bad_env = dict(profile_env, AUTOTASK_SECRET="wrong-from-env")
    assert run(["count", "Tickets", "--profile", "sim"], bad_env).exit_code == EXIT_AUTH
    # ... and the flag beats the environment
    fixed = run(["count", "Tickets", "--profile", "sim", "--secret", secret], bad_env)
    assert fixed.exit_code == 0, fixed.stderr
    # an unknown profile is a usage error
    assert run(["count", "Tickets", "--profile", "nope"], profile_env).exit_code == EXIT_USAGE
    assert run(["profile", "remove", "sim"], profile_env).exit_code == 0
    assert json.loads(path.read_text())["profiles"] == {}


def test_the_installed_entry_point_runs_in_a_subprocess(env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "py-autotask"
    proc = subprocess.run(
        [str(script), "query", "Tickets", "--filter", "id in (1, 2, 3)", "-o", "json"],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == [1, 2, 3]
    bad = subprocess.run(
        [str(script), "count", "Tickets", "--filter", "id in (1, 2"],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == EXIT_USAGE and "^" in bad.stderr and bad.stdout == ""


# (not pydantic: typer itself coerces a command's parameters with it)
_HEAVY = (
    "httpx",
    "pyarrow",
    "pandas",
    "sqlalchemy",
    "py_autotask._client",
    "py_autotask._core",
    "py_autotask_generated",
    "py_autotask.bulk",
    "py_autotask.export",
    "py_autotask.sync",
    "py_autotask.simulator",
    "py_autotask.cli._filterlang",
    "py_autotask._filterlang",
)


def test_help_loads_no_client_and_no_feature() -> None:
    # `py-autotask --help` (and every command's --help) builds the whole command tree from the
    # command modules without importing what the commands use when they run
    code = (
        "import sys\n"
        "from py_autotask.cli import main\n"
        "for argv in (['--help'], ['export', '--help'], ['bulk', 'create', '--help']):\n"
        "    assert main(argv) == 0\n"
        f"heavy = {_HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy"
        " or any(m.startswith(h + '.') for h in heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "Usage: py-autotask" in proc.stdout
    # `python -m py_autotask.cli` is the same command line
    version = subprocess.run(
        [sys.executable, "-m", "py_autotask.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0 and version.stdout.startswith("py-autotask ")


def test_export_parquet_with_relationships_and_fields(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "exp"
    result = run(
        [
            "export",
            "Tickets",
            "--format",
            "parquet",
            "--filter",
            "priority <= 2",
            "--include-relationships",
            "tickets.company",
            "--output",
            str(out),
        ],
        env,
    )
    assert result.exit_code == 0, result.stderr
    records = sim_records(sim, "Tickets")
    wanted = [r for r in records if r["priority"] is not None and r["priority"] <= 2]
    # progress bars on stderr, per entity and phase, ending at the rows written; data on stdout
    n = len(wanted)
    assert "Tickets: read" in result.stderr and f"{n}/{n}" in result.stderr
    assert "Tickets: write" in result.stderr and "Companies: read (referenced)" in result.stderr
    assert "Tickets: read" not in result.stdout
    tickets = pq.read_table(out / "tickets.parquet").to_pydict()
    assert tickets["id"] == [r["id"] for r in wanted]
    companies = set(pq.read_table(out / "companies.parquet").to_pydict()["id"])
    assert {r["companyID"] for r in wanted} <= companies
    # the same output again is refused (usage), unless --overwrite
    again = run(["export", "Tickets", "--format", "parquet", "--output", str(out)], env)
    assert again.exit_code == EXIT_USAGE and "--overwrite" in again.stderr
    # --fields streams just those columns
    target = tmp_path / "few.csv"
    result = run(
        [
            "export",
            "Tickets",
            "--fields",
            "id,title",
            "--filter",
            "id <= 5",
            "--output",
            str(target),
        ],
        env,
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(target.open()))
    assert [(int(r["id"]), r["title"]) for r in rows] == [
        (r["id"], r["title"]) for r in records if r["id"] <= 5
    ]


def test_demo_syncs_the_embedded_simulator_and_writes_parquet(tmp_path: Path) -> None:
    import sqlite3

    import pyarrow.parquet as pq

    out = tmp_path / "demo"
    result = run(["demo", "--out", str(out), "--size", "tiny", "-q"], {})
    assert result.exit_code == 0, result.stderr
    assert "demo summary" in result.stdout and "sync run" in result.stdout
    con = sqlite3.connect(out / "autotask.db")
    try:
        for table in ("tickets", "companies", "time_entries"):
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            ids = [r[0] for r in con.execute(f"SELECT id FROM {table} ORDER BY id")]
            parquet = pq.read_table(out / "parquet" / f"{table}.parquet")
            assert n > 0 and parquet.num_rows == n
            assert parquet.column("id").to_pylist() == ids
        assert str(
            pq.read_schema(out / "parquet" / "tickets.parquet").field("createDate").type
        ) == ("timestamp[us]")
    finally:
        con.close()


def test_simulator_serve_runs_in_the_foreground(tmp_path: Path) -> None:
    import signal
    import time

    script = Path(sys.executable).parent / "py-autotask"
    proc = subprocess.Popen(
        [str(script), "simulator", "serve", "--port", "0", "--profile", "tiny", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "ATServicesRest" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        url = line.split("simulator:", 1)[1].strip()
        env = dict(
            os.environ,
            AUTOTASK_USERNAME="api.user@simulator.autotask.example",
            AUTOTASK_SECRET="simulator-secret-0001",
            AUTOTASK_INTEGRATION_CODE="SIMULATORTRACKINGID00000001",
            AUTOTASK_API_URL=url,
        )
        count = subprocess.run(
            [str(script), "count", "Companies"], env=env, capture_output=True, text=True, timeout=60
        )
        assert count.returncode == 0 and int(count.stdout) > 0, count.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
