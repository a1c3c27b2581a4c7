def test_redis(redis_url):
    import redis
    r = redis.Redis.from_url(redis_url); r.set("a", "1"); assert r.get("a") == b"1"
def test_pg(postgres_url):
    import psycopg
    with psycopg.connect(postgres_url) as c:
        assert c.execute("select 1").fetchone() == (1,)
