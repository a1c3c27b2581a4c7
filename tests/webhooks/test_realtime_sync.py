"""Real-time sync (py_autotask.realtime) against the simulator over real sockets into real SQLite
files: changes made through the API, announced as events, end in the database row for row."""

from __future__ import annotations

import datetime as _dt
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import AutotaskClient
from py_autotask._exitcodes import ExitCode
from py_autotask._hooksig import SIGNATURE_HEADER, dotnet_form, sign
from py_autotask.caching import CacheConfig
from py_autotask.realtime import RealtimeSync
from py_autotask.simulator import Simulator
from py_autotask.sync import SyncLockedError
from tests._cli import cli_env, run_cli
from tests.sync.helpers import allow_ui_delete, assert_same, client_for, db_rows, expected_rows

pytestmark = pytest.mark.xdist_group("realtime")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=11, counts={"Tickets": 1_200}, thread_limit=0, hourly_threshold=0
    ) as s:
        allow_ui_delete(s)
        yield s


@pytest.fixture
def fresh(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


def _company(client: AutotaskClient) -> int:
    return int(client.companies.query(max_records=1).items[0].id)


def _new_ticket(client: AutotaskClient, company: int, title: str) -> int:
    created = client.tickets.create(
        {"companyID": company, "title": title, "status": 1, "priority": 2}
    )
    return int(getattr(created, "id", created))


def _delete(client: AutotaskClient, ticket_id: int) -> None:
    """Autotask deletes tickets in its UI only; the simulator allows it here (allow_ui_delete)."""
    client.raw_request("DELETE", f"Tickets/{ticket_id}")


def _id_fetches(sim: Simulator) -> list[Any]:
    return [
        e
        for e in sim.journal(method="POST", entity="Tickets", operation="query")
        if e.path.endswith("/query")
    ]


def test_events_fetch_batches_apply_deletes_and_match_the_api(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    lines: list[str] = []
    with (
        client_for(fresh) as client,
        RealtimeSync(
            client, url, ["Tickets"], window=0.2, catch_up_every=None, on_status=lines.append
        ) as rt,
    ):
        assert lines and lines[0].startswith("incremental sync: Tickets +1200")
        company = _company(client)
        made = [_new_ticket(client, company, f"new {i}") for i in range(3)]
        *some, old = sorted(db_rows(url, "tickets", "Tickets"))[:3]
        for tid in some:
            client.tickets.update({"id": tid, "title": f"changed {tid}"})
        _delete(client, made[0])  # created and deleted within one window: never written
        _delete(client, old)
        fresh.clear_journal()
        for tid in made:
            rt.submit("Tickets", tid, "created")
        for tid in some:
            rt.submit("tickets", tid, "updated")
        rt.submit("Tickets", made[0], "deleted")
        rt.submit("Tickets", old, "deleted")
        rt.submit("Tickets", some[0], "updated")  # a duplicate delivery
        assert rt.submit("Contracts", 1, "updated") is False  # not mirrored here
        assert rt.flush(10)
        # one request for the batch; deleted ids are not read
        (fetch,) = _id_fetches(fresh)
        assert fetch.record_count == 4  # made[1:] and some; made[0] not read
        assert rt.stats.upserted == 4 and rt.stats.deleted == 1 and rt.stats.ignored == 1
    assert_same(expected_rows(fresh, "Tickets"), db_rows(url, "tickets", "Tickets"))
    rows = db_rows(url, "tickets", "Tickets")
    assert made[0] not in rows and old not in rows and rows[made[1]]["title"] == "new 1"
    assert rows[some[0]]["title"] == f"changed {some[0]}"


def test_stale_update_of_a_deleted_record_deletes_it_and_500_ids_a_request(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    with (
        client_for(fresh) as client,
        RealtimeSync(client, url, ["Tickets"], window=0.5, catch_up_every=None) as rt,
    ):
        ids = sorted(db_rows(url, "tickets", "Tickets"))
        gone = ids[5]
        _delete(client, gone)  # its delete event is lost; an update arrives late
        fresh.clear_journal()
        for tid in ids:  # 1,200 changes in one window
            rt.submit("Tickets", tid, "updated")
        assert rt.flush(20)
        fetches = _id_fetches(fresh)
        assert [e.record_count for e in fetches] == [499, 500, 200]  # ids[5] is gone
    assert gone not in db_rows(url, "tickets", "Tickets")
    assert_same(expected_rows(fresh, "Tickets"), db_rows(url, "tickets", "Tickets"))


def test_scheduled_incremental_run_closes_gaps_of_lost_events(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    with (
        client_for(fresh) as client,
        RealtimeSync(client, url, ["Tickets"], catch_up_every=_dt.timedelta(seconds=0.5)) as rt,
    ):
        company = _company(client)
        made = _new_ticket(client, company, "never announced")
        victim = sorted(db_rows(url, "tickets", "Tickets"))[0]
        _delete(client, victim)
        runs = rt.stats.catch_ups
        deadline = _dt.datetime.now() + _dt.timedelta(seconds=10)
        while rt.stats.catch_ups < runs + 2 and _dt.datetime.now() < deadline:
            rt.wait(0.1)
        assert rt.stats.catch_ups >= runs + 2
    rows = db_rows(url, "tickets", "Tickets")
    assert made in rows and victim not in rows
    assert_same(expected_rows(fresh, "Tickets"), rows)


def test_holds_the_sync_lock_so_a_second_syncer_is_refused(
    fresh: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    with client_for(fresh) as client, RealtimeSync(client, url, ["Companies"], catch_up_every=None):
        with pytest.raises(SyncLockedError, match="realtime"):
            client.create_syncer().sync_to_database(url, ["Companies"], handle_signals=False)
    # released at stop: a plain run works again
    with client_for(fresh) as client:
        assert client.create_syncer().sync_to_database(url, ["Companies"], handle_signals=False).ok


def test_an_event_invalidates_the_client_s_cached_record(fresh: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    with (
        AutotaskClient(**fresh.credentials, cache_config=CacheConfig()) as cached,
        client_for(fresh) as other,
    ):
        tid = int(cached.tickets.query(max_records=1).items[0].id)
        first = cached.tickets.get(tid)
        assert first is not None
        other.tickets.update({"id": tid, "title": "changed elsewhere"})
        stale = cached.tickets.get(tid)
        assert stale is not None and stale.title == first.title  # served from the cache
        with RealtimeSync(cached, url, ["Tickets"], catch_up_every=None) as rt:
            rt.submit("Tickets", tid, "updated")
            assert rt.flush(10)
        again = cached.tickets.get(tid)
        assert again is not None and again.title == "changed elsewhere"
    assert db_rows(url, "tickets", "Tickets")[tid]["title"] == "changed elsewhere"


# -- the command line: py-autotask sync ... --listen HOST:PORT ------------------------------------

SECRET = "rt-secret-ü-not-in-output"
CLI = [sys.executable, "-m", "py_autotask.cli"]


def _payload(action: str, entity: str, rid: int, seq: int, fields: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "Action": action,
            "Guid": "6f1c1d2e-0000-4000-8000-000000000001",
            "EntityType": entity,
            "Id": rid,
            "Fields": fields,
            "EventTime": "2026-12-03T12:00:00.000Z",
            "SequenceNumber": seq,
            "PersonID": None,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _post(url: str, body: bytes) -> int:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(SECRET, dotnet_form(body)),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def _listening(proc: subprocess.Popen[str], lines: list[str]) -> str:
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        assert line, f"the CLI ended before listening: {''.join(lines)}"
        lines.append(line)
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0]


def _wait_for(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_cli_listen_applies_signed_callouts_and_stops_on_sigterm(
    fresh: Simulator, tmp_path: Path
) -> None:
    db = tmp_path / "mirror.db"
    url = f"sqlite:///{db}"
    env = cli_env(fresh.environ, tmp_path, AUTOTASK_WEBHOOK_SECRET=SECRET)
    proc = subprocess.Popen(
        [*CLI, "sync", "Tickets", "--db", str(db), "--listen", "127.0.0.1:0", "-o", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        hook = _listening(proc, lines)
        with client_for(fresh) as client:
            company = _company(client)
            made = _new_ticket(client, company, "from a callout")
            old = sorted(db_rows(url, "tickets", "Tickets"))[0]
            _delete(client, old)
            changed = sorted(db_rows(url, "tickets", "Tickets"))[1]
            client.tickets.update({"id": changed, "title": "Grüße & <tags>"})
        assert _post(hook, _payload("Create", "Ticket", made, 1, {"title": "x"})) == 200
        assert _post(hook, _payload("Update", "Ticket", changed, 2, {"title": "x"})) == 200
        assert _post(hook, _payload("Delete", "Ticket", old, 3, {})) == 200
        # Autotask switching the webhook off: said on stderr, the record re-read (harmless)
        assert _post(hook, _payload("Deactivated", "Ticket", changed, 5, {})) == 200
        forged = _payload("Delete", "Ticket", changed, 4, {})
        unsigned = httpx.post(
            hook, content=forged, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert unsigned.status_code == 401
        _wait_for(lambda: db_rows(url, "tickets", "Tickets").get(made) is not None)
        _wait_for(lambda: old not in db_rows(url, "tickets", "Tickets"))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + err
    assert proc.returncode == 0, err
    assert "Traceback" not in err and SECRET not in err + out
    assert "realtime: stopped:" in err
    assert "warning: a Deactivated callout" in err
    assert json.loads(out)["entities"][0]["entity"] == "Tickets"  # the first run's summary
    rows = db_rows(url, "tickets", "Tickets")
    assert rows[changed]["title"] == "Grüße & <tags>"
    assert_same(expected_rows(fresh, "Tickets"), rows)
    assert (tmp_path / "mirror.db.webhooks.db").exists()  # the queue beside the mirror


@pytest.mark.parametrize(
    ("args", "secret", "expected"),
    [
        (["--listen", "nowhere"], SECRET, "--listen 'nowhere' is not HOST:PORT"),
        (["--listen", ":99999"], SECRET, "is not HOST:PORT"),
        (["--listen", ":8080"], "", "AUTOTASK_WEBHOOK_SECRET"),
        (["--listen", ":8080", "--secret-from-env", "MY_HOOK_KEY"], SECRET, "MY_HOOK_KEY"),
    ],
)
def test_cli_listen_bad_input_is_one_line_exit_2_nothing_sent_or_written(
    fresh: Simulator, tmp_path: Path, args: list[str], secret: str, expected: str
) -> None:
    db = tmp_path / "mirror.db"
    env = cli_env(fresh.environ, tmp_path, AUTOTASK_WEBHOOK_SECRET=secret)
    fresh.clear_journal()
    result = run_cli("sync", "Tickets", "--db", str(db), *args, env=env, timeout=60)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert fresh.journal() == []
    assert not any(p.name.startswith("mirror") for p in tmp_path.iterdir())
