"""Retries, ambiguous writes and circuit breakers against the simulator's injected faults."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask._core import create_request, update_request
from py_autotask.exceptions import (
    AutotaskAmbiguousWriteError,
    AutotaskCircuitOpenError,
    AutotaskRateLimitError,
    AutotaskServerError,
    AutotaskValidationError,
)
from py_autotask.resilience import CircuitBreakerConfig, PacingConfig, RetryConfig

from .conftest import creds, fast_retry, paged, secrets_of


def ticket_body(client: AutotaskClient, **changes: Any) -> dict[str, Any]:
    """A valid create body: a seeded ticket minus its id and read-only fields."""
    item = client.raw_request("GET", "Tickets/1")["item"]
    fields = client.raw_request("GET", "Tickets/entityInformation/fields")["fields"]
    writable = {f["name"] for f in fields if not f["isReadOnly"]}
    body = {k: v for k, v in item.items() if k in writable and v is not None}
    body.update(changes)
    return body


def tickets_spec(client: AutotaskClient) -> Any:
    return type(client.tickets)._spec


# --- reads ----------------------------------------------------------------------------------------


def test_query_all_survives_503s_resets_and_bad_bodies(fresh: Any, caplog: Any) -> None:
    with AutotaskClient(**creds(fresh)) as client:
        expected = [t.id for t in client.tickets.query_all()]
    assert len(expected) == 120
    fresh.clear_journal()
    for effect in ({"type": "status", "status": 503}, "reset", "malformed", "truncated"):
        fresh.add_fault({"match": {"entity": "Tickets"}, "effect": effect, "probability": 0.1})
    caplog.set_level(logging.DEBUG, logger="py_autotask")
    # a request fails with p = 1 - 0.9^4 = 0.34: 10 retries make a run fail ~1 in 5,000 (6 did ~1 in 75)
    with AutotaskClient(**creds(fresh), retry_config=fast_retry(max_retries=10)) as client:
        ids = [t.id for t in client.tickets.query_all(paged(5))]
    assert ids == expected  # every record exactly once, in order
    entries = fresh.journal(entity="Tickets")
    faulted = [e for e in entries if e.outcome.startswith("fault")]
    assert len(faulted) >= 5  # the faults really fired ...
    assert len(entries) == 24 + len(faulted)  # ... and each cost exactly one extra request
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert retries
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_of(fresh):
        assert secret not in text


def test_async_query_all_survives_faults(fresh: Any) -> None:
    for effect in ({"type": "status", "status": 502}, "reset"):
        fresh.add_fault({"match": {"entity": "Tickets"}, "effect": effect, "probability": 0.15})

    async def scenario() -> list[list[int | None]]:
        # p = 1 - 0.85^2 = 0.28 per request, ~52 requests: 4 retries failed ~1 run in 12 (seen in
        # CI); 10 make it ~1 in 15,000
        async with AsyncAutotaskClient(
            **creds(fresh), retry_config=fast_retry(max_retries=10)
        ) as client:

            async def one() -> list[int | None]:
                return [t.id async for t in client.tickets.query_all_iter(paged(10))]

            return await asyncio.gather(*(one() for _ in range(4)))

    results = asyncio.run(scenario())
    assert all(len(r) == 120 and len(set(r)) == 120 for r in results)


def test_validation_500_costs_exactly_one_request(fresh: Any) -> None:
    message = "The value 'x' is not valid for field priority."
    fresh.add_fault(
        {
            "match": {"entity": "Tickets", "operation": "query"},
            "effect": {"type": "validation", "message": message},
        }
    )
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        with pytest.raises(AutotaskValidationError) as info:
            client.tickets.query(paged(5))
    assert message in str(info.value)
    assert len(fresh.journal()) == 1


def test_real_validation_error_on_create_is_not_retried(fresh: Any) -> None:
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        fresh.clear_journal()
        response = client._send_resilient(
            create_request(tickets_spec(client), {"title": "no company"})
        )
        with pytest.raises(AutotaskValidationError) as info:
            client._core.read_item_id(response)
        assert info.value.errors  # Autotask's text reaches the caller
    assert len(fresh.journal(method="POST")) == 1


def test_opaque_500_on_reads_is_retried_a_bounded_number_of_times(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "opaque"})
    config = fast_retry(max_retries=3)
    with AutotaskClient(**creds(fresh), retry_config=config) as client:
        with pytest.raises(AutotaskServerError, match="Runtime Error"):
            client.tickets.count()
    assert len(fresh.journal()) == 4  # first attempt + 3 retries


def test_per_operation_policy(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
    config = fast_retry(max_retries=0).for_operation("query", max_retries=2)
    with AutotaskClient(**creds(fresh), retry_config=config) as client:
        with pytest.raises(AutotaskServerError):
            client.tickets.count()
        assert len(fresh.journal()) == 1
        with pytest.raises(AutotaskServerError):
            client.tickets.query(paged(5))
    assert len(fresh.journal()) == 1 + 3


def test_deadline_bounds_the_retries(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
    config = RetryConfig(max_retries=10, base_delay=0.2, jitter=False, deadline=0.5)
    with AutotaskClient(**creds(fresh), retry_config=config) as client:
        started = time.monotonic()
        with pytest.raises(AutotaskServerError):
            client.tickets.count()
        assert time.monotonic() - started < 1.0
    assert len(fresh.journal()) == 2  # 0.2 s fits the deadline, 0.2 + 0.4 does not


def test_retry_after_is_honoured(fresh: Any) -> None:
    fresh.add_fault(
        {
            "match": {"entity": "Tickets"},
            "effect": {"type": "throttle", "retry_after": 1},
            "count": 1,
        }
    )
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        started = time.monotonic()
        assert client.tickets.count() == 120
        assert time.monotonic() - started >= 1.0
    assert [e.status for e in fresh.journal()] == [429, 200]


@pytest.mark.parametrize("retry_after", [None, 1])
@pytest.mark.parametrize("operation", ["query", "create", "update"])
def test_a_plain_429_is_retried_for_every_method(
    fresh: Any, operation: str, retry_after: int | None
) -> None:
    """Not the thread limit, not the hourly threshold (a proxy's 429): not processed by the
    server, so resent -- creates too -- after its Retry-After or a short backoff; never
    "budget exhausted"."""
    effect: dict[str, Any] = {"type": "status", "status": 429}
    if retry_after is not None:
        effect["retry_after"] = retry_after
    with AutotaskClient(**creds(fresh), retry_config=fast_retry(max_retries=1)) as client:
        body = ticket_body(client, title=f"plain 429 {operation} {retry_after}")
        ticket_id = client.tickets.query(paged(1)).items[0].id
        fresh.clear_journal()
        fresh.add_fault({"match": {"operation": operation}, "effect": effect, "count": 3})
        started = time.monotonic()
        if operation == "query":
            assert len(client.tickets.query(paged(5)).items) == 5
        elif operation == "create":
            created = client.tickets.create(body)
        else:
            client.tickets.update({"id": ticket_id, "title": "updated after 429s"})
        elapsed = time.monotonic() - started
        stats = client.stats.requests
    # three rejections outlast max_retries=1: rate-limit waits do not use it
    assert [e.status for e in fresh.journal(operation=operation)] == [429, 429, 429, 200]
    assert stats.rejected == {"throttled": 3} and stats.retries == 3
    if retry_after is not None:
        assert elapsed >= 3 * retry_after and stats.waited["throttled"] == 3 * retry_after
    if operation == "create":
        made = [t for t in fresh.changes(entity="Tickets") if t.action == "created"]
        assert [t.id for t in made] == [created]  # one record, no duplicate


def test_a_thread_limit_storm_outlasting_the_old_four_tries_is_waited_out(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "throttle", "count": 9})
    events: list[Any] = []
    retry = fast_retry(max_retries=3, thread_limit_delay=0.02, max_delay=0.1)
    with AutotaskClient(
        **creds(fresh), retry_config=retry, pacing=PacingConfig(wait_notice_after=0.2)
    ) as client:
        client.add_wait_listener(events.append)
        assert client.tickets.count() == 120
        stats = client.stats.requests
    assert [e.status for e in fresh.journal()] == [429] * 9 + [200]
    assert stats.rejected == {"thread_limit": 9} and stats.sent == 10
    assert 0.2 <= stats.waited["thread_limit"] < 2
    # the run of waits was announced once, with its reason
    assert [e.reason for e in events] == ["thread_limit"]
    assert str(events[0]).startswith("waiting ") and "thread limit" in str(events[0])


def test_rate_limit_waits_are_bounded_by_max_rate_limit_wait(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "throttle"})
    retry = fast_retry(thread_limit_delay=0.05, max_delay=0.1, max_rate_limit_wait=0.5)
    with AutotaskClient(**creds(fresh), retry_config=retry) as client:
        started = time.monotonic()
        with pytest.raises(AutotaskRateLimitError) as info:
            client.tickets.count()
        assert 0.5 <= time.monotonic() - started < 2
    assert info.value.thread_limit


def test_the_async_client_waits_out_plain_429s_and_tells_its_listeners(fresh: Any) -> None:
    fresh.add_fault(
        {
            "match": {"entity": "Tickets"},
            "effect": {"type": "status", "status": 429, "retry_after": 1},
            "count": 2,
        }
    )
    events: list[Any] = []

    async def scenario() -> int:
        async with AsyncAutotaskClient(
            **creds(fresh), retry_config=fast_retry(), pacing=PacingConfig(wait_notice_after=1.5)
        ) as client:
            client.add_wait_listener(events.append)
            count = await client.tickets.count()
            assert client.stats.requests.rejected == {"throttled": 2}
            return count

    assert asyncio.run(scenario()) == 120
    assert [e.reason for e in events] == ["throttled"]
    assert "Retry-After 1s" in str(events[0]) and "429" in str(events[0])


def test_without_a_listener_a_long_wait_is_one_warning_line(fresh: Any, caplog: Any) -> None:
    fresh.add_fault(
        {
            "match": {"entity": "Tickets"},
            "effect": {"type": "status", "status": 429, "retry_after": 1},
            "count": 1,
        }
    )
    caplog.set_level(logging.WARNING, logger="py_autotask.resilience")
    pacing = PacingConfig(wait_notice_after=0.5)
    with AutotaskClient(**creds(fresh), retry_config=fast_retry(), pacing=pacing) as client:
        assert client.tickets.count() == 120
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting ")]
    assert len(lines) == 1 and "resumes about" in lines[0]


def test_thread_limit_under_any_status_is_retried_for_creates(fresh: Any) -> None:
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        body = ticket_body(client, title="retried after Itgenatr005")
        fresh.clear_journal()
        fresh.add_fault(
            {
                "match": {"operation": "create"},
                "effect": {"type": "throttle", "status": 500},
                "count": 2,
            }
        )
        item_id = client.tickets.create(body)
    creates = fresh.journal(operation="create")
    assert [e.status for e in creates] == [500, 500, 200]
    assert next(t for t in fresh.changes(entity="Tickets") if t.action == "created").id == item_id


def test_retry_budget_stops_a_retry_storm(fresh: Any) -> None:
    from py_autotask.resilience import RetryBudget

    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}})
    config = fast_retry(max_retries=5, retry_budget=RetryBudget(capacity=20, retry_cost=5))
    breaker = CircuitBreakerConfig(enabled=False)
    with AutotaskClient(**creds(fresh), retry_config=config, circuit_breaker=breaker) as client:
        for _ in range(5):
            with pytest.raises(AutotaskServerError):
                client.tickets.count()
    assert len(fresh.journal()) == 5 + 4  # 4 retries paid for, then every call fails at once


# --- writes ---------------------------------------------------------------------------------------


def test_commit_then_drop_create_is_ambiguous_and_never_resent(fresh: Any) -> None:
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        body = ticket_body(client, title="dropped after commit")
        before = client.tickets.count()
        fresh.clear_journal()
        fresh.add_fault({"match": {"operation": "create"}, "effect": "commit_then_drop"})
        with pytest.raises(AutotaskAmbiguousWriteError) as info:
            client._send_resilient(create_request(tickets_spec(client), body))
        error = info.value
        assert (error.method, error.entity, error.operation) == ("POST", "Tickets", "create")
        assert error.url.endswith("/Tickets")
        for secret in secrets_of(fresh):
            assert secret not in str(error) + repr(error) + error.url
        assert len(fresh.journal(method="POST")) == 1  # no blind resend
        fresh.faults.clear()
        assert client.tickets.count() == before + 1  # exactly one record was created


@pytest.mark.parametrize("effect", [{"type": "status", "status": 503}, "opaque", "reset"])
def test_create_with_unknown_outcome_is_ambiguous(fresh: Any, effect: Any) -> None:
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        body = ticket_body(client)
        fresh.clear_journal()
        fresh.add_fault({"match": {"operation": "create"}, "effect": effect})
        with pytest.raises(AutotaskAmbiguousWriteError):
            client._send_resilient(create_request(tickets_spec(client), body))
    assert len(fresh.journal(method="POST")) == 1


def test_create_never_sent_is_retried() -> None:
    # nothing listens on this port: connection refused means the POST never left
    client = AutotaskClient(
        "u@example.com",
        "secret-value",
        "INTEGRATION",
        api_url="http://127.0.0.1:9/ATServicesRest/V1.0/",
        retry_config=fast_retry(max_retries=2),
    )
    from py_autotask.exceptions import AutotaskConnectionError

    with client, pytest.raises(AutotaskConnectionError):
        client._send_resilient(create_request(tickets_spec(client), {"title": "x"}))
    assert client._resilience.engine.quota is not None
    assert client._resilience.engine.quota.available == 500 - 2 * 5  # two retries were made


def test_update_is_retried_like_a_read(fresh: Any) -> None:
    fresh.add_fault({"match": {"operation": "update"}, "sequence": ["commit_then_drop", 503, "ok"]})
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        client._send_resilient(update_request(tickets_spec(client), {"id": 1, "title": "patched"}))
        assert client.tickets.get(1).title == "patched"  # type: ignore[union-attr]
    assert [e.status for e in fresh.journal(operation="update")] == [0, 503, 200]


# --- breakers -------------------------------------------------------------------------------------


def test_breaker_opens_fails_fast_and_half_opens(fresh: Any) -> None:
    rule = fresh.add_fault(
        {"match": {"entity": "Companies"}, "effect": {"type": "status", "status": 503}}
    )
    breaker = CircuitBreakerConfig(failure_threshold=3, timeout=0.3)
    with AutotaskClient(
        **creds(fresh), retry_config=RetryConfig(max_retries=0), circuit_breaker=breaker
    ) as client:
        fresh.faults.remove(rule.id)
        companies = client.companies.count()
        rule = fresh.add_fault(rule.to_dict())
        fresh.clear_journal()
        for _ in range(3):
            with pytest.raises(AutotaskServerError):
                client.companies.count()
        with pytest.raises(AutotaskCircuitOpenError, match="companies") as info:
            client.companies.count()
        assert 0 < info.value.retry_after <= 0.3
        assert len(fresh.journal(entity="Companies")) == 3  # failing fast: nothing sent
        assert client.tickets.count() == 120  # other endpoints are unaffected
        assert client.health().breakers["companies"] == "open"

        time.sleep(0.35)  # half-open: one probe goes through, fails, reopens
        with pytest.raises(AutotaskServerError):
            client.companies.count()
        with pytest.raises(AutotaskCircuitOpenError):
            client.companies.count()
        assert len(fresh.journal(entity="Companies")) == 4

        fresh.faults.remove(rule.id)
        time.sleep(0.35)  # the next probe succeeds and closes the breaker
        assert client.companies.count() == companies
        assert client.companies.count() == companies
        assert client.health().breakers["companies"] == "closed"


def test_validation_errors_and_thread_limits_do_not_trip_the_breaker(fresh: Any) -> None:
    fresh.add_fault(
        {
            "match": {"entity": "Companies"},
            "effect": {"type": "validation", "message": "Missing Required Field: name."},
            "count": 4,
        }
    )
    fresh.add_fault({"match": {"entity": "Companies"}, "effect": "throttle", "count": 4})
    breaker = CircuitBreakerConfig(failure_threshold=2, timeout=60)
    with AutotaskClient(
        **creds(fresh), retry_config=RetryConfig(max_retries=0), circuit_breaker=breaker
    ) as client:
        for _ in range(4):
            with pytest.raises(AutotaskValidationError):
                client.companies.count()
        for _ in range(4):
            with pytest.raises(AutotaskRateLimitError):
                client.companies.count()
        assert client.companies.count() >= 5
        assert client._resilience.engine.breaker("companies").state == "closed"


def test_breaker_in_the_async_client(fresh: Any) -> None:
    fresh.add_fault({"match": {"entity": "Contacts"}, "effect": "reset"})
    breaker = CircuitBreakerConfig(failure_threshold=2, timeout=60)

    async def scenario() -> None:
        async with AsyncAutotaskClient(
            **creds(fresh), retry_config=fast_retry(max_retries=5), circuit_breaker=breaker
        ) as client:
            with pytest.raises(AutotaskCircuitOpenError):
                await client.contacts.count()  # 2 failed attempts open it mid-retry
            health = await client.health()
            assert health.breakers == {"contacts": "open"}
            assert health.reachable and health.threshold is not None

    asyncio.run(scenario())
    assert len(fresh.journal(entity="Contacts")) == 2


# --- logging --------------------------------------------------------------------------------------


def test_debug_logs_never_contain_credentials(fresh: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    fresh.add_fault({"match": {"entity": "Tickets"}, "sequence": [503, "reset", "throttle", "ok"]})
    pacing = PacingConfig(threshold_first_poll_after=0)
    with AutotaskClient(**creds(fresh), retry_config=fast_retry(), pacing=pacing) as client:
        assert client.tickets.count() == 120
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "retry 3" in text and "threshold:" in text
    for secret in secrets_of(fresh):
        assert secret not in text


def test_delete_whose_first_attempt_committed_counts_as_done(fresh: Any) -> None:
    with AutotaskClient(**creds(fresh), retry_config=fast_retry()) as client:
        group = client.contact_groups.query(paged(1)).items[0]
        fresh.clear_journal()
        fresh.add_fault(
            {"match": {"operation": "delete"}, "effect": "commit_then_drop", "count": 1}
        )
        client.contact_groups.delete(group.id)  # retried: "does not exist" now means done
        assert client.contact_groups.get(group.id) is None
    assert [e.status for e in fresh.journal(operation="delete")] == [0, 500]
