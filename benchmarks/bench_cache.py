"""Response-cache benefit on a repeated-read workload against the simulator (real HTTP).

The workload mixes get-by-id of a hot set of tickets and companies (Zipf-like: a few records are
read often), filtered ticket counts and company query pages, with a small share of ticket updates
that invalidate the Tickets entries. The same seeded workload runs on a client without a cache
(baseline) and on clients with the memory and disk caches (and Redis with ``--redis-url``).
A fixed per-request latency is injected in the simulator (``--latency``, default 20 ms) because a
real Autotask round trip costs 100-300 ms while the local simulator answers in about 1 ms.

The resilience layer's hourly-budget pacing (by default half of the tenant's 10,000 requests per
hour, i.e. ~1.4 requests/s once the burst is spent) is scaled away with ``PacingConfig(time_scale)``
so the figures show the cache alone; against a real tenant every avoided request also saves budget,
which at that pace is worth ~0.7 s of wall time per request.

Targets: hit rate above 80 %; the time saved is reported against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks._util import report
from py_autotask import AutotaskClient, F
from py_autotask.caching import CacheConfig
from py_autotask.resilience import PacingConfig
from py_autotask.simulator import Simulator

Op = Callable[[AutotaskClient], object]


def _update(client: AutotaskClient, ticket_id: int, i: int) -> object:
    return client.tickets.update({"id": ticket_id, "title": f"bench {i}"})


def _get_ticket(client: AutotaskClient, ticket_id: int) -> object:
    return client.tickets.get(ticket_id)


def _get_company(client: AutotaskClient, company_id: int) -> object:
    return client.companies.get(company_id)


def _count(client: AutotaskClient, status: int) -> object:
    return client.tickets.count(F("status").eq(status))


def _page(client: AutotaskClient) -> object:
    return client.companies.query(max_records=25)


def workload(client: AutotaskClient, size: int, write_share: float, seed: int) -> list[Op]:
    """The seeded list of operations (built once, replayed on every client)."""
    rng = random.Random(seed)
    tickets = [t.id for t in client.tickets.query(max_records=100).items if t.id is not None]
    companies = [c.id for c in client.companies.query_all() if c.id is not None]
    statuses = [int(v) for v in client.picklists.choices("Tickets", "status")][:5]
    weights = [1 / (rank + 1) for rank in range(len(tickets))]  # Zipf-like popularity
    ops: list[Op] = []
    for i in range(size):
        roll = rng.random()
        if roll < write_share:
            ops.append(partial(_update, ticket_id=rng.choice(tickets), i=i))
        elif roll < 0.60:
            ops.append(partial(_get_ticket, ticket_id=rng.choices(tickets, weights)[0]))
        elif roll < 0.80:
            ops.append(partial(_get_company, company_id=rng.choice(companies)))
        elif roll < 0.92:
            ops.append(partial(_count, status=rng.choice(statuses)))
        else:
            ops.append(_page)
    return ops


def connect(sim: Simulator, **options: Any) -> AutotaskClient:
    creds = sim.credentials
    return AutotaskClient(
        creds["username"], creds["secret"], creds["integration_code"], creds["api_url"], **options
    )


def run(sim: Simulator, ops: list[Op], config: CacheConfig | None) -> tuple[float, int, Any]:
    pacing = PacingConfig(time_scale=3600.0, threshold_poll_interval=None)
    with connect(sim, cache_config=config, pacing=pacing) as client:
        client.tickets.count()  # connection warm-up, not measured
        sim.clear_journal()
        start = time.perf_counter()
        for op in ops:
            op(client)
        elapsed = time.perf_counter() - start
        sent = len(sim.journal())
        stats = client.cache.stats() if config is not None else None
    return elapsed, sent, stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--ops", type=int, default=None, help="operations in the workload")
    parser.add_argument(
        "--latency", type=float, default=None, help="seconds added per request (5/20 ms)"
    )
    parser.add_argument("--writes", type=float, default=0.02, help="share of ticket updates")
    parser.add_argument("--redis-url", default=None, help="also measure a Redis backend")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    size = args.ops or (1000 if args.smoke else 5000)
    if args.latency is None:
        args.latency = 0.005 if args.smoke else 0.02
    print(
        f"== bench_cache: {size} operations, {args.writes:.0%} writes, "
        f"{args.latency * 1000:.0f} ms injected latency per request"
    )
    with Simulator(seed=args.seed, profile="tiny", hourly_threshold=0, thread_limit=0) as sim:
        with connect(sim) as setup:
            ops = workload(setup, size, args.writes, args.seed)
        if args.latency > 0:
            sim.add_fault({"effect": {"type": "latency", "dist": "fixed", "seconds": args.latency}})
        base_time, base_sent, _ = run(sim, ops, None)
        report("baseline (no cache): wall time", base_time, "s")
        report("baseline (no cache): requests sent", base_sent, "requests")
        with tempfile.TemporaryDirectory() as folder:
            configs = {
                "memory": CacheConfig(),
                "disk": CacheConfig(backend="disk", directory=folder),
            }
            if args.redis_url:
                configs["redis"] = CacheConfig(
                    backend="redis", redis_url=args.redis_url, key_prefix=f"bench{time.time_ns()}"
                )
            for name, config in configs.items():
                sim.reset(keep_faults=True)
                elapsed, sent, stats = run(sim, ops, config)
                report(
                    f"{name}: hit rate on repeated reads",
                    stats.hit_rate * 100,
                    "%",
                    target="> 80 %",
                    ok=stats.hit_rate > 0.80,
                )
                report(f"{name}: requests sent", sent, "requests")
                report(f"{name}: requests avoided vs baseline", base_sent - sent, "requests")
                report(f"{name}: wall time", elapsed, "s")
                report(
                    f"{name}: time saved vs baseline",
                    base_time - elapsed,
                    "s",
                    target="> 0",
                    ok=elapsed < base_time,
                )
                report(f"{name}: speed-up vs baseline", base_time / elapsed, "x")
                report(
                    f"{name}: saved (sum of hit requests' original time)", stats.saved_seconds, "s"
                )


if __name__ == "__main__":
    main()
