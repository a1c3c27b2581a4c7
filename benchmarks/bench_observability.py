"""Per-request cost of the monitoring: traces (and Prometheus metrics when the build has them) on
vs everything off.

Every client talks to the same simulator (its own process, no injected latency) over real
sockets, one ``GET Tickets/1`` at a time, in rounds of a few requests that alternate between the
clients so machine noise hits them alike; the medians of the per-round times and of the per-round
ratios are reported.

Clients:

- ``off``: ``tracing=False``, no metrics collector (the baseline);
- ``default, no OpenTelemetry loaded``: what every client does out of the box in a process that
  never imported OpenTelemetry (measured first, before this script imports it);
- ``default, API only``: the same once the OpenTelemetry API is loaded but no SDK is installed
  (non-recording spans);
- ``metrics + tracing``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` and an exporter
  that drops the spans, plus a ``MetricsCollector`` (its own registry) when
  ``py_autotask.monitoring`` has one.

Target (issue 16): metrics + tracing cost <= 5% of a request's time at a realistic Autotask
latency. The zero-latency ratio is the worst case; the ratio at 0.2 s is computed from the
measured microseconds (``--full`` also measures it against the simulator's latency fault).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import report
from py_autotask import AutotaskClient

TARGET = 0.05
#: a realistic Autotask round trip (seconds); the reliability notes measure 0.15-0.4 s per call
REALISTIC_LATENCY = 0.2


def _per_request(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _rounds(calls: Sequence[Callable[[], object]], rounds: int, n: int) -> list[list[float]]:
    """Per-round seconds per request of each call, the calls alternating within each round."""
    for fn in calls:  # warm up connections, caches and the limiter
        _per_request(fn, 20)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for i, fn in enumerate(calls):
            times[i].append(_per_request(fn, n))
    return times


def _overhead(on: list[float], off: list[float]) -> tuple[float, float]:
    """Median extra microseconds per request and median per-round ratio on/off - 1."""
    extra = statistics.median(a - b for a, b in zip(on, off, strict=True)) * 1e6
    ratio = statistics.median(a / b for a, b in zip(on, off, strict=True)) - 1
    return extra, ratio


def _get(client: AutotaskClient) -> Callable[[], object]:
    def call() -> object:
        return client.raw_request("GET", "Tickets/1")

    return call


def _metrics_collector() -> Any:
    """``MetricsCollector`` when this build has it (the metrics part of issue 16), else None."""
    try:
        from py_autotask.monitoring import MetricsCollector  # type: ignore[attr-defined]
    except ImportError:
        return None
    return MetricsCollector


def _sdk_provider() -> tuple[Any, Any]:
    """An SDK ``TracerProvider`` batching spans into an exporter that counts and drops them."""
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def __init__(self) -> None:
            self.count = 0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

    exporter = Dropped()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def _monitored(sim: SimulatorProcess, provider: Any) -> AutotaskClient:
    client = AutotaskClient(**sim.credentials, tracing=provider)
    collector = _metrics_collector()
    if collector is not None:
        collector(client)
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    rounds, n = (15, 15) if args.smoke else (150, 40)
    label = "metrics + tracing (SDK)" if _metrics_collector() else "tracing (SDK)"
    print(f"monitoring overhead per request ({rounds} rounds x {n} requests; medians)")
    # a huge hourly threshold: this measures overhead, not the budget
    with (
        SimulatorProcess("--hourly-limit", "100000000") as sim,
        AutotaskClient(**sim.credentials, tracing=False) as off,
        AutotaskClient(**sim.credentials) as default,
    ):
        assert "opentelemetry.trace" not in sys.modules, "measured before OpenTelemetry loads"
        base0, unloaded = _rounds([_get(off), _get(default)], rounds, n)
        assert "opentelemetry.trace" not in sys.modules

        provider, exporter = _sdk_provider()
        with _monitored(sim, provider) as full:
            base, api_only, on = _rounds([_get(off), _get(default), _get(full)], rounds, n)
            sent = full.stats.requests.sent
        provider.shutdown()  # flushes the batch

        slow: tuple[list[float], list[float]] | None = None
        if args.full:
            latency = {"type": "latency", "dist": "fixed", "seconds": REALISTIC_LATENCY}
            sim.add_fault({"match": {"entity": "Tickets"}, "effect": latency})
            slow_provider, _ = _sdk_provider()
            with _monitored(sim, slow_provider) as slow_full:
                slow_off, slow_on = _rounds([_get(off), _get(slow_full)], 6, 8)
                slow = (slow_off, slow_on)
            slow_provider.shutdown()

    if _metrics_collector() is None:
        print("  metrics: skipped (no MetricsCollector in this build): tracing only")
    print(f"  requests sent by the SDK client: {sent:,}; spans it exported: {exporter.count:,}")
    report("off (tracing=False, no metrics)", statistics.median(base) * 1e6, "us/req")
    extra0, ratio0 = _overhead(unloaded, base0)
    report("default, OpenTelemetry not loaded: extra", extra0, "us/req")
    report("default, OpenTelemetry not loaded: overhead", ratio0 * 100, "%")
    extra1, ratio1 = _overhead(api_only, base)
    report("default, API only (no SDK): extra", extra1, "us/req")
    report("default, API only (no SDK): overhead", ratio1 * 100, "%")
    extra2, ratio2 = _overhead(on, base)
    report(f"{label}: extra", extra2, "us/req")
    report(f"{label}: overhead at zero latency", ratio2 * 100, "%")
    bound = max(extra2, 0.0) / (statistics.median(base) * 1e6 + REALISTIC_LATENCY * 1e6)
    report(
        f"{label}: overhead at {REALISTIC_LATENCY:g} s latency (computed)",
        bound * 100,
        "%",
        f"<= {TARGET:.0%}",
        bound <= TARGET,
    )
    if slow is not None:
        slow_extra, slow_ratio = _overhead(slow[1], slow[0])
        report(
            f"{label}: extra at {REALISTIC_LATENCY:g} s latency (measured)", slow_extra, "us/req"
        )
        report(
            f"{label}: overhead at {REALISTIC_LATENCY:g} s latency (measured)",
            slow_ratio * 100,
            "%",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
