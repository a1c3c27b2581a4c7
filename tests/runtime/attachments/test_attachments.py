"""Attachments through parent routes, against the simulator (and one exact-wire MockTransport case)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.attachments import attachment_route
from py_autotask.exceptions import AutotaskConfigError, AutotaskValidationError
from tests.runtime.conftest import BASE, INTEGRATION_CODE, SECRET, USERNAME, Recorder, json_response

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")

PAYLOAD = bytes(range(256)) * 40 + b"\x00end"  # binary, 10,244 bytes


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=3, profile="tiny", hourly_threshold=1_000_000) as s:
        yield s


@pytest.fixture
def client(sim: Any) -> Iterator[AutotaskClient]:
    sim.faults.clear()
    sim.clear_journal()
    with AutotaskClient(**sim.credentials) as c:
        yield c


def _ticket_id(client: AutotaskClient) -> int:
    ticket = client.tickets.query(max_records=1).items[0]
    assert ticket.id is not None
    return ticket.id


def _posts(sim: Any) -> list[Any]:
    return [e for e in sim.journal(method="POST") if e.operation == "create"]


def test_upload_bytes_and_download_round_trip(client: AutotaskClient, sim: Any) -> None:
    ticket_id = _ticket_id(client)
    attachment_id = client.attachments.upload(
        "Tickets", ticket_id, PAYLOAD, title="Binary blob", file_name="blob.bin"
    )
    assert client.attachments.download("Tickets", ticket_id, attachment_id) == PAYLOAD
    found = client.attachments.fetch("tickets", ticket_id, attachment_id)  # any spelling
    assert (found.title, found.file_name) == ("Binary blob", "blob.bin")
    assert "data" not in found.record and repr(found).endswith("size=10244)")
    # it is a real child of the ticket: the generated child collection lists it
    listed = client.tickets.attachments(ticket_id).query_all()
    assert attachment_id in [a.id for a in listed]
    create = _posts(sim)[-1]
    assert create.path.endswith(f"/Tickets/{ticket_id}/Attachments")


def test_upload_a_path_defaults_title_and_content_type(
    client: AutotaskClient, tmp_path: Path
) -> None:
    ticket_id = _ticket_id(client)
    path = tmp_path / "notes.txt"
    path.write_text("hello attachments\n")
    attachment_id = client.attachments.upload("Tickets", ticket_id, path)
    found = client.attachments.fetch("Tickets", ticket_id, attachment_id)
    assert found.data == b"hello attachments\n"
    assert (found.title, found.file_name, found.content_type) == (
        "notes.txt",
        "notes.txt",
        "text/plain",
    )
    out = client.attachments.download_to("Tickets", ticket_id, attachment_id, tmp_path / "out")
    assert out.read_bytes() == b"hello attachments\n"
    (tmp_path / "dir").mkdir()
    saved = client.attachments.download_to("Tickets", ticket_id, attachment_id, tmp_path / "dir")
    assert saved == tmp_path / "dir" / "notes.txt"


def test_another_parent_type_by_singular_name(client: AutotaskClient) -> None:
    company = client.companies.query(max_records=1).items[0]
    assert company.id is not None
    attachment_id = client.attachments.upload("Company", company.id, b"%PDF-1.4", file_name="a.pdf")
    assert client.attachments.download("Companies", company.id, attachment_id) == b"%PDF-1.4"
    spec, route = attachment_route("Companies")
    assert (spec.name, route.path(company.id)) == (
        "CompanyAttachments",
        f"Companies/{company.id}/Attachments",
    )


def test_per_file_limit_is_checked_before_sending(
    client: AutotaskClient, sim: Any, tmp_path: Path
) -> None:
    ticket_id = _ticket_id(client)
    sim.clear_journal()
    with pytest.raises(AutotaskConfigError) as info:
        client.attachments.upload(
            "Tickets", ticket_id, PAYLOAD, file_name="big.bin", max_bytes=10_000
        )
    assert "'big.bin' is 10,244 bytes" in str(info.value)
    assert "limit is 10,000 bytes" in str(info.value)
    # a large file is refused from its size on disk, before it is read
    big = tmp_path / "huge.iso"
    with open(big, "wb") as fh:
        fh.truncate(7_000_000)
    with pytest.raises(AutotaskConfigError, match=r"huge\.iso' is 7,000,000 bytes.*6,000,000"):
        client.attachments.upload("Tickets", ticket_id, big)
    assert sim.journal() == []  # nothing reached the server


def test_window_limit_counts_this_clients_uploads(client: AutotaskClient, sim: Any) -> None:
    ticket_id = _ticket_id(client)
    client.attachments.window_bytes = 15_000
    client.attachments.upload("Tickets", ticket_id, PAYLOAD, file_name="one.bin")
    sim.clear_journal()
    with pytest.raises(AutotaskConfigError, match=r"'two\.bin' \(10,244 bytes\) would exceed"):
        client.attachments.upload("Tickets", ticket_id, PAYLOAD, file_name="two.bin")
    assert _posts(sim) == []


def test_server_side_rejection_keeps_autotasks_words(client: AutotaskClient, sim: Any) -> None:
    ticket_id = _ticket_id(client)
    sim.config.attachment_max_file_bytes = 1_000
    try:
        with pytest.raises(AutotaskValidationError, match="maximum file size of 1000 bytes"):
            client.attachments.upload("Tickets", ticket_id, PAYLOAD, file_name="x.bin")
    finally:
        sim.config.attachment_max_file_bytes = 7_000_000
    # a rejected upload does not use up this client's window allowance
    assert sum(size for _t, size in client.attachments._sent) == 0


def test_unknown_parent_names_the_valid_ones(client: AutotaskClient) -> None:
    with pytest.raises(AutotaskConfigError, match=r"parents with attachments: .*Tickets"):
        client.attachments.upload("Invoices", 1, b"x")
    with pytest.raises(AutotaskConfigError, match="path or bytes"):
        client.attachments.upload("Tickets", 1, 123)  # type: ignore[arg-type]


def test_async_upload_and_download(sim: Any) -> None:

    async def scenario() -> tuple[bytes, int]:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            ticket = (await client.tickets.query(max_records=1)).items[0]
            assert ticket.id is not None
            attachment_id = await client.attachments.upload(
                "Tickets", ticket.id, PAYLOAD, file_name="async.bin"
            )
            return await client.attachments.download("Tickets", ticket.id, attachment_id), ticket.id

    data, _ticket_id = asyncio.run(scenario())
    assert data == PAYLOAD


def test_wire_shape_and_fallback_to_the_root_get() -> None:
    """The upload body, and a parent-scoped GET that returns no ``data`` (as some zones do)."""
    encoded = base64.b64encode(b"abc").decode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return json_response(200, {"itemId": 77})
        if request.url.path.endswith("/Tickets/5/Attachments/77"):
            return json_response(200, {"item": {"id": 77, "title": "t", "data": None}})
        assert request.url.path.endswith("/TicketAttachments/77")
        return json_response(200, {"item": {"id": 77, "title": "t", "data": encoded}})

    rec = Recorder(handler)
    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, BASE, transport=httpx.MockTransport(rec)
    ) as client:
        assert client.attachments.upload("Tickets", 5, b"abc", title="t", file_name="a.txt") == 77
        assert client.attachments.download("Tickets", 5, 77) == b"abc"
    post = rec.requests[0]
    assert str(post.url) == BASE + "Tickets/5/Attachments"
    body = json.loads(post.content)
    assert body == {
        "attachmentType": "FILE_ATTACHMENT",
        "contentType": "text/plain",
        "data": encoded,
        "fullPath": "a.txt",
        "publish": 1,
        "title": "t",
    }
    assert [r.method for r in rec.requests] == ["POST", "GET", "GET"]
    assert os.environ.get("PY_AUTOTASK_ZONE_CACHE")  # (private zone cache fixture is active)
