"""The resilient send pipeline: pacing, retries and circuit breakers tuned to Autotask's limits.

Pass the configs to a client::

    AutotaskClient(
        retry_config=RetryConfig(max_retries=3).for_operation("query", max_retries=5),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=5, timeout=30.0),
        pacing=PacingConfig(max_in_flight_per_endpoint=3, budget_fraction=0.5,
                            backend="redis://localhost:6379/0"),
    )

Defaults (used when an argument is omitted) are the recommended ones: 3 retries with full-jitter
exponential backoff, 3 requests in flight per endpoint, half of the tenant's hourly budget, the
limits shared by every process of the machine (``PacingConfig(backend="auto")``:
``$AUTOTASK_LIMITER_URL``, else a file in the user's cache folder; ``"local"`` opts out).
Rate-limit rejections (Autotask's thread limit, any other 429) are waited out for up to
``RetryConfig.max_rate_limit_wait`` (300 s) per call without using those retries; an exhausted
hourly threshold raises (or waits, ``PacingConfig(on_budget_exhausted="wait")``). A wait longer
than ``PacingConfig.wait_notice_after`` (5 s) is announced: ``client.add_wait_listener(fn)``
receives a :class:`WaitEvent`, else a WARNING line is logged.
"""

from ._config import (
    BackoffStrategy,
    CircuitBreakerConfig,
    PacingConfig,
    RetryBudget,
    RetryConfig,
    RetryOn,
)
from ._engine import Estimate, Health
from ._waits import WaitEvent, WaitReason

__all__ = [
    "BackoffStrategy",
    "CircuitBreakerConfig",
    "Estimate",
    "Health",
    "PacingConfig",
    "RetryBudget",
    "RetryConfig",
    "RetryOn",
    "WaitEvent",
    "WaitReason",
]
