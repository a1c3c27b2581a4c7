"""Writes: validation from fields.json, server-maintained fields, UDFs, auth, impersonation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sim_helpers import api_client, errors_of, ticket_body

from py_autotask.simulator import ApiUser, Simulator


def test_create_returns_item_id_and_maintains_server_fields(
    client: httpx.Client, fresh: Simulator
) -> None:
    r = client.post(
        "Tickets",
        json=ticket_body(client, title="Printer on fire", createDate="2001-01-01T00:00:00"),
    )
    assert r.status_code == 200
    new_id = r.json()["itemId"]
    item = client.get(f"Tickets/{new_id}").json()["item"]
    assert item["id"] == new_id and item["title"] == "Printer on fire"
    assert item["createDate"] != "2001-01-01T00:00:00"  # read-only: silently ignored
    assert (
        item["createDate"][:4] != "2001"
        and "Z" not in item["createDate"]
        and "+" not in item["createDate"]
    )
    assert item["lastActivityDate"] == item["createDate"]
    assert item["creatorResourceID"] == fresh.config.users[0].resource_id
    journal = fresh.journal(operation="create")[-1]
    assert journal.item_ids == [new_id] and journal.status == 200
    events = fresh.changes()
    assert (
        events[-1].action == "created"
        and events[-1].id == new_id
        and events[-1].entity == "Tickets"
    )


def test_patch_is_sparse_and_bumps_change_tracking(client: httpx.Client, fresh: Simulator) -> None:
    before = client.get("Tickets/2").json()["item"]
    fresh.clock.advance(3600)
    r = client.patch("Tickets", json={"id": 2, "TITLE": "renamed"})  # field names case-insensitive
    assert r.json() == {"itemId": 2}
    after = client.get("Tickets/2").json()["item"]
    assert after["title"] == "renamed"
    assert after["lastActivityDate"] > before["lastActivityDate"]
    unchanged = {
        k for k in before if k not in ("title", "lastActivityDate") and before[k] == after[k]
    }
    assert unchanged == set(before) - {"title", "lastActivityDate"}
    assert fresh.changes()[-1].fields == ["title"]


def test_put_nulls_omitted_writable_fields(fresh: Simulator) -> None:
    with api_client(fresh) as c:
        note = c.get("Tickets/1/Notes").json()["items"][0]
        fields = c.get("TicketNotes/entityInformation/fields").json()["fields"]
        required = {f["name"] for f in fields if f["isRequired"] and not f["isReadOnly"]}
        optional = [
            f["name"]
            for f in fields
            if not f["isRequired"] and not f["isReadOnly"] and f["name"] != "id"
        ]
        body = {k: note[k] for k in required} | {"id": note["id"]}
        r = c.put("Tickets/1/Notes", json=body)
        assert r.status_code == 200, r.text
        after = c.get(f"TicketNotes/{note['id']}").json()["item"]
        assert all(after[name] is None for name in optional)


def test_validation_errors_are_autotask_shaped(client: httpx.Client) -> None:
    r = client.post("Tickets", json={"title": "x"})
    assert r.status_code == 500
    assert any(e.startswith("Missing Required Field: companyID") for e in errors_of(r))
    r = client.post("Tickets", json=ticket_body(client, companyID=987654))
    assert errors_of(r) == [
        "Reference value on field: companyID of type: Company does not exist or is invalid."
    ]
    r = client.post("Tickets", json=ticket_body(client, priority=99))
    assert r.status_code == 500 and "priority" in errors_of(r)[0]
    r = client.post("Tickets", json=ticket_body(client, title="x" * 300))
    assert "maximum length of 255" in errors_of(r)[0]
    r = client.post("Tickets", json=ticket_body(client, priority="high"))
    assert "Error converting value" in errors_of(r)[0]
    r = client.post("Tickets", json=ticket_body(client, dueDateTime="next tuesday"))
    assert "DateTime" in errors_of(r)[0]
    r = client.post("Tickets", json=[1, 2])
    assert r.status_code == 500 and errors_of(r)
    r = client.patch("Tickets", json={"title": "no id"})
    assert r.status_code == 500 and errors_of(r)
    r = client.patch("Tickets", json={"id": 987654, "title": "missing"})
    assert r.status_code == 500 and errors_of(r)
    # unknown properties are ignored by the model binder, like the real API
    assert client.post("Tickets", json=ticket_body(client, noSuchField=1)).status_code == 200


def test_child_writes_check_the_parent(client: httpx.Client) -> None:
    note = client.get("Tickets/1/Notes").json()["items"][0]
    body = {k: v for k, v in note.items() if k not in ("id",)}
    r = client.post("Tickets/987654/Notes", json=body)
    assert r.status_code == 500
    assert "ticketID" in errors_of(r)[0] and "does not exist" in errors_of(r)[0]
    r = client.post("Tickets/2/Notes", json=body)
    assert r.status_code == 200
    created = client.get(f"TicketNotes/{r.json()['itemId']}").json()["item"]
    assert created["ticketID"] == 2  # the URL's parent wins
    assert client.get(f"Tickets/1/Notes/{created['id']}").json() == {"item": None}
    assert client.get(f"Tickets/2/Notes/{created['id']}").json()["item"]["id"] == created["id"]


def test_udfs_are_validated_and_stored(client: httpx.Client, fresh: Simulator) -> None:
    udfs = client.get("Tickets/entityInformation/userDefinedFields").json()["fields"]
    if not udfs:
        pytest.skip("snapshot has no Ticket UDFs")
    text_udf = next(u for u in udfs if u["type"] == "string" and not u["isPickList"])
    r = client.post(
        "Tickets",
        json=ticket_body(client, userDefinedFields=[{"name": "No Such UDF", "value": "1"}]),
    )
    assert r.status_code == 500 and "No Such UDF" in errors_of(r)[0]
    r = client.post(
        "Tickets",
        json=ticket_body(client, userDefinedFields=[{"name": text_udf["name"], "value": "gold"}]),
    )
    item = client.get(f"Tickets/{r.json()['itemId']}").json()["item"]
    assert {"name": text_udf["name"], "value": "gold"} in item["userDefinedFields"]
    q = {"filter": [{"op": "eq", "field": text_udf["name"], "udf": True, "value": "GOLD"}]}
    found = client.post("Tickets/query", json=q).json()["items"]
    assert [t["id"] for t in found] == [item["id"]]


def test_delete_only_where_allowed_and_deleted_tickets_are_logged(subset_schemas: Path) -> None:
    with Simulator(subset_schemas, profile="tiny") as sim, api_client(sim) as c:
        assert c.delete("Companies/1").status_code == 405
        assert c.delete("Tickets/3").json() == {"itemId": 3}
        assert c.get("Tickets/3").json() == {"item": None}
        log = c.post(
            "DeletedTicketLogs/query",
            json={"filter": [{"op": "eq", "field": "ticketID", "value": 3}]},
        )
        (entry,) = log.json()["items"]
        assert entry["deletedByResourceID"] == sim.config.users[0].resource_id
        assert entry["ticketTitle"] is not None and entry["deletedDateTime"]
        assert sim.changes()[-1].action == "deleted"


def test_auth_failures(fresh: Simulator) -> None:
    url = fresh.url + "Tickets/1"
    good = fresh.headers
    assert httpx.get(url, headers={**good, "Secret": "wrong"}).status_code == 401
    unknown = httpx.get(url, headers={**good, "UserName": "nobody@example.com"})
    assert unknown.status_code == 500 and errors_of(unknown)
    assert httpx.get(url, headers={**good, "ApiIntegrationCode": "BAD"}).status_code == 500
    assert httpx.get(url).status_code == 401
    lower = {k.lower(): v for k, v in good.items()}
    assert httpx.get(url, headers=lower).status_code == 200
    upper = {k.upper(): v for k, v in good.items()}
    assert httpx.get(url, headers=upper).status_code == 200


def test_several_users_and_configurable_unknown_user_status() -> None:
    users = [ApiUser("a@x.example", "sa", 101), ApiUser("b@x.example", "sb", 202)]
    with Simulator(profile="tiny", users=users, unknown_user_status=401) as sim:
        for user in users:
            headers = {**sim.headers, "UserName": user.username, "Secret": user.secret}
            assert httpx.get(sim.url + "Tickets/1", headers=headers).status_code == 200
        headers = {**sim.headers, "UserName": "c@x.example"}
        assert httpx.get(sim.url + "Tickets/1", headers=headers).status_code == 401


def test_impersonation_sets_creator_fields(client: httpx.Client, fresh: Simulator) -> None:
    r = client.post("Tickets", json=ticket_body(client), headers={"ImpersonationResourceId": "4"})
    item = client.get(f"Tickets/{r.json()['itemId']}").json()["item"]
    assert item["creatorResourceID"] == 4
    if "impersonatorCreatorResourceID" in item:
        assert item["impersonatorCreatorResourceID"] == fresh.config.users[0].resource_id
