"""Every user error is caught before anything reaches Autotask: filter values off their field's type
or range, too many ORs or parentheses, bad ``--date-range`` / ``--date-field`` / ``--fields``,
database URLs the sync cannot use and outputs that cannot be written. Each exits 2 with one line
naming what, where and what to do; the simulator's journal shows no data request and nothing is
left on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from py_autotask.cli import EXIT_USAGE, app
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli
from tests.sync.helpers import client_for, sim_records

pytestmark = pytest.mark.xdist_group("cli-user-errors")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=5, counts={"Tickets": 40}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sim.clear_journal()
    for key in list(os.environ):
        if key.startswith("AUTOTASK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PY_AUTOTASK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    return {**sim.environ, "PY_AUTOTASK_CONFIG_DIR": str(tmp_path / "config")}


def run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env)


def data_requests(sim: Simulator) -> list[Any]:
    """What the simulator received besides metadata reads (which only check names)."""
    return [e for e in sim.journal() if e.operation != "meta"]


def refused(result: Any, sim: Simulator, *words: str) -> str:
    """``result`` is a usage error (exit 2) that names ``words``, without a traceback, and the
    simulator received no data request."""
    assert result.exit_code == EXIT_USAGE, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert data_requests(sim) == [], data_requests(sim)
    return str(result.stderr)


# --- filter values against the field's type and range ---------------------------------------------


@pytest.mark.parametrize(
    ("expr", "at", "words"),
    [
        ("createDate > notadate", "notadate", ["Tickets.createDate is a datetime", "2024-01-31"]),
        ("createDate > 2024-13-45", "2024-13-45", ["month must be in 1..12"]),
        ('createDate > "yesterday"', '"yesterday"', ["'yesterday' is not a valid date"]),
        (
            "lastActivityDate in (2024-01-01, 2024-02-30)",
            "2024-02-30)",
            ["day is out of range for month"],
        ),
        ("priority = 99999999999", "99999999999", ["integer field", "to 2147483647"]),
        ("id > 99999999999999999999", "99999999999999999999", ["long field", "out of range"]),
        ("companyID in (1, -2147483649)", "-2147483649)", ["from -2147483648"]),
        ("estimatedHours > 1e39", "1e39", ["decimal field", "below 1e38", "out of range"]),
        ("isVisibleToComanaged = yes", "yes", ["write true or false"]),
        ("status = Complete", "Complete", ["not its label"]),
    ],
)
@pytest.mark.parametrize("command", ["count", "query", "export"])
def test_a_filter_value_off_its_fields_type_or_range_is_refused_before_sending(
    env: dict[str, str], sim: Simulator, tmp_path: Path, command: str, expr: str, at: str,
    words: list[str],
) -> None:  # fmt: skip
    args = [command, "Tickets", "-f", expr]
    if command == "export":
        args += ["-F", "csv", "-O", str(tmp_path / "out"), "-q"]
    err = refused(run(args, env), sim, *words)
    lines = err.splitlines()
    # the message, the expression, a caret under the offending value
    assert lines[0].startswith("error: bad filter at column ")
    assert lines[1] == f"  {expr}"
    column = lines[2].index("^")
    assert lines[1][column:].startswith(at)
    assert not list(tmp_path.glob("out*"))  # no output, no .export-state


def test_values_at_the_edges_of_their_range_are_sent(env: dict[str, str], sim: Simulator) -> None:
    ok = run(
        ["count", "Tickets", "-f",
         "priority <= 2147483647 and id < 9223372036854775807 and estimatedHours < 9e37 and "
         "createDate > 2000-02-29T23:59:59.1234567Z and isVisibleToComanaged in (true, false)"],
        env,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    assert 0 < int(ok.stdout) <= 40  # (nulls match no comparison)
    assert [e.operation for e in data_requests(sim)] == ["count"]


def test_more_than_500_ors_and_deep_nesting_are_refused_with_a_caret(
    env: dict[str, str], sim: Simulator
) -> None:
    ors = " or ".join(f"id = {i}" for i in range(501))
    err = refused(run(["count", "Tickets", "-f", ors], env), sim, "more than 500 OR'd conditions")
    # the caret is under the 501st condition, shown in a window of the long expression
    assert err.splitlines()[1].startswith("  ...") and err.splitlines()[2].endswith("^")
    shown, caret = err.splitlines()[1:3]
    assert shown[caret.index("^") :].startswith("id = 500")
    # nested or-groups are merged and counted as Autotask counts them
    nested = "id = 0 or (" + " or ".join(f"id = {i}" for i in range(1, 501)) + ")"
    refused(run(["count", "Tickets", "-f", nested], env), sim, "more than 500")
    exactly = " or ".join(f"id = {i}" for i in range(1, 501))
    assert run(["count", "Tickets", "-f", exactly], env).exit_code == 0
    sim.clear_journal()
    deep = "(" * 500 + "id = 1" + ")" * 500
    err = refused(run(["count", "Tickets", "-f", deep], env), sim, "nested more than 32 deep")
    assert "RecursionError" not in err
    assert err.splitlines()[2].index("^") == 2 + 32  # the 33rd '('
    assert run(["count", "Tickets", "-f", "(" * 32 + "id = 1" + ")" * 32], env).exit_code == 0


def test_the_builder_refuses_more_than_500_ors_before_sending(sim: Simulator) -> None:
    from py_autotask.exceptions import AutotaskConfigError
    from py_autotask.query import F, or_

    sim.clear_journal()
    with client_for(sim) as client:
        with pytest.raises(AutotaskConfigError, match="501 OR'd conditions; Autotask allows at"):
            client.tickets.count(or_(*(F("id").eq(i) for i in range(501))))
        deep: Any = F("id").eq(0)
        for i in range(1, 301):  # raw nested groups count too: 300 groups of 2
            deep = {"op": "or", "items": [deep, {"op": "eq", "field": "id", "value": i}]}
        from py_autotask.query import build_query_body

        with pytest.raises(AutotaskConfigError, match="600 OR'd conditions"):
            build_query_body(deep)
        assert client.tickets.count(or_(*(F("id").eq(i) for i in range(1, 501)))) == 40
    assert [e.operation for e in data_requests(sim)] == ["count"]


# --- export: --date-range, --date-field, --fields -------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--date-range", "2024-13-45,xx"], ["--date-range start '2024-13-45' is not a date"]),
        (["--date-range", "2024-01-01,xx"], ["--date-range end 'xx' is not a date"]),
        (["--date-range", "yesterday,"], ["start 'yesterday' is not a date", "2024-01-31"]),
        (["--date-range", "2024-12-01,2024-01-31"], ["starts after it ends"]),
        (["--date-range", "2024-01-02T00:00:00Z,2024-01-01"], ["starts after it ends"]),
        (["--date-range", ","], ["--date-range needs START,END"]),
        (["--date-range", "2024-01-01"], ["--date-range needs START,END"]),
        (
            ["--date-range", "2024-01-01,2024-12-31", "--date-field", "title"],
            ["--date-field: Tickets.title is a string field, not a date", "createDate"],
        ),
        (
            ["--date-range", "2024-01-01,2024-12-31", "--date-field", "priority"],
            ["Tickets.priority is an integer field, not a date"],
        ),
        (
            ["--date-range", "2024-01-01,2024-12-31", "--date-field", "creatDate"],
            ["Tickets has no field 'creatDate'; did you mean createDate"],
        ),
        (["--date-field", "createDate"], ["--date-field names the field --date-range filters"]),
        (["--fields", ""], ["--fields '' names no field", "--fields id,title"]),
        (["--fields", " , ,"], ["names no field"]),
        (["--fields", "id,titel"], ["--fields: Tickets has no field 'titel'"]),
    ],
)
def test_export_options_are_checked_before_anything_is_sent_or_written(
    env: dict[str, str], sim: Simulator, tmp_path: Path, options: list[str], words: list[str]
) -> None:
    out = tmp_path / "out"
    refused(
        run(["export", "Tickets", "-F", "csv", "-O", str(out), "-q", *options], env), sim, *words
    )
    assert not list(tmp_path.glob("out*"))  # neither the output nor .export-state


def test_query_fields_that_name_no_field_are_refused(env: dict[str, str], sim: Simulator) -> None:
    refused(run(["query", "Tickets", "--fields", ""], env), sim, "--fields '' names no field")
    refused(run(["query", "Tickets", "--fields", ", "], env), sim, "names no field")


def test_a_valid_date_range_on_a_named_date_field_still_exports(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    import datetime as dt
    import json

    from py_autotask._values import parse_datetime

    tickets = sim_records(sim, "Tickets")
    sim.clear_journal()
    times = sorted(parse_datetime(t["lastActivityDate"]) for t in tickets)
    cut = times[len(times) // 2]
    assert cut is not None
    # the same instant written with a +02:00 offset (converted to UTC for Autotask)
    local = cut.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
    out = tmp_path / "ok"
    result = run(
        ["export", "Tickets", "-F", "json", "-O", str(out), "-q",
         "--date-field", "LASTACTIVITYDATE", "--date-range", f"{local},"],
        env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    got = sorted(r["id"] for r in json.loads((out / "tickets.json").read_text()))
    want = sorted(t["id"] for t in tickets if parse_datetime(t["lastActivityDate"]) >= cut)
    assert got == want and 0 < len(want) < len(tickets)


# --- real processes -------------------------------------------------------------------------------


def test_user_errors_in_a_real_process_exit_2_in_one_line(sim: Simulator, tmp_path: Path) -> None:
    env = cli_env(sim.environ, tmp_path)
    sim.clear_journal()
    for args in (
        ["count", "Tickets", "-f", "createDate > notadate"],
        ["count", "Tickets", "-f", "(" * 500 + "id = 1" + ")" * 500],
        ["export", "Tickets", "-O", str(tmp_path / "x"), "--date-range", "2024-13-45,xx"],
        ["export", "Tickets", "-O", str(tmp_path / "x"), "--fields", ""],
    ):
        proc = run_cli(*args, env=env, timeout=60, cwd=tmp_path)
        assert proc.returncode == EXIT_USAGE, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert proc.stdout == ""
    assert data_requests(sim) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"] or not list(tmp_path.glob("x*"))


# --- database URLs --------------------------------------------------------------------------------

PASSWORD = "hunter2-Secret"


@pytest.mark.parametrize(
    ("db", "words"),
    [
        (
            f"mysql://u:{PASSWORD}@db.example/x",
            [
                "unsupported database 'mysql://u:***@db.example/x'",
                "postgresql://",
                "py-autotask[sql]",
                "py-autotask[duckdb]",
            ],
        ),
        (f"oracle://u:{PASSWORD}@h/x", ["unsupported database", "SQLite"]),
        ("sqlite://", ["'sqlite://' is an in-memory database", "sqlite:///autotask.db"]),
        ("sqlite:///:memory:", ["in-memory database", "would be discarded"]),
        ("duckdb:///:memory:", ["in-memory database"]),
        ("sqlite:///file:x?mode=memory&uri=true", ["in-memory database"]),
        (
            f"postgresql://u:{PASSWORD}@h:notaport/x",
            ["malformed database URL", "'postgresql://u:***@h:notaport/x'"],
        ),
        (f"postgresql+pg8000://u:{PASSWORD}@h/x", ["needs the pg8000 module", "psycopg"]),
        (f"sqlite+nosuchdriver:///{PASSWORD}.db", ["unsupported database driver"]),
    ],
)
@pytest.mark.parametrize("status", [False, True])
def test_sync_refuses_a_database_it_cannot_use_in_one_line(
    env: dict[str, str], sim: Simulator, db: str, words: list[str], status: bool
) -> None:  # fmt: skip
    args = ["sync", "--status", "--db", db] if status else ["sync", "Tickets", "--db", db, "-q"]
    result = run(args, env)
    err = refused(result, sim, *words)
    assert len(err.strip().splitlines()) == 1, err
    if "nosuchdriver" not in db:
        assert PASSWORD not in err + result.stdout
    assert sim.journal() == []  # not even metadata: checked before the client exists


def test_a_database_that_cannot_be_reached_is_one_line_without_its_password(
    env: dict[str, str], sim: Simulator
) -> None:
    db = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"
    for args in (["sync", "Tickets", "--db", db, "-q"], ["sync", "--status", "--db", db]):
        result = run(args, env)
        assert result.exit_code == 1, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: database postgresql://u:***@127.0.0.1:1/x: ")
        assert "Connection refused" in line or "connection failed" in line
        assert PASSWORD not in result.stderr + result.stdout
        assert "sqlalche.me" not in line
    assert data_requests(sim) == []


def test_the_library_names_the_supported_databases_instead_of_a_missing_module(
    sim: Simulator, tmp_path: Path
) -> None:
    from py_autotask.exceptions import AutotaskConfigError
    from py_autotask.sync import open_database

    with client_for(sim) as client:
        with pytest.raises(
            AutotaskConfigError, match=r"unsupported database 'mysql://u:\*\*\*@h/x'"
        ):
            client.create_syncer().sync_to_database(f"mysql://u:{PASSWORD}@h/x", ["Tickets"])
    with pytest.raises(AutotaskConfigError, match="malformed database URL"):
        open_database("postgresql://u:pw@h:port/x")
    open_database("sqlite:///:memory:").close()  # in memory stays allowed for library callers


# --- outputs that cannot be written ---------------------------------------------------------------


def _blocked(tmp_path: Path) -> Path:
    """A regular file where the user's path needs a folder (fails for root too)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return blocker


@pytest.mark.parametrize(
    "options",
    [
        ["-F", "csv"],
        ["-F", "parquet", "--compress"],
        ["-F", "sqlite"],
        ["-F", "csv", "--fields", "id,title"],
    ],
)
def test_export_into_a_path_under_a_file_says_cannot_write_the_users_path(
    env: dict[str, str], sim: Simulator, tmp_path: Path, options: list[str]
) -> None:
    blocker = _blocked(tmp_path)
    out = f"{blocker.name}/sub/tickets"
    err = refused(
        run(["export", "Tickets", "-O", out, "-q", *options], env),
        sim,
        f"cannot write {out}",
        "not-a-folder is a file, not a folder",
    )
    assert len(err.strip().splitlines()) == 1, err
    assert "export-state" not in err and "Errno" not in err
    assert {p.name for p in tmp_path.iterdir()} - {"config"} == {"not-a-folder"}


@pytest.mark.parametrize("db", ["{blocker}/s.db", "sqlite:///{blocker}/s.db", "{blocker}/s.duckdb"])
def test_sync_into_a_path_under_a_file_says_cannot_write_the_database(
    env: dict[str, str], sim: Simulator, tmp_path: Path, db: str
) -> None:
    blocker = _blocked(tmp_path)
    url = db.format(blocker=blocker.name)
    err = refused(
        run(["sync", "Tickets", "--db", url, "-q"], env),
        sim,
        f"cannot write {blocker.name}/s.",
        "is a file, not a folder",
    )
    assert len(err.strip().splitlines()) == 1 and "sync.lock" not in err, err
    missing = refused(
        run(["sync", "Tickets", "--db", "no-such-folder/s.db", "-q"], env),
        sim,
        "cannot write no-such-folder/s.db: the folder no-such-folder does not exist",
    )
    assert "sync.lock" not in missing
    assert {p.name for p in tmp_path.iterdir()} - {"config"} == {"not-a-folder"}


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes into a 0555 folder anyway (the path-under-a-file tests cover root)",
)
def test_unwritable_folders_are_named_as_permission_problems(
    env: dict[str, str], sim: Simulator, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args in (
            ["sync", "Tickets", "--db", "locked/s.db", "-q"],
            ["export", "Tickets", "-F", "csv", "-O", "locked/out", "-q"],
            ["export", "Tickets", "-F", "sqlite", "-O", "locked/deeper/out.db", "-q"],
        ):
            err = refused(run(args, env), sim, f"cannot write {args[3]}: permission denied")
            assert len(err.strip().splitlines()) == 1 and "lock" not in err.replace("locked", "")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)
