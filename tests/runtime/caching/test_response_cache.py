"""The response cache against the simulator over real sockets: hits avoid requests, writes
invalidate, keys cover the whole request, stats, TTLs, warming, the disk and memory backends."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.caching import CacheConfig, WarmReport
from py_autotask.exceptions import AutotaskAPIError, AutotaskConfigError

from .conftest import requests

pytestmark = pytest.mark.xdist_group("caching")

PAGED = {"filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 7}


def _first_ticket(client: AutotaskClient) -> Any:
    return client.tickets.query(max_records=1).items[0]


def test_get_by_id_hit_sends_nothing(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    ticket_id = _first_ticket(client).id
    fresh_sim.clear_journal()
    first = client.tickets.get(ticket_id)
    second = client.tickets.get(ticket_id)
    assert first is not None and second is not None
    assert second.model_dump() == first.model_dump()
    assert [(e.method, e.operation) for e in requests(fresh_sim)] == [("GET", "get")]
    stats = client.cache.stats()
    assert (stats.hits, stats.entities["Tickets"].hits) == (1, 1)
    assert stats.saved_seconds > 0


def test_query_pages_and_counts_are_cached(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    ids = [t.id for t in client.tickets.query_all(PAGED)]
    count = client.tickets.count()
    sent = len(requests(fresh_sim))
    assert sent == -(-count // 7) + 1  # every page once, plus the count
    assert [t.id for t in client.tickets.query_all(PAGED)] == ids
    assert client.tickets.count() == count
    assert len(requests(fresh_sim)) == sent  # second round: all from the cache
    stats = client.cache.stats()
    assert stats.hits == sent and stats.misses == sent and stats.hit_rate == 0.5


def test_key_is_the_full_request(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    client.tickets.query(F("id").gte(0), max_records=5)
    client.tickets.query(F("id").gte(1), max_records=5)  # other body
    client.tickets.query(F("id").gte(0), max_records=6)  # other MaxRecords
    client.tickets.query(F("id").gte(0), include_fields=["id"], max_records=5)
    assert len(requests(fresh_sim)) == 4
    client.tickets.query(F("id").gte(1), max_records=5)
    assert len(requests(fresh_sim)) == 4


def test_update_invalidates_reads_of_the_entity(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    ticket, other = client.tickets.query(max_records=2).items
    assert client.tickets.get(ticket.id) is not None
    assert client.tickets.get(other.id) is not None
    before = client.tickets.count()
    client.companies.count()
    client.tickets.update({"id": ticket.id, "title": "changed through the client"})
    fresh_sim.clear_journal()
    again = client.tickets.get(ticket.id)
    assert again is not None and again.title == "changed through the client"
    assert client.tickets.count() == before
    assert client.tickets.get(other.id) is not None  # another record keeps its entry
    client.companies.count()  # and so does another entity
    assert [(e.operation, e.entity) for e in requests(fresh_sim)] == [
        ("get", "Tickets"),
        ("count", "Tickets"),
    ]
    assert client.cache.stats().invalidations == 1


def test_create_invalidates_queries_and_the_new_id(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    last = max(t.id for t in client.tickets.query_all())
    assert client.tickets.get(last + 1) is None  # a cached 200 {"item": null}
    count = client.tickets.count()
    template = client.tickets.get(last)
    assert template is not None
    new_id = client.tickets.create(
        {
            "title": "new",
            "status": template.status,
            "priority": template.priority,
            "companyID": template.company_id,
        }
    )
    assert new_id == last + 1
    fresh_sim.clear_journal()
    assert client.tickets.get(new_id) is not None
    assert client.tickets.count() == count + 1
    assert len(requests(fresh_sim)) == 2


def test_child_route_write_invalidates_child_and_parent(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    ticket_id = _first_ticket(client).id
    notes = client.tickets.notes(ticket_id)
    before = len(notes.query_all())
    client.ticket_notes.count()
    client.tickets.get(ticket_id)
    notes.create({"title": "n", "description": "d", "noteType": 1, "publish": 1})
    fresh_sim.clear_journal()
    assert len(notes.query_all()) == before + 1  # child list re-read
    client.ticket_notes.count()  # the child entity's root reads too
    client.tickets.get(ticket_id)  # and the parent (its activity changed)
    assert [(e.operation, e.entity) for e in requests(fresh_sim)] == [
        ("list", "TicketNotes"),
        ("count", "TicketNotes"),
        ("get", "Tickets"),
    ]


def test_delete_invalidates(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    group_id = client.contact_groups.create({"name": "cache test group", "isActive": True})
    assert client.contact_groups.get(group_id) is not None
    client.contact_groups.delete(group_id)
    fresh_sim.clear_journal()
    assert client.contact_groups.get(group_id) is None
    assert len(requests(fresh_sim)) == 1


def test_failed_responses_are_not_cached(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    with pytest.raises(AutotaskAPIError):
        client.tickets.query({"filter": [{"op": "eq", "field": "noSuchField", "value": 1}]})
    with pytest.raises(AutotaskAPIError):
        client.tickets.query({"filter": [{"op": "eq", "field": "noSuchField", "value": 1}]})
    assert len(requests(fresh_sim)) == 2
    # a 200 {"item": null} is an answer: cached until a write to Tickets invalidates it
    assert client.tickets.get(987654321) is None
    assert client.tickets.get(987654321) is None
    assert len(requests(fresh_sim)) == 3


def test_per_entity_ttl_and_expiry(make_client: Any, fresh_sim: Any) -> None:
    config = CacheConfig(default_ttl=60, cache_patterns={"tickets": 0, "COMPANIES": 0.3})
    client = make_client(config)
    client.tickets.count()
    client.tickets.count()  # ttl 0: never cached
    client.companies.count()
    client.companies.count()  # cached
    assert len(requests(fresh_sim)) == 3
    time.sleep(0.35)
    client.companies.count()  # expired
    assert len(requests(fresh_sim)) == 4
    assert config.ttl_for("Tickets") == 0 and config.ttl_for("Companies") == 0.3
    assert config.ttl_for("Resources") == 60


def test_clear_and_invalidate(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    client.tickets.count()
    client.companies.count()
    client.cache.invalidate("tickets")
    client.tickets.count()
    client.companies.count()
    assert len(requests(fresh_sim)) == 3
    assert client.cache.clear() >= 2
    client.companies.count()
    assert len(requests(fresh_sim)) == 4


def test_warm_loads_pages_and_records_by_id(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    report = client.cache.warm(["companies", "Resources"])
    assert isinstance(report, WarmReport)
    assert report.records == {
        "Companies": client.companies.count(),
        "Resources": report.records["Resources"],
    }
    warm_requests = len(requests(fresh_sim))
    companies = client.companies.query_all()
    for company in companies:
        got = client.companies.get(company.id)
        assert got is not None and got.id == company.id and got.model_dump() == company.model_dump()
    assert len(requests(fresh_sim)) == warm_requests  # all served from the warmed cache


def test_warm_in_the_background(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    future = client.cache.warm("resources", background=True)
    assert isinstance(future, Future)
    report = future.result(timeout=10)
    assert report.total == len(client.resources.query_all())
    with pytest.raises(AutotaskConfigError, match="unknown Autotask entity"):
        client.cache.warm(["no_such_things"])


def test_disk_backend_survives_the_client(make_client: Any, fresh_sim: Any, tmp_path: Any) -> None:
    config = CacheConfig(backend="disk", directory=str(tmp_path / "cache"))
    first = make_client(config)
    count = first.tickets.count()
    first.close()
    second = make_client(config)
    assert second.tickets.count() == count
    assert len(requests(fresh_sim)) == 1
    assert second.cache.stats().hits == 1


def test_identity_is_part_of_the_key(make_client: Any, fresh_sim: Any, tmp_path: Any) -> None:
    config = CacheConfig(backend="disk", directory=str(tmp_path / "cache"))
    plain = make_client(config)
    resource_id = plain.resources.query(max_records=1).items[0].id
    impersonating = make_client(config, impersonation_resource_id=resource_id)
    plain.tickets.count()
    impersonating.tickets.count()  # another identity: its own entry
    impersonating.tickets.count()
    assert len(requests(fresh_sim, operation="count")) == 2


def test_memory_backend_is_a_bounded_lru(make_client: Any, fresh_sim: Any) -> None:
    client = make_client(CacheConfig(max_entries=2))
    ids = [t.id for t in client.tickets.query(max_records=3).items]
    for ticket_id in ids:
        client.tickets.get(ticket_id)
    fresh_sim.clear_journal()
    client.tickets.get(ids[2])  # most recent: still cached
    client.tickets.get(ids[0])  # evicted
    assert [e.path.rsplit("/", 1)[-1] for e in requests(fresh_sim)] == [str(ids[0])]


def test_cache_is_off_without_a_config(fresh_sim: Any) -> None:
    with AutotaskClient(**fresh_sim.credentials) as client:
        client.tickets.count()
        client.tickets.count()
        assert len(requests(fresh_sim)) == 2
        with pytest.raises(AutotaskConfigError, match="cache_config"):
            client.cache.stats()


def test_config_errors() -> None:
    with pytest.raises(AutotaskConfigError, match="redis_url"):
        CacheConfig(backend="redis")
    with pytest.raises(AutotaskConfigError, match="directory"):
        CacheConfig(backend="disk")
    with pytest.raises(AutotaskConfigError, match="unknown Autotask entity"):
        CacheConfig(cache_patterns={"tickts": 5})
    with pytest.raises(AutotaskConfigError, match="backend"):
        CacheConfig(backend="memcached")  # type: ignore[arg-type]
    with pytest.raises(AutotaskConfigError, match=">= 0"):
        CacheConfig(default_ttl=-1)


def test_a_broken_backend_never_breaks_the_client(make_client: Any, fresh_sim: Any) -> None:
    client = make_client(CacheConfig(backend="redis", redis_url="redis://127.0.0.1:1/0"))
    assert client.tickets.count() == client.tickets.count()
    assert len(requests(fresh_sim)) == 2
    stats = client.cache.stats()
    assert stats.errors >= 2 and stats.hits == 0


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_backend_generations_expire_and_never_repeat(kind: str, tmp_path: Any) -> None:
    from py_autotask.caching import DiskBackend, MemoryBackend

    backend = MemoryBackend() if kind == "memory" else DiskBackend(str(tmp_path / "c"))
    tokens = {backend.bump("k", 10) for _ in range(50)}
    assert len(tokens) == 50 and "0" not in tokens
    last = backend.bump("k", 0.05)
    assert backend.generations(["k", "other"]) == [last, "0"]
    time.sleep(0.1)
    assert backend.generations(["k"]) == ["0"]
    backend.set("p:r:x", b"v", 10)
    assert backend.get("p:r:x") == b"v" and backend.clear("p:r:") == 1
    backend.close()


def test_clear_keeps_generations(make_client: Any, fresh_sim: Any) -> None:
    client = make_client()
    ticket = _first_ticket(client)
    client.tickets.update({"id": ticket.id, "title": "bump the generation"})
    client.tickets.get(ticket.id)
    client.cache.clear()
    fresh_sim.clear_journal()
    client.tickets.get(ticket.id)
    client.tickets.get(ticket.id)
    assert len(requests(fresh_sim)) == 1
