"""``messy=``: a fraction of the seeded records carries off-type values as real tenants send them,
deterministically by seed, and the simulator still answers filters on them the SQL Server way."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sim_helpers import SCHEMAS, api_client

from py_autotask.simulator import Simulator
from py_autotask.simulator._seed import generate
from tests._serve import served

COUNTS = {"Tickets": 600, "Companies": 60, "Contacts": 300}
INT_TYPES = {"integer", "long", "short"}
FLOAT_TYPES = {"decimal", "double"}


def _fields(entity: str) -> dict[str, dict[str, Any]]:
    doc = json.loads((SCHEMAS / "entities" / entity / "fields.json").read_text())
    return {f["name"]: f for f in doc["fields"]}


def _off_type(f: dict[str, Any], value: Any) -> str | None:
    """Which off-type shape ``value`` is for field metadata ``f`` (None: the declared type)."""
    dt = f["dataType"]
    if value is None:
        return None
    if dt in INT_TYPES:
        if type(value) is int:
            return None
        if value == "":
            return "empty-text"
        if isinstance(value, float):
            return "integral-float"
        return "numeric-text" if str(value).lstrip("-").isdigit() else "picklist-code"
    if dt in FLOAT_TYPES:
        if type(value) in (int, float):
            return None
        return "empty-text" if value == "" else "numeric-text"
    if dt == "boolean":
        if type(value) is bool:
            return None
        return "int-flag" if type(value) is int else "text-flag"
    if dt == "datetime":
        return "empty-text" if value == "" else None
    return "digits-as-number" if not isinstance(value, str) else None


def _records(messy: float, seed: int = 42) -> dict[tuple[str, int], dict[str, Any]]:
    return {(c, r["id"]): r for c, r in generate(SCHEMAS, "tiny", seed, counts=COUNTS, messy=messy)}


def test_a_fraction_of_records_is_messy_and_the_rest_is_unchanged() -> None:
    clean = _records(0.0)
    messy = _records(0.1)
    assert messy.keys() == clean.keys()
    changed = [k for k in clean if messy[k] != clean[k]]
    tickets = [k for k in changed if k[0] == "Tickets"]
    # about 10 % of the 600 tickets (a drawn record may happen to keep every value)
    assert 30 <= len(tickets) <= 90, len(tickets)
    seen: Counter[tuple[str, str]] = Counter()
    for entity, rid in changed:
        fields = _fields(entity)
        for name, value in messy[entity, rid].items():
            if name == "userDefinedFields":
                continue
            shape = _off_type(fields[name], value)
            if shape is None:
                assert value == clean[entity, rid][name], (entity, rid, name)
            else:
                seen[entity, shape] += 1
                # ids, references and creation/change-tracking datetimes stay clean
                assert name != "id" and not fields[name]["isReference"], (entity, name)
                assert name not in ("createDate", "lastActivityDate", "lastModifiedDate")
    assert {s for e, s in seen if e == "Tickets"} >= {
        "empty-text",
        "integral-float",
        "numeric-text",
        "picklist-code",
        "int-flag",
        "text-flag",
    }
    assert seen["Companies", "digits-as-number"] + seen["Contacts", "digits-as-number"] > 0
    udf_lists = [messy[k].get("userDefinedFields") for k in tickets]
    assert [] in udf_lists  # UDF list emptied (a get by id then answers {})
    # "" for a datetime UDF (UDF values are text on the wire; "" is off-type for a datetime)
    empty = [
        (k, u["name"])
        for k in tickets
        for u in messy[k].get("userDefinedFields") or []
        if u["value"] == ""
    ]
    assert "Agreed Start Date" in {n for _, n in empty}, empty


def test_messy_records_are_deterministic_by_seed() -> None:
    assert _records(0.05) == _records(0.05)
    other = _records(0.05, seed=7)
    assert [k for k in other if type(other[k]) is not dict] != [
        k for k, v in _records(0.05).items() if type(v) is not dict
    ]
    with pytest.raises(ValueError, match="fraction"):
        next(generate(SCHEMAS, "tiny", 42, messy=1.5))


@pytest.fixture(scope="module")
def messy_sim() -> Iterator[Simulator]:
    with Simulator(seed=42, profile="tiny", counts=COUNTS, messy=0.1, hourly_threshold=0) as s:
        yield s


@pytest.fixture
def http(messy_sim: Simulator) -> Iterator[httpx.Client]:
    messy_sim.reset()
    with api_client(messy_sim) as c:
        yield c


def _all(http: httpx.Client, entity: str, flt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = -1
    while True:
        body = {"filter": [*flt, {"op": "gt", "field": "id", "value": after}], "MaxRecords": 500}
        r = http.post(f"{entity}/query", json=body)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        out.extend(items)
        if len(items) < 500:
            return out
        after = items[-1]["id"]


def _ids(http: httpx.Client, entity: str, *flt: dict[str, Any]) -> set[int]:
    return {i["id"] for i in _all(http, entity, list(flt))}


def _count(http: httpx.Client, entity: str, *flt: dict[str, Any]) -> int:
    r = http.post(f"{entity}/query/count", json={"filter": list(flt)})
    assert r.status_code == 200, r.text
    return int(r.json()["queryCount"])


def test_filters_see_values_as_sql_server_would_convert_them(http: httpx.Client) -> None:
    tickets = _all(http, "Tickets", [])
    assert len(tickets) == COUNTS["Tickets"]
    by_shape: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    fields = _fields("Tickets")
    for t in tickets:
        for name in ("priority", "status", "estimatedHours", "isVisibleToComanaged", "dueDateTime"):
            shape = _off_type(fields[name], t[name])
            if shape is not None:
                by_shape.setdefault(shape, []).append((name, t))
    # numeric text and integral floats compare as the integers they are
    for shape in ("numeric-text", "integral-float"):
        for name, t in by_shape[shape]:
            if fields[name]["dataType"] in INT_TYPES:
                cond = {"op": "eq", "field": name, "value": int(float(t[name]))}
                assert t["id"] in _ids(http, "Tickets", cond), (shape, name, t[name])
    # a letter code in an integer picklist cannot convert: NULL to the query engine
    name, t = next(p for p in by_shape["picklist-code"] if p[0] in ("priority", "status"))
    assert t["id"] not in _ids(http, "Tickets", {"op": "gte", "field": name, "value": -(2**31)})
    assert t["id"] in _ids(http, "Tickets", {"op": "notExist", "field": name})
    # "" for a datetime or a number is empty
    name, t = by_shape["empty-text"][0]
    assert t["id"] in _ids(http, "Tickets", {"op": "notExist", "field": name})
    # booleans as 0/1 or text are booleans
    for shape in ("int-flag", "text-flag"):
        name, t = by_shape[shape][0]
        truth = t[name] in (1, "true")
        cond = {"op": "eq", "field": name, "value": truth}
        assert t["id"] in _ids(http, "Tickets", cond), (shape, t[name])
    # count agrees with the pages
    cond = {"op": "exist", "field": "priority"}
    assert _count(http, "Tickets", cond) == len(_ids(http, "Tickets", cond))


def test_a_zip_code_sent_as_a_number_matches_text_filters(http: httpx.Client) -> None:
    companies = _all(http, "Companies", [])
    numeric = [c for c in companies if isinstance(c["postalCode"], int)]
    assert numeric, "some company's postalCode arrives as a number"
    c = numeric[0]
    text = str(c["postalCode"])
    assert c["id"] in _ids(http, "Companies", {"op": "eq", "field": "postalCode", "value": text})
    assert c["id"] in _ids(
        http, "Companies", {"op": "beginsWith", "field": "postalCode", "value": text[:3]}
    )


def test_get_by_id_answers_udfs_as_an_object_when_there_are_none(http: httpx.Client) -> None:
    tickets = _all(http, "Tickets", [])
    empty = next(t for t in tickets if t.get("userDefinedFields") == [])
    item = http.get(f"Tickets/{empty['id']}").json()["item"]
    assert item["userDefinedFields"] == {}
    filled = next(t for t in tickets if t.get("userDefinedFields"))
    assert http.get(f"Tickets/{filled['id']}").json()["item"] == filled


def test_updates_of_messy_records_keep_their_filters(http: httpx.Client) -> None:
    tickets = _all(http, "Tickets", [])
    fields = _fields("Tickets")
    name, t = next(
        (k, x)
        for x in tickets
        for k in ("priority", "status", "ticketType", "source")
        if _off_type(fields[k], x[k]) == "picklist-code"
    )
    r = http.patch("Tickets", json={"id": t["id"], "title": "patched messy ticket"})
    assert r.status_code == 200, r.text
    after = http.get(f"Tickets/{t['id']}").json()["item"]
    assert after["title"] == "patched messy ticket" and after[name] == t[name]
    assert t["id"] in _ids(http, "Tickets", {"op": "notExist", "field": name})
    assert t["id"] in _ids(http, "Tickets", {"op": "eq", "field": "title", "value": after["title"]})


def test_reset_brings_the_same_messy_records_back(messy_sim: Simulator, http: httpx.Client) -> None:
    before = _all(http, "Tickets", [])
    http.patch("Tickets", json={"id": before[0]["id"], "title": "changed"})
    messy_sim.reset()
    assert _all(http, "Tickets", []) == before


def test_cli_flag_seeds_messy_records_and_checks_its_bounds() -> None:
    with served(
        *("py_autotask.simulator", "serve", "--port", "0"),
        *("--count", "Tickets=40", "--messy", "0.5"),
    ) as (url, creds):
        body = {"filter": [{"op": "gte", "field": "id", "value": 0}]}
        items = httpx.post(url + "Tickets/query", json=body, headers=creds, timeout=30).json()
        fields = _fields("Tickets")
        shapes = {
            _off_type(fields[k], v) for t in items["items"] for k, v in t.items() if k in fields
        }
        assert len(shapes - {None}) >= 3
    bad = subprocess.run(
        [sys.executable, "-m", "py_autotask.simulator", "serve", "--messy", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "fraction from 0 to 1" in bad.stderr
