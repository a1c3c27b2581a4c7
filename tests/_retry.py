"""The retry configuration of tests that inject faults: the real retry logic with millisecond
delays, so a test that survives 503s and 429s runs in milliseconds."""

from __future__ import annotations

from typing import Any

from py_autotask.resilience import RetryBudget, RetryConfig


def fast_retry(**changes: Any) -> RetryConfig:
    """Real retry logic with millisecond delays; ``changes`` override single settings."""
    options: dict[str, Any] = {
        "max_retries": 4,
        "base_delay": 0.005,
        "max_delay": 0.05,
        "thread_limit_delay": 0.01,
        "retry_budget": RetryBudget(),
    }
    options.update(changes)
    return RetryConfig(**options)
