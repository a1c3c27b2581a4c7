"""Per-request overhead of the client (pacing, breaker, retry bookkeeping) vs bare httpx.

Both talk to the same simulator (its own process) over real sockets with no injected latency, one request at a time:
``GET Tickets/1`` with the Autotask headers, JSON decoded. Bare httpx and the client alternate in
rounds of a few requests so machine noise hits both alike; the median of the per-round ratios
is reported.

Target (runtime issue): the client's time per request within 1.3x of bare httpx, sync and async,
with the default limiter (shared by the machine's processes: flock'd slot files and a SQLite token
bucket). A fourth batch per sync round uses a client whose limits stay in the process
(``PacingConfig(backend="local")``); the median difference is the shared limiter's cost.
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
from py_autotask.resilience import PacingConfig

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


def _summary(
    bare: list[float], raw: list[float], typed: list[float]
) -> tuple[float, float, float, float, float]:
    """Median times, and the median of the per-round ratios (robust on a busy machine: each
    round's three batches run back to back, so they see the same load)."""
    raw_ratio = statistics.median(r / b for r, b in zip(raw, bare, strict=True))
    typed_ratio = statistics.median(t / b for t, b in zip(typed, bare, strict=True))
    return (
        statistics.median(bare),
        statistics.median(raw),
        statistics.median(typed),
        raw_ratio,
        typed_ratio,
    )


def run_sync(
    sim: SimulatorProcess, rounds: int, n: int
) -> tuple[tuple[float, float, float, float, float], float]:
    url = sim.url + "Tickets/1"
    with (
        httpx.Client(headers=sim.headers, timeout=30) as http,
        AutotaskClient(**sim.credentials) as client,
        AutotaskClient(**sim.credentials, pacing=PacingConfig(backend="local")) as in_process,
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

        def local() -> object:
            return in_process.raw_request("GET", "Tickets/1")

        for fn in (bare, raw, typed, local):  # warm up connections and caches
            _per_request(fn, 20)
        b, r, t, lo = [], [], [], []
        for _ in range(rounds):
            b.append(_per_request(bare, n))
            r.append(_per_request(raw, n))
            t.append(_per_request(typed, n))
            lo.append(_per_request(local, n))
    shared_cost = statistics.median(x - y for x, y in zip(r, lo, strict=True))
    return _summary(b, r, t), shared_cost


async def run_async(
    sim: SimulatorProcess, rounds: int, n: int
) -> tuple[float, float, float, float, float]:
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
    return _summary(b, r, t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    rounds, n = (40, 15) if args.smoke else (200, 40)
    # a huge hourly threshold: this measures overhead, not the budget
    with SimulatorProcess("--hourly-limit", "100000000") as sim:
        (sb, sr, st, s_ratio, s_typed), shared_cost = run_sync(sim, rounds, n)
        ab, ar, at, a_ratio, a_typed = asyncio.run(run_async(sim, rounds, n))
    print(f"client overhead per request ({rounds} rounds x {n} requests; medians)")
    report("sync bare httpx GET + json", sb * 1e6, "us/req")
    report("sync client raw_request", sr * 1e6, "us/req")
    report("sync client.tickets.get (typed model)", st * 1e6, "us/req")
    report("sync raw_request / bare httpx", s_ratio, "x", f"<= {TARGET}", s_ratio <= TARGET)
    report("sync shared limiter cost (default vs backend='local')", shared_cost * 1e6, "us/req")
    report("async bare httpx GET + json", ab * 1e6, "us/req")
    report("async client raw_request", ar * 1e6, "us/req")
    report("async client.tickets.get (typed model)", at * 1e6, "us/req")
    report("async raw_request / bare httpx", a_ratio, "x", f"<= {TARGET}", a_ratio <= TARGET)
    report("sync typed get / bare httpx", s_typed, "x")
    report("async typed get / bare httpx", a_typed, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
