"""Tests for the simulator's OpenAPI document (py_autotask.simulator._openapi)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from py_autotask.simulator._openapi import build_openapi
from py_autotask.simulator._seed import generate

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SERVER = "http://127.0.0.1:8080/ATServicesRest"

pytestmark = pytest.mark.skipif(
    not (SCHEMAS / "entities").is_dir(), reason="schemas/ snapshot not present"
)

_METHOD = {
    "create": "post",
    "update": "patch",
    "replace": "put",
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_openapi(SCHEMAS, SERVER)


@pytest.fixture(scope="module")
def entities() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in sorted(p for p in (SCHEMAS / "entities").iterdir() if p.is_dir()):
        out[d.name] = {
            "fields": json.loads((d / "fields.json").read_text())["fields"],
            "udfs": json.loads((d / "userDefinedFields.json").read_text())["fields"],
            "derived": json.loads((d / "derived.json").read_text()),
        }
    return out


def resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Inline local $refs (bounded depth: Filter is recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            if depth > 8:
                return {}
            merged = {k: v for k, v in node.items() if k != "$ref"}
            return {**resolve(doc, target, depth + 1), **merged}
        return {k: resolve(doc, v, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(doc, v, depth) for v in node]
    return node


def test_document_validates(doc: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def test_json_serialisable_and_deterministic(doc: dict[str, Any]) -> None:
    again = build_openapi(SCHEMAS, SERVER)
    assert json.dumps(doc, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert doc["openapi"].startswith("3.0")
    assert doc["servers"] == [{"url": SERVER}]


def test_security_schemes(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    for name in ("ApiIntegrationCode", "UserName", "Secret"):
        assert schemes[name] == {
            "type": "apiKey",
            "in": "header",
            "name": name,
            "description": schemes[name]["description"],
        }
    assert doc["security"] == [{"ApiIntegrationCode": [], "UserName": [], "Secret": []}]
    assert doc["paths"]["/V1.0/ZoneInformation"]["get"]["security"] == []
    assert doc["paths"]["/VersionInformation"]["get"]["security"] == []


def test_every_collection_and_operation_is_covered(
    doc: dict[str, Any], entities: dict[str, dict[str, Any]]
) -> None:
    paths = doc["paths"]
    for name, ent in entities.items():
        base = f"/V1.0/{name}"
        for suffix in ("", "/fields", "/userDefinedFields"):
            assert "get" in paths[f"{base}/entityInformation{suffix}"], name
        root = ent["derived"]["root"]
        ops = set(root["operations"]) if root else set()
        for op in ops:
            if op in _METHOD:
                assert _METHOD[op] in paths[base], (name, op)
            elif op == "get":
                assert "get" in paths[f"{base}/{{id}}"], name
            elif op == "delete":
                assert "delete" in paths[f"{base}/{{id}}"], name
            elif op == "query":
                assert {"get", "post"} <= set(paths[f"{base}/query"]), name
                assert {"get", "post"} <= set(paths[f"{base}/query/next"]), name
            elif op == "count":
                assert {"get", "post"} <= set(paths[f"{base}/query/count"]), name
            else:
                pytest.fail(f"unexpected root operation {op} on {name}")
        # no operation the snapshot does not declare
        if "create" not in ops and base in paths:
            assert "post" not in paths[base], name
        if "delete" not in ops and f"{base}/{{id}}" in paths:
            assert "delete" not in paths[f"{base}/{{id}}"], name
        for pr in ent["derived"]["parentRoutes"]:
            url = f"/V1.0/{pr['parent']}/{{parentId}}/{pr['child']}"
            assert "get" in paths[f"{url}/entityInformation"], url
            for op in pr["operations"]:
                if op == "list":
                    assert "get" in paths[url], url
                elif op in _METHOD:
                    assert _METHOD[op] in paths[url], (url, op)
                elif op in ("get", "delete"):
                    assert op in paths[f"{url}/{{id}}"], (url, op)
                else:
                    pytest.fail(f"unexpected child operation {op} on {url}")
    for glob in ("ZoneInformation", "ThresholdInformation", "Version", "EntityInformation"):
        assert "get" in paths[f"/V1.0/{glob}"]


def test_operation_ids_unique(doc: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    ]
    assert len(ids) == len(set(ids))


def test_response_shapes(doc: dict[str, Any]) -> None:
    p = doc["paths"]

    def ok_schema(path: str, method: str) -> Any:
        responses = p[path][method]["responses"]
        assert responses["4XX"] == {"$ref": "#/components/responses/Error"}
        assert responses["5XX"] == {"$ref": "#/components/responses/Error"}
        return resolve(doc, responses["200"]["content"]["application/json"]["schema"])

    page = ok_schema("/V1.0/Tickets/query", "post")
    assert page["required"] == ["items", "pageDetails"]
    assert set(page["properties"]["pageDetails"]["properties"]) == {
        "count",
        "requestCount",
        "prevPageUrl",
        "nextPageUrl",
    }
    assert "ticketNumber" in page["properties"]["items"]["items"]["properties"]
    assert ok_schema("/V1.0/Tickets/{id}", "get")["properties"]["item"]["nullable"] is True
    assert ok_schema("/V1.0/Tickets", "post")["required"] == ["itemId"]
    assert ok_schema("/V1.0/Tickets/query/count", "get")["required"] == ["queryCount"]
    assert ok_schema("/V1.0/Tickets/{parentId}/Notes", "get")["required"] == [
        "items",
        "pageDetails",
    ]
    error = resolve(doc, doc["components"]["responses"]["Error"])
    assert error["content"]["application/json"]["schema"]["properties"]["errors"] == {
        "type": "array",
        "items": {"type": "string"},
    }
    query_body = resolve(doc, p["/V1.0/Tickets/query"]["post"]["requestBody"])
    qm = query_body["content"]["application/json"]["schema"]
    assert set(qm["properties"]) == {"maxRecords", "includeFields", "filter"}
    assert qm["properties"]["maxRecords"]["maximum"] == 500


def test_request_bodies_follow_fields(
    doc: dict[str, Any], entities: dict[str, dict[str, Any]]
) -> None:
    schemas = doc["components"]["schemas"]
    for name, ent in entities.items():
        singular = ent["derived"]["singular"]
        create = schemas.get(f"{singular}Create")
        if create is None:
            continue
        fields = {f["name"]: f for f in ent["fields"]}
        required = set(create.get("required", []))
        expected = {
            n for n, f in fields.items() if f["isRequired"] and not f["isReadOnly"] and n != "id"
        }
        assert required == expected, name
        assert "id" not in create["properties"]
        for fname, f in fields.items():
            if fname == "id":
                continue
            prop = create["properties"][fname]
            if f["isReadOnly"]:
                assert prop.get("readOnly") is True, (name, fname)
            dt = f["dataType"]
            if dt in ("integer", "long", "short"):
                assert prop["type"] == "integer"
            elif dt in ("decimal", "double", "float"):
                assert prop["type"] == "number"
            elif dt == "boolean":
                assert prop["type"] == "boolean"
            elif dt == "datetime":
                assert prop["format"] == "date-time"
            elif dt == "string" and f["length"] and "enum" not in prop:
                assert prop["maxLength"] == f["length"], (name, fname)
            if f["isPickList"] and f["picklistValues"] and "enum" in prop:
                active = {pv["value"] for pv in f["picklistValues"] if pv["isActive"]}
                assert {str(v) for v in prop["enum"] if v is not None} <= active
                if dt in ("integer", "long", "short"):
                    assert all(isinstance(v, int) for v in prop["enum"] if v is not None)
        update = schemas[f"{singular}Update"]
        assert update["required"] == ["id"]
        replace = schemas[f"{singular}Replace"]
        assert set(replace["required"]) == {"id"} | expected
        if ent["udfs"]:
            assert "userDefinedFields" in create["properties"]
    tickets = schemas["TicketCreate"]
    assert {"companyID", "priority", "status", "title"} <= set(tickets["required"])
    assert 1 in tickets["properties"]["status"]["enum"]
    notes = schemas.get("TicketNoteChildCreate")
    assert notes is not None and "ticketID" not in notes.get("required", [])
    child_post = doc["paths"]["/V1.0/Tickets/{parentId}/Notes"]["post"]
    assert child_post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketNoteChildCreate"
    }


def test_seeded_records_match_response_schemas(
    doc: dict[str, Any], entities: dict[str, dict[str, Any]]
) -> None:
    """The generator and the document agree on every field type (datetime pattern, nullability)."""
    osv = pytest.importorskip("openapi_schema_validator")
    schemas = doc["components"]["schemas"]
    validators: dict[str, Any] = {}
    checked = 0
    for coll, rec in generate(SCHEMAS, "tiny"):
        v = validators.get(coll)
        if v is None:
            schema = resolve(doc, schemas[entities[coll]["derived"]["singular"]])
            v = validators[coll] = osv.OAS30Validator(schema)
        errors = [e.message for e in v.iter_errors(rec)]
        assert not errors, (coll, rec["id"], errors[:3])
        checked += 1
    assert checked > 100


def test_live_simulator_answers_match_document(doc: dict[str, Any]) -> None:
    """A few real simulator answers validate against the document (skipped without the server)."""
    osv = pytest.importorskip("openapi_schema_validator")
    pytest.importorskip("starlette")
    testclient = pytest.importorskip("starlette.testclient")
    try:
        from py_autotask.simulator import (
            DEFAULT_INTEGRATION_CODE,
            DEFAULT_SECRET,
            DEFAULT_USERNAME,
            SimulatorState,
            create_app,
        )

        state = SimulatorState(SCHEMAS, profile="tiny")
        state.initial_load()
        app = create_app(state)
    except Exception as exc:  # the server lives in other modules; do not fail on its churn
        pytest.skip(f"simulator app unavailable: {exc!r}")
    headers = {
        "ApiIntegrationCode": DEFAULT_INTEGRATION_CODE,
        "UserName": DEFAULT_USERNAME,
        "Secret": DEFAULT_SECRET,
    }
    search = json.dumps({"filter": [{"op": "gte", "field": "id", "value": 0}]})
    calls = [
        ("get", "/V1.0/Tickets/query", {"search": search}, None),
        (
            "post",
            "/V1.0/Companies/query",
            None,
            {"filter": [{"op": "gt", "field": "id", "value": 0}]},
        ),
        ("get", "/V1.0/Tickets/query/count", {"search": search}, None),
        ("get", "/V1.0/Tickets/{id}", None, None),
        ("get", "/V1.0/Tickets/{parentId}/Notes", None, None),
        ("get", "/V1.0/Contacts/entityInformation/fields", None, None),
        ("get", "/V1.0/ThresholdInformation", None, None),
    ]
    with testclient.TestClient(app) as client:
        for method, path, params, body in calls:
            url = "/ATServicesRest" + path.replace("{id}", "1").replace("{parentId}", "1")
            resp = client.request(method.upper(), url, params=params, json=body, headers=headers)
            assert resp.status_code == 200, (path, resp.text[:300])
            schema = resolve(
                doc,
                doc["paths"][path][method]["responses"]["200"]["content"]["application/json"][
                    "schema"
                ],
            )
            errors = [e.message for e in osv.OAS30Validator(schema).iter_errors(resp.json())]
            assert not errors, (path, errors[:3])
        # the error shape
        resp = client.post(
            "/ATServicesRest/V1.0/Tickets/query", json={"filter": []}, headers=headers
        )
        if resp.status_code >= 400:
            assert isinstance(resp.json()["errors"], list)


def test_command_line_writes_the_document(tmp_path: Path, doc: dict[str, Any]) -> None:
    from py_autotask.simulator._openapi import main

    out = tmp_path / "openapi.json"
    assert main(["--server", SERVER, "--schemas", str(SCHEMAS), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc))
