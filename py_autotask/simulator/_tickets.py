"""The seeded tickets' structure: what an analysis of the simulator's tickets can truly find.

Every number here is documented in docs/simulator.md ("Seeded ticket structure"); the analytics
tests check that a model recovers it. Values come from the ``Tickets`` metadata (the active
``priority``/``queueID``/``status`` picklist values), never from a hand-written list of a tenant's
values. Times are milliseconds since the seed window's start (2023-01-01T00:00 UTC).

Creation volume (a monotone time warp of the evenly spaced creation times, so ids still grow with
creation time): the hourly intensity is ``month x weekday x hour of day x trend`` with the factors
of :data:`MONTH_FACTORS`, :data:`WEEKDAY_FACTORS`, business hours (07:00-19:00 UTC) 1.0 and other
hours :data:`NIGHT_FACTOR`, and a linear trend from 1.0 to :data:`TREND_END` over the window.

Resolution: the work a ticket needs is log-normal, median ``BASE_HOURS * PRIORITY_STEP ** rank``
(rank = position of the ticket's priority among the active values sorted by value, 0 = the
lowest value) times the queue's factor (one per active queue value, log-uniform in
``QUEUE_RANGE``, drawn from the seed), spread ``SIGMA``. Rank 0 is worked around the clock; every
other rank only in business hours (:mod:`py_autotask._bizhours`: Monday-Friday 08:00-17:00 UTC),
which is where the weekday effect on calendar resolution time comes from.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .._bizhours import add_business_ms

__all__ = [
    "BASE_HOURS",
    "PRIORITY_STEP",
    "QUEUE_RANGE",
    "REOPEN_RATE",
    "SIGMA",
    "STALLED_SHARE",
    "TicketStructure",
]

EPOCH = datetime(2023, 1, 1, tzinfo=timezone.utc)
_EPOCH_POSIX_MS = int(EPOCH.timestamp() * 1000)
#: the simulated tenant's "now": tickets not finished by then are open
SNAPSHOT = datetime(2025, 12, 31, tzinfo=timezone.utc)
_SNAPSHOT_MS = int((SNAPSHOT - EPOCH).total_seconds() * 1000)
_HOUR = 3_600_000

MONTH_FACTORS = (1.15, 1.05, 1.05, 1.0, 0.95, 0.9, 0.8, 0.8, 1.1, 1.1, 1.05, 0.85)
WEEKDAY_FACTORS = (1.25, 1.0, 1.0, 1.0, 0.9, 0.15, 0.1)  # Monday .. Sunday
NIGHT_FACTOR = 0.12
TREND_END = 1.3
BASE_HOURS = 2.0
PRIORITY_STEP = 2.2
QUEUE_RANGE = (0.5, 2.0)
SIGMA = 0.45
FIRST_RESPONSE_HOURS = 0.25  # median first response of rank 0; doubles per rank
SLA_SLACK = 1.6  # SLA targets: this times the median (so most, not all, tickets meet them)
REOPEN_RATE = 0.07
SLA_SHARE = 0.8  # tickets with a service level agreement
#: tickets that stall (waiting on the customer, parts, a vendor) and are still open at the snapshot
#: whatever their age: a real tenant's backlog, and what ``status`` filters for open tickets find
STALLED_SHARE = 0.3


@dataclass(frozen=True)
class TicketStructure:
    """The parameters of one seed's tickets plus the creation-time warp."""

    priority_rank: Mapping[Any, int]
    queue_factor: Mapping[Any, float]
    sla_values: Sequence[Any]
    complete_status: Any
    open_statuses: Sequence[Any]
    window_ms: int
    _cumulative: Sequence[float]

    @classmethod
    def from_fields(
        cls, fields: Sequence[Mapping[str, Any]], seed: int, window_ms: int
    ) -> TicketStructure:
        by_name = {str(f.get("name")): f for f in fields}

        def active(name: str) -> list[tuple[Any, str]]:
            f = by_name.get(name) or {}
            out = []
            for p in f.get("picklistValues") or []:
                if p.get("isActive", True):
                    raw = str(p.get("value"))
                    out.append(
                        (int(raw) if raw.lstrip("-").isdigit() else raw, str(p.get("label")))
                    )
            return sorted(out, key=lambda v: (str(type(v[0])), v[0]))

        priorities = active("priority")
        queues = active("queueID")
        statuses = active("status")
        qrng = random.Random(f"py-autotask-seed:{seed}:Tickets:queue-factors")
        lo, hi = math.log(QUEUE_RANGE[0]), math.log(QUEUE_RANGE[1])
        complete = next((v for v, label in statuses if label.lower() == "complete"), 5)
        return cls(
            priority_rank={v: k for k, (v, _) in enumerate(priorities)},
            queue_factor={v: math.exp(qrng.uniform(lo, hi)) for v, _ in queues},
            sla_values=[v for v, _ in active("serviceLevelAgreementID")],
            complete_status=complete,
            open_statuses=[v for v, _ in statuses if v != complete] or [1],
            window_ms=window_ms,
            _cumulative=_intensity(window_ms),
        )

    def expected_work_hours(self, priority: Any, queue: Any) -> float:
        """The median work (business hours; calendar hours for rank 0) a ticket needs."""
        rank = self.priority_rank.get(priority, len(self.priority_rank) // 2)
        return BASE_HOURS * PRIORITY_STEP**rank * self.queue_factor.get(queue, 1.0)

    def warp(self, ts: int) -> int:
        """An evenly spaced creation time -> one following the seasonal intensity (monotone)."""
        cum = self._cumulative
        target = cum[-1] * min(max(ts, 0), self.window_ms) / self.window_ms
        hour = bisect.bisect_left(cum, target)
        if hour >= len(cum):
            return self.window_ms
        prev = cum[hour - 1] if hour > 0 else 0.0
        width = cum[hour] - prev
        frac = (target - prev) / width if width > 0 else 0.0
        return min(int((hour + frac) * _HOUR), self.window_ms)

    def apply(
        self, rec: dict[str, Any], ts: int, rng: random.Random, fmt: Any, modified: Sequence[str]
    ) -> None:
        """Fill the structured fields of one ticket created at ``ts`` (ms since the window start)."""
        rank = self.priority_rank.get(rec.get("priority"), len(self.priority_rank) // 2)
        around_the_clock = rank == 0
        median = self.expected_work_hours(rec.get("priority"), rec.get("queueID"))
        work_ms = int(median * math.exp(rng.gauss(0.0, SIGMA)) * _HOUR)
        fr_median = FIRST_RESPONSE_HOURS * 2**rank
        fr_ms = min(int(fr_median * math.exp(rng.gauss(0.0, 0.6)) * _HOUR), work_ms)
        has_sla = rng.random() < SLA_SHARE and bool(self.sla_values)
        sla = self.sla_values[int(rng.random() * len(self.sla_values))] if has_sla else None
        reopened = rng.random() < REOPEN_RATE
        reopen_gap = int(rng.uniform(1.0, 10.0) * 24 * _HOUR)
        rework_ms = int(median * 0.3 * math.exp(rng.gauss(0.0, SIGMA)) * _HOUR)

        def later(start: int, ms: int) -> int:
            if around_the_clock:
                return start + ms
            return add_business_ms(start + _EPOCH_POSIX_MS, ms) - _EPOCH_POSIX_MS

        first_response = later(ts, fr_ms)
        resolved = later(ts, work_ms)
        completed = later(resolved + reopen_gap, rework_ms) if reopened else resolved
        snapshot = _SNAPSHOT_MS

        def when(ms: int | None) -> str | None:
            return fmt(ms) if ms is not None and ms <= snapshot else None

        rec["firstResponseDateTime"] = when(first_response)
        rec["resolvedDateTime"] = when(resolved)
        rec["completedDate"] = when(completed)
        # drawn from the ticket's own creation time, not the shared stream: the other fields keep
        # the values they had before stalled tickets existed
        stalled = random.Random(ts ^ 0x5EED).random() < STALLED_SHARE
        if stalled:
            rec["resolvedDateTime"] = rec["completedDate"] = None
            resolved = completed = snapshot + 1
        done = completed <= snapshot
        if not done:
            rec["completedByResourceID"] = None
        if done:
            rec["status"] = self.complete_status
        elif rec.get("status") == self.complete_status:
            rec["status"] = self.open_statuses[0]
        if "serviceLevelAgreementID" in rec:
            rec["serviceLevelAgreementID"] = sla
        if sla is not None:
            fr_due = later(ts, int(SLA_SLACK * fr_median * _HOUR))
            res_due = later(ts, int(SLA_SLACK * median * _HOUR))
            rec["firstResponseDueDateTime"] = fmt(fr_due)
            rec["resolvedDueDateTime"] = fmt(res_due)
            rec["serviceLevelAgreementHasBeenMet"] = (
                (first_response <= fr_due and resolved <= res_due) if resolved <= snapshot else None
            )
        else:
            rec["firstResponseDueDateTime"] = None
            rec["resolvedDueDateTime"] = None
            rec["serviceLevelAgreementHasBeenMet"] = None
        # the tenant has no survey data: no service thermometer ratings
        for name in ("currentServiceThermometerRating", "previousServiceThermometerRating"):
            if name in rec:
                rec[name] = None
        if "serviceThermometerTemperature" in rec:
            rec["serviceThermometerTemperature"] = None
        last = completed if done else (resolved if resolved <= snapshot else first_response)
        if last <= snapshot:
            text = fmt(last)
            for name in modified:
                current = rec.get(name)
                if current is None or str(current) < text:
                    rec[name] = text


def _intensity(window_ms: int) -> list[float]:
    """Cumulative hourly creation intensity over the window (``cum[h]`` = weight of hours 0..h)."""
    hours = window_ms // _HOUR + 1
    out: list[float] = []
    total = 0.0
    for h in range(hours):
        at = EPOCH + timedelta(hours=h)
        hour_factor = 1.0 if 7 <= at.hour < 19 else NIGHT_FACTOR
        trend = 1.0 + (TREND_END - 1.0) * h / hours
        total += MONTH_FACTORS[at.month - 1] * WEEKDAY_FACTORS[at.weekday()] * hour_factor * trend
        out.append(total)
    return out
