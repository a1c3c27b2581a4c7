"""Real-time sync from webhook callouts: change-to-row latency and the events/s one receiver takes.

The simulator runs in its own process with its webhook delivery enabled; one receiver
(:class:`~py_autotask.realtime.RealtimeSync` behind a :class:`~py_autotask.webhooks.WebhookServer`,
its durable queue and a SQLite mirror) runs in this one. Figures:

- **change-to-row latency p50/p99**: from the simulator's commit of each change (the delivery
  journal's ``committed_at``, turned into wall time) to the commit of the database row that shows
  it (the first batch whose records were read after the change), for ``--changes`` API writes
  (30 % creates, 70 % updates; Autotask deletes tickets in its UI only) paced at ``--rate``/s. Goal: p99 < 1 s (the seed plan asks < 1 min).
- **events/s one receiver sustains**: signed Update callouts for distinct tickets posted by a
  separate process over ``--connections`` connections, counted from the first one received to the
  last one whose row is committed (verified, queued, handled, re-read, written). Goal: >= 500/s.

``--smoke`` is small (300 changes, 1,000 events); ``--full`` 3,000 changes and 10,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import report
from py_autotask import AutotaskClient
from py_autotask._hooksig import SIGNATURE_HEADER, dotnet_form, sign
from py_autotask.realtime import BATCH_LIMIT, RealtimeSync
from py_autotask.webhooks import EventQueue, WebhookRegistry, WebhookServer

SECRET = "bench-webhook-secret"


class Receiver:
    """RealtimeSync + WebhookServer on their own event loop thread."""

    def __init__(self, client: AutotaskClient, db: str, queue: Path) -> None:
        self.commits: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.rt = RealtimeSync(client, db, ["Tickets"], catch_up_every=None, on_commit=self._on)
        self.queue = queue
        self.server: WebhookServer | None = None
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def _on(self, keys: Any, read_after: float) -> None:
        now = time.time()
        for _entity, rid in keys:
            self.commits[rid].append((read_after, now))

    async def _main(self) -> None:
        server = WebhookServer(0, SECRET, queue=EventQueue(self.queue), workers=BATCH_LIMIT)
        self.rt.attach(server)
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        await server.start()
        self.server, self.url = server, server.url or ""
        self._ready.set()
        await self._stop.wait()
        await server.stop()

    def start(self) -> Receiver:
        self.rt.start()  # the first incremental run (a full load here)
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.rt.stop()

    def handled(self) -> int:
        return 0 if self.server is None else self.server.stats.get("handled", 0)


def _latency(sim: SimulatorProcess, receiver: Receiver, changes: int, rate: float) -> None:
    rng = random.Random(7)
    with AutotaskClient(**sim.credentials) as client:
        WebhookRegistry(client).register(
            "Tickets",
            url=receiver.url,
            secret_key=SECRET,
            fields=["title", "priority", "status"],
            exclude_resources=[],  # the benchmark's writes are the API user's own
        )
        company = int(client.companies.query(max_records=1).items[0].id)
        live = list(range(1, 201))
        start = time.perf_counter()
        for n in range(changes):
            roll = rng.random()
            if roll < 0.3:
                made = client.tickets.create(
                    {"companyID": company, "title": f"bench {n}", "status": 1, "priority": 2}
                )
                live.append(int(getattr(made, "id", made)))
            else:
                client.tickets.update({"id": rng.choice(live), "title": f"bench {n}"})
            wait = start + (n + 1) / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
    deadline = time.monotonic() + 60
    deliveries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        data = httpx.get(sim.root + "/_sim/webhooks", timeout=60).json()
        deliveries = [d for d in data["deliveries"] if d["outcome"] == "ok" and d["attempt"] == 1]
        if len(deliveries) >= changes and receiver.rt.pending == 0:
            break
        time.sleep(0.2)
    receiver.rt.flush(30)
    latencies = []
    for d in deliveries:
        # the commit's wall time: the attempt's wall time less the virtual wait before it
        committed = d["real_sent_at"] - (d["sent_at"] - d["committed_at"])
        shown = [
            done for read_after, done in receiver.commits[d["record_id"]] if read_after >= committed
        ]
        if shown:
            latencies.append(min(shown) - committed)
    print(f"   {len(deliveries)} callouts delivered for {changes} changes, {len(latencies)} timed")
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    report("change-to-row latency p50", p50 * 1000, "ms")
    report("change-to-row latency p99", p99 * 1000, "ms", target="< 1,000 ms", ok=p99 < 1.0)


def _post_events(url: str, ids: list[int], connections: int) -> None:
    """The load generator (a child process): one signed Update callout per id, over
    ``connections`` keep-alive connections (a thread each)."""
    seqs = iter(range(1, len(ids) + 1))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=30, trust_env=False) as client:
            while True:
                with lock:
                    seq = next(seqs, None)
                if seq is None:
                    return
                body = json.dumps(
                    {
                        "Action": "Update",
                        "Guid": "bench-guid",
                        "EntityType": "Ticket",
                        "Id": ids[seq - 1],
                        "Fields": {"title": f"event {seq}"},
                        "EventTime": "2026-01-01T00:00:00.000Z",
                        "SequenceNumber": seq,
                        "PersonID": None,
                    },
                    separators=(",", ":"),
                ).encode()
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(SECRET, dotnet_form(body)),
                }
                response = client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}")

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} callouts failed, e.g. {failures[0]}")


def _throughput(receiver: Receiver, tickets: int, events: int, connections: int) -> None:
    before = receiver.handled()
    poster = subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.bench_webhooks", "--post", receiver.url),
            *("--events", str(events), "--tickets", str(tickets)),
            *("--connections", str(connections)),
        ]
    )
    start = None
    deadline = time.monotonic() + 600
    while receiver.handled() - before < events and time.monotonic() < deadline:
        if start is None and receiver.server and receiver.server.stats.get("received", 0):
            start = time.perf_counter()
        time.sleep(0.005)
    end = time.perf_counter()
    poster.wait(60)
    assert poster.returncode == 0, "the load generator failed"
    done = receiver.handled() - before
    assert done >= events, f"only {done} of {events} events handled"
    seconds = end - (start or end)
    print(
        f"   {events} events over {connections} connections in {seconds:.2f}s; {receiver.rt.stats.line()}"
    )
    report(
        "events/s one receiver sustains",
        events / seconds,
        "ev/s",
        ">= 500/s",
        events / seconds >= 500,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--changes", type=int, default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="API changes per second")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tickets", type=int, default=2_000)
    parser.add_argument("--post", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.post:
        ids = [1 + i % args.tickets for i in range(args.events)]
        _post_events(args.post, ids, args.connections)
        return
    changes = args.changes or (3_000 if args.full else 300)
    events = args.events or (10_000 if args.full else 1_000)
    print(f"== bench_webhooks: changes={changes:,} at {args.rate:g}/s, events={events:,}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorProcess(
            "--count",
            f"Tickets={args.tickets}",
            "--hourly-limit",
            "100000000",
            "--thread-limit",
            "0",
        ) as sim,
    ):
        client = AutotaskClient(**sim.credentials)
        receiver = Receiver(client, f"sqlite:///{Path(tmp) / 'mirror.db'}", Path(tmp) / "q.db")
        receiver.start()
        try:
            _latency(sim, receiver, changes, args.rate)
            _throughput(receiver, args.tickets, events, args.connections)
        finally:
            receiver.stop()
            client.close()


if __name__ == "__main__":
    main()
