"""Bad queries and bad bodies get Autotask-shaped errors (errors[] of strings), never a crash."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_helpers import ALL_ROWS, api_client, errors_of

from py_autotask.simulator import Simulator

ID0 = {"op": "gte", "field": "id", "value": 0}


def _q(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"filter": list(items), **extra}


BAD_QUERIES: list[tuple[Any, str]] = [
    (_q(ID0, MaxRecords=10000), "MaxRecords"),
    (_q(ID0, MaxRecords=0), "MaxRecords"),
    (_q(ID0, MaxRecords="lots"), "MaxRecords"),
    (_q(ID0, IncludeFields=["companyName"]), "Unable to find companyName in the Ticket Entity"),
    ({"filter": []}, "at least one filter"),
    ({}, "at least one filter"),
    (_q({"op": "and", "items": []}), "at least one filter"),
    (_q({"op": "eq", "field": "noSuchField", "value": 1}), "Unable to find noSuchField"),
    (_q({"op": "like", "field": "id", "value": 1}), "operator"),
    (_q({"op": "contains", "field": "id", "value": 1}), "contains"),
    (
        _q({"op": "eq", "field": "status", "value": "material"}),
        "Conversion failed when converting the varchar value 'material' to data type int.",
    ),
    (_q({"op": "eq", "field": "dueDateTime", "value": "soon"}), "Conversion failed"),
    (_q({"op": "eq", "field": "estimatedHours", "value": "many"}), "converting data type"),
    (_q({"op": "in", "field": "id", "value": 5}), "array"),
    (_q({"op": "in", "field": "id", "value": []}), "at least one value"),
    (_q({"op": "eq", "field": "id", "value": None}), "value"),
    (_q({"op": "eq", "field": "id", "value": 1, "udf": "yes"}), "true or false"),
    (_q({"op": "eq", "field": "id"}), "value"),
    (_q({"op": "eq", "value": 1}), "field"),
    (_q("not an object"), "object"),  # type: ignore[arg-type]
    ({"filter": "id > 3"}, "filter"),
    ([1, 2, 3], "object"),
    (
        _q({"op": "or", "items": [{"op": "eq", "field": "id", "value": i} for i in range(501)]}),
        "500 or fewer 'OR' conditions",
    ),
]


@pytest.mark.parametrize(("body", "needle"), BAD_QUERIES)
def test_bad_query_bodies(client: httpx.Client, fresh: Simulator, body: Any, needle: str) -> None:
    r = client.post("Tickets/query", json=body)
    assert r.status_code == 500, r.text
    errors = errors_of(r)
    assert any(needle.lower() in e.lower() for e in errors), errors
    assert all(e.outcome != "crash" for e in fresh.journal())


def test_boolean_filters_require_true_false(client: httpx.Client) -> None:
    fields = client.get("Tickets/entityInformation/fields").json()["fields"]
    flag = next(f["name"] for f in fields if f["dataType"] == "boolean" and f["isQueryable"])
    for value in ("true", 1, None):
        r = client.post("Tickets/query", json=_q({"op": "eq", "field": flag, "value": value}))
        assert r.status_code == 500 and errors_of(r), value
    assert (
        client.post(
            "Tickets/query", json=_q({"op": "eq", "field": flag, "value": True})
        ).status_code
        == 200
    )


def test_non_queryable_fields_are_rejected(client: httpx.Client) -> None:
    fields = client.get("Tickets/entityInformation/fields").json()["fields"]
    hidden = [f["name"] for f in fields if not f["isQueryable"]]
    if not hidden:
        pytest.skip("every Ticket field is queryable in this snapshot")
    r = client.post("Tickets/query", json=_q({"op": "exist", "field": hidden[0]}))
    assert r.status_code == 500 and "not queryable" in errors_of(r)[0]


def test_only_one_udf_per_query(client: httpx.Client) -> None:
    udfs = [
        u["name"]
        for u in client.get("Tickets/entityInformation/userDefinedFields").json()["fields"]
    ]
    if len(udfs) < 2:
        pytest.skip("needs two Ticket UDFs")
    one = _q({"op": "exist", "field": udfs[0], "udf": True})
    assert client.post("Tickets/query", json=one).status_code == 200
    two = _q(*[{"op": "exist", "field": u, "udf": True} for u in udfs[:2]])
    r = client.post("Tickets/query", json=two)
    assert r.status_code == 500 and "one user defined field" in errors_of(r)[0]
    r = client.post("Tickets/query", json=_q({"op": "exist", "field": "No Such UDF", "udf": True}))
    assert r.status_code == 500 and "No Such UDF" in errors_of(r)[0]


def test_malformed_requests(sim: Simulator, client: httpx.Client) -> None:
    r = client.post(
        "Tickets/query", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 500 and "not valid JSON" in errors_of(r)[0]
    r = client.post("Tickets/query", content=b"")
    assert r.status_code == 500 and errors_of(r)
    r = client.get("Tickets/query")
    assert r.status_code == 500 and "search" in errors_of(r)[0]
    r = client.get("Tickets/query", params={"search": "{oops"})
    assert r.status_code == 500 and errors_of(r)
    r = client.get("Tickets/query/next", params={"paging": "garbage"})
    assert r.status_code == 500 and "paging" in errors_of(r)[0]
    r = client.post("Tickets", content=b"\xff\xfe")
    assert r.status_code == 500 and errors_of(r)
    r = client.post("Tickets/query", json=_q({"op": "eq", "field": "id", "value": 10**30}))
    assert r.status_code in (200, 500)
    assert [(e.method, e.path, e.error) for e in sim.journal() if e.outcome == "crash"] == []


def test_include_fields_limits_columns(client: httpx.Client) -> None:
    r = client.post(
        "Tickets/query", json={**ALL_ROWS, "IncludeFields": ["ID", "title"], "MaxRecords": 2}
    )
    items = r.json()["items"]
    assert len(items) == 2
    assert all(set(i) - {"userDefinedFields"} == {"id", "title"} for i in items)


def test_operators_on_real_records(client: httpx.Client) -> None:
    items = client.post("Tickets/query", json=ALL_ROWS).json()["items"]
    title = items[3]["title"]

    def ids(*flt: dict[str, Any]) -> list[int]:
        r = client.get("Tickets/query", params={"search": json.dumps(_q(*flt))})
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert items[3]["id"] in ids({"op": "eq", "field": "title", "value": title.upper()})
    assert items[3]["id"] in ids({"op": "beginsWith", "field": "title", "value": title[:4]})
    assert items[3]["id"] in ids({"op": "endsWith", "field": "title", "value": title[-3:]})
    assert ids({"op": "in", "field": "id", "value": [2, 4, 999]}) == [2, 4]
    assert ids({"op": "notIn", "field": "id", "value": [1, 2]}) == [
        i["id"] for i in items if i["id"] > 2
    ]
    assert ids(
        {
            "op": "or",
            "items": [
                {"op": "lt", "field": "id", "value": 2},
                {"op": "gt", "field": "id", "value": 19},
            ],
        }
    ) == [i["id"] for i in items if i["id"] < 2 or i["id"] > 19]
    assert ids({"op": "noteq", "field": "id", "value": "3"}) == [
        i["id"] for i in items if i["id"] != 3
    ]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "op",
                    "field",
                    "value",
                    "udf",
                    "items",
                    "filter",
                    "MaxRecords",
                    "IncludeFields",
                    "id",
                    "title",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=json_values,
    target=st.sampled_from(["Tickets/query", "Tickets/query/count", "Tickets", "Companies"]),
)
def test_fuzzed_bodies_never_crash(sim: Simulator, body: Any, target: str) -> None:
    # this example's own requests: the session's simulator also holds other tests' requests
    seen = {e.seq for e in sim.journal()}
    with api_client(sim) as c:
        method = "PATCH" if target == "Companies" else "POST"
        r = c.request(method, target, content=json.dumps(body))
    assert r.status_code in (200, 500), r.text
    data = r.json()
    assert isinstance(data, dict)
    if r.status_code == 500:
        assert errors_of(r)
    mine = [e for e in sim.journal() if e.seq not in seen]
    assert [(e.method, e.path, e.error) for e in mine if e.outcome == "crash"] == []
