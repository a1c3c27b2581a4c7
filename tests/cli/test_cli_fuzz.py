"""Fuzzing the filter language and the command line's arguments: whatever a user types, the parser
raises nothing but :class:`FilterSyntaxError` / :class:`AutotaskConfigError`, the CLI never shows a
traceback, every input it refuses exits 2 with nothing sent, and every input it accepts is one the
simulator (which answers like Autotask: HTTP 500 for a value off its field's type) takes too."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_autotask_generated.entities import spec as entity_spec
from typer.testing import CliRunner

from py_autotask.cli import EXIT_USAGE, FilterSyntaxError, app, check_filter, parse_filter
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli

pytestmark = pytest.mark.xdist_group("cli-fuzz")

TICKETS = entity_spec("Tickets")
FIELDS = sorted(TICKETS.fields)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies -----------------------------------------------------------------------------------

#: what a user can pass in argv: no NUL, no lone surrogates
typed = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
junk = st.text(typed, max_size=12)

names = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(["udf.X", 'udf."Ext URL"', 'udf."Agreed Start Date"', "udf.", "and", "or"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    junk,
)
operators = st.sampled_from(
    ["=", "==", "!=", "<>", ">", ">=", "<", "<=", "eq", "NE", "gte", "lt", "contains",
     "beginsWith", "endsWith", "startswith", "~", "", "not", "like"]
)  # fmt: skip


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=-3, max_value=12).map(str),
    st.floats().map(repr),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(
        ["true", "false", "TRUE", "2024-13-45", "2024-02-30", "notadate", "yesterday", "1e400",
         "-0", "1e5", ".5", "2024-01-31T10:00:00+02:00", "9" * 60, "Complete", "'x'", '""']
    ),
    st.text(typed, max_size=8).map(_quoted),
    st.from_regex(r"[A-Za-z0-9_+\-:.@/]{1,10}", fullmatch=True),
)  # fmt: skip


@st.composite
def conditions(draw: st.DrawFn) -> str:
    name = draw(names)
    kind = draw(st.sampled_from(["compare", "compare", "list", "exists"]))
    if kind == "exists":
        return f"{name} {draw(st.sampled_from(['exists', 'notExist', 'not exists', 'exist x']))}"
    if kind == "list":
        op = draw(st.sampled_from(["in", "notIn", "not in", "IN"]))
        items = draw(st.lists(values, min_size=0, max_size=4))
        return f"{name} {op} ({', '.join(items)})"
    return f"{name} {draw(operators)} {draw(values)}"


QUERYABLE = sorted(
    (f.api_name, f.data_type.lower()) for f in TICKETS.fields.values() if f.queryable
)
_BY_KIND: dict[str, st.SearchStrategy[str]] = {
    "integer": st.integers(min_value=-(2**31), max_value=2**31 - 1).map(str),
    "long": st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    "decimal": st.floats(min_value=-1e37, max_value=1e37).map(repr),
    "double": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "boolean": st.sampled_from(["true", "false", "True"]),
    "datetime": st.one_of(
        st.dates().map(str), st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds"))
    ),
    "string": st.one_of(
        st.text(typed, max_size=8).map(_quoted),
        st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True),
    ),
}


@st.composite
def fitting_conditions(draw: st.DrawFn) -> str:
    """A condition on a queryable field with a value of its type (the CLI must send it and the
    simulator must take it)."""
    name, kind = draw(st.sampled_from(QUERYABLE))
    value = _BY_KIND.get(kind, _BY_KIND["string"])
    ops = ["=", "!=", ">", ">=", "<", "<="] + (
        ["contains", "beginsWith"] if kind == "string" else []
    )
    form = draw(st.sampled_from(["compare", "compare", "list", "exists"]))
    if form == "exists":
        return f"{name} {draw(st.sampled_from(['exists', 'notExists']))}"
    if form == "list":
        items = draw(st.lists(value, min_size=1, max_size=3))
        return f"{name} {draw(st.sampled_from(['in', 'not in']))} ({', '.join(items)})"
    return f"{name} {draw(st.sampled_from(ops))} {draw(value)}"


expressions = st.recursive(
    st.one_of(conditions(), fitting_conditions()),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or", "and or", ""]), inner).map(
            " ".join
        ),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"({e}"),
    ),
    max_leaves=6,
)
fitting_expressions = st.recursive(
    fitting_conditions(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND"]), inner).map(" ".join),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=5,
)
filters = st.one_of(
    fitting_expressions, fitting_expressions, expressions, junk, st.text(typed, max_size=60)
)

# --- the parser alone -----------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(text=st.one_of(filters, st.text(max_size=80)))
def test_the_parser_raises_only_filter_errors(text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as exc:
        lines = str(exc).splitlines()
        assert len(lines) == 3 and lines[2].strip() == "^", str(exc)
        assert lines[0].startswith(f"bad filter at column {exc.column}: ")
    except AutotaskConfigError:
        pass
    with contextlib.suppress(AutotaskConfigError):  # FilterSyntaxError included
        check_filter(text, TICKETS)


def test_deep_and_long_expressions_are_errors_not_crashes() -> None:
    for text in ("(" * 100_000, "(" * 5_000 + "id = 1" + ")" * 5_000, "not " * 10_000):
        with pytest.raises(FilterSyntaxError):
            parse_filter(text)
    wide = " and ".join(f"id > {i}" for i in range(20_000))  # flat: fine at any length
    check_filter(wide, TICKETS)


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=7, counts={"Tickets": 30}, thread_limit=0, hourly_threshold=0
    ) as s:
        yield s


@pytest.fixture(scope="module")
def env(sim: Simulator) -> Iterator[dict[str, str | None]]:
    with tempfile.TemporaryDirectory() as home:
        yield {
            **{k: None for k in os.environ if k.startswith("AUTOTASK_")},
            **sim.environ,
            "PY_AUTOTASK_CONFIG_DIR": str(Path(home) / "config"),
        }


def _invoke(args: list[str], env: dict[str, str | None], sim: Simulator) -> Any:
    sim.clear_journal()
    result = CliRunner().invoke(app, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
    assert "Traceback" not in result.stderr, (args, result.stderr)
    # 0: accepted and answered; 2: refused before anything was sent. An exit 1 would be the
    # server refusing what the CLI let through (or a crash).
    assert result.exit_code in (0, EXIT_USAGE), (args, result.exit_code, result.stderr)
    if result.exit_code == EXIT_USAGE:
        assert result.stderr.startswith("error: ") or "Usage:" in result.stderr, result.stderr
        sent = [e for e in sim.journal() if e.operation not in ("meta",)]
        assert sent == [], (args, [(e.method, e.path) for e in sent])
    return result


@FUZZ
@given(text=filters)
def test_count_with_any_filter_exits_0_or_2_and_sends_nothing_it_refuses(
    sim: Simulator, env: dict[str, str | None], text: str
) -> None:
    _invoke(["count", "Tickets", "-f", text], env, sim)


entities = st.one_of(
    st.sampled_from(["Tickets", "tickets", "Ticket", "Companies", "Tikets", "ContractServiceAdjustments", ""]),
    junk,
)  # fmt: skip
field_lists = st.one_of(
    st.lists(st.sampled_from([*FIELDS[:12], "udf.X", "titel", " ", ""]), max_size=4).map(",".join),
    junk,
)
date_texts = st.one_of(
    st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()), values, st.just("")
)
date_ranges = st.one_of(
    st.tuples(date_texts, date_texts).map(",".join), junk, st.just(","), date_texts
)
date_fields = st.one_of(st.sampled_from(["createDate", "lastActivityDate", "title", "id"]), names)


@FUZZ
@given(
    entity=entities,
    fields=st.none() | field_lists,
    date_range=st.none() | date_ranges,
    date_field=st.none() | date_fields,
    flt=st.none() | filters,
)
def test_export_with_any_arguments_exits_0_or_2_and_leaves_nothing_it_refuses(
    sim: Simulator,
    env: dict[str, str | None],
    entity: str,
    fields: str | None,
    date_range: str | None,
    date_field: str | None,
    flt: str | None,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        args = ["export", entity, "-F", "jsonl", "-O", str(out), "-q", "--workers", "1"]
        for option, value in (
            ("--fields", fields),
            ("--date-range", date_range),
            ("--date-field", date_field),
            ("-f", flt),
        ):
            if value is not None:
                args += [option, value]
        result = _invoke(args, env, sim)
        if result.exit_code == EXIT_USAGE:
            assert os.listdir(folder) == [], os.listdir(folder)  # no output, no .export-state


@pytest.mark.parametrize(
    "args",
    [
        ["count", "Tickets", "-f", "createDate > \u00e9t\u00e9"],
        ["count", "Tickets", "-f", "id in (" + ", ".join(["1"] * 3) + ", )"],
        ["count", "T\u00efckets"],
        ["query", "Tickets", "--fields", ",,,", "-f", "(((id = 1"],
        ["export", "Tickets", "-F", "csv", "-O", "x", "--date-range", "2024-01-01,2023-12-31"],
        ["export", "Tickets", "-F", "csv", "-O", "x", "--date-range", "2024-01-01,2024-12-31",
         "--date-field", "udf.X"],
    ],
)  # fmt: skip
def test_refused_arguments_in_a_real_process(
    sim: Simulator, tmp_path: Path, args: list[str]
) -> None:
    sim.clear_journal()
    proc = run_cli(*args, env=cli_env(sim.environ, tmp_path), timeout=60, cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert [e for e in sim.journal() if e.operation != "meta"] == []
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.export-state").exists()
