"""The per-client state of the resilient pipeline and every decision it takes (no I/O).

:class:`Engine` owns the breakers, the retry quota, the threshold readings and the exhaustion
state. The sync and async shells (:mod:`._shells`) ask it what to do, then send and sleep.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._core import ApiResponse, ClientCore, PreparedRequest
from .._observe import Observer, RequestInfo, RequestOutcome, current_job
from .._tally import RequestTally, active_tallies
from ..exceptions import (
    AutotaskAmbiguousWriteError,
    AutotaskBudgetExhaustedError,
    AutotaskCircuitOpenError,
    AutotaskConfigError,
    AutotaskConnectionError,
    AutotaskRateLimitError,
)
from ._backends import resolve_backend_url
from ._config import CircuitBreakerConfig, PacingConfig, RetryConfig
from ._policy import (
    CircuitBreaker,
    Kind,
    RetryQuota,
    ThresholdSnapshot,
    Verdict,
    backoff_delay,
    classify_exception,
    classify_response,
    drain_seconds,
    estimated_usage,
    usage_rate,
)
from ._waits import WaitNotices, WaitReason

__all__ = ["CallState", "Engine", "Estimate", "Failed", "Health"]

logger = logging.getLogger("py_autotask.resilience")

#: Autotask's usage-based latency steps: (usage fraction, added seconds per request).
USAGE_LATENCY = ((0.5, 0.5), (0.75, 1.0))


#: Verdicts that are rate-limit rejections (counted per kind in the tallies).
_REJECTIONS = (Kind.THREAD_LIMIT, Kind.THROTTLED, Kind.BUDGET)
#: What a retry wait after a verdict is counted and announced as.
_WAIT_REASON: dict[Kind, WaitReason] = {
    Kind.THREAD_LIMIT: "thread_limit",
    Kind.THROTTLED: "throttled",
}

_GONE_RE = re.compile(rb"does not exist|not found|no longer exists", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _server_of(origin: str) -> tuple[str, int]:
    """``(host, port)`` of ``scheme://host[:port]`` (a client talks to one or two origins: the
    split is cached, it was half of an observed attempt's cost)."""
    parts = urlsplit(origin)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _gone(response: ApiResponse) -> bool:
    """The record is not there: a 404, or Autotask's 500 "... does not exist or is invalid"."""
    if response.status_code == 404:
        return True
    return response.status_code in (400, 500) and bool(_GONE_RE.search(response.content[:4096]))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


class Failed(Exception):
    """One failed attempt travelling through the retry loop; ``delay`` is ``None`` when it must
    not be retried (then the response is handed up, or the transport error raised)."""

    def __init__(
        self,
        verdict: Verdict,
        response: ApiResponse | None,
        error: BaseException | None,
        delay: float | None,
    ) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict
        self.response = response
        self.error = error
        self.delay = delay

    def give_up(self) -> ApiResponse:
        if self.response is not None:
            return self.response
        assert self.error is not None
        raise self.error


@dataclass
class CallState:
    """One logical operation (the first attempt plus its retries)."""

    policy: RetryConfig
    started: float
    retries: int = 0
    budget_rejections: int = 0
    budget_waited: float = 0.0
    maybe_applied: bool = False  # an idempotent write may already have been applied
    rate_limited: int = 0  # thread-limit and plain-429 rejections (not counted as retries)
    rate_waited: float = 0.0  # seconds waited after them, bounded by max_rate_limit_wait
    run_waited: float = 0.0  # seconds of retry waits so far, for the wait notice
    noticed: bool = False  # this call's retry waits were announced


@dataclass(frozen=True)
class Estimate:
    """What a query/export will cost before it runs (see ``client.estimate``)."""

    entity: str
    records: int
    pages: int
    requests: int  # the count request already made plus one request per page
    seconds: float  # estimated wall time of the pages at current usage and pacing
    usage_before: float | None  # tenant usage fraction now (None: unknown)
    usage_after: float | None  # estimated tenant usage once the job is done
    budget_share_used: float  # fraction of this client's hourly share the job consumes
    exceeds_budget: bool  # the job would reach the stop level; it will wait or raise
    latency_per_request: float


@dataclass(frozen=True)
class Health:
    """A snapshot of the client's view of the tenant (see ``client.health``)."""

    reachable: bool
    api_url: str | None
    error: str | None
    threshold: dict[str, Any] | None
    usage: float | None
    budget_exhausted_for: float
    pacing: dict[str, Any]
    in_flight: dict[str, int]
    breakers: dict[str, str]
    retry_budget: int | None
    latency_ewma: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Decisions and state shared by both shells. Thread-safe; never sleeps or sends."""

    def __init__(
        self,
        core: ClientCore,
        retry: RetryConfig | None,
        breaker: CircuitBreakerConfig | None,
        pacing: PacingConfig | None,
    ) -> None:
        self.core = core
        self.retry = retry if retry is not None else RetryConfig()
        self.breaker_config = breaker if breaker is not None else CircuitBreakerConfig()
        self.pacing = pacing if pacing is not None else PacingConfig()
        self.quota = RetryQuota(self.retry.retry_budget) if self.retry.retry_budget else None
        #: the limiter backend ``pacing.backend`` resolves to ("auto": env, else the machine file)
        self.backend_url = (
            resolve_backend_url(self.pacing.backend) if self.pacing.enabled else "local"
        )
        self.shared = self.backend_url != "local"
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self.snapshot: ThresholdSnapshot | None = None
        self.sent_since = 0  # requests this client sent since the snapshot was taken
        self.sent_total = 0
        self.last_poll = -math.inf  # monotonic
        self.poll_not_before = -math.inf  # monotonic: another process holds the poll lock
        self.last_shared_check = -math.inf
        self.exhausted_until = 0.0  # monotonic: estimated from ThresholdInformation
        self.hold_until = 0.0  # monotonic: a Retry-After Autotask sent with an hourly 429
        self.last_status: int | None = None
        self.latency_ewma: float | None = None
        self.endpoints: set[str] = set()
        self._polling = False
        self.last_poll_error: str | None = None
        self.notices = WaitNotices(self.pacing.wait_notice_after)
        creds = core.credentials
        self._integration = _hash("ic", creds.integration_code or "")
        self._tenant_key: str | None = (
            _hash("tenant", self.pacing.tenant) if self.pacing.tenant else None
        )

    # --- keys (hashed: backends never see credentials) -------------------------------------------

    @property
    def _tenant(self) -> str:
        """The tenant's key: ``pacing.tenant``, else the API user and the zone's host (known once
        the zone is resolved, i.e. before the first request is paced)."""
        if self._tenant_key is not None:
            return self._tenant_key
        user = (self.core.credentials.username or "").lower()
        base = self.core.base_url
        if base is None:
            return _hash("tenant", user)
        host = urlsplit(base).netloc.lower()
        self._tenant_key = _hash("tenant", user, host)
        return self._tenant_key

    def slot_key(self, endpoint: str) -> str:
        return f"py-autotask:{self._tenant}:{self._integration}:slots:{endpoint}"

    @property
    def bucket_key(self) -> str:
        return f"py-autotask:{self._tenant}:{self._integration}:bucket"

    @property
    def snapshot_key(self) -> str:
        return f"py-autotask:{self._tenant}:threshold"

    @property
    def poll_lock_key(self) -> str:
        return f"py-autotask:{self._tenant}:threshold-poll"

    # --- calls ------------------------------------------------------------------------------------

    def start_call(self, operation: str | None) -> CallState:
        for tally in self.tallies():
            tally.note_call()
        return CallState(self.retry.policy(operation), time.monotonic())

    # --- counts and notices -----------------------------------------------------------------------

    def tallies(self) -> tuple[RequestTally, ...]:
        """Where a request is counted: the client's tally and every scope active here."""
        return (self.core.stats.requests, *active_tallies())

    def count_sent(self, *, poll: bool = False) -> None:
        for tally in self.tallies():
            tally.note_sent(poll=poll)

    def count_waited(self, reason: str, seconds: float) -> None:
        for tally in self.tallies():
            tally.note_waited(reason, seconds)
        observers = self.core.observers
        if observers:
            observers.waited(reason, seconds)

    # --- observers (metrics, traces, plugins: :mod:`py_autotask._observe`) --------------------

    def observe_start(
        self,
        prepared: PreparedRequest,
        operation: str | None,
        endpoint: str | None,
        call: CallState | None,
    ) -> tuple[RequestInfo, tuple[tuple[Observer, Any], ...]] | None:
        """Tell the observers an attempt is about to be sent; ``None`` when there are none."""
        observers = self.core.observers
        if not observers:
            return None
        source = prepared.source
        url = prepared.url.partition("?")[0].partition("#")[0]
        slash = url.find("/", url.find("//") + 2)
        host, port = _server_of(url if slash < 0 else url[:slash])
        info = RequestInfo(
            method=prepared.method,
            url=url,
            host=host,
            port=port,
            entity=source.entity if source is not None else None,
            operation="threshold" if call is None else operation,
            endpoint=endpoint,
            resend_count=0 if call is None else call.retries + call.rate_limited,
            poll=call is None,
            job=current_job(),
        )
        return info, observers.request_started(info)

    def observe_end(
        self,
        observed: tuple[RequestInfo, tuple[tuple[Observer, Any], ...]] | None,
        response: ApiResponse | None,
        error: BaseException | None,
        elapsed: float,
        outcome: BaseException | None,
    ) -> None:
        """Tell the observers how an attempt ended: ``outcome`` is what concluding it raised
        (:class:`Failed` when it will be retried or handed up, another error), else ``None``."""
        if observed is None:
            return
        info, tokens = observed
        kind, delay, reason = "ok", None, None
        if isinstance(outcome, Failed):
            kind = outcome.verdict.kind.value
            delay = outcome.delay
            reason = outcome.verdict.detail if delay is not None else None
        elif outcome is not None:
            kind = "error"
        elif response is not None and not response.is_success:
            kind = "final"
        result = RequestOutcome(
            status=response.status_code if response is not None else None,
            elapsed=elapsed,
            kind=kind,
            error_type=type(error.__cause__ or error).__name__ if error is not None else None,
            retry_delay=delay,
            retry_reason=reason,
        )
        self.core.observers.request_ended(info, tokens, result)

    def notice(
        self,
        reason: WaitReason,
        seconds: float | None,
        endpoint: str | None = None,
        detail: str = "",
    ) -> None:
        self.notices.emit(reason, seconds, endpoint, detail)

    def safe_url(self, prepared: PreparedRequest) -> str:
        return self.core.safe_url(prepared.url)

    # --- breakers ---------------------------------------------------------------------------------

    def breaker(self, endpoint: str) -> CircuitBreaker:
        found = self._breakers.get(endpoint)
        if found is None:
            with self._lock:
                found = self._breakers.setdefault(endpoint, CircuitBreaker(self.breaker_config))
        return found

    def check_breaker(self, endpoint: str | None) -> None:
        if endpoint is None:
            return
        self.endpoints.add(endpoint)
        if not self.breaker_config.enabled:
            return
        breaker = self.breaker(endpoint)
        now = time.monotonic()
        if not breaker.allow(now):
            wait = breaker.retry_in(now)
            raise AutotaskCircuitOpenError(
                f"circuit breaker for endpoint '{endpoint}' is {breaker.state} after "
                f"{breaker.failures} consecutive transient failures; not sending. Next probe in "
                f"{wait:.1f}s",
                endpoint=endpoint,
                retry_after=wait,
            )

    def record(
        self,
        endpoint: str | None,
        verdict: Verdict,
        elapsed: float | None,
        status: int | None = None,
    ) -> None:
        """Feed one attempt's outcome to the breaker, the quota and the latency average."""
        if status is not None:
            self.last_status = status
        if verdict.kind is Kind.OK:
            if self.quota is not None:
                self.quota.refund()
            if elapsed is not None:
                prev = self.latency_ewma
                self.latency_ewma = elapsed if prev is None else prev * 0.8 + elapsed * 0.2
        if endpoint is None or not self.breaker_config.enabled:
            return
        breaker = self.breaker(endpoint)
        if verdict.breaker_failure:
            if breaker.failure(time.monotonic()):
                logger.warning(
                    "circuit breaker for endpoint '%s' opened for %.1fs (%s)",
                    endpoint,
                    self.breaker_config.timeout,
                    verdict.detail,
                )
        elif verdict.kind in (Kind.OK, Kind.FINAL):
            breaker.success()
        else:
            breaker.neutral()

    # --- retry decisions --------------------------------------------------------------------------

    def decide(self, call: CallState, verdict: Verdict) -> float | None:
        """Seconds to wait before retrying, or ``None`` to stop."""
        policy = call.policy
        if verdict.kind in (Kind.OK, Kind.FINAL, Kind.AMBIGUOUS):
            return None
        if verdict.kind is Kind.BUDGET:
            # handled by the budget gate (wait mode): resend once the window has drained
            call.budget_rejections += 1
            return 0.0 if call.budget_rejections <= 3 else None
        if verdict.reason is None or verdict.reason not in policy.retry_on:
            return None
        if policy.max_retries == 0:  # retries switched off, rate-limit ones too
            return None
        if verdict.kind in (Kind.THREAD_LIMIT, Kind.THROTTLED):
            return self._rate_limit_delay(call, verdict)
        if call.retries >= policy.max_retries:
            return None
        if verdict.retry_after is not None:
            delay = min(verdict.retry_after, policy.max_retry_after)
        else:
            delay = backoff_delay(policy, call.retries + 1)
        # time spent waiting on rate limits and the budget is not the call's own trouble
        elapsed = time.monotonic() - call.started - call.rate_waited - call.budget_waited
        if policy.deadline is not None and elapsed + delay > policy.deadline:
            logger.debug("not retrying: the %.0fs deadline would pass", policy.deadline)
            return None
        if self.quota is not None and not self.quota.acquire(timeout=verdict.is_timeout):
            logger.warning("retry budget exhausted: not retrying (%s)", verdict.detail)
            return None
        call.retries += 1
        return delay

    def _rate_limit_delay(self, call: CallState, verdict: Verdict) -> float | None:
        """The wait after a thread-limit or plain-429 rejection: its ``Retry-After`` (capped),
        else a jittered backoff; bounded only by ``max_rate_limit_wait`` per call."""
        policy = call.policy
        left = policy.max_rate_limit_wait - call.rate_waited
        if left <= 0:
            logger.warning(
                "still rate limited after waiting %.0fs (max_rate_limit_wait): giving up (%s)",
                call.rate_waited,
                verdict.detail,
            )
            return None
        call.rate_limited += 1
        if verdict.retry_after is not None:
            delay = min(verdict.retry_after, policy.max_retry_after)
        else:
            delay = backoff_delay(
                policy,
                call.rate_limited,
                thread_limit=verdict.kind is Kind.THREAD_LIMIT,
                throttled=verdict.kind is Kind.THROTTLED,
            )
        delay = min(delay, left)
        call.rate_waited += delay
        return delay

    def conclude(
        self,
        prepared: PreparedRequest,
        operation: str | None,
        endpoint: str | None,
        call: CallState,
        response: ApiResponse | None,
        error: AutotaskConnectionError | None,
        elapsed: float,
    ) -> ApiResponse:
        """One attempt's outcome (the response, or the connection error): classified, recorded
        for the endpoint's breaker and latency, then :meth:`judge`d."""
        if response is not None:
            verdict = classify_response(
                prepared.method,
                operation,
                response.status_code,
                response.content,
                response.headers,
                url=prepared.url,
            )
        else:
            assert error is not None
            verdict = classify_exception(prepared.method, operation, error)
        status = response.status_code if response is not None else None
        self.record(endpoint, verdict, elapsed, status)
        if verdict.kind in _REJECTIONS:
            for tally in self.tallies():
                tally.note_rejected(verdict.kind.value)
            if self.core.observers:
                self.core.observers.rate_limited(verdict.kind.value, None)
        return self.judge(prepared, call, verdict, response, error, endpoint)

    def judge(
        self,
        prepared: PreparedRequest,
        call: CallState,
        verdict: Verdict,
        response: ApiResponse | None,
        error: BaseException | None,
        endpoint: str | None = None,
    ) -> ApiResponse:
        """Turn one attempt's verdict into the response to hand up, an error, or :class:`Failed`
        (carrying the delay before the next attempt)."""
        kind = verdict.kind
        if kind is Kind.OK or kind is Kind.FINAL:
            if response is None:
                assert error is not None
                raise error
            if call.maybe_applied and prepared.method == "DELETE" and _gone(response):
                logger.debug(
                    "DELETE %s: gone after an attempt with an unknown outcome: it was deleted",
                    self.safe_url(prepared),
                )
                return ApiResponse(204, {}, b"", prepared)
            return response
        if kind is Kind.AMBIGUOUS:
            raise self.ambiguous(prepared, verdict, response, error)
        if verdict.sent and prepared.method in ("PATCH", "PUT", "DELETE"):
            call.maybe_applied = True
        if kind is Kind.BUDGET:
            remaining = self.mark_exhausted(verdict.retry_after)
            if not self.pacing.enabled or self.pacing.on_budget_exhausted == "raise":
                api_error = self.core.error(response) if response is not None else None
                rate_error = api_error if isinstance(api_error, AutotaskRateLimitError) else None
                raise self.budget_error(remaining, rate_error)
        delay = self.decide(call, verdict)
        if delay:
            self._note_retry_wait(call, verdict, delay, endpoint)
        if delay is not None:
            logger.debug(
                "%s %s: %s; retry %d in %.2fs",
                prepared.method,
                self.safe_url(prepared),
                verdict.detail,
                call.retries + call.rate_limited,  # resends so far, rate-limit ones included
                delay,
            )
        raise Failed(verdict, response, error, delay)

    def _note_retry_wait(
        self, call: CallState, verdict: Verdict, delay: float, endpoint: str | None
    ) -> None:
        """Count the wait before a retry; announce the call's run of waits once it is long."""
        reason = _WAIT_REASON.get(verdict.kind, "retry")
        self.count_waited(reason, delay)
        if not call.noticed and self.notices.due(call.run_waited, delay):
            call.noticed = True
            detail = verdict.detail
            if verdict.retry_after is not None:
                detail += f", Retry-After {verdict.retry_after:g}s"
            if call.run_waited:
                detail += f", {call.run_waited:.0f}s waited already"
            self.notice(reason, delay, endpoint, detail)
        call.run_waited += delay

    # --- threshold usage --------------------------------------------------------------------------

    def note_sent(self) -> None:
        with self._lock:
            self.sent_since += 1
            self.sent_total += 1

    def poll_due(self) -> bool:
        p = self.pacing
        if p.threshold_poll_interval is None or time.monotonic() < self.poll_not_before:
            return False
        if self.snapshot is None:
            return self.sent_total >= p.threshold_first_poll_after and (
                time.monotonic() - self.last_poll > 1.0 / p.time_scale
            )
        if self.sent_since >= p.threshold_poll_requests:
            return True
        # Time alone does not justify a poll: at a trickle each poll would cost as much as the
        # work. Ask for a minimum of own requests (1/25 of the request interval) as well.
        age = time.monotonic() - self.last_poll
        return age >= p.threshold_poll_interval / p.time_scale and (
            self.sent_since >= max(1, p.threshold_poll_requests // 25)
        )

    def begin_poll(self) -> bool:
        """Only one poll at a time in this process."""
        with self._lock:
            if self._polling:
                return False
            self._polling = True
            self.last_poll = time.monotonic()
            return True

    def polled_elsewhere(self) -> None:
        """Another process sharing the backend polls (it holds the poll lock): its reading arrives
        through the shared backend, so do not ask for the lock again on every request (a second
        is the shared check's period)."""
        self.poll_not_before = time.monotonic() + 1.0

    def end_poll(self) -> None:
        with self._lock:
            self._polling = False

    def shared_check_due(self) -> bool:
        return self.shared and time.monotonic() - self.last_shared_check >= 1.0

    def adopt_shared(self, text: str | None) -> None:
        """A reading another process stored in the shared backend."""
        self.last_shared_check = time.monotonic()
        snap = ThresholdSnapshot.from_json(text)
        if snap is not None and (
            self.snapshot is None or snap.observed_at > self.snapshot.observed_at
        ):
            self.record_snapshot(snap, polled_here=False)

    def record_snapshot(self, snap: ThresholdSnapshot, *, polled_here: bool = True) -> None:
        with self._lock:
            self.snapshot = snap
            self.sent_since = 0
            self.last_poll = time.monotonic()
        usage = estimated_usage(snap, 0) or 0.0
        logger.debug(
            "threshold: %d of %d requests in %d min (%.1f%%)",
            snap.count,
            snap.threshold,
            snap.timeframe_minutes,
            usage * 100,
        )
        if usage >= self.pacing.stop_fraction:
            self.mark_exhausted()
        elif self.exhausted_until:
            self.exhausted_until = 0.0

    def mark_exhausted(self, retry_after: float | None = None) -> float:
        """Enter the budget-exhausted state until a ``Retry-After`` (when Autotask sent one) or
        the drain time computed from the last ThresholdInformation reading."""
        if retry_after is not None:
            wait = retry_after
            self.hold_until = time.monotonic() + wait  # a fresh reading does not lift this
        else:
            wait = drain_seconds(self.snapshot, self.pacing)
            self.exhausted_until = time.monotonic() + wait
        logger.info(
            "Autotask request threshold exhausted; the window needs about %.0fs to drain", wait
        )
        return wait

    def begin_budget_wait(self, call: CallState, remaining: float) -> None:
        """Before sleeping ``remaining`` seconds for the budget: raise in ``"raise"`` mode or past
        ``max_budget_wait``, else announce the wait when it is long."""
        pacing = self.pacing
        if (
            pacing.on_budget_exhausted == "raise"
            or call.budget_waited + remaining > pacing.max_budget_wait
        ):
            raise self.budget_error(remaining)
        if self.notices.due(0.0, remaining):
            usage = self.usage()
            detail = f"tenant usage about {usage:.0%}" if usage is not None else ""
            self.notice("budget", remaining, None, detail)
        else:
            logger.info("request threshold exhausted: waiting %.1fs for the window", remaining)

    def end_budget_wait(self, call: CallState, waited: float) -> None:
        call.budget_waited += waited
        self.count_waited("budget", waited)
        self.exhausted_until = 0.0

    def pacing_detail(self) -> str:
        """The pace and usage, for a pacing notice: ``13 requests/hour, tenant usage 40%``."""
        rate, _capacity, _mult = self.rate()
        pace = f"{rate * 60:.1f} requests/min" if rate * 60 >= 1 else f"{rate * 3600:.0f}/hour"
        if not pace.endswith("/min"):
            pace = pace.replace("/hour", " requests/hour")
        usage = self.usage()
        return pace + (f", tenant usage about {usage:.0%}" if usage is not None else "")

    def exhausted_remaining(self) -> float:
        until = max(self.exhausted_until, self.hold_until)
        if not until:
            return 0.0
        return max(0.0, until - time.monotonic())

    def usage(self) -> float | None:
        return estimated_usage(self.snapshot, self.sent_since)

    def rate(self) -> tuple[float, float, float]:
        return usage_rate(self.snapshot, self.sent_since, self.pacing)

    def budget_error(
        self, remaining: float, response_error: AutotaskRateLimitError | None = None
    ) -> AutotaskBudgetExhaustedError:
        usage = self.usage()
        detail = f" (tenant usage about {usage:.0%})" if usage is not None else ""
        hint = (
            f"the tenant's hourly request threshold is used up{detail}; the rolling window "
            f"needs about {remaining:.0f}s to drain. Retry later, or use "
            "PacingConfig(on_budget_exhausted='wait')"
        )
        if response_error is not None:
            return AutotaskBudgetExhaustedError(
                response_error.message,
                status_code=response_error.status_code,
                errors=response_error.errors,
                method=response_error.method,
                url=response_error.url,
                hint=hint,
                retry_after=remaining,
            )
        return AutotaskBudgetExhaustedError(
            "request threshold exhausted; request not sent",
            status_code=429,
            hint=hint,
            retry_after=remaining,
        )

    # --- errors -----------------------------------------------------------------------------------

    def ambiguous(
        self,
        prepared: PreparedRequest,
        verdict: Verdict,
        response: ApiResponse | None,
        exc: BaseException | None,
    ) -> AutotaskAmbiguousWriteError:
        source = prepared.source
        url = self.safe_url(prepared)
        status = response.status_code if response is not None else None
        errors: list[str] = []
        if response is not None:
            api_error = self.core.error(response)
            errors = api_error.errors
            what = f"HTTP {status}: {api_error.message}"
        else:
            what = str(exc) if exc is not None else verdict.detail
        return AutotaskAmbiguousWriteError(
            f"{prepared.method} {url}: outcome unknown ({what}). The record may have been "
            "created; it was not resent. Look it up before creating it again.",
            method=prepared.method,
            url=url,
            entity=source.entity if source else None,
            operation=source.operation if source else None,
            status_code=status,
            errors=errors,
        )

    # --- reports ----------------------------------------------------------------------------------

    def breaker_states(self) -> dict[str, str]:
        states = {ep: b.state for ep, b in sorted(self._breakers.items())}
        if self.exhausted_remaining() > 0:
            states["*"] = "budget_exhausted"
        return states

    def pacing_report(self) -> dict[str, Any]:
        rate, capacity, multiplier = self.rate()
        return {
            "backend": self.backend_url.split("://")[0],
            "max_in_flight_per_endpoint": self.pacing.max_in_flight_per_endpoint,
            "rate_per_second": rate,
            "burst": capacity,
            "multiplier": multiplier,
            "requests_sent": self.sent_total,
        }

    def threshold_report(self) -> dict[str, Any] | None:
        snap = self.snapshot
        if snap is None:
            return None
        return {
            "externalRequestThreshold": snap.threshold,
            "currentTimeframeRequestCount": snap.count,
            "requestThresholdTimeframe": snap.timeframe_minutes,
            "age_seconds": max(0.0, time.time() - snap.observed_at),
        }

    def estimate(
        self,
        entity: str,
        records: int,
        page_size: int,
        latency: float | None = None,
        concurrency: int = 1,
    ) -> Estimate:
        """Cost of reading ``records`` records page by page after the count request: one page at
        a time as ``query_all`` does, or ``concurrency`` pages in flight (an export's id-range
        partitions; Autotask admits 3 per endpoint), still within the pacing rate."""
        if not isinstance(page_size, int) or not 1 <= page_size <= 500:
            raise AutotaskConfigError("page_size must be an int between 1 and 500")
        if not isinstance(concurrency, int) or not 1 <= concurrency <= 3:
            raise AutotaskConfigError(
                "concurrency must be 1, 2 or 3 (Autotask allows 3 requests in flight per endpoint)"
            )
        pages = max(1, math.ceil(records / page_size))
        snap = self.snapshot
        if latency is None:
            latency = self.latency_ewma if self.latency_ewma is not None else 0.5
        threshold = snap.threshold if snap and snap.threshold > 0 else None
        base = (snap.count + self.sent_since) if snap else None
        rate, capacity, _mult = self.rate()
        tokens = capacity
        seconds = 0.0
        exceeds = False
        for i in range(pages):
            step = latency / concurrency
            if threshold is not None and base is not None:
                u = (base + i) / threshold
                for level, extra in USAGE_LATENCY:
                    if u >= level:
                        step = (latency + extra / self.pacing.time_scale) / concurrency
                if u >= self.pacing.stop_fraction:
                    exceeds = True
                _r, capacity, _m = usage_rate(snap, self.sent_since + i, self.pacing)
                rate = _r
            if tokens >= 1:
                tokens -= 1
            else:
                step = max(step, 1.0 / rate)
            seconds += step
        if exceeds:
            seconds += drain_seconds(snap, self.pacing)
        threshold_or_default = threshold or 10_000
        share = threshold_or_default * self.pacing.budget_fraction
        usage_before = self.usage()
        usage_after = (
            None if usage_before is None else usage_before + (pages + 1) / threshold_or_default
        )
        return Estimate(
            entity=entity,
            records=records,
            pages=pages,
            requests=pages + 1,
            seconds=seconds,
            usage_before=usage_before,
            usage_after=usage_after,
            budget_share_used=(pages + 1) / share,
            exceeds_budget=exceeds,
            latency_per_request=latency,
        )
