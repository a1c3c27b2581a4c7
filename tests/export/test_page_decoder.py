"""``PageDecoder``: the Arrow JSON fast path gives exactly the batch of the general path (orjson +
``page_to_batch``) for every body, and any body it cannot take as-is goes to the general path
instead of being misread. Pure unit tests on hand-built bodies (no server)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from py_autotask.export._columns import Column, PageDecoder, decode_page, page_to_batch

COLUMNS = [
    Column("id", "id", "int"),
    Column("title", "title", "string"),
    Column("status", "status", "int", picklist=True),
    Column("status_label", "status", "string", label_of="status", labels={"1": "New", "5": "Done"}),
    Column("estimatedHours", "estimatedHours", "float"),
    Column("isVisible", "isVisible", "bool"),
    Column("createDate", "createDate", "datetime"),
    Column("dueDay", "dueDay", "date"),
    Column("udf_region", "Region", "string", udf=True),
    Column("udf_seats", "Seats", "int", udf=True),
]


def _body(items: list[dict[str, Any]], next_url: str | None = "http://x/next") -> bytes:
    return orjson.dumps(
        {"items": items, "pageDetails": {"count": len(items), "nextPageUrl": next_url}}
    )


def _item(i: int, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": i,
        "title": f"ticket {i}",
        "status": 5 if i % 2 else 1,
        "estimatedHours": i / 4,
        "isVisible": bool(i % 3),
        "createDate": f"2024-03-{1 + i % 28:02d}T10:11:12.{i % 1000:03d}Z",
        "dueDay": "2024-05-06T00:00:00",
        "ignoredField": {"nested": [1, 2]},
        "userDefinedFields": [
            {"name": "Region", "value": "EMEA" if i % 2 else None},
            {"name": "Seats", "value": str(i)},
        ],
    }
    item.update(over)
    return item


def _general(body: bytes) -> tuple[pa.RecordBatch, str | None]:
    items, next_url = decode_page(body)
    return page_to_batch(items, COLUMNS), next_url


def test_fast_path_equals_the_general_path_and_keeps_next_url() -> None:
    body = _body([_item(i) for i in range(1, 401)])
    decoder = PageDecoder(COLUMNS)
    batch, next_url = decoder.decode(body)
    assert decoder.fallbacks == 0
    assert (batch, next_url) == _general(body)
    assert next_url == "http://x/next"
    row = batch.slice(2, 1).to_pylist()[0]
    assert row["id"] == 3 and row["status_label"] == "Done" and row["udf_seats"] == 3
    assert row["createDate"] == dt.datetime(2024, 3, 4, 10, 11, 12, 3000, tzinfo=dt.timezone.utc)
    assert row["dueDay"] == dt.date(2024, 5, 6) and row["udf_region"] == "EMEA"
    assert batch.schema.field("createDate").type == pa.timestamp("us", tz="UTC")


def test_last_page_has_no_next_url_and_an_empty_page_keeps_the_columns() -> None:
    decoder = PageDecoder(COLUMNS)
    batch, next_url = decoder.decode(_body([_item(1)], None))
    assert next_url is None and batch.num_rows == 1
    empty, _ = decoder.decode(_body([], None))
    assert empty.num_rows == 0 and empty.schema.names == [c.name for c in COLUMNS]
    assert decoder.fallbacks == 0


@pytest.mark.parametrize(
    "odd",
    [
        {"status": "5"},  # a number sent as text
        {"id": 7.0},  # an integer sent as a float
        {"estimatedHours": "1.5"},
        {"isVisible": "true"},
        {"title": 12.5},  # a number where text is expected
        {"createDate": "2024-03-01T10:11:12+02:00"},  # an offset
        {"userDefinedFields": [{"name": "Region", "value": 3}, {"name": "Seats", "value": "1"}]},
        {"userDefinedFields": [{"name": "Seats", "value": "1"}]},  # UDFs listed differently
    ],
    ids=lambda o: next(iter(o)),
)
def test_bodies_the_fast_path_cannot_take_go_to_the_general_path(odd: dict[str, Any]) -> None:
    body = _body([_item(1), _item(2, **odd), _item(3)])
    decoder = PageDecoder(COLUMNS)
    got = decoder.decode(body)
    assert got == _general(body)
    assert decoder.fallbacks == 1


def test_seven_digit_fractions_and_naive_values_stay_on_the_fast_path() -> None:
    # Autotask returns UTC without an offset and with variable fractional seconds; .NET can send 7
    stamps = ["2016-03-30T13:10:35.563", "2018-11-13T17:32:34", "2020-01-01T00:00:00.1234567Z"]
    body = _body([_item(i + 1, createDate=v) for i, v in enumerate(stamps)])
    decoder = PageDecoder(COLUMNS)
    batch, _ = decoder.decode(body)
    assert decoder.fallbacks == 0
    utc = dt.timezone.utc
    assert batch.column("createDate").to_pylist() == [
        dt.datetime(2016, 3, 30, 13, 10, 35, 563000, tzinfo=utc),
        dt.datetime(2018, 11, 13, 17, 32, 34, tzinfo=utc),
        dt.datetime(2020, 1, 1, 0, 0, 0, 123456, tzinfo=utc),  # truncated like fromisoformat
    ]
    assert (batch, None) == (_general(body)[0], None)


def test_duplicate_keys_read_as_the_general_path_reads_them() -> None:
    body = b'{"items":[{"id":1,"title":"a","title":"b"}],"pageDetails":{"nextPageUrl":null}}'
    decoder = PageDecoder(COLUMNS)
    batch, _ = decoder.decode(body)
    assert decoder.fallbacks == 1 and batch.column("title").to_pylist() == ["b"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"items": 5}', b'{"pageDetails": {}}', b"not json"])
def test_a_body_that_is_not_a_query_page_is_an_error_not_an_empty_page(body: bytes) -> None:
    with pytest.raises(ValueError):
        PageDecoder(COLUMNS).decode(body)


_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
_values = st.fixed_dictionaries(
    {
        "title": st.one_of(st.none(), _text),
        "status": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        "estimatedHours": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        "isVisible": st.one_of(st.none(), st.booleans()),
        "createDate": st.one_of(
            st.none(),
            st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)).map(
                lambda d: d.isoformat(timespec="milliseconds") + "Z"
            ),
        ),
        "region": st.one_of(st.none(), _text),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_values, max_size=12))
def test_any_page_decodes_the_same_on_both_paths(rows: list[dict[str, Any]]) -> None:
    items = []
    for i, values in enumerate(rows, start=1):
        region = values.pop("region")
        items.append(
            {
                "id": i,
                **values,
                "userDefinedFields": [
                    {"name": "Region", "value": region},
                    {"name": "Seats", "value": None},
                ],
            }
        )
    body = _body(items)
    decoder = PageDecoder(COLUMNS)
    assert decoder.decode(body) == _general(body)
    assert decoder.fallbacks == 0
