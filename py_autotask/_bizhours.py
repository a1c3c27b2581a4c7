"""The business calendar: Monday to Friday, 08:00 to 17:00 UTC, no holidays (9 hours a day).

One copy of the rule, used by the simulator's seeded tickets (work on non-urgent tickets happens in
business hours) and by :mod:`py_autotask.analytics` (resolution and first-response times in
business hours). Times are POSIX milliseconds (UTC). The Autotask REST API does not expose a
tenant's business-hours calendar per ticket, so this fixed calendar is a documented assumption,
not a fact read from the tenant.
"""

from __future__ import annotations

__all__ = ["CLOSE_HOUR", "OPEN_HOUR", "add_business_ms", "business_ms", "business_ms_between"]

OPEN_HOUR = 8
CLOSE_HOUR = 17
_HOUR = 3_600_000
_DAY = 24 * _HOUR
_OPEN = OPEN_HOUR * _HOUR
_LEN = (CLOSE_HOUR - OPEN_HOUR) * _HOUR  # business ms per working day
_WEEK = 5 * _LEN  # business ms per week
_MONDAY_SHIFT = 3  # 1970-01-01 was a Thursday: day + 3 counts days from Monday 1969-12-29


def business_ms(t: int) -> int:
    """Business milliseconds from a fixed Monday to ``t`` (a monotone clock: only differences count)."""
    day, into = divmod(t, _DAY)
    weeks, weekday = divmod(day + _MONDAY_SHIFT, 7)
    total = weeks * _WEEK + min(weekday, 5) * _LEN
    if weekday < 5:
        total += min(max(into - _OPEN, 0), _LEN)
    return total


def business_ms_between(start: int, end: int) -> int:
    """Business milliseconds between two instants (negative when ``end`` is before ``start``)."""
    return business_ms(end) - business_ms(start)


def add_business_ms(start: int, duration: int) -> int:
    """The instant ``duration`` business milliseconds after ``start`` (the next opening when
    ``start`` lies outside business hours)."""
    target = business_ms(start) + max(duration, 0)
    weeks, rest = divmod(target, _WEEK)
    weekday, into = divmod(rest, _LEN)
    if into == 0 and weekday == 0 and duration > 0:
        # exactly at a week boundary: the end of the previous Friday, not the next Monday's opening
        weeks, weekday, into = weeks - 1, 4, _LEN
    elif into == 0 and duration > 0:
        weekday, into = weekday - 1, _LEN
    return (weeks * 7 + weekday - _MONDAY_SHIFT) * _DAY + _OPEN + into
