"""The I/O-free rules of the resilient pipeline: what an outcome means, whether and when to retry,
the retry quota, the breaker state machine, the token bucket and the threshold-usage model.

Both shells (sync and async) call these; nothing here sleeps, sends or reads a clock by itself
(every ``now`` is passed in), so every rule is unit-tested without a network.
"""

from __future__ import annotations

import enum
import json
import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from .._core import READ_OPERATIONS, parse_retry_after
from ..exceptions import AutotaskAuthError, AutotaskValidationError
from ._config import CircuitBreakerConfig, PacingConfig, RetryBudget, RetryConfig, RetryOn

__all__ = [
    "DEFAULT_THRESHOLD",
    "CircuitBreaker",
    "Kind",
    "RetryQuota",
    "ThresholdSnapshot",
    "TokenBucket",
    "Verdict",
    "backoff_delay",
    "classify_exception",
    "classify_response",
    "endpoint_of",
    "is_read",
    "looks_like_json",
    "usage_rate",
]

DEFAULT_THRESHOLD: Final = 10_000
DEFAULT_TIMEFRAME_MINUTES: Final = 60

_READ_OPERATIONS: Final = READ_OPERATIONS
_THREAD_LIMIT_RE: Final = re.compile(rb"itgenatr005|thread\s+(threshold|limit)", re.IGNORECASE)
#: The hourly request threshold in the words Autotask-like services use ("Request threshold
#: exceeded: the limit of ... has been reached", "the external request threshold has been
#: reached", "exceeded the hourly request threshold"). Autotask's exact status and text are
#: unconfirmed, so any error status carrying it counts. A generic "rate limit exceeded" (a
#: proxy's) does not: that is a plain throttle.
_BUDGET_RE: Final = re.compile(
    rb"request\s+threshold\b.{0,200}?\b(exceed|reach)"
    rb"|\b(exceed|reach)\w*\s+(the\s+)?(\w+\s+){0,2}request\s+threshold",
    re.IGNORECASE | re.DOTALL,
)


class Kind(enum.Enum):
    """What one attempt's outcome means for the pipeline."""

    OK = "ok"  # success: hand the response up
    FINAL = "final"  # a definite failure (validation, auth, 4xx): hand it up, never retry
    TRANSIENT = "transient"  # may succeed if repeated (reads, idempotent writes, unsent creates)
    THREAD_LIMIT = "thread_limit"  # Itgenatr005: rejected before processing, retry soon
    BUDGET = "budget"  # hourly threshold reached: rejected before processing
    THROTTLED = "throttled"  # any other 429 (a proxy, a gateway): not processed, retry later
    AMBIGUOUS = "ambiguous"  # a create that may have been committed: never resend blindly


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: RetryOn | None = None
    detail: str = ""
    retry_after: float | None = None
    #: the request may have reached the server (matters only for creates)
    sent: bool = True

    @property
    def breaker_failure(self) -> bool:
        """Counts towards opening the endpoint's breaker (transient server/network trouble)."""
        return self.kind in (Kind.TRANSIENT, Kind.AMBIGUOUS) and self.reason != "rate_limit"

    @property
    def is_timeout(self) -> bool:
        return self.reason == "timeout"


# --- request kinds --------------------------------------------------------------------------------


def is_read(method: str, operation: str | None) -> bool:
    """Reads may be repeated freely: GETs and the POST query/count/next-page calls."""
    if operation in _READ_OPERATIONS:
        return True
    return method.upper() in ("GET", "HEAD", "OPTIONS")


def is_create(method: str, operation: str | None) -> bool:
    """A POST that writes (a create): resending it after an unknown outcome can duplicate data."""
    return method.upper() == "POST" and not is_read(method, operation)


def endpoint_of(entity: str | None, operation: str | None, url: str) -> str | None:
    """The thread-limit endpoint a request counts against (``None``: exempt, i.e. zone lookup).

    Entity operations name their entity (a child URL names the child entity; entityInformation
    its entity). Raw calls without an entity fall back to the URL: the segment after ``V1.0``, or
    ``Parent/Child`` for child URLs."""
    if entity:
        low_entity = entity.lower()
        return None if low_entity == "zoneinformation" else low_entity
    path = url.split("?", 1)[0].split("#", 1)[0]
    low = path.lower()
    marker = low.find("/v1.0/")
    if marker < 0:
        return None if "zoneinformation" in low else "_other"
    segs = [p for p in path[marker + 6 :].split("/") if p]
    if not segs or segs[0].lower() == "zoneinformation":
        return None
    if len(segs) >= 3 and segs[1].isdigit():
        return f"{segs[0]}/{segs[2]}".lower()
    return segs[0].lower()


# --- classification -------------------------------------------------------------------------------


def looks_like_json(body: bytes) -> bool:
    """Cheap structural check of a success body: a complete JSON object or array. Catches empty,
    truncated and garbled bodies without parsing a 500-record page twice."""
    stripped = body.strip()
    if len(stripped) < 2:
        return False
    first, last = stripped[:1], stripped[-1:]
    return (first == b"{" and last == b"}") or (first == b"[" and last == b"]")


def _names(pattern: re.Pattern[bytes], body: bytes) -> bool:
    """``body`` is an error body (not a page of records) whose text matches ``pattern``."""
    if len(body) > 64 * 1024 or not pattern.search(body):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return True  # a non-JSON body naming it
    return isinstance(data, Mapping) and "items" not in data and "item" not in data


def _thread_limit_body(body: bytes) -> bool:
    return _names(_THREAD_LIMIT_RE, body)


def _budget_body(body: bytes) -> bool:
    return _names(_BUDGET_RE, body)


def _unsafe(method: str, operation: str | None, reason: RetryOn, detail: str) -> Verdict:
    """A failure after the request was sent: transient for reads and idempotent writes,
    ambiguous for creates."""
    kind = Kind.AMBIGUOUS if is_create(method, operation) else Kind.TRANSIENT
    return Verdict(kind, reason, detail)


def classify_response(
    method: str,
    operation: str | None,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    url: str = "",
    now: float | None = None,
) -> Verdict:
    """Classify an HTTP answer by status *and* body, the way Autotask really behaves.

    - a body naming the thread limit (``Itgenatr005``, "Thread Threshold Exceeded"), any status:
      :attr:`Kind.THREAD_LIMIT`;
    - an error body naming the hourly request threshold ("Request threshold exceeded ..."), any
      error status: :attr:`Kind.BUDGET`;
    - any other 429 (a proxy's, a gateway's): :attr:`Kind.THROTTLED`, never "budget exhausted";
    - 502/503/504 and opaque 500s: transient (ambiguous for creates); validation/auth: final.

    The three rate-limit kinds were not processed by the server (``sent=False``), so every method
    may be resent; ``retry_after`` is the ``Retry-After`` header (seconds or HTTP date)."""
    thread_limit = _thread_limit_body(body) if (status == 429 or status >= 400 or body) else False
    if 200 <= status < 300 and not thread_limit:
        if operation in _READ_OPERATIONS and not looks_like_json(body):
            return Verdict(Kind.TRANSIENT, "malformed", "success body is not complete JSON")
        return Verdict(Kind.OK)
    retry_after = None
    if headers:
        for key, value in headers.items():
            if key.lower() == "retry-after":
                retry_after = parse_retry_after(value, now=now)
                break
    if thread_limit:
        return Verdict(
            Kind.THREAD_LIMIT, "rate_limit", f"thread limit (HTTP {status})", retry_after, False
        )
    if _budget_body(body):
        return Verdict(
            Kind.BUDGET, "rate_limit", f"request threshold (HTTP {status})", retry_after, False
        )
    if status == 429:
        return Verdict(Kind.THROTTLED, "rate_limit", "throttled (HTTP 429)", retry_after, False)
    if status in (502, 503, 504):
        return _unsafe(method, operation, "server_error", f"HTTP {status}")
    if status in (400, 500):
        from .._core import error_from_response

        error = error_from_response(status, body, method, url)
        if isinstance(error, (AutotaskValidationError, AutotaskAuthError)):
            return Verdict(Kind.FINAL, None, f"HTTP {status} {type(error).__name__}")
        if status == 500:
            return _unsafe(
                method, operation, "server_error", "HTTP 500 without a validation message"
            )
    return Verdict(Kind.FINAL, None, f"HTTP {status}")


def classify_exception(method: str, operation: str | None, exc: BaseException) -> Verdict:
    """Classify a transport failure (the ``httpx`` exception, or an error caused by one)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, httpx.RequestError):
        cause = cause.__cause__
    name = type(cause or exc).__name__
    if isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Verdict(Kind.TRANSIENT, "timeout", name, sent=False)
    if isinstance(cause, httpx.ConnectError):
        return Verdict(Kind.TRANSIENT, "connection", name, sent=False)
    if isinstance(cause, httpx.TimeoutException):
        return _unsafe(method, operation, "timeout", name)
    if isinstance(cause, httpx.DecodingError):
        return _unsafe(method, operation, "malformed", name)
    if isinstance(cause, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return _unsafe(method, operation, "connection", name)
    return Verdict(Kind.FINAL, None, name)


# --- backoff --------------------------------------------------------------------------------------


def _fib(n: int) -> int:
    a, b = 1, 2
    for _ in range(n - 1):
        a, b = b, a + b
    return a


def backoff_delay(
    config: RetryConfig,
    retry_number: int,
    *,
    rng: random.Random | None = None,
    thread_limit: bool = False,
    throttled: bool = False,
) -> float:
    """Delay before retry ``retry_number`` (1 = first retry).

    exponential: ``base * 2**(n-1)``; linear: ``base * n``; fibonacci: ``base * (1, 2, 3, 5, 8,
    ...)``; capped at ``max_delay``; full jitter draws uniformly from ``[0, delay]``. After a
    thread-limit rejection the base is ``thread_limit_delay``; after a rate-limit rejection
    (thread limit, or a plain 429 without ``Retry-After``) the growth is exponential and the
    jitter keeps at least half the delay (the server asked to slow down: a near-zero draw would
    only be refused again)."""
    n = max(1, int(retry_number))
    rate_limited = thread_limit or throttled
    base = config.thread_limit_delay if thread_limit else config.base_delay
    strategy = "exponential" if rate_limited else config.backoff_strategy
    if strategy == "exponential":
        raw = base * (2.0 ** min(n - 1, 60))
    elif strategy == "linear":
        raw = base * n
    else:
        raw = base * _fib(min(n, 80))
    delay = min(raw, config.max_delay)
    if not config.jitter:
        return delay
    draw = (rng or random).random()
    if rate_limited:
        return delay / 2 + draw * delay / 2
    return draw * delay


class RetryQuota:
    """botocore-style retry quota (thread-safe; one per client)."""

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self._tokens = budget.capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        return self._tokens

    def acquire(self, *, timeout: bool) -> bool:
        cost = self.budget.timeout_cost if timeout else self.budget.retry_cost
        with self._lock:
            if self._tokens < cost:
                return False
            self._tokens -= cost
            return True

    def refund(self) -> None:
        with self._lock:
            self._tokens = min(self.budget.capacity, self._tokens + self.budget.success_refund)


# --- circuit breaker ------------------------------------------------------------------------------


class CircuitBreaker:
    """closed -> (N consecutive transient failures) -> open -> (timeout) -> half_open: one probe;
    its success closes, its failure reopens. ``now`` is a monotonic clock reading."""

    def __init__(self, config: CircuitBreakerConfig) -> None:
        self.config = config
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self._probe = False
        self._lock = threading.Lock()

    def allow(self, now: float) -> bool:
        with self._lock:
            if self.state == "closed":
                return True
            if self.state == "open":
                if now - self.opened_at < self.config.timeout:
                    return False
                self.state = "half_open"
                self._probe = False
            if self._probe:
                return False
            self._probe = True
            return True

    def retry_in(self, now: float) -> float:
        with self._lock:
            if self.state == "open":
                return max(0.0, self.config.timeout - (now - self.opened_at))
            return 0.0

    def success(self) -> None:
        with self._lock:
            self.state = "closed"
            self.failures = 0
            self._probe = False

    def failure(self, now: float) -> bool:
        """Record a transient failure; returns True when this opened the breaker."""
        with self._lock:
            self._probe = False
            if self.state == "half_open":
                self.state = "open"
                self.opened_at = now
                return True
            self.failures += 1
            if self.state == "closed" and self.failures >= self.config.failure_threshold:
                self.state = "open"
                self.opened_at = now
                return True
            return False

    def neutral(self) -> None:
        """An outcome that says nothing about the endpoint's health (thread limit, budget)."""
        with self._lock:
            self._probe = False


# --- pacing ---------------------------------------------------------------------------------------


class TokenBucket:
    """A classic token bucket: ``take`` returns 0.0 when a token was taken, else the seconds until
    one will be available (nothing taken). Rate and capacity may change between calls."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now
        self.rate = rate
        self.capacity = capacity

    def take(self, now: float, rate: float, capacity: float) -> float:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        self.rate, self.capacity = rate, capacity
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate if rate > 0 else math.inf


@dataclass(frozen=True)
class ThresholdSnapshot:
    """One ThresholdInformation reading and when (wall clock) it was taken."""

    count: int
    threshold: int
    timeframe_minutes: int
    observed_at: float

    @classmethod
    def from_body(cls, data: object, observed_at: float) -> ThresholdSnapshot | None:
        if not isinstance(data, Mapping):
            return None
        try:
            threshold = int(data["externalRequestThreshold"])
            count = int(data["currentTimeframeRequestCount"])
            timeframe = int(data.get("requestThresholdTimeframe") or DEFAULT_TIMEFRAME_MINUTES)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(count, threshold, timeframe, observed_at)

    def to_json(self) -> str:
        return json.dumps([self.count, self.threshold, self.timeframe_minutes, self.observed_at])

    @classmethod
    def from_json(cls, text: str | bytes | None) -> ThresholdSnapshot | None:
        if not text:
            return None
        try:
            count, threshold, timeframe, observed = json.loads(text)
            return cls(int(count), int(threshold), int(timeframe), float(observed))
        except (ValueError, TypeError):
            return None


def window_seconds(snapshot: ThresholdSnapshot | None, config: PacingConfig) -> float:
    """The rolling window in real seconds (virtual minutes scaled by ``time_scale``)."""
    minutes = snapshot.timeframe_minutes if snapshot else DEFAULT_TIMEFRAME_MINUTES
    return minutes * 60.0 / config.time_scale


def estimated_usage(snapshot: ThresholdSnapshot | None, sent_since: int) -> float | None:
    """Tenant usage fraction: the last reading plus what this client sent since."""
    if snapshot is None or snapshot.threshold <= 0:
        return None
    return (snapshot.count + sent_since) / snapshot.threshold


def usage_rate(
    snapshot: ThresholdSnapshot | None, sent_since: int, config: PacingConfig
) -> tuple[float, float, float]:
    """``(rate per real second, bucket capacity, multiplier)`` for this client's token bucket."""
    threshold = snapshot.threshold if snapshot and snapshot.threshold > 0 else DEFAULT_THRESHOLD
    share = threshold * config.budget_fraction
    window = window_seconds(snapshot, config)
    capacity = max(1.0, share * config.burst_fraction)
    rate = max(share - capacity, 1.0) / window
    multiplier = 1.0
    usage = estimated_usage(snapshot, sent_since)
    if usage is not None:
        for level, mult in config.slowdown_steps:
            if usage >= level:
                multiplier = mult
    if multiplier < 1.0:
        return rate * multiplier, 1.0, multiplier
    return rate, capacity, multiplier


def drain_seconds(snapshot: ThresholdSnapshot | None, config: PacingConfig) -> float:
    """How long until the rolling window has drained below the stop level, assuming the counted
    requests are spread evenly over the window (all the API tells us)."""
    window = window_seconds(snapshot, config)
    threshold = snapshot.threshold if snapshot and snapshot.threshold > 0 else DEFAULT_THRESHOLD
    count = max(snapshot.count if snapshot else threshold, threshold)
    target = threshold * max(0.0, config.stop_fraction - 0.02)
    seconds = (count - target) / (count / window) if count > 0 else 0.0
    return max(window * 0.01, seconds)
