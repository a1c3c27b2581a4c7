"""``py-autotask webhooks ...`` in child processes against the simulator (real sockets): rows
read back from the simulator, exit codes, the request journal, secrets kept out of the output."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from py_autotask._hooksig import SIGNATURE_HEADER, verify_signature
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli
from tests.webhooks.registry_helpers import TICKET_FIELDS, build_webhook_schemas, client_for

SECRET = "cli-secret-Hk29aa"
URL = "https://hooks.example.com/cli"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """A simulator whose tenant metadata carries the Tickets webhook field catalog."""
    schemas = build_webhook_schemas(tmp_path_factory.mktemp("webhook-schemas"))
    with Simulator(schemas_dir=schemas, seed=7, profile="tiny", hourly_threshold=0) as s:
        yield s


@pytest.fixture
def env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    sim.faults.clear()
    return cli_env(sim.environ, tmp_path, HOOK_SECRET=SECRET)


def writes(sim: Simulator) -> list[tuple[str, str]]:
    return [
        (e.method, e.path)
        for e in sim.journal()
        if e.method in ("POST", "PATCH", "PUT", "DELETE") and "/query" not in e.path
    ]


def rows(sim: Simulator, entity: str, webhook_id: int) -> list[dict[str, Any]]:
    body = {"filter": [{"op": "eq", "field": "webhookID", "value": webhook_id}]}
    with client_for(sim) as client:
        items: list[dict[str, Any]] = client.raw_request("POST", f"{entity}/query", json=body)[
            "items"
        ]
    return items


def register(env: dict[str, str], *extra: str) -> Any:
    return run_cli(
        "webhooks", "register", "Tickets", "--url", URL, "--secret-from-env", "HOOK_SECRET",
        "-o", "json", *extra, env=env,
    )  # fmt: skip


def test_register_list_delete(sim: Simulator, env: dict[str, str]) -> None:
    sim.clear_journal()
    done = register(
        env, "--fields", "status,priority", "--udf", "Ext URL", "--display-always", "title",
        "--exclude-resource", "4", "--exclude-resource", "8", "--name", "cli-hook",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["entity"], row["name"], row["fields"], row["udfs"]) == (
        "Tickets", "cli-hook", "status,priority", "Ext URL",
    )  # fmt: skip
    assert row["excluded_resources"] == "4,8" and row["active"] is True
    assert max(e.in_flight_at_start for e in sim.journal()) < 3
    hook_id = row["id"]
    fields = {
        r["fieldID"]: r["isSubscribedField"] for r in rows(sim, "TicketWebhookFields", hook_id)
    }
    ids = {label: fid for fid, label in TICKET_FIELDS.items()}
    assert fields == {ids["Status"]: True, ids["Priority"]: True, ids["Title"]: False}
    assert len(rows(sim, "TicketWebhookUdfFields", hook_id)) == 1
    assert sorted(
        r["resourceID"] for r in rows(sim, "TicketWebhookExcludedResources", hook_id)
    ) == [4, 8]
    assert SECRET not in done.stdout + done.stderr

    listed = run_cli("webhooks", "list", "Tickets", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    mine = [r for r in json.loads(listed.stdout) if r["id"] == hook_id]
    assert mine == [row]
    assert SECRET not in listed.stdout + listed.stderr

    gone = run_cli("webhooks", "delete", "Tickets", str(hook_id), env=env)
    assert gone.returncode == 0, gone.stderr
    assert rows(sim, "TicketWebhookFields", hook_id) == []
    with client_for(sim) as client:
        assert client.raw_request("GET", f"TicketWebhooks/{hook_id}")["item"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--fields", "status,nope", "--no-exclude-self"],
            "error: Tickets webhooks cannot subscribe to field 'nope'; allowed fields: "
            "assignedResourceID, priority, queueID, status, title",
        ),
        (
            ["--fields", "status", "--udf", "Customer Tier", "--no-exclude-self"],
            "cannot subscribe to UDF 'Customer Tier'",
        ),
        (["--fields", "status", "--events", "create,boom", "--no-exclude-self"], "choose one"),
        (["--fields", ",", "--no-exclude-self"], "names no field"),
    ],
)
def test_bad_input_exit_2_nothing_created(
    sim: Simulator, env: dict[str, str], args: list[str], message: str
) -> None:
    sim.clear_journal()
    done = register(env, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "" and writes(sim) == []


@pytest.mark.parametrize("var", ["UNSET_HOOK_SECRET", None])
def test_secret_from_env_missing_exit_2_nothing_sent(
    sim: Simulator, env: dict[str, str], var: str | None
) -> None:
    sim.clear_journal()
    extra = ["--secret-from-env", var] if var else []
    done = run_cli(
        "webhooks", "register", "Tickets", "--url", URL, "--fields", "status", *extra, env=env
    )
    assert done.returncode == 2
    assert "--secret-from-env" in done.stderr and "Traceback" not in done.stderr
    assert sim.journal() == []


def test_failure_half_way_exit_1_nothing_left(sim: Simulator, env: dict[str, str]) -> None:
    sim.add_fault(match={"method": "POST", "path": "/UdfFields"}, effect="validation")
    done = register(
        env, "--fields", "status", "--udf", "Ext URL", "--no-exclude-self", "--name", "cli-half"
    )
    assert done.returncode == 1
    assert "nothing is registered" in done.stderr and SECRET not in done.stderr + done.stdout
    with client_for(sim) as client:
        found = client.raw_request(
            "POST", "TicketWebhooks/query",
            json={"filter": [{"op": "eq", "field": "name", "value": "cli-half"}]},
        )["items"]  # fmt: skip
    assert found == []


def test_deactivated_shows_why(sim: Simulator, env: dict[str, str]) -> None:
    with client_for(sim) as client:
        logs = client.raw_request(
            "POST", "WebhookEventErrorLogs/query",
            json={"filter": [{"op": "gt", "field": "id", "value": 0}]},
        )["items"]  # fmt: skip
        hook = logs[0]["accountWebhookID"]
        client.raw_request("PATCH", "CompanyWebhooks", json={"id": hook, "isActive": False})
        try:
            done = run_cli("webhooks", "deactivated", "-o", "json", env=env)
        finally:
            client.raw_request("PATCH", "CompanyWebhooks", json={"id": hook, "isActive": True})
    assert done.returncode == 0, done.stderr
    (row,) = [r for r in json.loads(done.stdout) if (r["entity"], r["id"]) == ("Companies", hook)]
    mine = [r for r in logs if r["accountWebhookID"] == hook]
    assert row["errors"] == len(mine)
    assert row["last_sequence"] == max(mine, key=lambda r: r["createDateTime"])["sequenceNumber"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received, _Receiver.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_test_posts_a_signed_sample(sim: Simulator, env: dict[str, str], receiver: str) -> None:
    made = run_cli(
        "webhooks", "register", "Tickets", "--url", receiver, "--secret-from-env", "HOOK_SECRET",
        "--fields", "status", "--no-exclude-self", "-o", "json", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    hook = json.loads(made.stdout)[0]
    done = run_cli("webhooks", "test", "Tickets", str(hook["id"]), "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["status"] == 200
    ((headers, body),) = _Receiver.received
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert json.loads(body)["Guid"] == hook["guid"]
    assert SECRET not in done.stdout + done.stderr
    # the receiver refusing it: exit 1, the status named
    _Receiver.status = 401
    refused = run_cli("webhooks", "test", "Tickets", str(hook["id"]), env=env)
    assert refused.returncode == 1 and "answered HTTP 401" in refused.stderr
    help_text = run_cli("webhooks", "test", "--help", env=env).stdout
    assert 'no "send a test callout"' in " ".join(help_text.split())


def _parked_queue(path: Path) -> list[int]:
    from py_autotask.webhooks import EventQueue

    events = EventQueue(path)
    try:
        for n in (1, 2, 3):
            events.append(f"guid|{n}", "ticket.updated", "Tickets", 100 + n, b"{}")
        claimed = events.claim(10)
        for event in claimed[:2]:
            events.failed(event.seq, f"handler failed on {event.seq}", retry_at=None)
        return [e.seq for e in claimed[:2]]
    finally:
        events.close()


def test_queue_lists_and_retries_parked_events(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "queue.db"
    first, second = _parked_queue(path)
    listed = run_cli("webhooks", "queue", "--queue", str(path), "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["record_id"], r["last_error"]) for r in json.loads(listed.stdout)] == [
        (first, 101, f"handler failed on {first}"),
        (second, 102, f"handler failed on {second}"),
    ]
    assert "parked: 2" in listed.stderr

    bad = run_cli("webhooks", "queue", "--queue", str(path), "--retry", "999", env=env)
    assert bad.returncode == 2 and "999: not a parked event" in bad.stderr

    again = run_cli(
        "webhooks", "queue", "--queue", str(path), "--retry", str(first), "-o", "json", env=env
    )
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in json.loads(again.stdout)] == [second]
    assert "1 parked event(s) put back" in again.stderr and "pending: 1" in again.stderr


def test_queue_missing_file_exit_2_nothing_created(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "nowhere" / "queue.db"
    done = run_cli("webhooks", "queue", "--queue", str(path), env=env)
    assert done.returncode == 2 and f"no webhook queue at {path}" in done.stderr
    assert not path.parent.exists()
