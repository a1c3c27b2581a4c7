"""Differential test: the SQL-compiled filter engine against an independent Python evaluator."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from py_autotask.simulator._filters import compile_sql, parse_query
from py_autotask.simulator._metadata import Schema
from py_autotask.simulator._store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "schemas"
ALPHABET = "abcAB%_\\ x"

FIELD_KINDS = {
    "id": "int",
    "name": "str",
    "code": "str",
    "quantity": "int",
    "amount": "float",
    "isActive": "bool",
    "dueDateTime": "datetime",
    "kind": "int",
}
UDF_KINDS = {"Tier": "str", "Score": "float"}
BASE = datetime(2024, 1, 1)


def _dt(ms: int) -> str:
    value = BASE + timedelta(milliseconds=ms)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


texts = st.text(alphabet=ALPHABET, max_size=5)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-3, 3),
    "float": st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.25]),
    "bool": st.booleans(),
    "datetime": st.integers(0, 5).map(lambda n: _dt(n * 3_600_000)),
    "str": texts,
}


def _maybe(kind: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), VALUES[kind])


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        rec: dict[str, Any] = {"id": i + 1, "notes": None, "lastModifiedDateTime": None}
        for name, kind in FIELD_KINDS.items():
            if name != "id":
                rec[name] = draw(_maybe(kind))
        tier = draw(st.one_of(st.none(), texts))
        score = draw(st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 0.5, 2.25])))
        rec["userDefinedFields"] = [
            {"name": "Score", "value": None if score is None else str(score)},
            {"name": "Tier", "value": tier},
        ]
        out.append(rec)
    return out


@st.composite
def leaf(draw: st.DrawFn, udf: str | None) -> dict[str, Any]:
    names = list(FIELD_KINDS) + ([udf] if udf else [])
    name = draw(st.sampled_from(names))
    kind = UDF_KINDS.get(name) or FIELD_KINDS[name]
    ops = ["eq", "noteq", "gt", "gte", "lt", "lte", "exist", "notExist", "in", "notIn"]
    if kind == "str":
        ops += ["beginsWith", "endsWith", "contains"]
    op = draw(st.sampled_from(ops))
    item: dict[str, Any] = {
        "op": draw(st.sampled_from([op, op.upper(), op.lower()])),
        "field": name,
    }
    if name == udf:
        item["udf"] = True
    if op in ("in", "notIn"):
        item["value"] = draw(st.lists(VALUES[kind], min_size=1, max_size=3))
    elif op not in ("exist", "notExist"):
        item["value"] = draw(VALUES[kind])
    return item


def filters(udf: str | None) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf(udf),
        lambda children: st.builds(
            lambda op, items: {"op": op, "items": items},
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        max_leaves=6,
    )


# -- the independent reference evaluator ------------------------------------------------------------
def _fold(s: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def _norm(kind: str, value: Any) -> Any:
    if kind == "str":
        return _fold(str(value))
    if kind == "datetime":
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f")
    if kind == "bool":
        return int(bool(value))
    if kind == "float":
        return float(value)
    return int(value)


def _get(record: dict[str, Any], item: dict[str, Any]) -> tuple[str, Any]:
    if item.get("udf"):
        kind = UDF_KINDS[item["field"]]
        raw = next(u["value"] for u in record["userDefinedFields"] if u["name"] == item["field"])
    else:
        kind = FIELD_KINDS[item["field"]]
        raw = record[item["field"]]
    return kind, raw


def reference(item: dict[str, Any], record: dict[str, Any]) -> bool:
    op = item["op"].lower()
    if op in ("and", "or"):
        results = [reference(child, record) for child in item["items"]]
        return all(results) if op == "and" else any(results)
    kind, raw = _get(record, item)
    if op == "exist":
        return raw is not None
    if op == "notexist":
        return raw is None
    if raw is None:
        return False  # SQL: comparisons with NULL are never true
    have = _norm(kind, raw)
    if op in ("in", "notin"):
        found = have in [_norm(kind, v) for v in item["value"]]
        return found if op == "in" else not found
    want = _norm(kind, item["value"])
    if op == "beginswith":
        return bool(have.startswith(want))
    if op == "endswith":
        return bool(have.endswith(want))
    if op == "contains":
        return want in have
    return {
        "eq": have == want,
        "noteq": have != want,
        "gt": have > want,
        "gte": have >= want,
        "lt": have < want,
        "lte": have <= want,
    }[op]


SCHEMA = Schema(FIXTURE)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), recs=records())
def test_sql_engine_matches_reference(data: st.DataObject, recs: list[dict[str, Any]]) -> None:
    widgets = SCHEMA.entity("Widgets")
    assert widgets is not None
    store = Store(SCHEMA, ":memory:")
    store.load(("Widgets", r) for r in recs)
    udf = data.draw(st.sampled_from([None, "Tier", "Score"]))
    flt = data.draw(st.lists(filters(udf), min_size=1, max_size=3))
    parsed = parse_query(widgets, {"Filter": flt})
    where, params = compile_sql(parsed.filter)
    got = [i for i, _ in store.select_page(widgets, where, params, limit=1000)]
    want = [r["id"] for r in recs if all(reference(f, r) for f in flt)]
    assert got == want, (flt, where, params)
    assert store.count(widgets, where, params) == len(want)
    store.close()
