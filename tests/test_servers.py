"""The test-server fixtures give working, private Redis and PostgreSQL servers."""

from __future__ import annotations


def test_redis_fixture_serves_a_private_redis(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("py-autotask-probe", "1")
    assert client.get("py-autotask-probe") == b"1"


def test_postgres_fixture_gives_an_empty_database(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
