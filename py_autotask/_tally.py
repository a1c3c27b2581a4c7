"""Counts of what the send pipeline really did: requests sent (retries, rejected attempts and
threshold polls included) and rate-limit rejections and waits, per kind.

One :class:`RequestTally` lives on every client (``client.stats.requests``). A job that reports
its own figures (a bulk job's summary) opens a scope with :func:`counting`: every request the
pipeline sends while the scope is active -- in this thread, in asyncio tasks started from it and
in threads started with its ``contextvars`` context -- is counted there too, so the summary equals
what the server received.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Final

__all__ = ["RATE_LIMIT_KINDS", "RequestTally", "active_tallies", "counting"]

#: The rejections a tally counts: Autotask's thread limit (Itgenatr005), any other 429, and the
#: exhausted hourly request threshold.
RATE_LIMIT_KINDS: Final = ("thread_limit", "throttled", "budget")


class RequestTally:
    """Thread-safe counters of one client or one job.

    - ``sent``: HTTP requests sent (every attempt: retries, rejected ones, threshold polls);
    - ``calls``: requests asked of the pipeline (the first attempt of each);
    - ``polls``: ThresholdInformation reads the pacing made on its own;
    - ``retries``: ``sent - calls - polls``, the attempts after a first one;
    - ``rejected``: ``{kind: n}`` rate-limit rejections (``thread_limit``, ``throttled``,
      ``budget``);
    - ``waited``: ``{reason: seconds}`` waited before sending (``thread_limit``, ``throttled``,
      ``budget``, ``pacing``, ``slot``, ``retry``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self.calls = 0
        self.polls = 0
        self._rejected: dict[str, int] = {}
        self._waited: dict[str, float] = {}

    @property
    def retries(self) -> int:
        return max(0, self.sent - self.calls - self.polls)

    @property
    def rejected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._rejected)

    @property
    def waited(self) -> dict[str, float]:
        with self._lock:
            return dict(self._waited)

    def note_call(self) -> None:
        with self._lock:
            self.calls += 1

    def note_sent(self, *, poll: bool = False) -> None:
        with self._lock:
            self.sent += 1
            if poll:
                self.polls += 1

    def note_rejected(self, kind: str) -> None:
        with self._lock:
            self._rejected[kind] = self._rejected.get(kind, 0) + 1

    def note_waited(self, reason: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._waited[reason] = self._waited.get(reason, 0.0) + seconds

    def rate_limits(self) -> dict[str, dict[str, float]]:
        """``{kind: {"rejected": n, "waited": seconds}}`` for every kind that happened."""
        rejected, waited = self.rejected, self.waited
        kinds = [k for k in RATE_LIMIT_KINDS if rejected.get(k) or waited.get(k)]
        kinds += [k for k in sorted(waited) if k not in kinds]
        return {
            k: {"rejected": rejected.get(k, 0), "waited": round(waited.get(k, 0.0), 3)}
            for k in kinds
        }

    def rate_limit_text(self) -> str:
        """``thread limit 6 (4.2s waited), throttled 3 (6.0s)...``; empty when nothing happened."""
        parts = []
        for kind, figures in self.rate_limits().items():
            label = kind.replace("_", " ")
            n = int(figures["rejected"])
            seconds = figures["waited"]
            if n:
                parts.append(f"{label} {n}" + (f" ({seconds:.1f}s waited)" if seconds else ""))
            else:
                parts.append(f"{label} {seconds:.1f}s waited")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "calls": self.calls,
            "retries": self.retries,
            "polls": self.polls,
            "rate_limits": self.rate_limits(),
        }

    def __repr__(self) -> str:
        return (
            f"RequestTally(sent={self.sent}, calls={self.calls}, retries={self.retries}, "
            f"polls={self.polls}, rejected={self.rejected})"
        )


_ACTIVE: ContextVar[tuple[RequestTally, ...]] = ContextVar("py_autotask_tallies", default=())


def active_tallies() -> tuple[RequestTally, ...]:
    """The scopes opened with :func:`counting` in this context (innermost last)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def counting() -> Iterator[RequestTally]:
    """A new :class:`RequestTally` counting what the pipeline sends while the block runs (in this
    context: this thread, and tasks or threads that copied it)."""
    tally = RequestTally()
    token = _ACTIVE.set((*_ACTIVE.get(), tally))
    try:
        yield tally
    finally:
        _ACTIVE.reset(token)
