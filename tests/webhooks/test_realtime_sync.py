"""Real-time sync (py_autotask.realtime) against the simulator over real sockets into real SQLite
files: changes made through the API, announced as events, end in the database row for row."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.caching import CacheConfig
from py_autotask.realtime import RealtimeSync
from py_autotask.simulator import Simulator
from py_autotask.sync import SyncLockedError
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
