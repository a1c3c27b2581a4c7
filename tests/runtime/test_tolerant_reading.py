"""Tolerant reading: records whose values do not match the metadata are read, never dropped.

``tolerant_corpus/<Entity>.json`` holds real-shaped records (the shapes real tenants send: a ZIP
code as an int, ``contractPeriodType`` ``"m"`` for an integer picklist, ``{}`` for the UDF list,
``""`` for a datetime, numeric text, 0/1 and ``"True"`` for booleans, ``1.0`` for integers, nested
nulls, unknown fields) and, per record, which fields are off-type, what the record must hold for
each (as ``to_api_dict()`` writes it) and whether that is a conversion or the value as received.
They are served by the real simulator (stored as raw documents, so its pages carry them byte for
byte) and read through the client. A hypothesis strategy then mutates valid records into off-type
ones and checks that no record is lost and every original value survives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from py_autotask import (
    AsyncAutotaskClient,
    AutotaskAPIError,
    AutotaskClient,
    AutotaskModel,
    AutotaskOffTypeValueError,
)
from py_autotask._model import read_page

simulator = pytest.importorskip("py_autotask.simulator")
generated = pytest.importorskip("py_autotask_generated.entities")
models = pytest.importorskip("py_autotask_generated.models")

CORPUS_DIR = Path(__file__).with_name("tolerant_corpus")
CORPUS: dict[str, list[dict[str, Any]]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(CORPUS_DIR.glob("*.json"))
}
ATTRIBUTES = {
    "Companies": "companies",
    "Contracts": "contracts",
    "Resources": "resources",
    "Contacts": "contacts",
    "Tickets": "tickets",
}


def _model(entity: str) -> type[AutotaskModel]:
    model: type[AutotaskModel] = getattr(models, generated.spec(entity).singular)
    return model


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(profile=None, hourly_threshold=0) as s:
        for entity, entries in CORPUS.items():
            meta = s.state.schema.entity(entity)
            for entry in entries:
                s.state.store.put(meta, entry["record"])
        yield s


def _client(sim: Any, **options: Any) -> AutotaskClient:
    return AutotaskClient(**sim.credentials, **options)


def _check_record(entity: str, entry: dict[str, Any], record: AutotaskModel) -> None:
    raw: dict[str, Any] = entry["record"]
    expected: dict[str, Any] = entry["off_type"]
    where = f"{entity} {raw['id']}"
    assert set(record.off_type_fields) == set(expected), where
    written = record.to_api_dict()
    for field, want in expected.items():
        off = record.off_type_fields[field]
        assert (off.field, off.received, off.converted) == (field, raw[field], want["converted"])
        assert written[field] == want["value"], (where, field)
        if not want["converted"]:  # kept exactly as received: same value, same type
            assert record[field] == raw[field] and type(record[field]) is type(raw[field])
            assert off.value is off.received
    # every other value is read exactly as a clean page would read it
    clean_keys = [k for k in raw if k not in expected]
    clean = _model(entity).model_validate({k: raw[k] for k in clean_keys}).to_api_dict()
    assert {k: written.get(k) for k in clean_keys} == {k: clean.get(k) for k in clean_keys}


def test_every_corpus_record_is_read_with_its_values_converted_or_kept(sim: Any) -> None:
    with _client(sim) as client:
        for entity, entries in CORPUS.items():
            records = getattr(client, ATTRIBUTES[entity]).query_all()
            assert [r.id for r in records] == [e["record"]["id"] for e in entries]
            for entry, record in zip(entries, records, strict=True):
                _check_record(entity, entry, record)
    total = sum(len(entries) for entries in CORPUS.values())
    off_type = sum(1 for entries in CORPUS.values() for e in entries if e["off_type"])
    assert total >= 25 and off_type >= 18  # most of the corpus would have failed its page


def test_get_by_id_and_child_lists_are_tolerant(sim: Any) -> None:
    by_id = {e["record"]["id"]: e for entries in CORPUS.values() for e in entries}
    with _client(sim) as client:
        company = client.companies.get(102)
        assert company is not None and company.user_defined_fields == []
        _check_record("Companies", by_id[102], company)
        resource = client.resources.get(301)
        assert resource is not None and resource.hire_date is None
        assert resource.office_phone == "5551234"
        contract = client.contracts.get(201)
        assert contract is not None and contract.contract_period_type == "m"  # kept: "m"
        contacts = client.companies.contacts(101).query_all()
        assert [c.id for c in contacts] == [401, 402, 403]
        for contact in contacts:
            _check_record("Contacts", by_id[contact.id], contact)
        assert client.stats.off_type[("Contacts", "zipCode")] == 1


def test_each_field_is_counted_and_warned_about_once(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    expected = Counter(
        (entity, field)
        for entity, entries in CORPUS.items()
        for e in entries
        for field in e["off_type"]
    )
    caplog.set_level(logging.WARNING, logger="py_autotask")
    with _client(sim) as client:
        for _round in (1, 2):
            for entity in CORPUS:
                getattr(client, ATTRIBUTES[entity]).query_all()
        assert client.stats.off_type == {key: 2 * n for key, n in expected.items()}
        assert client.stats.off_type_total == 2 * sum(expected.values())
        example = client.stats.examples[("Companies", "postalCode")]
        assert (example.received, example.value, example.converted) == (90210, "90210", True)
    warned = Counter()
    for rec in caplog.records:
        text = rec.getMessage()
        for entity, field in expected:
            if text.startswith(f"{entity} record") and f"field {field} is declared" in text:
                warned[(entity, field)] += 1
    assert warned == Counter(dict.fromkeys(expected, 1))
    postal = next(r.getMessage() for r in caplog.records if "field postalCode" in r.getMessage())
    assert "Companies record 101" in postal and "declared string" in postal
    assert "int 90210" in postal and "read as str '90210'" in postal
    period = next(r.getMessage() for r in caplog.records if "contractPeriodType" in r.getMessage())
    assert "declared integer" in period and "str 'm'" in period and "kept as received" in period
    secret = sim.credentials["secret"]
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_strict_raises_naming_entity_id_field_type_and_value(sim: Any) -> None:
    with _client(sim, strict=True) as client:
        with pytest.raises(AutotaskOffTypeValueError) as info:
            client.companies.query_all()
        error = info.value
        assert isinstance(error, AutotaskAPIError)
        assert (error.entity, error.record_id, error.field, error.expected, error.value) == (
            "Companies",
            101,
            "postalCode",
            "string",
            90210,
        )
        text = str(error)
        assert "Companies record 101" in text and "postalCode" in text
        assert "declared string" in text and "int 90210" in text and "strict=True" in text
        again = pickle.loads(pickle.dumps(error))
        assert (again.entity, again.record_id, again.field, again.value) == (
            "Companies",
            101,
            "postalCode",
            90210,
        )
        with pytest.raises(AutotaskOffTypeValueError, match=r"contractPeriodType.*str 'm'"):
            client.contracts.get(201)
        clean = client.companies.get(106)  # a record that matches its metadata reads as usual
        assert clean is not None and clean.company_name == "Fabrikam"
        assert client.stats.off_type == {}


def test_async_client_reads_tolerantly_and_strictly(sim: Any) -> None:
    async def run() -> None:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            records = await client.contracts.query_all()
            assert [r.id for r in records] == [e["record"]["id"] for e in CORPUS["Contracts"]]
            for entry, record in zip(CORPUS["Contracts"], records, strict=True):
                _check_record("Contracts", entry, record)
            assert client.stats.off_type[("Contracts", "contractPeriodType")] == 2
        async with AsyncAutotaskClient(**sim.credentials, strict=True) as client:
            with pytest.raises(AutotaskOffTypeValueError, match="hireDate"):
                await client.resources.get(301)

    asyncio.run(run())


# --- mutations: valid records made off-type --------------------------------------------------------

Check = Callable[[Any], bool]
_TRUE = {"true", "1", "yes", "y", "t", "on"}
_FALSE = {"false", "0", "no", "n", "f", "off"}
BASE_TIME = datetime(2016, 3, 30, 13, 10, 35, 563000, tzinfo=timezone.utc)


def _never(_held: Any) -> bool:
    return False


def _same_number(raw: Any, held: Any) -> bool:
    if isinstance(held, bool) or not isinstance(held, (int, float)):
        return False
    try:
        return Decimal(str(raw).strip()) == Decimal(str(held))
    except InvalidOperation:
        return False


def _none(held: Any) -> bool:
    return held is None


junk = st.one_of(
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    st.lists(st.integers(), min_size=1, max_size=2),
)


def _mutations(kind: str) -> st.SearchStrategy[tuple[Any, Check]]:
    """``(off-type value, what the record may hold instead of it)`` for a field of ``kind``; the
    value as received is always allowed too."""
    if kind == "string":
        return st.one_of(
            st.integers().map(lambda i: (i, lambda h, i=i: h == str(i))),
            st.floats(allow_nan=False, allow_infinity=False).map(
                lambda f: (f, lambda h, f=f: isinstance(h, str) and float(h) == f)
            ),
            st.booleans().map(lambda b: (b, _never)),
            junk.map(lambda j: (j, _never)),
        )
    if kind in ("integer", "long", "short"):
        return st.one_of(
            st.just(("", _none)),
            st.sampled_from(["m", "y", "High", "1,000", "5.5"]).map(lambda t: (t, _never)),
            st.integers().map(lambda i: (f" {i} ", lambda h, i=i: h == i)),
            st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15).map(
                lambda f: (f, lambda h, f=f: _same_number(f, h))
            ),
            st.text(max_size=4).map(
                # blank text (``""``, ``"\r"``, spaces) reads as null, as documented in read_wire
                lambda t: (t, lambda h, t=t: h is None if t.strip() == "" else _same_number(t, h))
            ),
            junk.map(lambda j: (j, _never)),
        )
    if kind in ("double", "decimal", "float"):
        return st.one_of(
            st.just(("", _none)),
            st.sampled_from(["two", "1,5", "n/a"]).map(lambda t: (t, _never)),
            st.decimals(min_value=-(10**9), max_value=10**9, places=3).map(
                lambda d: (str(d), lambda h, d=d: _same_number(d, h))
            ),
            junk.map(lambda j: (j, _never)),
        )
    if kind == "boolean":
        return st.one_of(
            st.just(("", _none)),
            st.integers(min_value=-3, max_value=3).map(
                lambda i: (i, lambda h, i=i: isinstance(h, bool) and i in (0, 1) and h == bool(i))
            ),
            st.sampled_from(
                ["True", "FALSE", "yes", "No", "on", "off", "1", "0", "maybe", "2"]
            ).map(
                lambda t: (
                    t,
                    lambda h, t=t: isinstance(h, bool) and t.lower() in (_TRUE if h else _FALSE),
                )
            ),
            junk.map(lambda j: (j, _never)),
        )
    if kind in ("datetime", "date"):
        naive = BASE_TIME.replace(tzinfo=None)
        return st.one_of(
            st.just(("", _none)),
            st.sampled_from(["3/30/2016", "yesterday", "2016-13-01"]).map(lambda t: (t, _never)),
            # unpadded month and day, a space for T, 7 fraction digits: the same instant (digits
            # below the microsecond, which no Python, Arrow or database type holds, are cut)
            st.integers(min_value=0, max_value=9).map(
                lambda d: (f"2016-3-30 13:10:35.563000{d}", lambda h: h == BASE_TIME)
            ),
            st.just(
                (f"{naive:%Y-%m-%d}", lambda h: h == datetime(2016, 3, 30, tzinfo=timezone.utc))
            ),
            st.just(("2016-3-30", lambda h: h == datetime(2016, 3, 30, tzinfo=timezone.utc))),
            junk.map(lambda j: (j, _never)),
        )
    raise AssertionError(kind)


def _udf_mutations() -> st.SearchStrategy[tuple[Any, Check]]:
    return st.one_of(
        st.just(({}, lambda h: h == [])),
        st.just(
            (
                {"name": "Customer Ranking", "value": "Golden"},
                lambda h: h == [{"name": "Customer Ranking", "value": "Golden"}],
            )
        ),
        st.integers().map(
            lambda i: (
                [{"name": "Account", "value": i}],
                lambda h, i=i: h == [{"name": "Account", "value": str(i)}],
            )
        ),
        st.just(([None], _never)),
        st.just(("", _none)),
    )


COMPANY = generated.spec("Companies")
_BASE_VALUES = {
    "string": "text",
    "integer": 7,
    "long": 7,
    "short": 7,
    "double": 1.25,
    "decimal": 1.25,
    "float": 1.25,
    "boolean": True,
    "datetime": "2016-03-30T13:10:35.563",
    "date": "2016-03-30",
}
_FIELDS = sorted(n for n, f in COMPANY.fields.items() if n != "id")


def _base(record_id: int) -> dict[str, Any]:
    record = {n: _BASE_VALUES[COMPANY.fields[n].data_type] for n in _FIELDS}
    record["id"] = record_id
    record["userDefinedFields"] = [{"name": "Customer Ranking", "value": "Golden"}]
    record["aFieldAddedLater"] = {"nested": [None, 1]}
    return record


@st.composite
def mutated_records(draw: st.DrawFn, record_id: int) -> tuple[dict[str, Any], dict[str, Check]]:
    record = _base(record_id)
    checks: dict[str, Check] = {}
    for name in draw(
        st.lists(st.sampled_from([*_FIELDS, "userDefinedFields"]), max_size=6, unique=True)
    ):
        if name == "userDefinedFields":
            record[name], checks[name] = draw(_udf_mutations())
        else:
            record[name], checks[name] = draw(_mutations(COMPANY.fields[name].data_type))
    return record, checks


def _held(record: AutotaskModel, field: str) -> Any:
    value = record[field]
    if isinstance(value, list):
        return [v.to_api_dict() if isinstance(v, AutotaskModel) else v for v in value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8, unique=True
    ).flatmap(lambda ids: st.tuples(*[mutated_records(i) for i in ids]))
)
def test_mutated_records_are_never_lost_and_keep_every_value(
    pages: tuple[tuple[dict[str, Any], dict[str, Check]], ...],
) -> None:
    model = _model("Companies")
    body = json.dumps({"items": [rec for rec, _c in pages], "pageDetails": {"count": len(pages)}})
    page, off_type = read_page(model, body)
    assert [r.id for r in page.items] == [rec["id"] for rec, _c in pages]  # nothing lost
    clean = model.model_validate(_base(0))
    for (raw, checks), record in zip(pages, page.items, strict=True):
        assert any(r is record for r in off_type) == bool(record.off_type_fields)
        for field, value in raw.items():
            if field == "id":
                continue
            held = _held(record, field)
            if field not in checks:  # untouched: as a clean record reads it
                assert held == _held(clean, field), field
                assert field not in record.off_type_fields
                continue
            kept = held == value and type(held) is type(value)
            assert kept or checks[field](held), (field, value, held)
            off = record.off_type_fields.get(field)
            if off is not None:  # received exactly; held converted losslessly or as received
                assert off.received == value and type(off.received) is type(value)
                assert checks[field](held) if off.converted else kept, (field, value, held)
