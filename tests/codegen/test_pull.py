"""``codegen pull`` against a real HTTP server that replays captured live Autotask responses.

The server (stdlib ``http.server`` on 127.0.0.1) serves the ``entityInformation/fields`` and
``userDefinedFields`` bodies captured from a live tenant (``schemas/source/``, where the tenant's
picklist labels are neutral; the server gives them labels of a tenant's own again) and records every
request, so the tests check the auth headers, the concurrency limit, retries, zone discovery and
what ``pull`` writes and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from codegen import pull as pull_mod
from codegen._jsonio import read_json

REPO = Path(__file__).resolve().parents[2]
LIVE_FILE = REPO / "schemas" / "source" / "rest-entity-fields-live-tenant-n8n-cache-2025-03.json"
LIVE_ENTITIES = ["CompanyWebhooks", "Contacts", "Resources", "TicketWebhooks", "Tickets"]

USERNAME = "api.user+pull@example.com"
SECRET = "s3cr3t-Value-9f2"
INTEGRATION_CODE = "INTEGRATIONCODE27CHARSXXXXX"

# --------------------------------------------------------------------------- server


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeAutotask:
    """Routes (path -> (status, body)), a request log and failure injection."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)  # served first
    log: list[Recorded] = field(default_factory=list)
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""

    @property
    def api_root(self) -> str:
        return f"{self.base}/ATServicesRest/V1.0/"

    def metadata_requests(self) -> list[Recorded]:
        return [r for r in self.log if "/entityInformation" in r.path]


def _handler(state: FakeAutotask) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with state.lock:
                state.log.append(
                    Recorded("GET", parts.path, parse_qs(parts.query), dict(self.headers.items()))
                )
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                queued = state.failures.get(parts.path)
                answer = queued.pop(0) if queued else state.routes.get(parts.path)
            try:
                time.sleep(state.delay)
            finally:
                # done before the answer is written: once the client has read it, it may send the
                # next request before this thread would get here (seen as 3 of 2 under load)
                with state.lock:
                    state.in_flight -= 1
            if answer is None:
                self._send(404, "<html><body>404 - File or directory not found.</body></html>")
            else:
                self._send(*answer)

        def _send(self, status: int, body: Any) -> None:
            raw = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            ctype = "text/html" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    """The captured bodies, each non-system picklist value labelled as a tenant would label it
    (the stored copy has neutral labels), so there is something for ``pull`` to neutralise."""
    entities: dict[str, Any] = read_json(LIVE_FILE)["entities"]
    for body in entities.values():
        for item in [*body["fields"], *body["userDefinedFields"]]:
            for pv in item.get("picklistValues") or []:
                if not pv["isSystem"]:
                    pv["label"] = f"Tenant's own name for {pv['value']}"
    return entities


def _info_body(entity: str) -> dict[str, Any]:
    body: dict[str, Any] = read_json(
        REPO / "schemas" / "entities" / entity / "entityInformation.json"
    )
    return body


@pytest.fixture
def server(captured: dict[str, Any]) -> Iterator[FakeAutotask]:
    state = FakeAutotask()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    prefix = "/ATServicesRest/V1.0"
    for name in LIVE_ENTITIES:
        info = _info_body(name)
        if name == "Resources":  # a tenant-visible difference from the Swagger-derived snapshot
            info["info"]["userAccessForQuery"] = "Restricted"
        state.routes[f"{prefix}/{name}/entityInformation"] = (200, info)
        state.routes[f"{prefix}/{name}/entityInformation/fields"] = (
            200,
            {"fields": captured[name]["fields"]},
        )
        state.routes[f"{prefix}/{name}/entityInformation/userDefinedFields"] = (
            200,
            {"fields": captured[name]["userDefinedFields"]},
        )
    state.routes[f"{prefix}/zoneInformation"] = (
        200,
        {"zoneName": "Test Zone", "url": f"{state.base}/ATServicesRest/", "webUrl": "", "ci": 1},
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    out = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", out, ignore=shutil.ignore_patterns("source"))
    return out


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", USERNAME)
    monkeypatch.setenv("AUTOTASK_SECRET", SECRET)
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", INTEGRATION_CODE)
    monkeypatch.delenv("AUTOTASK_API_URL", raising=False)
    monkeypatch.delenv("AUTOTASK_ZONE_DISCOVERY_URL", raising=False)
    monkeypatch.setattr(pull_mod, "RETRY_BASE_DELAY", 0.01)


def _args(
    out: Path, base_url: str | None, entities: list[str] | None, **kw: Any
) -> argparse.Namespace:
    return argparse.Namespace(
        base_url=base_url,
        out=out,
        entities=entities,
        concurrency=kw.get("concurrency", 3),
        keep_tenant_labels=kw.get("keep_tenant_labels", False),
    )


# --------------------------------------------------------------------------- expected output

# The documented normalisation, written out independently of codegen: fields and UDFs sorted by
# name (case-insensitive), picklist values by (sortOrder, value), labels of non-system values
# replaced by "<fieldName> <value>" unless tenant labels are kept.


def _expected(items: list[dict[str, Any]], keep_labels: bool) -> list[dict[str, Any]]:
    out = []
    for item in items:
        entry = json.loads(json.dumps(item))
        values = entry.get("picklistValues")
        if values is not None:
            for pv in values:
                if not keep_labels and not pv["isSystem"]:
                    pv["label"] = f"{entry['name']} {pv['value']}"
            values.sort(key=lambda pv: (pv["sortOrder"] or 0, str(pv["value"])))
        out.append(entry)
    return sorted(out, key=lambda e: str(e["name"]).lower())


def _assert_written(schemas: Path, captured: dict[str, Any], keep_labels: bool) -> None:
    for name in LIVE_ENTITIES:
        folder = schemas / "entities" / name
        assert read_json(folder / "fields.json") == {
            "fields": _expected(captured[name]["fields"], keep_labels)
        }, name
        assert read_json(folder / "userDefinedFields.json") == {
            "fields": _expected(captured[name]["userDefinedFields"], keep_labels)
        }, name


# --------------------------------------------------------------------------- tests


def _plant_differences(schemas: Path) -> None:
    """Make the 'before' snapshot differ from what the tenant serves, in known ways."""
    ent = schemas / "entities"

    def edit(entity: str, fname: str, fn: Any) -> None:
        path = ent / entity / fname
        data = read_json(path)
        fn(data["fields"])
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def drop_ticket_category(fields: list[dict[str, Any]]) -> None:
        fields[:] = [f for f in fields if f["name"] != "ticketCategory"]

    def shorten_first_name(fields: list[dict[str, Any]]) -> None:
        next(f for f in fields if f["name"] == "firstName")["length"] = 20

    def email_optional(fields: list[dict[str, Any]]) -> None:
        next(f for f in fields if f["name"] == "email")["isRequired"] = False

    def drop_priority_value(fields: list[dict[str, Any]]) -> None:
        values = next(f for f in fields if f["name"] == "priority")["picklistValues"]
        values[:] = [v for v in values if v["value"] != "1"]

    def drop_udf(fields: list[dict[str, Any]]) -> None:
        fields[:] = [f for f in fields if f["name"] != "Contact Validated"]

    edit("Tickets", "fields.json", drop_ticket_category)
    edit("Tickets", "fields.json", drop_priority_value)
    edit("Contacts", "fields.json", shorten_first_name)
    edit("Resources", "fields.json", email_optional)
    edit("Contacts", "userDefinedFields.json", drop_udf)


def test_pull_writes_normalised_live_responses_and_reports_drift(
    server: FakeAutotask,
    schemas: Path,
    captured: dict[str, Any],
    creds: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = {n: read_json(schemas / "entities" / n / "derived.json") for n in LIVE_ENTITIES}
    _plant_differences(schemas)
    planted = {
        n: {f["name"]: f for f in read_json(schemas / "entities" / n / "fields.json")["fields"]}
        for n in LIVE_ENTITIES
    }
    server.delay = 0.02

    rc = pull_mod.run_pull(_args(schemas, server.api_root, list(LIVE_ENTITIES), concurrency=2))
    out, err = capsys.readouterr()

    assert rc == 0, err
    # Auth headers arrive on every metadata request; 3 requests per entity; limit respected.
    requests = server.metadata_requests()
    assert len(requests) == 3 * len(LIVE_ENTITIES)
    for req in requests:
        assert req.headers["UserName"] == USERNAME
        assert req.headers["Secret"] == SECRET
        assert req.headers["ApiIntegrationCode"] == INTEGRATION_CODE
    assert 1 <= server.max_in_flight <= 2

    _assert_written(schemas, captured, keep_labels=False)
    for name in LIVE_ENTITIES:
        folder = schemas / "entities" / name
        assert (
            read_json(folder / "entityInformation.json")
            == server.routes[f"/ATServicesRest/V1.0/{name}/entityInformation"][1]
        )
        derived = read_json(folder / "derived.json")
        for key in ("root", "parentRoutes", "childRoutes", "swaggerFields", "soapFieldAliases"):
            assert derived[key] == original[name][key], (name, key)
        # A field the API reports differently from the snapshot (or newly) is "pulled"; an
        # unchanged one keeps its recorded source.
        written = read_json(folder / "fields.json")["fields"]
        expected = {
            f["name"]: (
                original[name]["provenance"]["perField"][f["name"]]
                if planted[name].get(f["name"]) == f
                and f["name"] in original[name]["provenance"]["perField"]
                else "pulled"
            )
            for f in written
        }
        assert derived["provenance"]["perField"] == expected
    tickets_prov = read_json(schemas / "entities" / "Tickets" / "derived.json")["provenance"][
        "perField"
    ]
    assert tickets_prov["ticketCategory"] == "pulled" and tickets_prov["priority"] == "pulled"
    assert tickets_prov["title"] == "live-tenant"  # unchanged facts keep their source
    tickets = read_json(schemas / "entities" / "Tickets" / "derived.json")
    assert tickets["changeTrackingField"] == "lastActivityDate"
    assert tickets["hasUserDefinedFields"] is True

    # The drift report names the planted differences, plus one real one: the 2026 Swagger has
    # Contacts.billingContact (bootstrap merged it in), the 2025 tenant capture does not.
    assert (
        "Summary: entities +0 -0 (3 changed); routes +0 -0; operations +0 -0; "
        "fields +1 -1 (1 retyped); required flips 1; read-only flips 0; "
        "picklist values +1 -0; UDFs +1 -0"
    ) in out
    contacts = out[out.index("\n  Contacts\n") : out.index("\n  Resources\n")]
    assert "fields removed (1): billingContact" in contacts
    assert "fields retyped (1): firstName string(20) -> string(50)" in contacts
    assert "UDFs added (1): Contact Validated" in contacts
    assert "isRequired flipped (1): email false -> true" in out
    assert "fields added (1): ticketCategory" in out
    assert "picklist values changed (1): priority +1" in out
    assert 'entityInformation changed (1): userAccessForQuery "All" -> "Restricted"' in out
    assert "pull: 5 entities pulled, 0 removed" in out
    for secret in (USERNAME, SECRET, INTEGRATION_CODE):
        assert secret not in out + err


def test_pull_of_the_bootstrap_data_changes_no_field_file(
    server: FakeAutotask, schemas: Path, creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bootstrap and pull share the normalisation: the same responses give the same bytes."""
    before = {
        (n, f): (schemas / "entities" / n / f).read_bytes()
        for n in LIVE_ENTITIES
        for f in ("fields.json", "userDefinedFields.json")
    }
    assert pull_mod.run_pull(_args(schemas, server.api_root, list(LIVE_ENTITIES))) == 0
    out = capsys.readouterr().out
    for (n, f), data in before.items():
        if (n, f) == ("Contacts", "fields.json"):  # bootstrap added billingContact from Swagger
            continue
        assert (schemas / "entities" / n / f).read_bytes() == data, (n, f)
    written = read_json(schemas / "entities" / "Contacts" / "fields.json")["fields"]
    bootstrapped = json.loads(before["Contacts", "fields.json"])["fields"]
    assert written == [f for f in bootstrapped if f["name"] != "billingContact"]
    # Contacts (billingContact) and Resources (entityInformation served with a difference)
    assert "Summary: entities +0 -0 (2 changed)" in out
    assert "fields removed (1): billingContact" in out
    assert "fields added" not in out


def test_keep_tenant_labels(
    server: FakeAutotask,
    schemas: Path,
    captured: dict[str, Any],
    creds: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _args(schemas, server.api_root, list(LIVE_ENTITIES), keep_tenant_labels=True)
    assert pull_mod.run_pull(args) == 0
    out = capsys.readouterr().out
    _assert_written(schemas, captured, keep_labels=True)
    # Verbatim tenant labels, e.g. a queue name, next to the neutral "<field> <value>" spelling.
    queue = next(f for f in captured["Tickets"]["fields"] if f["name"] == "queueID")
    tenant_labels = {pv["label"] for pv in queue["picklistValues"]}
    written = read_json(schemas / "entities" / "Tickets" / "fields.json")["fields"]
    assert {
        pv["label"] for pv in next(f for f in written if f["name"] == "queueID")["picklistValues"]
    } == tenant_labels
    assert "label(s)" in out  # relabelled picklist values are reported
    assert "tenant picklist labels neutralised" not in out


def test_retries_thread_limits_and_reports_removed_entity(
    server: FakeAutotask, schemas: Path, creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = "/ATServicesRest/V1.0"
    server.failures[f"{prefix}/Tickets/entityInformation"] = [
        (429, {"errors": ["Too many requests"]})
    ]
    server.failures[f"{prefix}/Tickets/entityInformation/fields"] = [
        (500, {"errors": ["Thread Threshold Exceeded (Itgenatr005)"]})
    ]
    # TicketNotes is not served (IIS 404): the entity is removed, with the routes pointing at it.
    assert any(
        r["entity"] == "TicketNotes"
        for r in read_json(schemas / "entities" / "Tickets" / "derived.json")["childRoutes"]
    )
    rc = pull_mod.run_pull(_args(schemas, server.api_root, ["Tickets", "TicketNotes"]))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert not (schemas / "entities" / "TicketNotes").exists()
    assert "TicketNotes" not in read_json(schemas / "index.json")["entities"]
    assert all(
        r["entity"] != "TicketNotes"
        for r in read_json(schemas / "entities" / "Tickets" / "derived.json")["childRoutes"]
    )
    assert "Entities removed (1):\n  - TicketNotes" in out
    assert "pull: TicketNotes removed: the API answered HTTP 404" in out
    assert "2 request(s) retried" in out
    paths = [r.path for r in server.log]
    assert paths.count(f"{prefix}/Tickets/entityInformation") == 2
    assert paths.count(f"{prefix}/Tickets/entityInformation/fields") == 2


@pytest.mark.parametrize(
    ("path", "status", "body", "message"),
    [
        (
            "Contacts/entityInformation/userDefinedFields",
            500,
            {"errors": [f"Object reference not set for {USERNAME}"]},
            "Contacts: GET Contacts/entityInformation/userDefinedFields failed with HTTP 500: "
            "Object reference not set for ***",
        ),
        (
            "Resources/entityInformation",
            401,
            {"errors": ["unauthorized"]},
            "Resources: GET Resources/entityInformation failed with HTTP 401 "
            "(authentication failed: check AUTOTASK_USERNAME / AUTOTASK_SECRET): unauthorized",
        ),
        (
            "Resources/entityInformation/fields",
            200,
            "<html>maintenance</html>",
            "Resources: GET Resources/entityInformation/fields returned a body that is not JSON",
        ),
    ],
)
def test_failure_names_the_entity_and_writes_nothing(
    server: FakeAutotask,
    schemas: Path,
    creds: None,
    capsys: pytest.CaptureFixture[str],
    path: str,
    status: int,
    body: Any,
    message: str,
) -> None:
    server.routes[f"/ATServicesRest/V1.0/{path}"] = (status, body)
    before = {p: p.read_bytes() for p in schemas.rglob("*.json")}
    rc = pull_mod.run_pull(_args(schemas, server.api_root, ["Contacts", "Resources"]))
    out, err = capsys.readouterr()
    assert rc == 1
    assert out == ""
    assert message in err
    assert "nothing was written" in err
    for secret in (USERNAME, SECRET, INTEGRATION_CODE):
        assert secret not in err
    assert {p: p.read_bytes() for p in schemas.rglob("*.json")} == before


def test_unknown_entity_is_rejected(
    server: FakeAutotask, schemas: Path, creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pull_mod.run_pull(_args(schemas, server.api_root, ["tickets", "NoSuchThing"])) == 1
    err = capsys.readouterr().err
    assert "tickets (did you mean Tickets?)" in err and "NoSuchThing" in err
    assert server.log == []


def test_zone_discovery_without_auth_headers(
    server: FakeAutotask,
    schemas: Path,
    creds: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUTOTASK_ZONE_DISCOVERY_URL", server.api_root + "zoneInformation")
    assert pull_mod.run_pull(_args(schemas, None, ["TicketWebhooks"])) == 0
    out = capsys.readouterr().out
    zone = [r for r in server.log if r.path.endswith("/zoneInformation")]
    assert len(zone) == 1
    assert zone[0].query == {"user": [USERNAME]}
    assert not {"UserName", "Secret", "ApiIntegrationCode"} & set(zone[0].headers)
    metadata = server.metadata_requests()
    assert len(metadata) == 3
    for req in metadata:
        assert req.path.startswith("/ATServicesRest/V1.0/TicketWebhooks/entityInformation")
        assert req.headers["Secret"] == SECRET
    assert f"zone discovered: {server.api_root}" in out
    assert USERNAME not in out


def test_cli_pull(server: FakeAutotask, schemas: Path, captured: dict[str, Any]) -> None:
    env = {
        **os.environ,
        "AUTOTASK_USERNAME": USERNAME,
        "AUTOTASK_SECRET": SECRET,
        "AUTOTASK_INTEGRATION_CODE": INTEGRATION_CODE,
        "AUTOTASK_API_URL": server.api_root,
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "pull",
            "--out",
            str(schemas),
            "--entities",
            *LIVE_ENTITIES,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        f"Drift report: {schemas} (before pull) -> {schemas} (pulled from "
    )
    assert "pull: 5 entities pulled, 0 removed" in proc.stdout
    _assert_written(schemas, captured, keep_labels=False)
    for secret in (USERNAME, SECRET, INTEGRATION_CODE):
        assert secret not in proc.stdout + proc.stderr
