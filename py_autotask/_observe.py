"""The instrumentation seam: what the pipeline and the jobs tell observers (metrics, traces,
plugins' request hooks, your own code).

Every client has one :class:`Observers` fan-out (``client.observers``; features reach it through
``sender.reader.observers``). The pipeline reports each HTTP attempt (:meth:`Observer.request_started`
/ :meth:`Observer.request_ended`, retries and rate-limit rejections included, threshold polls
marked), waits, cache lookups and off-type values; jobs (``query_all``, export, sync, bulk) open a
scope with :meth:`Observers.job` and report rows and lag in it. Observers see *facts*, never
secrets, header values or record contents: :class:`RequestInfo` carries the method, the URL with
its query string scrubbed, entity, operation and endpoint only.

An observer that raises is logged (once per observer and hook) and skipped; the request or job
goes on. With no observer attached every report is one attribute check.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "JobInfo",
    "Observer",
    "Observers",
    "RequestInfo",
    "RequestOutcome",
    "current_job",
]

_log = logging.getLogger("py_autotask.observe")

#: status label of an attempt that got no HTTP response (connection error, timeout)
NO_RESPONSE: Final = "error"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One HTTP attempt, as observers may see it (no secret, no header value, no body)."""

    method: str
    #: the URL with the query string removed (``https://host/ATServicesRest/V1.0/Tickets/query``)
    url: str
    #: host and port of the URL (``server.address`` / ``server.port`` of the HTTP conventions)
    host: str
    port: int | None
    #: the collection (``"Tickets"``), ``None`` for calls that name none
    entity: str | None
    #: ``query``, ``next``, ``count``, ``get``, ``create``, ``update``, ``replace``, ``delete``,
    #: ``raw``, ``threshold`` (the pacing's own ThresholdInformation reads), ``None`` if unknown
    operation: str | None
    #: the endpoint the 3-in-flight limit applies to (lower-case), ``None`` when not paced
    endpoint: str | None
    #: 0 for a call's first attempt, 1 for its first resend, ...
    resend_count: int
    #: ``True`` for a ThresholdInformation read the pacing made on its own
    poll: bool = False
    #: the job the request belongs to (innermost), ``None`` outside any job
    job: JobInfo | None = None


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """How one attempt ended."""

    #: the HTTP status, ``None`` when no response came back
    status: int | None
    #: seconds from sending to the end of reading the response
    elapsed: float
    #: the pipeline's verdict: ``ok``, ``final`` (a non-retryable answer handed up), ``retry``,
    #: ``thread_limit``, ``throttled``, ``budget``, ``ambiguous``...
    kind: str
    #: the exception type name when the attempt failed without a response (``ConnectError``...)
    error_type: str | None = None
    #: seconds before the next attempt when this one will be retried, else ``None``
    retry_delay: float | None = None
    #: why it is retried (the verdict's words, no secret), when it is
    retry_reason: str | None = None

    @property
    def status_label(self) -> str:
        """``"200"``, ``"429"``... or ``"error"`` when there was no response."""
        return NO_RESPONSE if self.status is None else str(self.status)


@dataclass(slots=True, eq=False)
class JobInfo:
    """A job scope: ``kind`` is ``query_all``, ``export``, ``sync``, ``bulk_create``...;
    ``entity`` its collection when it has one; ``attributes`` low-cardinality facts (format,
    mode). ``started`` is ``time.monotonic()`` at the start."""

    kind: str
    entity: str | None = None
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)
    parent: JobInfo | None = None
    started: float = field(default_factory=time.monotonic)


_CURRENT_JOB: ContextVar[JobInfo | None] = ContextVar("py_autotask_job", default=None)


def current_job() -> JobInfo | None:
    """The innermost job scope active in this context (thread, task, or copied context)."""
    return _CURRENT_JOB.get()


class Observer:
    """Base class of observers: override the hooks you need; every hook is a no-op here.

    Hooks are called on the thread doing the work (a pool worker, the event loop) and must be
    quick. ``request_started`` and ``job_started`` may return a token; the matching ``..._ended``
    hook receives it back."""

    def request_started(self, info: RequestInfo) -> Any:
        return None

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        return None

    def rate_limited(self, kind: str, info: RequestInfo | None) -> None:
        """A rate-limit rejection: ``thread_limit``, ``throttled`` or ``budget``."""
        return None

    def waited(self, reason: str, seconds: float) -> None:
        """Seconds spent waiting before sending: ``pacing``, ``slot``, ``retry``,
        ``thread_limit``, ``throttled``, ``budget``."""
        return None

    def cache_lookup(self, entity: str | None, hit: bool) -> None:
        return None

    def off_type(self, entity: str, field: str, count: int) -> None:
        """``count`` record values of ``entity.field`` that did not match their declared type
        were read (tolerantly)."""
        return None

    def job_started(self, job: JobInfo) -> Any:
        return None

    def job_ended(self, job: JobInfo, token: Any, error: BaseException | None) -> None:
        return None

    def rows(self, job: JobInfo | None, entity: str | None, outcome: str, count: int) -> None:
        """Rows a job handled: ``exported``, ``synced``, ``deleted``, ``created``, ``updated``,
        ``failed``, ``skipped``..."""
        return None

    def lag(self, job: JobInfo | None, entity: str | None, seconds: float) -> None:
        """How far behind the source a sync is (seconds since its newest change was made)."""
        return None

    def plugin_failed(self, plugin: str, hook: str) -> None:
        return None


class Observers:
    """The observers of one client; the methods below fan a report out to each of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observers: tuple[Observer, ...] = ()
        self._broken: set[tuple[int, str]] = set()

    def add(self, observer: Observer) -> None:
        if not isinstance(observer, Observer):
            raise TypeError(
                "an observer must subclass py_autotask.monitoring.Observer, "
                f"not {type(observer).__name__}"
            )
        with self._lock:
            if observer not in self._observers:
                self._observers = (*self._observers, observer)

    def remove(self, observer: Observer) -> None:
        with self._lock:
            self._observers = tuple(o for o in self._observers if o is not observer)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def __iter__(self) -> Iterator[Observer]:
        return iter(self._observers)

    def __len__(self) -> int:
        return len(self._observers)

    def _failed(self, observer: Observer, hook: str) -> None:
        key = (id(observer), hook)
        if key not in self._broken:
            self._broken.add(key)
            _log.exception(
                "observer %s failed in %s (later failures are not logged)",
                type(observer).__name__,
                hook,
            )

    # --- requests -----------------------------------------------------------------------------

    def request_started(self, info: RequestInfo) -> tuple[tuple[Observer, Any], ...]:
        """Each observer with the token it returned: :meth:`request_ended` hands every token back
        to the observer that made it, and only to the observers the attempt started with (one
        added or removed meanwhile neither gets a stranger's token nor misses its own)."""
        started: list[tuple[Observer, Any]] = []
        for observer in self._observers:
            try:
                started.append((observer, observer.request_started(info)))
            except Exception:
                self._failed(observer, "request_started")
                started.append((observer, None))
        return tuple(started)

    def request_ended(
        self, info: RequestInfo, started: tuple[tuple[Observer, Any], ...], outcome: RequestOutcome
    ) -> None:
        for observer, token in started:
            try:
                observer.request_ended(info, token, outcome)
            except Exception:
                self._failed(observer, "request_ended")

    def rate_limited(self, kind: str, info: RequestInfo | None) -> None:
        for observer in self._observers:
            try:
                observer.rate_limited(kind, info)
            except Exception:
                self._failed(observer, "rate_limited")

    def waited(self, reason: str, seconds: float) -> None:
        if seconds <= 0:
            return
        for observer in self._observers:
            try:
                observer.waited(reason, seconds)
            except Exception:
                self._failed(observer, "waited")

    def cache_lookup(self, entity: str | None, hit: bool) -> None:
        for observer in self._observers:
            try:
                observer.cache_lookup(entity, hit)
            except Exception:
                self._failed(observer, "cache_lookup")

    def off_type(self, entity: str, field: str, count: int = 1) -> None:
        if count <= 0:
            return
        for observer in self._observers:
            try:
                observer.off_type(entity, field, count)
            except Exception:
                self._failed(observer, "off_type")

    # --- jobs ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def job(
        self, kind: str, entity: str | None = None, **attributes: str | int | float | bool
    ) -> Iterator[JobInfo]:
        """A job scope: requests sent while it is active (in this context, and in threads or
        tasks that copied it) belong to it; observers get ``job_started`` / ``job_ended``."""
        info = JobInfo(kind, entity, dict(attributes), _CURRENT_JOB.get())
        observers = self._observers
        tokens: list[Any] = []
        for observer in observers:
            try:
                tokens.append(observer.job_started(info))
            except Exception:
                self._failed(observer, "job_started")
                tokens.append(None)
        reset = _CURRENT_JOB.set(info)
        error: BaseException | None = None
        try:
            yield info
        except BaseException as exc:
            error = exc
            raise
        finally:
            _CURRENT_JOB.reset(reset)
            for observer, token in reversed(list(zip(observers, tokens, strict=True))):
                try:
                    observer.job_ended(info, token, error)
                except Exception:
                    self._failed(observer, "job_ended")

    def rows(self, entity: str | None, outcome: str, count: int = 1) -> None:
        """``count`` rows of the current job had ``outcome``."""
        if count <= 0 or not self._observers:
            return
        job = _CURRENT_JOB.get()
        for observer in self._observers:
            try:
                observer.rows(job, entity, outcome, count)
            except Exception:
                self._failed(observer, "rows")

    def lag(self, entity: str | None, seconds: float) -> None:
        job = _CURRENT_JOB.get()
        for observer in self._observers:
            try:
                observer.lag(job, entity, seconds)
            except Exception:
                self._failed(observer, "lag")

    def plugin_failed(self, plugin: str, hook: str) -> None:
        for observer in self._observers:
            try:
                observer.plugin_failed(plugin, hook)
            except Exception:
                self._failed(observer, "plugin_failed")

    def __repr__(self) -> str:
        names = ", ".join(type(o).__name__ for o in self._observers)
        return f"Observers([{names}])"
