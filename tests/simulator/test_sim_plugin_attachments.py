"""The pytest plugin fixtures and the attachment byte limits."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from sim_helpers import api_client, errors_of

from py_autotask.simulator import Simulator


def test_plugin_fixture_gives_a_reset_running_simulator(autotask_sim: Any) -> None:
    assert isinstance(autotask_sim, Simulator)
    r = httpx.get(autotask_sim.url + "Tickets/1", headers=autotask_sim.headers)
    assert r.status_code == 200 and r.json()["item"]["id"] == 1
    assert [e.path for e in autotask_sim.journal()] == ["/ATServicesRest/V1.0/Tickets/1"]


def _attachment(size: int) -> dict[str, Any]:
    return {
        "title": "log",
        "fullPath": "log.txt",
        "attachmentType": "FILE_ATTACHMENT",
        "publish": 1,
        "data": base64.b64encode(b"x" * size).decode(),
    }


def test_attachment_size_and_window_limits() -> None:
    with (
        Simulator(
            profile="tiny",
            attachment_max_file_bytes=1000,
            attachment_window_bytes=2500,
            time_scale=1.0,
        ) as sim,
        api_client(sim) as c,
    ):
        big = c.post("Tickets/1/Attachments", json=_attachment(1001))
        assert big.status_code == 500 and "maximum file size" in errors_of(big)[0]
        first = c.post("Tickets/1/Attachments", json=_attachment(900))
        assert first.status_code == 200, first.text
        stored = c.get(f"Tickets/1/Attachments/{first.json()['itemId']}").json()["item"]
        assert stored["fileSize"] == 900 and stored["ticketID"] == 1
        assert c.post("Tickets/1/Attachments", json=_attachment(900)).status_code == 200
        blocked = c.post("Tickets/1/Attachments", json=_attachment(900))
        assert blocked.status_code == 500 and "limit" in errors_of(blocked)[0]
        sim.clock.advance(200)
        assert (
            c.post("Tickets/1/Attachments", json=_attachment(100)).status_code == 500
        )  # still blocked
        sim.clock.advance(101)
        assert c.post("Tickets/1/Attachments", json=_attachment(100)).status_code == 200
