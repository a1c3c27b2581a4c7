"""Pages as real tenants send them (a corpus of real-shaped bodies, and a hypothesis strategy that
mutates valid records into off-type ones): the ``PageDecoder`` keeps every record and every value,
converted when nothing is lost, else as the exact text received in a column that became text;
each off-type value counted once per field; both decoding paths agree. No server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from py_autotask.export import OffTypeValueError
from py_autotask.export._columns import Column, PageDecoder, conform, decode_page

UTC = dt.timezone.utc

COLUMNS = [
    Column("id", "id", "int"),
    Column("postalCode", "postalCode", "string"),
    Column("contractPeriodType", "contractPeriodType", "int", picklist=True),
    Column(
        "contractPeriodType_label",
        "contractPeriodType",
        "string",
        label_of="contractPeriodType",
        labels={"1": "Monthly", "2": "Yearly"},
    ),
    Column("hours", "hours", "float"),
    Column("isActive", "isActive", "bool"),
    Column("hireDate", "hireDate", "datetime"),
    Column("udf_region", "Region", "string", udf=True),
    Column("udf_started", "Started", "datetime", udf=True),
]


def _body(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"items": items, "pageDetails": {"nextPageUrl": None}})


def _clean(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "postalCode": f"{10000 + i}",
        "contractPeriodType": 1 + i % 2,
        "hours": i / 4,
        "isActive": bool(i % 2),
        "hireDate": f"2024-01-{1 + i % 28:02d}T08:00:00",
        "userDefinedFields": [
            {"name": "Region", "value": "EMEA"},
            {"name": "Started", "value": "2023-05-06T00:00:00"},
        ],
    }


# --- the corpus: one real-shaped record per known shape -------------------------------------------

CORPUS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (what, changes to a clean record, the values read back per column)
    ("ZIP code as a number", {"postalCode": 90210}, {"postalCode": "90210"}),
    ("letter code in an int picklist", {"contractPeriodType": "m"}, {"contractPeriodType": "m"}),
    ("empty datetime", {"hireDate": ""}, {"hireDate": None}),
    ("numeric text", {"contractPeriodType": "2"}, {"contractPeriodType": 2}),
    ("1.0 for an int", {"contractPeriodType": 1.0}, {"contractPeriodType": 1}),
    ("decimal as text", {"hours": "12.5"}, {"hours": 12.5}),
    ("empty decimal", {"hours": ""}, {"hours": None}),
    ("boolean as 0/1", {"isActive": 0}, {"isActive": False}),
    ("boolean as text", {"isActive": "true"}, {"isActive": True}),
    ("UDFs as {} (get by id)", {"userDefinedFields": {}}, {"udf_region": None}),
    (
        "UDFs as a name -> value object",
        {"userDefinedFields": {"Region": "APAC"}},
        {"udf_region": "APAC"},
    ),
    (
        "UDF value as a number",
        {"userDefinedFields": [{"name": "Region", "value": 42}]},
        {"udf_region": "42"},
    ),
    (
        "empty datetime UDF",
        {"userDefinedFields": [{"name": "Started", "value": ""}]},
        {"udf_started": None},
    ),
    ("non-integral float for an int", {"contractPeriodType": 1.5}, {"contractPeriodType": "1.5"}),
    ("text for a datetime", {"hireDate": "N/A"}, {"hireDate": "N/A"}),
    ("datetime with an offset (clean)", {"hireDate": "2024-01-01T10:00:00+02:00"}, {}),
]


@pytest.mark.parametrize("what,changes,expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_every_real_shape_reads_without_losing_the_record(
    what: str, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    items = [_clean(1), {**_clean(2), **changes}, _clean(3)]
    decoder = PageDecoder(COLUMNS, entity="Contracts")
    page = decoder.read(_body(items))
    assert page.batch.num_rows == 3 and page.batch.column("id").to_pylist() == [1, 2, 3]
    row = page.batch.slice(1, 1).to_pylist()[0]
    assert {k: row[k] for k in expected} == expected
    off = sum(c.total for c in page.off_type.values())
    assert off == (0 if what.endswith("(clean)") else 1)
    text_columns = {n for n, v in expected.items() if isinstance(v, str)} - {
        c.name for c in COLUMNS if c.kind == "string"
    }
    assert set(decoder.promoted) == text_columns
    # the other records keep their values; in a text column as the text of the typed value
    first = page.batch.slice(0, 1).to_pylist()[0]
    assert first["contractPeriodType"] in (2, "2") and first["postalCode"] == "10001"
    if "contractPeriodType" in text_columns:
        assert first["contractPeriodType_label"] == "Yearly"  # labels still read the value


def test_strict_names_entity_id_field_expected_type_and_value() -> None:
    items = [_clean(1), {**_clean(7), "contractPeriodType": "m"}]
    with pytest.raises(OffTypeValueError) as caught:
        PageDecoder(COLUMNS, entity="Contracts", strict=True).read(_body(items))
    err = caught.value
    assert (err.entity, err.record_id, err.field, err.expected, err.value) == (
        "Contracts",
        7,
        "contractPeriodType",
        "integer",
        "m",
    )
    assert "Contracts id 7" in str(err) and "'m'" in str(err) and "integer" in str(err)


def test_a_promotion_is_reported_before_the_page_and_conform_aligns_older_batches() -> None:
    heard: list[Column] = []
    decoder = PageDecoder(COLUMNS, on_promote=heard.append)
    before = decoder.read(_body([_clean(1), _clean(2)])).batch
    after = decoder.read(_body([{**_clean(3), "contractPeriodType": "q"}, _clean(4)])).batch
    assert [c.name for c in heard] == ["contractPeriodType"]
    assert heard[0].kind == "string" and heard[0].promoted_from == "int"
    # pages after a promotion are text even when clean; older batches conform to the columns
    later = decoder.read(_body([_clean(5)])).batch
    assert later.schema.field("contractPeriodType").type == pa.string()
    assert before.schema.field("contractPeriodType").type == pa.int64()
    aligned = conform(before, decoder.columns)
    assert aligned.column("contractPeriodType").to_pylist() == ["2", "1"]
    assert aligned.schema == after.schema == later.schema
    assert aligned.column("hireDate") == before.column("hireDate")


def test_a_record_without_a_readable_id_is_an_error_not_a_text_id() -> None:
    with pytest.raises(ValueError, match="id is not an integer"):
        PageDecoder(COLUMNS).read(_body([{**_clean(1), "id": "abc"}]))


# --- hypothesis: mutate valid records into off-type ones -----------------------------------------

#: per column kind: (name, mutate(value) -> off-type value or None when it does not apply, lossless)
_MUTATIONS: dict[str, list[tuple[str, Any, bool]]] = {
    "int": [
        ("numeric text", lambda v: str(v), True),
        ("integral float", lambda v: float(v), True),
        ("letter code", lambda v: "abcdefghij"[v % 10], False),
        ("non-integral", lambda v: v + 0.5, False),
    ],
    "float": [
        ("numeric text", lambda v: repr(v), True),
        ("words", lambda v: f"about {v}", False),
    ],
    "bool": [
        ("0/1", lambda v: int(v), True),
        ("text", lambda v: "true" if v else "false", True),
        ("yes please", lambda v: "yes please", False),
    ],
    "datetime": [("not a date", lambda v: "N/A", False)],
    "string": [
        ("digits as a number", lambda v: int(v) if v.isdigit() and v[0] != "0" else None, True)
    ],
}
_EMPTY_OK = {"int", "float", "bool", "datetime"}  # "" reads as null


@st.composite
def _records(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[int, str, Any, Any, bool]]]:
    n = draw(st.integers(1, 12))
    items = []
    mutations = []
    for i in range(1, n + 1):
        item = {
            "id": i,
            "postalCode": draw(
                st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{4}", fullmatch=True))
            ),
            "contractPeriodType": draw(st.one_of(st.none(), st.integers(0, 2**40))),
            "hours": draw(
                st.one_of(
                    st.none(), st.floats(-1e9, 1e9, allow_nan=False).map(lambda x: round(x, 3))
                )
            ),
            "isActive": draw(st.one_of(st.none(), st.booleans())),
            "hireDate": draw(
                st.one_of(
                    st.none(),
                    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)).map(
                        lambda d: d.isoformat(timespec="milliseconds")
                    ),
                )
            ),
        }
        for col in COLUMNS[1:]:
            if col.udf or col.label_of:
                continue
            value = item[col.source]
            if not draw(st.booleans()) or not draw(st.booleans()):
                continue
            if value is None:
                if col.kind in _EMPTY_OK:
                    item[col.source] = ""
                    mutations.append((i, col.name, None, "", True))
                continue
            options = [m for m in _MUTATIONS[col.kind] if m[1](value) is not None]
            if not options:
                continue
            _name, mutate, lossless = draw(st.sampled_from(options))
            item[col.source] = mutate(value)
            mutations.append((i, col.name, value, item[col.source], lossless))
        items.append(item)
    return items, mutations


def _typed(kind: str, value: Any) -> Any:
    if kind == "datetime" and value is not None:
        return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
    if kind == "float" and value is not None:
        return float(value)
    return value


def _text_of(kind: str, text: str) -> Any:
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(Decimal(text))
    if kind == "bool":
        return {"true": True, "false": False}[text]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_mutated_records_keep_every_value(
    case: tuple[list[dict[str, Any]], list[tuple[int, str, Any, Any, bool]]],
) -> None:
    items, mutations = case
    body = _body(items)
    decoder = PageDecoder(COLUMNS, entity="Contracts")
    page = decoder.read(body)
    # both paths give the same batch
    general = PageDecoder(COLUMNS, entity="Contracts").read_items(decode_page(body)[0])
    assert general.batch == page.batch
    rows = {r["id"]: r for r in page.batch.to_pylist()}
    assert sorted(rows) == [item["id"] for item in items]
    kinds = {c.name: c.kind for c in COLUMNS}
    promoted = set(decoder.promoted)
    # a column turned text exactly when some value could not be held without loss
    assert promoted == {name for _, name, _, _, lossless in mutations if not lossless}
    mutated = {(i, name): (orig, sent, ok) for i, name, orig, sent, ok in mutations}
    for item in items:
        for col in COLUMNS[1:]:
            if col.udf or col.label_of:
                continue
            kind, back = kinds[col.name], rows[item["id"]][col.name]
            orig, sent, lossless = mutated.get(
                (item["id"], col.name), (item[col.source], None, True)
            )
            if not lossless:  # the text received
                assert back == (sent if isinstance(sent, str) else orjson.dumps(sent).decode())
            elif col.name in promoted and back is not None:
                assert _text_of(kind, back) == _typed(kind, orig)
            else:
                assert back == _typed(kind, orig), (col.name, orig, sent, back)
    # every off-type value counted once, under its column
    counted = {name: c.total for name, c in page.off_type.items()}
    expected: dict[str, int] = {}
    for _, name, _, _, _ in mutations:
        expected[name] = expected.get(name, 0) + 1
    assert counted == expected
