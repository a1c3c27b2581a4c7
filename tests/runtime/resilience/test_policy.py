"""Unit tests of the I/O-free rules: delay maths, classification, quota, breaker, bucket, usage."""

from __future__ import annotations

import random
import statistics
from typing import Any

import httpx
import pytest

from py_autotask.exceptions import AutotaskConfigError, AutotaskConnectionError
from py_autotask.resilience import CircuitBreakerConfig, PacingConfig, RetryBudget, RetryConfig
from py_autotask.resilience._policy import (
    CircuitBreaker,
    Kind,
    RetryQuota,
    ThresholdSnapshot,
    TokenBucket,
    backoff_delay,
    classify_exception,
    classify_response,
    drain_seconds,
    endpoint_of,
    usage_rate,
)

BASE = "https://webservices14.autotask.net/ATServicesRest/V1.0/"

# --- backoff --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("exponential", [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]),
        ("linear", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]),
        ("fibonacci", [0.5, 1.0, 1.5, 2.5, 4.0, 6.5, 10.5, 17.0]),
    ],
)
def test_backoff_without_jitter_follows_the_strategy_and_caps(
    strategy: str, expected: list[float]
) -> None:
    config = RetryConfig(backoff_strategy=strategy, jitter=False)  # type: ignore[arg-type]
    assert [backoff_delay(config, n) for n in range(1, 9)] == expected


def test_full_jitter_is_uniform_below_the_delay() -> None:
    config = RetryConfig(base_delay=1.0, max_delay=100.0)
    rng = random.Random(7)
    draws = [backoff_delay(config, 3, rng=rng) for _ in range(4000)]  # cap 4.0
    assert min(draws) >= 0.0 and max(draws) <= 4.0
    assert min(draws) < 0.1 and max(draws) > 3.9  # the whole range is used
    assert abs(statistics.mean(draws) - 2.0) < 0.1


def test_thread_limit_backoff_keeps_at_least_half_the_delay() -> None:
    config = RetryConfig(thread_limit_delay=0.5, backoff_strategy="linear")
    rng = random.Random(1)
    draws = [backoff_delay(config, 2, rng=rng, thread_limit=True) for _ in range(500)]
    assert all(0.5 <= d <= 1.0 for d in draws)  # exponential 0.5 * 2 = 1.0, equal jitter


def test_huge_retry_numbers_do_not_overflow() -> None:
    assert backoff_delay(RetryConfig(jitter=False), 10_000) == 20.0
    fib = RetryConfig(jitter=False, backoff_strategy="fibonacci")
    assert backoff_delay(fib, 10_000) == 20.0


# --- config ---------------------------------------------------------------------------------------


def test_per_operation_policies() -> None:
    config = RetryConfig(max_retries=1).for_operation("query", max_retries=5, base_delay=0.1)
    config = config.for_operation("create", max_retries=0)
    assert config.policy("query").max_retries == 5
    assert config.policy("query").base_delay == 0.1
    assert config.policy("create").max_retries == 0
    assert config.policy("count").max_retries == 1
    assert config.policy(None) is config
    with pytest.raises(AutotaskConfigError, match="unknown operation"):
        config.for_operation("querry", max_retries=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryConfig(max_retries=-1),
        lambda: RetryConfig(backoff_strategy="random"),  # type: ignore[arg-type]
        lambda: RetryConfig(retry_on=("everything",)),  # type: ignore[arg-type]
        lambda: RetryConfig(deadline=0),
        lambda: RetryBudget(capacity=0),
        lambda: CircuitBreakerConfig(failure_threshold=0),
        lambda: PacingConfig(max_in_flight_per_endpoint=0),
        lambda: PacingConfig(budget_fraction=1.5),
        lambda: PacingConfig(backend="memcached://x"),
        lambda: PacingConfig(on_budget_exhausted="ignore"),  # type: ignore[arg-type]
        lambda: PacingConfig(slowdown_steps=((0.5, 2.0),)),
    ],
)
def test_bad_configs_fail_at_construction(make: object) -> None:
    with pytest.raises(AutotaskConfigError):
        make()  # type: ignore[operator]


# --- classification -------------------------------------------------------------------------------

THREAD = b'{"errors":["Thread Threshold Exceeded ... (Itgenatr005)"]}'
HOURLY = b'{"errors":["Request threshold exceeded: try again later."]}'
VALIDATION = b'{"errors":["Missing Required Field: title."]}'
AUTH = b'{"errors":["The integration code is invalid."]}'
OPAQUE = b"<html><head><title>Runtime Error</title></head></html>"


@pytest.mark.parametrize(
    ("method", "operation", "status", "body", "kind"),
    [
        ("POST", "query", 200, b'{"items":[],"pageDetails":{}}', Kind.OK),
        ("POST", "query", 200, b'{"items":[{"id":1,"title":"unterm', Kind.TRANSIENT),
        ("GET", "get", 200, b"", Kind.TRANSIENT),
        ("GET", "raw", 200, b"", Kind.OK),  # raw calls may have empty bodies
        ("POST", "create", 200, b'{"itemId":5}', Kind.OK),
        # thread limit: whatever the status, every method
        ("POST", "create", 429, THREAD, Kind.THREAD_LIMIT),
        ("POST", "query", 200, THREAD, Kind.THREAD_LIMIT),
        ("GET", "get", 500, THREAD, Kind.THREAD_LIMIT),
        ("POST", "create", 429, HOURLY, Kind.BUDGET),
        # any other 429 (a proxy's, a gateway's) is a plain throttle, never "budget exhausted"
        ("POST", "create", 429, b"", Kind.THROTTLED),
        ("POST", "query", 429, b'{"errors":["Too many requests"]}', Kind.THROTTLED),
        ("PATCH", "update", 429, b"<html>Rate limit exceeded</html>", Kind.THROTTLED),
        # transient 5xx: retried for reads and idempotent writes, ambiguous for creates
        ("POST", "query", 503, b'{"errors":["x"]}', Kind.TRANSIENT),
        ("POST", "next", 502, b"", Kind.TRANSIENT),
        ("PATCH", "update", 504, b"", Kind.TRANSIENT),
        ("DELETE", "delete", 503, b"", Kind.TRANSIENT),
        ("POST", "create", 503, b"", Kind.AMBIGUOUS),
        ("POST", "raw", 504, b"", Kind.AMBIGUOUS),
        ("GET", "get", 500, OPAQUE, Kind.TRANSIENT),
        ("POST", "create", 500, OPAQUE, Kind.AMBIGUOUS),
        # final: validation and auth 500s, 4xx, other 5xx
        ("POST", "create", 500, VALIDATION, Kind.FINAL),
        ("POST", "query", 500, VALIDATION, Kind.FINAL),
        ("GET", "get", 500, AUTH, Kind.FINAL),
        ("GET", "get", 401, b"", Kind.FINAL),
        ("GET", "get", 404, b"", Kind.FINAL),
        ("PATCH", "update", 405, b"", Kind.FINAL),
        ("GET", "get", 501, b"", Kind.FINAL),
    ],
)
def test_classify_response(
    method: str, operation: str, status: int, body: bytes, kind: Kind
) -> None:
    assert classify_response(method, operation, status, body).kind is kind


SIM_HOURLY = (
    b'{"errors":["Request threshold exceeded: the limit of 30 requests per 60 minutes for this '
    b'database has been reached. Try again later."]}'
)
SIM_THREAD = (
    b'{"errors":["Thread Threshold Exceeded: the maximum of 3 concurrent requests for this API '
    b"tracking identifier and endpoint 'Tickets' was reached. (Itgenatr005)\"]}"
)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # the simulator's own texts
        (429, SIM_HOURLY, Kind.BUDGET),
        (429, SIM_THREAD, Kind.THREAD_LIMIT),
        # the thread limit by its code or its words, whatever the status
        (200, b'{"errors":["Itgenatr005"]}', Kind.THREAD_LIMIT),
        (500, b'{"errors":["thread limit reached"]}', Kind.THREAD_LIMIT),
        (429, b"Thread Threshold Exceeded", Kind.THREAD_LIMIT),
        # Autotask-like variants of the hourly threshold (exact live text unconfirmed), any
        # error status
        (429, b'{"errors":["Request Threshold Exceeded"]}', Kind.BUDGET),
        (500, b'{"errors":["External request threshold has been reached."]}', Kind.BUDGET),
        (403, b'{"errors":["You have exceeded the hourly request threshold."]}', Kind.BUDGET),
        (429, b"request threshold reached", Kind.BUDGET),
        (503, b'{"errors":["Request threshold exceeded"]}', Kind.BUDGET),
        # anything else that is a 429 is a throttle
        (429, b"", Kind.THROTTLED),
        (429, b'{"errors":["rate limit exceeded"]}', Kind.THROTTLED),
        (429, b'{"errors":["request limit reached"]}', Kind.THROTTLED),
        (429, b'{"message":"Too Many Requests"}', Kind.THROTTLED),
        # a page of records mentioning the words is data, not a rejection
        (200, b'{"items":[{"id":1,"title":"request threshold exceeded"}]}', Kind.OK),
        (500, b'{"errors":["Missing Required Field: title."]}', Kind.FINAL),
    ],
)
def test_rate_limit_classification_table(status: int, body: bytes, kind: Kind) -> None:
    for method, operation in (("POST", "query"), ("POST", "create"), ("PATCH", "update")):
        verdict = classify_response(method, operation, status, body)
        assert verdict.kind is kind, (method, status, body)
        if kind in (Kind.THREAD_LIMIT, Kind.BUDGET, Kind.THROTTLED):
            assert verdict.reason == "rate_limit" and not verdict.sent
            assert not verdict.breaker_failure


def test_a_plain_429_keeps_its_retry_after_in_seconds_or_as_a_date() -> None:
    assert classify_response("POST", "create", 429, b"", {"retry-after": "2"}).retry_after == 2.0
    verdict = classify_response(
        "POST", "create", 429, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, now=1445412500
    )
    assert verdict.kind is Kind.THROTTLED and verdict.retry_after == 10.0


def test_retry_after_is_read_from_the_header() -> None:
    verdict = classify_response("GET", "get", 429, HOURLY, {"Retry-After": "7"})
    assert verdict.retry_after == 7.0 and verdict.kind is Kind.BUDGET and not verdict.sent


def _wrapped(exc: httpx.RequestError) -> AutotaskConnectionError:
    try:
        raise AutotaskConnectionError("failed") from exc
    except AutotaskConnectionError as error:
        return error


@pytest.mark.parametrize(
    ("exc", "method", "operation", "kind", "reason"),
    [
        (httpx.ConnectError("refused"), "POST", "create", Kind.TRANSIENT, "connection"),
        (httpx.ConnectTimeout("slow"), "POST", "create", Kind.TRANSIENT, "timeout"),
        (httpx.PoolTimeout("busy"), "POST", "create", Kind.TRANSIENT, "timeout"),
        (httpx.ReadTimeout("slow"), "POST", "create", Kind.AMBIGUOUS, "timeout"),
        (httpx.ReadError("reset"), "POST", "create", Kind.AMBIGUOUS, "connection"),
        (httpx.RemoteProtocolError("eof"), "POST", "create", Kind.AMBIGUOUS, "connection"),
        (httpx.WriteTimeout("slow"), "POST", "create", Kind.AMBIGUOUS, "timeout"),
        (httpx.ReadTimeout("slow"), "POST", "query", Kind.TRANSIENT, "timeout"),
        (httpx.RemoteProtocolError("eof"), "GET", "get", Kind.TRANSIENT, "connection"),
        (httpx.ReadError("reset"), "PUT", "replace", Kind.TRANSIENT, "connection"),
        (httpx.UnsupportedProtocol("ftp"), "GET", "get", Kind.FINAL, None),
    ],
)
def test_classify_exception(
    exc: httpx.RequestError, method: str, operation: str, kind: Kind, reason: str | None
) -> None:
    verdict = classify_exception(method, operation, _wrapped(exc))
    assert (verdict.kind, verdict.reason) == (kind, reason)


def test_unsent_creates_are_marked_unsent() -> None:
    assert not classify_exception("POST", "create", _wrapped(httpx.ConnectError("x"))).sent
    assert classify_exception("POST", "create", _wrapped(httpx.ReadTimeout("x"))).sent


def test_breaker_counts_only_transient_trouble() -> None:
    assert classify_response("GET", "get", 503, b"").breaker_failure
    assert classify_response(
        "POST", "create", 503, b""
    ).breaker_failure  # ambiguous: server trouble
    assert not classify_response("GET", "get", 500, VALIDATION).breaker_failure
    assert not classify_response("GET", "get", 429, THREAD).breaker_failure
    assert not classify_response("GET", "get", 429, HOURLY).breaker_failure


@pytest.mark.parametrize(
    ("entity", "url", "expected"),
    [
        ("Tickets", BASE + "Tickets/query", "tickets"),
        ("TicketNotes", BASE + "Tickets/5/Notes", "ticketnotes"),  # child counts as the child
        ("Tickets", BASE + "Tickets/entityInformation/fields", "tickets"),
        ("ZoneInformation", BASE + "zoneInformation?user=x", None),
        (None, BASE + "ThresholdInformation", "thresholdinformation"),
        (None, BASE + "Tickets/5/Notes", "tickets/notes"),
        (None, BASE + "zoneInformation?user=x", None),
        (None, "https://webservices.autotask.net/ATServicesRest/V1.0/ZoneInformation", None),
    ],
)
def test_endpoint_keys(entity: str | None, url: str, expected: str | None) -> None:
    assert endpoint_of(entity, None, url) == expected


# --- quota, breaker, bucket -----------------------------------------------------------------------


def test_retry_quota_stops_a_retry_storm_and_refills_on_success() -> None:
    quota = RetryQuota(RetryBudget(capacity=50, retry_cost=5, timeout_cost=10, success_refund=1))
    assert sum(quota.acquire(timeout=False) for _ in range(20)) == 10
    assert quota.available == 0
    for _ in range(10):
        quota.refund()
    assert quota.acquire(timeout=True) and not quota.acquire(timeout=False)


def test_breaker_state_machine() -> None:
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3, timeout=10.0))
    assert breaker.allow(0.0)
    assert not breaker.failure(0.0) and not breaker.failure(0.0)
    breaker.success()  # a success resets the consecutive count
    assert not breaker.failure(1.0) and not breaker.failure(1.0)
    assert breaker.failure(1.0) and breaker.state == "open"
    assert not breaker.allow(5.0) and breaker.retry_in(5.0) == pytest.approx(6.0)
    assert breaker.allow(11.0) and breaker.state == "half_open"  # the probe
    assert not breaker.allow(11.0)  # only one probe at a time
    assert breaker.failure(11.5) and breaker.state == "open"  # failed probe reopens
    assert not breaker.allow(20.0)
    assert breaker.allow(21.5)
    breaker.neutral()  # e.g. the probe hit the thread limit: let another probe go
    assert breaker.allow(21.6)
    breaker.success()
    assert breaker.state == "closed" and breaker.failures == 0


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=0.0)
    assert [bucket.take(0.0, 2.0, 3.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0, 2.0, 3.0) == pytest.approx(0.5)
    assert bucket.take(0.5, 2.0, 3.0) == 0.0
    assert bucket.take(10.0, 2.0, 1.0) == 0.0  # a smaller capacity caps the refill
    assert bucket.take(10.0, 2.0, 1.0) == pytest.approx(0.5)


# --- usage model ----------------------------------------------------------------------------------


def _snap(count: int, threshold: int = 10_000) -> ThresholdSnapshot:
    return ThresholdSnapshot(count, threshold, 60, 0.0)


def test_rate_follows_the_budget_share_and_slows_before_the_latency_steps() -> None:
    config = PacingConfig()  # 50% of 10,000/h, 10% of it as burst
    rate, capacity, mult = usage_rate(None, 0, config)
    assert capacity == 500 and mult == 1.0
    assert rate * 3600 + capacity == pytest.approx(5000)  # never more than the share per hour
    assert usage_rate(_snap(4400), 0, config)[2] == 1.0
    assert usage_rate(_snap(4400), 100, config)[2] == 0.5  # 45%: slow before the 50% step
    rate_70, capacity_70, mult_70 = usage_rate(_snap(7000), 0, config)
    assert mult_70 == 0.25 and capacity_70 == 1.0  # no burst once slowed
    assert rate_70 == pytest.approx(rate * 0.25)
    scaled = usage_rate(None, 0, PacingConfig(time_scale=60))[0]
    assert scaled == pytest.approx(rate * 60)


def test_drain_time_comes_from_the_threshold_reading() -> None:
    config = PacingConfig()  # stop at 98%: resume below 96%
    assert drain_seconds(_snap(10_000), config) == pytest.approx(0.04 * 3600)
    assert drain_seconds(_snap(10_000), PacingConfig(time_scale=3600)) == pytest.approx(0.04)
    assert drain_seconds(None, config) == pytest.approx(144.0)  # unknown: assume 100%


def test_snapshot_parsing() -> None:
    body = {
        "externalRequestThreshold": 10000,
        "requestThresholdTimeframe": 60,
        "currentTimeframeRequestCount": 124,
    }
    snap = ThresholdSnapshot.from_body(body, 5.0)
    assert snap == ThresholdSnapshot(124, 10000, 60, 5.0)
    assert ThresholdSnapshot.from_json(snap.to_json()) == snap
    assert ThresholdSnapshot.from_body({"errors": []}, 0.0) is None
    assert ThresholdSnapshot.from_json("garbage") is None


def test_new_errors_pickle_with_their_attributes() -> None:
    import pickle

    from py_autotask.exceptions import (
        AutotaskAmbiguousWriteError,
        AutotaskBudgetExhaustedError,
        AutotaskCircuitOpenError,
    )

    open_error = pickle.loads(
        pickle.dumps(AutotaskCircuitOpenError("open", endpoint="tickets", retry_after=3.0))
    )
    assert (str(open_error), open_error.endpoint, open_error.retry_after) == (
        "open",
        "tickets",
        3.0,
    )
    budget = pickle.loads(
        pickle.dumps(AutotaskBudgetExhaustedError("x", status_code=429, retry_after=12.0))
    )
    assert budget.retry_after == 12.0 and budget.status_code == 429
    ambiguous = pickle.loads(
        pickle.dumps(AutotaskAmbiguousWriteError("?", method="POST", entity="Tickets"))
    )
    assert (ambiguous.method, ambiguous.entity) == ("POST", "Tickets")


# --- rate-limit waits -----------------------------------------------------------------------------


def _engine(retry: RetryConfig) -> Any:
    from py_autotask._config import Credentials
    from py_autotask._core import ClientCore
    from py_autotask.resilience._engine import Engine

    creds = Credentials.resolve("u@example.com", "s", "ic", BASE, env={})
    return Engine(ClientCore(creds), retry, None, PacingConfig(wait_notice_after=1000))


def test_thread_limit_and_plain_429_waits_use_no_retries_quota_or_deadline() -> None:
    retry = RetryConfig(
        max_retries=1,
        deadline=1.0,
        retry_budget=RetryBudget(capacity=5, retry_cost=5),
        thread_limit_delay=0.5,
        max_rate_limit_wait=30.0,
    )
    engine = _engine(retry)
    call = engine.start_call("create")
    thread = classify_response("POST", "create", 429, THREAD)
    plain = classify_response("POST", "create", 429, b"")
    delays = [engine.decide(call, thread if i % 2 else plain) for i in range(12)]
    assert all(d is not None and d > 0 for d in delays[:5])  # past max_retries and deadline
    assert call.retries == 0 and engine.quota.available == 5  # neither retries nor quota used
    assert delays.count(None) >= 1 and delays[-1] is None  # ... until 30 s were waited
    assert call.rate_waited == pytest.approx(30.0)
    # the retries, the quota and the deadline are all still there for real failures
    server = classify_response("GET", "get", 503, b"")
    assert engine.decide(call, server) is not None
    assert call.retries == 1 and engine.quota.available == 0
    assert engine.decide(call, server) is None


def test_retry_after_on_a_plain_429_is_honoured_and_capped() -> None:
    engine = _engine(RetryConfig(max_retry_after=60.0, max_rate_limit_wait=300.0))
    call = engine.start_call("create")
    two = classify_response("POST", "create", 429, b"", {"Retry-After": "2"})
    assert engine.decide(call, two) == 2.0
    hour = classify_response("POST", "create", 429, b"", {"Retry-After": "3600"})
    assert engine.decide(call, hour) == 60.0
    # without Retry-After: exponential backoff that keeps at least half the delay
    fresh = engine.start_call("query")
    plain = classify_response("POST", "query", 429, b"")
    draws = [engine.decide(fresh, plain) for _ in range(4)]
    assert [d >= 0.5 * 0.5 * 2**i for i, d in enumerate(draws)] == [True] * 4  # type: ignore[operator]


def test_max_retries_zero_or_retry_on_without_rate_limit_switches_them_off() -> None:
    plain = classify_response("POST", "query", 429, b"")
    engine = _engine(RetryConfig(max_retries=0))
    assert engine.decide(engine.start_call("query"), plain) is None
    engine = _engine(RetryConfig(retry_on=("timeout",)))
    assert engine.decide(engine.start_call("query"), plain) is None
    engine = _engine(RetryConfig(max_rate_limit_wait=0))
    assert engine.decide(engine.start_call("query"), plain) is None
