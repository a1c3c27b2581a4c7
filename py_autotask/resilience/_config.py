"""Public configuration of the resilient send pipeline: retries, circuit breaker, pacing.

All three are frozen dataclasses checked at construction, so a bad value fails where it is written,
not in the middle of a job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Literal

from .._core import READ_OPERATIONS, WRITE_OPERATIONS
from ..exceptions import AutotaskConfigError

__all__ = [
    "OPERATIONS",
    "BackoffStrategy",
    "CircuitBreakerConfig",
    "PacingConfig",
    "RetryBudget",
    "RetryConfig",
    "RetryOn",
    "check_backend_url",
]

BackoffStrategy = Literal["exponential", "linear", "fibonacci"]

#: What a failed attempt can be, for :attr:`RetryConfig.retry_on`.
RetryOn = Literal[
    "rate_limit",  # 429 / Itgenatr005 (rejected before processing: safe for every method)
    "timeout",  # connect/read/write/pool timeouts
    "connection",  # connect errors, resets, remote protocol errors
    "server_error",  # 502/503/504 and 500s whose body is not a validation message
    "malformed",  # a 2xx read whose body is not JSON (truncated, garbled, empty)
]

_ALL_RETRY_ON: tuple[RetryOn, ...] = (
    "rate_limit",
    "timeout",
    "connection",
    "server_error",
    "malformed",
)

#: Operation names a per-operation policy can be set for (``ApiRequest.operation``).
OPERATIONS = READ_OPERATIONS | WRITE_OPERATIONS | {"raw"}


def check_backend_url(url: object, *, source: str = "backend") -> str:
    """``url`` when it names a limiter backend, else a config error listing the accepted forms."""
    if isinstance(url, str) and (
        url in ("local", "auto")
        or (
            url.startswith(("sqlite:///", "redis://", "rediss://", "unix://"))
            and not url.endswith("://")
        )
    ):
        if url == "sqlite:///":
            raise AutotaskConfigError(f"{source} {url!r} names no file: use sqlite:///path/to/file")
        return url
    raise AutotaskConfigError(
        f"{source} must be 'auto', 'local', 'sqlite:///path/to/file' or 'redis://host:port/db', "
        f"not {url!r}"
    )


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AutotaskConfigError(f"{name} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise AutotaskConfigError(f"{name} must be {'>= 0' if zero else '> 0'}, got {value!r}")


@dataclass(frozen=True)
class RetryBudget:
    """A botocore-style retry quota shared by one client: a retry spends ``retry_cost`` tokens
    (``timeout_cost`` after a timeout), every success refunds ``success_refund``. When the quota
    cannot pay for a retry the error is raised instead, so a failing tenant cannot turn into a
    retry storm."""

    capacity: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    success_refund: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            _positive(f"RetryBudget.{f.name}", getattr(self, f.name), zero=f.name != "capacity")


@dataclass(frozen=True)
class RetryConfig:
    """How failed attempts are retried.

    ``max_retries`` retries after the first attempt; delays follow ``backoff_strategy`` from
    ``base_delay`` up to ``max_delay`` with full jitter (a uniform draw in ``[0, delay]``) unless
    ``jitter=False``. A ``Retry-After`` header wins when present (capped by ``max_retry_after``,
    default 60 s). ``deadline`` bounds one operation's retries in seconds (``None``: no bound).
    ``retry_on`` lists the failure kinds retried at all (see :data:`RetryOn`); what is *safe* to
    retry is still decided per method (an ambiguous create is never resent). ``retry_budget`` is the
    client-wide quota (``None`` disables it). ``thread_limit_delay`` is the short backoff base after
    an ``Itgenatr005`` rejection.

    Rate-limit rejections are not failures of the request: a thread-limit rejection
    (``Itgenatr005``) or any other 429 that does not name the hourly threshold (a proxy's, a
    gateway's) was not processed, so it is resent for every method (creates too), after its
    ``Retry-After`` or a jittered backoff. Those waits use neither ``max_retries``, the retry quota
    nor the ``deadline``; they are bounded by ``max_rate_limit_wait`` seconds of waiting per call
    (default 300; then the :class:`~py_autotask.exceptions.AutotaskRateLimitError` is raised). An
    exhausted hourly threshold is :class:`PacingConfig`'s ``on_budget_exhausted``.

    Per-operation policies: ``RetryConfig().for_operation("query", max_retries=5)`` returns a config
    whose ``query`` calls use 5 retries; ``policy("query")`` resolves it.
    """

    max_retries: int = 3
    backoff_strategy: BackoffStrategy = "exponential"
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: bool = True
    retry_on: tuple[RetryOn, ...] = _ALL_RETRY_ON
    deadline: float | None = 120.0
    retry_budget: RetryBudget | None = field(default_factory=RetryBudget)
    thread_limit_delay: float = 0.5
    max_rate_limit_wait: float = 300.0
    max_retry_after: float = 60.0
    operations: Mapping[str, RetryConfig] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise AutotaskConfigError(f"max_retries must be an int, got {self.max_retries!r}")
        _positive("max_retries", self.max_retries, zero=True)
        if self.backoff_strategy not in ("exponential", "linear", "fibonacci"):
            raise AutotaskConfigError(
                "backoff_strategy must be 'exponential', 'linear' or 'fibonacci', "
                f"not {self.backoff_strategy!r}"
            )
        _positive("base_delay", self.base_delay, zero=True)
        _positive("max_delay", self.max_delay, zero=True)
        _positive("thread_limit_delay", self.thread_limit_delay, zero=True)
        _positive("max_rate_limit_wait", self.max_rate_limit_wait, zero=True)
        _positive("max_retry_after", self.max_retry_after, zero=True)
        if self.deadline is not None:
            _positive("deadline", self.deadline)
        retry_on = tuple(self.retry_on)
        unknown = [r for r in retry_on if r not in _ALL_RETRY_ON]
        if unknown:
            raise AutotaskConfigError(
                f"unknown retry_on value(s) {unknown}; choose from {list(_ALL_RETRY_ON)}"
            )
        object.__setattr__(self, "retry_on", retry_on)
        bad = [op for op in self.operations if op not in OPERATIONS]
        if bad:
            raise AutotaskConfigError(
                f"unknown operation(s) {bad}; choose from {sorted(OPERATIONS)}"
            )
        object.__setattr__(self, "operations", MappingProxyType(dict(self.operations)))

    def for_operation(self, operation: str, **changes: Any) -> RetryConfig:
        """A copy of this config where ``operation`` calls use ``changes`` on top of it."""
        if operation not in OPERATIONS:
            raise AutotaskConfigError(
                f"unknown operation {operation!r}; choose from {sorted(OPERATIONS)}"
            )
        base = self.operations.get(operation) or replace(self, operations={})
        ops = dict(self.operations)
        ops[operation] = replace(base, **changes)
        return replace(self, operations=ops)

    def policy(self, operation: str | None) -> RetryConfig:
        """The config that applies to ``operation`` (this one unless overridden)."""
        if operation is not None:
            found = self.operations.get(operation)
            if found is not None:
                return found
        return self


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """One breaker per (tenant, endpoint): ``failure_threshold`` consecutive transient failures
    (timeouts, resets, 502/503/504, opaque 500s) open it; after ``timeout`` seconds one probe
    request is let through (half-open) and its outcome closes or reopens it. Validation errors and
    thread-limit rejections never count. ``enabled=False`` turns breakers off."""

    failure_threshold: int = 5
    timeout: float = 30.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.failure_threshold, bool) or not isinstance(self.failure_threshold, int):
            raise AutotaskConfigError("failure_threshold must be an int")
        _positive("failure_threshold", self.failure_threshold)
        _positive("timeout", self.timeout, zero=True)


@dataclass(frozen=True)
class PacingConfig:
    """Client-side limits that keep the tenant healthy.

    - ``max_in_flight_per_endpoint``: concurrent requests per (integration code, endpoint); Autotask
      rejects the 4th with ``Itgenatr005``. ZoneInformation is exempt.
    - ``budget_fraction``: share of ``externalRequestThreshold`` (read from ThresholdInformation,
      10,000 until then) this client may spend per window, enforced by a token bucket whose burst is
      ``burst_fraction`` of that share.
    - ``threshold_poll_interval`` / ``threshold_poll_requests``: ThresholdInformation is read (one
      counted request) after ``threshold_first_poll_after`` requests, then every interval seconds
      or that many requests, whichever comes first (a timed poll also needs 1/25 of
      ``threshold_poll_requests`` own requests since the last one, so a trickle of requests is not
      doubled by polls); ``threshold_poll_interval=None`` never reads it.
    - ``slowdown_steps``: ``(usage fraction, rate multiplier)`` pairs: once the tenant's estimated
      usage reaches a fraction, the request rate is multiplied (and the burst removed), so the
      client slows *before* Autotask's +0.5 s (50%) and +1 s (75%) latency steps.
    - ``stop_fraction``: estimated usage at which the budget counts as exhausted; then
      ``on_budget_exhausted`` is ``"raise"`` (:class:`~py_autotask.exceptions.AutotaskBudgetExhaustedError`)
      or ``"wait"`` (sleep until the window has drained, at most ``max_budget_wait`` seconds).
    - ``backend``: where the limits live. ``"auto"`` (default): ``$AUTOTASK_LIMITER_URL`` when set,
      else one SQLite file in the user's cache folder (``~/.cache/py-autotask/limiter.sqlite3``),
      so every process on the machine shares them; ``"local"`` (this process only),
      ``"sqlite:///path/to/file.db"`` (processes on one machine) or ``"redis://host:port/db"``
      (processes on many machines). Processes that share a backend share the in-flight slots,
      the token bucket and the threshold readings, keyed by tenant (API user and zone host) and
      integration code, so two tenants never throttle each other.
    - ``time_scale``: virtual seconds per real second, to match a simulator's clock
      (``Simulator(time_scale=60)``); 1.0 against Autotask.
    - ``tenant``: the key that identifies the Autotask database for shared state (default: derived
      from the API user name and the zone's host, hashed; set it when several API users of one
      database should share one budget).
    - ``wait_notice_after``: a wait before sending (pacing, the budget draining, a
      ``Retry-After``, thread-limit backoff, a free in-flight slot) that reaches this many
      seconds is announced once: to the client's wait listeners
      (``client.add_wait_listener``), else as a WARNING log line.
    """

    max_in_flight_per_endpoint: int = 3
    budget_fraction: float = 0.5
    burst_fraction: float = 0.1
    threshold_poll_interval: float | None = 60.0
    threshold_poll_requests: int = 250
    threshold_first_poll_after: int = 10
    slowdown_steps: tuple[tuple[float, float], ...] = ((0.45, 0.5), (0.70, 0.25))
    stop_fraction: float = 0.98
    on_budget_exhausted: Literal["raise", "wait"] = "raise"
    max_budget_wait: float = 3600.0
    backend: str = "auto"
    slot_lease: float = 300.0
    time_scale: float = 1.0
    tenant: str | None = None
    enabled: bool = True
    wait_notice_after: float = 5.0

    def __post_init__(self) -> None:
        n = self.max_in_flight_per_endpoint
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise AutotaskConfigError(f"max_in_flight_per_endpoint must be an int >= 1, got {n!r}")
        for name in ("budget_fraction", "stop_fraction"):
            value = getattr(self, name)
            _positive(name, value)
            if value > 1.0:
                raise AutotaskConfigError(f"{name} must be within (0, 1], got {value!r}")
        _positive("burst_fraction", self.burst_fraction, zero=True)
        if self.burst_fraction >= 1.0:
            raise AutotaskConfigError("burst_fraction must be < 1")
        if self.threshold_poll_interval is not None:
            _positive("threshold_poll_interval", self.threshold_poll_interval)
        _positive("threshold_poll_requests", self.threshold_poll_requests)
        _positive("threshold_first_poll_after", self.threshold_first_poll_after, zero=True)
        steps = tuple((float(u), float(m)) for u, m in self.slowdown_steps)
        for usage, mult in steps:
            if not (0 < usage <= 1 and 0 < mult <= 1):
                raise AutotaskConfigError(
                    f"slowdown_steps entries must be (usage in (0,1], multiplier in (0,1]), got "
                    f"{(usage, mult)}"
                )
        object.__setattr__(self, "slowdown_steps", tuple(sorted(steps)))
        if self.on_budget_exhausted not in ("raise", "wait"):
            raise AutotaskConfigError("on_budget_exhausted must be 'raise' or 'wait'")
        _positive("max_budget_wait", self.max_budget_wait, zero=True)
        _positive("slot_lease", self.slot_lease)
        _positive("wait_notice_after", self.wait_notice_after, zero=True)
        _positive("time_scale", self.time_scale)
        check_backend_url(self.backend)
