"""The seeded tickets carry the documented structure (docs/simulator.md, "Seeded ticket structure")."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from py_autotask._bizhours import add_business_ms, business_ms_between
from py_autotask.simulator._seed import DEFAULT_SCHEMAS_DIR, generate
from py_autotask.simulator._tickets import PRIORITY_STEP, REOPEN_RATE, STALLED_SHARE

COUNTS = {"Tickets": 4000, "Companies": 20}


def _tickets(seed: int = 42) -> list[dict[str, Any]]:
    return [
        r for c, r in generate(DEFAULT_SCHEMAS_DIR, "tiny", seed, counts=COUNTS) if c == "Tickets"
    ]


@pytest.fixture(scope="module")
def tickets() -> list[dict[str, Any]]:
    return _tickets()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _hours(t: dict[str, Any]) -> float:
    return (_at(t["resolvedDateTime"]) - _at(t["createDate"])).total_seconds() / 3600


def test_the_structure_is_deterministic_per_seed(tickets: list[dict[str, Any]]) -> None:
    again = _tickets()
    assert again == tickets
    other = _tickets(7)
    assert [t["resolvedDateTime"] for t in other] != [t["resolvedDateTime"] for t in tickets]


def test_resolution_time_grows_with_priority_and_depends_on_weekday(
    tickets: list[dict[str, Any]],
) -> None:
    resolved = [t for t in tickets if t["resolvedDateTime"]]
    by_priority: dict[int, list[float]] = {}
    for t in resolved:
        by_priority.setdefault(t["priority"], []).append(_hours(t))
    medians = [statistics.median(by_priority[p]) for p in sorted(by_priority)]
    assert medians == sorted(medians)
    # priorities 2..6 (ranks 1..4) are worked in business hours: 2.2x per rank in business hours
    work = {
        p: statistics.median(
            business_ms_between(
                int(_at(t["createDate"] + "+00:00").timestamp() * 1000),
                int(_at(t["resolvedDateTime"] + "+00:00").timestamp() * 1000),
            )
            / 3_600_000
            for t in resolved
            if t["priority"] == p
        )
        for p in (2, 6)
    }
    assert PRIORITY_STEP**3 / 1.5 < work[6] / work[2] < PRIORITY_STEP**3 * 1.5
    # the same priority takes longer in calendar hours when created on a Friday than on a Tuesday
    low = [t for t in resolved if t["priority"] == 3]
    fri = statistics.median(_hours(t) for t in low if _at(t["createDate"]).weekday() == 4)
    tue = statistics.median(_hours(t) for t in low if _at(t["createDate"]).weekday() == 1)
    assert fri > 1.5 * tue


def test_creation_volume_has_seasons_weekdays_and_office_hours(
    tickets: list[dict[str, Any]],
) -> None:
    created = [_at(t["createDate"]) for t in tickets]
    assert created == sorted(created)  # still growing with id
    months = Counter(c.month for c in created)
    assert months[1] > 1.2 * months[7]
    days = Counter(c.weekday() for c in created)
    assert days[0] > days[2] > 4 * days[6]
    office = sum(1 for c in created if 7 <= c.hour < 19)
    assert office > 0.75 * len(created)


def test_reopenings_status_sla_and_no_surveys(tickets: list[dict[str, Any]]) -> None:
    done = [t for t in tickets if t["completedDate"]]
    assert all(t["status"] == 5 for t in done)  # "Complete" in the metadata
    assert all(t["status"] != 5 for t in tickets if not t["completedDate"])
    reopened = [
        t
        for t in done
        if (_at(t["completedDate"]) - _at(t["resolvedDateTime"])).total_seconds() > 86_400
    ]
    assert REOPEN_RATE * 0.7 < len(reopened) / len(done) < REOPEN_RATE * 1.3
    with_sla = [t for t in done if t["serviceLevelAgreementID"] is not None]
    assert 0.7 < len(with_sla) / len(done) < 0.9
    # the stalled share is open whatever its age, plus the tickets too young to be finished
    still_open = [t for t in tickets if not t["completedDate"]]
    assert STALLED_SHARE * 0.85 < len(still_open) / len(tickets) < STALLED_SHARE * 1.15 + 0.05
    assert all(t["serviceLevelAgreementHasBeenMet"] is not None for t in with_sla)
    met = [t["serviceLevelAgreementHasBeenMet"] for t in with_sla]
    assert 0.4 < sum(met) / len(met) < 0.95
    assert all(
        t["currentServiceThermometerRating"] is None and t["serviceThermometerTemperature"] is None
        for t in tickets
    )
    assert all(
        t["firstResponseDateTime"] <= t["resolvedDateTime"]
        for t in done
        if t["firstResponseDateTime"]
    )


def test_business_hours_calendar() -> None:
    monday_9 = int(datetime.fromisoformat("2025-11-03T09:00:00+00:00").timestamp() * 1000)
    hour = 3_600_000
    assert business_ms_between(monday_9, monday_9 + 2 * hour) == 2 * hour
    # Friday 16:00 + 3 business hours = Monday 10:00
    friday_16 = monday_9 + 4 * 24 * hour + 7 * hour
    assert add_business_ms(friday_16, 3 * hour) == monday_9 + 7 * 24 * hour + hour
    assert business_ms_between(friday_16, monday_9 + 7 * 24 * hour + hour) == 3 * hour
    # outside hours: the clock starts at the next opening
    saturday = monday_9 + 5 * 24 * hour
    assert add_business_ms(saturday, hour) == monday_9 + 7 * 24 * hour
    # a full day ends at 17:00, not the next morning
    assert add_business_ms(monday_9 - hour, 9 * hour) == monday_9 + 8 * hour
