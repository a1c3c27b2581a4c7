"""Prometheus metrics of one client: :class:`MetricsCollector`.

The collector is an :class:`~py_autotask.monitoring.Observer` on ``client.observers``: it counts
what the pipeline and the jobs report (every HTTP attempt, retries, rate-limit rejections, waits,
cache lookups, off-type values, jobs, rows, sync lag, plugin failures) into metrics kept in its
own :class:`prometheus_client.CollectorRegistry`, so two clients (or two test suites) in one
process never clash. Nothing listens on a port until :meth:`MetricsCollector.serve` is called.

Labels stay low-cardinality (entity, operation, method, status, kind, reason, job, outcome):
never an id, a URL, a user name or a value of a record. See docs/monitoring.md, "Metrics".
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

from .._observe import JobInfo, Observer, Observers, RequestInfo, RequestOutcome
from ..exceptions import AutotaskConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

__all__ = ["MetricsCollector", "MetricsServer"]

P = ParamSpec("P")
R = TypeVar("R")

#: seconds; from a cache-served page to a request that waited out a long Retry-After
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: seconds; jobs run from a second to hours
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, float("inf"))

#: the label value for "none" (a request naming no collection, a job with no entity)
NONE = ""


class MetricsHost(Protocol):
    """What the collector needs of a client (both clients have it)."""

    @property
    def observers(self) -> Observers: ...

    @property
    def threshold_reading(self) -> dict[str, Any] | None: ...


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise AutotaskConfigError(
            "Prometheus metrics need prometheus-client: pip install 'py-autotask[monitoring]'"
        ) from exc
    return prometheus_client


def _root_kind(job: JobInfo | None) -> str:
    """The kind of the outermost job (rows of an export's entity count as the export's)."""
    if job is None:
        return NONE
    while job.parent is not None:
        job = job.parent
    return job.kind


@dataclass
class MetricsServer:
    """The ``/metrics`` endpoint :meth:`MetricsCollector.serve` started: ``port`` is the bound
    port (the one the system chose for port 0); :meth:`close` stops it."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Budget:
    """Collect-time gauges of the hourly budget from the pacing's last ThresholdInformation
    reading (no request is sent to read them; nothing is exposed before the first reading)."""

    def __init__(self, client: MetricsHost, namespace: str) -> None:
        self._client = client
        self._ns = namespace

    def _families(self, reading: dict[str, Any] | None) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        limit = used = age = None
        if reading is not None:
            limit = float(reading["externalRequestThreshold"])
            used = float(reading["currentTimeframeRequestCount"])
            age = float(reading["age_seconds"])
        values = (
            ("budget_used_requests", "requests counted in the hourly window", used),
            (
                "budget_remaining_requests",
                "requests left in the hourly window",
                None if limit is None or used is None else max(0.0, limit - used),
            ),
            ("budget_limit_requests", "the tenant's hourly request threshold", limit),
            ("budget_reading_age_seconds", "age of the ThresholdInformation reading", age),
        )
        for name, text, value in values:
            family = GaugeMetricFamily(f"{self._ns}_{name}", f"Autotask {text}")
            if value is not None:
                family.add_metric([], value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        return self._families(self._client.threshold_reading)


class _Observer(Observer):
    """Feeds the collector's metrics from the seam's reports."""

    def __init__(self, metrics: MetricsCollector) -> None:
        self._m = metrics
        # the labelled children of the per-request metrics, looked up once per label set (the
        # sets are few): a request then costs two dict reads instead of two locked lookups
        self._counted: dict[tuple[str | None, str | None, str, int | None], Any] = {}
        self._timed: dict[tuple[str | None, str | None, str], Any] = {}

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        m = self._m
        key = (info.entity, info.operation, info.method)
        timed = self._timed.get(key)
        if timed is None:
            timed = m.request_duration.labels(
                info.entity or NONE, info.operation or NONE, info.method
            )
            self._timed[key] = timed
        status_key = (info.entity, info.operation, info.method, outcome.status)
        counted = self._counted.get(status_key)
        if counted is None:
            counted = m.requests.labels(
                info.entity or NONE, info.operation or NONE, info.method, outcome.status_label
            )
            self._counted[status_key] = counted
        counted.inc()
        timed.observe(outcome.elapsed)
        if outcome.retry_delay is not None:
            m.retries.labels(outcome.kind).inc()

    def rate_limited(self, kind: str, info: RequestInfo | None) -> None:
        self._m.rate_limited.labels(kind).inc()

    def waited(self, reason: str, seconds: float) -> None:
        self._m.waited.labels(reason).inc(seconds)

    def cache_lookup(self, entity: str | None, hit: bool) -> None:
        m = self._m
        (m.cache_hits if hit else m.cache_misses).labels(entity or NONE).inc()

    def off_type(self, entity: str, field: str, count: int) -> None:
        self._m.off_type.labels(entity, field).inc(count)

    def job_started(self, job: JobInfo) -> Any:
        return time.perf_counter()

    def job_ended(self, job: JobInfo, token: Any, error: BaseException | None) -> None:
        status = "error" if error is not None else str(job.attributes.get("status", "ok"))
        m = self._m
        m.jobs.labels(job.kind, status).inc()
        if isinstance(token, float):
            m.job_duration.labels(job.kind, status).observe(time.perf_counter() - token)

    def rows(self, job: JobInfo | None, entity: str | None, outcome: str, count: int) -> None:
        self._m.rows.labels(_root_kind(job), entity or NONE, outcome).inc(count)

    def lag(self, job: JobInfo | None, entity: str | None, seconds: float) -> None:
        self._m.sync_lag.labels(entity or NONE).set(seconds)

    def plugin_failed(self, plugin: str, hook: str) -> None:
        self._m.plugin_failures.labels(plugin, hook).inc()


class MetricsCollector:
    """Prometheus metrics of one client (sync or async).

    >>> metrics = MetricsCollector(client)            # doctest: +SKIP
    >>> metrics.start_collection()                    # doctest: +SKIP
    >>> server = metrics.serve(9464)                  # doctest: +SKIP  (GET /metrics)

    ``registry``: where the metrics live; by default a new
    :class:`prometheus_client.CollectorRegistry` of this collector (``metrics.registry``); pass
    ``prometheus_client.REGISTRY`` to add them to the process-wide one (then only one collector
    per namespace fits in it). ``namespace`` prefixes every metric name.
    Needs ``pip install 'py-autotask[monitoring]'``."""

    def __init__(
        self,
        client: MetricsHost,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "autotask",
    ) -> None:
        prom = _prometheus()
        self.client = client
        self.namespace = namespace
        self.registry: CollectorRegistry = (
            registry if registry is not None else prom.CollectorRegistry(auto_describe=True)
        )
        self._observer = _Observer(self)
        counter, histogram, gauge = prom.Counter, prom.Histogram, prom.Gauge
        common: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self.requests = counter(
            "requests",
            "HTTP attempts sent to Autotask (retries, rejected attempts and threshold polls too)",
            ["entity", "operation", "method", "status"],
            **common,
        )
        self.request_duration = histogram(
            "request_duration_seconds",
            "Seconds from sending an HTTP attempt to the end of its response",
            ["entity", "operation", "method"],
            buckets=LATENCY_BUCKETS,
            **common,
        )
        self.retries = counter(
            "retries", "Attempts that were retried, by the pipeline's verdict", ["reason"], **common
        )
        self.rate_limited = counter(
            "rate_limited",
            "Rate-limit rejections: thread_limit, throttled (429), budget (hourly threshold)",
            ["kind"],
            **common,
        )
        self.waited = counter(
            "wait_seconds",
            "Seconds spent waiting before sending, by reason",
            ["reason"],
            **common,
        )
        self.cache_hits = counter(
            "cache_hits", "Reads answered by the response cache", ["entity"], **common
        )
        self.cache_misses = counter(
            "cache_misses", "Cacheable reads the cache did not hold", ["entity"], **common
        )
        self.off_type = counter(
            "off_type_values",
            "Values read that did not match their field's declared type",
            ["entity", "field"],
            **common,
        )
        self.jobs = counter(
            "jobs", "Jobs finished (query_all, export, sync, bulk...)", ["kind", "status"], **common
        )
        self.job_duration = histogram(
            "job_duration_seconds",
            "Seconds a job ran",
            ["kind", "status"],
            buckets=JOB_BUCKETS,
            **common,
        )
        self.rows = counter(
            "rows",
            "Rows a job handled, by the outermost job's kind and the row's outcome",
            ["job", "entity", "outcome"],
            **common,
        )
        self.sync_lag = gauge(
            "sync_lag_seconds",
            "Seconds between a sync's end and the newest change it holds",
            ["entity"],
            **common,
        )
        self.plugin_failures = counter(
            "plugin_failures", "Plugin hooks that raised", ["plugin", "hook"], **common
        )
        self.operation_duration = histogram(
            "operation_duration_seconds",
            "Seconds a function decorated with track_duration ran (failed calls too)",
            ["name"],
            buckets=LATENCY_BUCKETS,
            **common,
        )
        self.operation_failures = counter(
            "operation_failures",
            "Calls of a function decorated with track_duration that raised",
            ["name"],
            **common,
        )
        self.registry.register(_Budget(client, namespace))

    # --- collection ---------------------------------------------------------------------------

    @property
    def collecting(self) -> bool:
        return self._observer in list(self.client.observers)

    def start_collection(self) -> MetricsCollector:
        """Start counting what the client reports (again: no effect)."""
        self.client.observers.add(self._observer)
        return self

    def stop_collection(self) -> None:
        """Stop counting; the metrics keep their values."""
        self.client.observers.remove(self._observer)

    # --- exposition ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (what ``/metrics`` serves)."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` on ``addr:port`` from a daemon thread until ``close()`` (port 0:
        a free port, see ``.port``). Raises :class:`OSError` when the port is in use."""
        from prometheus_client import start_http_server

        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise AutotaskConfigError(f"metrics port must be 0..65535, not {port!r}")
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(addr, int(server.server_port), server, thread)

    # --- your own code ------------------------------------------------------------------------

    def track_duration(self, name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """A decorator timing each call of a function (sync or ``async``) in
        ``autotask_operation_duration_seconds{name=...}``; calls that raise are timed too and
        counted in ``autotask_operation_failures_total``."""
        histogram = self.operation_duration.labels(name)
        failures = self.operation_failures.labels(name)

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(fn):
                afn = cast("Callable[P, Awaitable[Any]]", fn)

                @functools.wraps(fn)
                async def atimed(*args: P.args, **kwargs: P.kwargs) -> Any:
                    start = time.perf_counter()
                    try:
                        return await afn(*args, **kwargs)
                    except Exception:
                        failures.inc()
                        raise
                    finally:
                        histogram.observe(time.perf_counter() - start)

                return cast("Callable[P, R]", atimed)

            @functools.wraps(fn)
            def timed(*args: P.args, **kwargs: P.kwargs) -> R:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                except Exception:
                    failures.inc()
                    raise
                finally:
                    histogram.observe(time.perf_counter() - start)

            return timed

        return decorate

    def __repr__(self) -> str:
        state = "collecting" if self.collecting else "stopped"
        return f"<MetricsCollector {self.namespace} ({state})>"
