"""A real Redis shared by two clients (as by two processes), tenant metadata caching and the
async client's cache layer, all against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from py_autotask.caching import CacheConfig, RedisBackend

from .conftest import requests

pytestmark = pytest.mark.xdist_group("caching")


def _redis(redis_url: str, prefix: str) -> CacheConfig:
    return CacheConfig(backend="redis", redis_url=redis_url, key_prefix=prefix)


def test_redis_cache_is_shared_and_invalidated_across_clients(
    make_client: Any, fresh_sim: Any, redis_url: str, prefix: str
) -> None:
    a = make_client(_redis(redis_url, prefix))
    b = make_client(_redis(redis_url, prefix))
    ticket = a.tickets.query(max_records=1).items[0]
    fresh_sim.clear_journal()
    assert a.tickets.get(ticket.id) is not None  # miss: stored in Redis
    got = b.tickets.get(ticket.id)  # another client (another process, same Redis): hit
    assert got is not None and got.title == ticket.title
    assert len(requests(fresh_sim)) == 1
    assert (b.cache.stats().hits, b.cache.stats().misses) == (1, 0)

    b.tickets.update({"id": ticket.id, "title": "written by b"})
    fresh_sim.clear_journal()
    fresh = a.tickets.get(ticket.id)  # a's entry was invalidated by b's write
    assert fresh is not None and fresh.title == "written by b"
    assert [e.operation for e in requests(fresh_sim)] == ["get"]


def test_redis_keys_hold_no_credentials(
    make_client: Any, fresh_sim: Any, redis_url: str, prefix: str
) -> None:
    client = make_client(_redis(redis_url, prefix))
    client.tickets.count()
    client.picklists.label("Tickets", "status", 1)
    import redis

    server = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in server.scan_iter(match=f"{prefix}:*")]
    assert any(":r:" in k for k in keys) and any(":meta:" in k for k in keys)
    values: list[Any] = [server.get(k) or b"" for k in keys if ":gen:" not in k]
    blob = "\n".join(keys).encode() + b"".join(values)
    for name in ("username", "secret", "integration_code"):
        value = fresh_sim.credentials[name]
        assert value.encode() not in blob
    assert client.cache.clear() == len([k for k in keys if ":r:" in k])  # + metadata dropped
    assert list(server.scan_iter(match=f"{prefix}:*")) == []


def test_redis_backend_generations_and_clear(redis_url: str, prefix: str) -> None:
    backend = RedisBackend(redis_url)
    assert backend.generations([f"{prefix}:a", f"{prefix}:b"]) == ["0", "0"]
    first = backend.bump(f"{prefix}:a", 10)
    second = backend.bump(f"{prefix}:a", 0.05)
    assert first != second and backend.generations([f"{prefix}:a"]) == [second]
    time.sleep(0.1)  # a generation outlives its entries by its ttl, then reads "0" again
    assert backend.generations([f"{prefix}:a"]) == ["0"]
    backend.set(f"{prefix}:x*y", b"v", 10)
    backend.bump(f"{prefix}:g", 10)
    assert backend.get(f"{prefix}:x*y") == b"v"
    assert backend.clear(f"{prefix}:") == 2
    backend.close()


def test_metadata_is_fetched_once_per_ttl(make_client: Any, fresh_sim: Any) -> None:
    client = make_client(CacheConfig(metadata_ttl=3600))
    assert client.picklists.label("Tickets", "status", 1) == "New"
    assert client.picklists.label("tickets", "status", 5) == "Complete"
    assert client.picklists.choices("Tickets", "priority")
    assert client.metadata.udfs("Tickets")
    meta = [e.path.split("V1.0/")[1] for e in requests(fresh_sim)]
    assert meta == [
        "Tickets/entityInformation/fields",
        "Tickets/entityInformation/userDefinedFields",
    ]
    client.metadata.refresh("Tickets")
    client.picklists.label("Tickets", "status", 1)
    assert len(requests(fresh_sim)) == 3


def test_metadata_ttl_expires(make_client: Any, fresh_sim: Any) -> None:
    client = make_client(CacheConfig(metadata_ttl=0.2))
    client.metadata.fields("Companies")
    client.metadata.fields("Companies")
    assert len(requests(fresh_sim)) == 1
    time.sleep(0.25)
    client.metadata.fields("Companies")
    assert len(requests(fresh_sim)) == 2


def test_metadata_shared_through_redis(
    make_client: Any, fresh_sim: Any, redis_url: str, prefix: str
) -> None:
    a = make_client(_redis(redis_url, prefix))
    b = make_client(_redis(redis_url, prefix))
    assert a.picklists.label("Tickets", "status", 5) == b.picklists.label("Tickets", "status", 5)
    assert len(requests(fresh_sim)) == 1


def test_async_client_cache(make_async_client: Any, fresh_sim: Any) -> None:
    async def run() -> None:
        async with make_async_client() as client:
            page = await client.tickets.query(max_records=2)
            first = page.items[0].id
            await client.tickets.get(first)
            await client.tickets.get(first)
            count = await client.tickets.count()
            assert await client.tickets.count() == count
            assert len(requests(fresh_sim)) == 3
            await client.tickets.update({"id": first, "title": "async write"})
            got = await client.tickets.get(first)
            assert got is not None and got.title == "async write"
            report = await client.cache.warm(["companies"])
            before = len(requests(fresh_sim))
            for company in await client.companies.query_all():
                assert await client.companies.get(company.id) is not None
            assert len(requests(fresh_sim)) == before  # pages and records came from warming
            assert report.records["Companies"] == len(await client.companies.query_all())
            task = await client.cache.warm("resources", background=True)
            assert isinstance(task, asyncio.Task)
            assert (await task).total > 0
            assert await client.picklists.label("Tickets", "status", 5) == "Complete"

    asyncio.run(run())


def test_async_client_with_redis(
    make_async_client: Any, fresh_sim: Any, redis_url: str, prefix: str
) -> None:
    async def run() -> None:
        async with make_async_client(_redis(redis_url, prefix)) as a:
            async with make_async_client(_redis(redis_url, prefix)) as b:
                assert await a.companies.count() == await b.companies.count()
        assert len(requests(fresh_sim)) == 1

    asyncio.run(run())
