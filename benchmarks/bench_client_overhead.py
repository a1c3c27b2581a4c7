"""Per-request overhead of the client (pacing, breaker, retry bookkeeping) vs bare httpx.

Both talk to the same simulator (its own process) over real sockets with no injected latency, one request at a time:
``GET Tickets/1`` with the Autotask headers, JSON decoded. Bare httpx and the client alternate in
rounds so machine noise hits both alike; the median round is reported.

Target (runtime issue): the client's time per request within 1.3x of bare httpx, sync and async.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import report
from py_autotask import AsyncAutotaskClient, AutotaskClient

TARGET = 1.3


def _per_request(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


async def _aper_request(fn: Callable[[], Awaitable[object]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n


def run_sync(sim: SimulatorProcess, rounds: int, n: int) -> tuple[float, float, float]:
    url = sim.url + "Tickets/1"
    with (
        httpx.Client(headers=sim.headers, timeout=30) as http,
        AutotaskClient(**sim.credentials) as client,
    ):
        tickets = client.tickets

        def bare() -> object:
            response = http.get(url)
            response.raise_for_status()
            return response.json()

        def raw() -> object:
            return client.raw_request("GET", "Tickets/1")

        def typed() -> object:
            return tickets.get(1)

        for fn in (bare, raw, typed):  # warm up connections and caches
            _per_request(fn, 20)
        b, r, t = [], [], []
        for _ in range(rounds):
            b.append(_per_request(bare, n))
            r.append(_per_request(raw, n))
            t.append(_per_request(typed, n))
    return statistics.median(b), statistics.median(r), statistics.median(t)


async def run_async(sim: SimulatorProcess, rounds: int, n: int) -> tuple[float, float, float]:
    url = sim.url + "Tickets/1"
    async with (
        httpx.AsyncClient(headers=sim.headers, timeout=30) as http,
        AsyncAutotaskClient(**sim.credentials) as client,
    ):
        tickets = client.tickets

        async def bare() -> object:
            response = await http.get(url)
            response.raise_for_status()
            return response.json()

        async def raw() -> object:
            return await client.raw_request("GET", "Tickets/1")

        async def typed() -> object:
            return await tickets.get(1)

        for fn in (bare, raw, typed):
            await _aper_request(fn, 20)
        b, r, t = [], [], []
        for _ in range(rounds):
            b.append(await _aper_request(bare, n))
            r.append(await _aper_request(raw, n))
            t.append(await _aper_request(typed, n))
    return statistics.median(b), statistics.median(r), statistics.median(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    rounds, n = (5, 60) if args.smoke else (15, 300)
    # a huge hourly threshold: this measures overhead, not the budget
    with SimulatorProcess("--hourly-limit", "100000000") as sim:
        sb, sr, st = run_sync(sim, rounds, n)
        ab, ar, at = asyncio.run(run_async(sim, rounds, n))
    print(f"client overhead per request ({rounds} rounds x {n} requests, median round)")
    report("sync bare httpx GET + json", sb * 1e6, "us/req")
    report("sync client raw_request", sr * 1e6, "us/req")
    report("sync client.tickets.get (typed model)", st * 1e6, "us/req")
    report("sync raw_request / bare httpx", sr / sb, "x", f"<= {TARGET}", sr / sb <= TARGET)
    report("async bare httpx GET + json", ab * 1e6, "us/req")
    report("async client raw_request", ar * 1e6, "us/req")
    report("async client.tickets.get (typed model)", at * 1e6, "us/req")
    report("async raw_request / bare httpx", ar / ab, "x", f"<= {TARGET}", ar / ab <= TARGET)
    report("sync typed get / bare httpx", st / sb, "x")
    report("async typed get / bare httpx", at / ab, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
