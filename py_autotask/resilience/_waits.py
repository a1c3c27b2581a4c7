"""Waiting made visible: one :class:`WaitEvent` when the pipeline waits longer than a notice
threshold before sending (pacing, an exhausted hourly budget, a ``Retry-After``, thread-limit
backoff, a free in-flight slot).

The shells report every wait to the client's :class:`WaitNotices`; a wait (or a run of consecutive
waits of one call or one gate) that reaches ``PacingConfig.wait_notice_after`` seconds produces
one event. Listeners added with ``client.add_wait_listener(fn)`` receive it (from the waiting
thread, or from a watchdog thread for slot waits); without a listener it is logged at WARNING on
``py_autotask.resilience``.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["WaitEvent", "WaitListener", "WaitNotices", "WaitReason", "format_seconds"]

logger = logging.getLogger("py_autotask.resilience")

WaitReason = Literal["pacing", "budget", "thread_limit", "throttled", "retry", "slot"]

_SHORT: Final[dict[str, str]] = {
    "pacing": "pacing",
    "budget": "hourly budget",
    "thread_limit": "thread limit",
    "throttled": "429",
    "retry": "retry",
    "slot": "in-flight slot",
}
_WHAT: Final[dict[str, str]] = {
    "pacing": "pacing requests to this client's share of the hourly request budget",
    "budget": "hourly request budget used up, waiting for the window to drain",
    "thread_limit": "Autotask's thread limit (requests in flight per endpoint) refused requests",
    "throttled": "the server answered 429 Too Many Requests",
    "retry": "backing off before retrying",
    "slot": "every in-flight slot of the endpoint is taken (by other threads or processes)",
}


def format_seconds(seconds: float) -> str:
    """``4m10s``, ``12s``, ``1h02m``."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class WaitEvent:
    """One long wait: ``reason``, the expected ``seconds`` from ``at`` (wall clock; ``None``: not
    known, e.g. a slot held by another process), the ``endpoint`` when it concerns one, and a
    ``detail`` (usage, ``Retry-After``...). ``str(event)`` is the line the CLI prints::

        waiting 4m10s: hourly request budget used up, waiting for the window to drain (tenant
        usage about 98%); resumes about 16:42 UTC
    """

    reason: WaitReason
    seconds: float | None
    at: float
    endpoint: str | None = None
    detail: str = ""

    @property
    def resumes_at(self) -> float | None:
        """Wall-clock time the wait is expected to end (``None``: not known)."""
        return None if self.seconds is None else self.at + self.seconds

    @property
    def what(self) -> str:
        text = _WHAT[self.reason]
        if self.endpoint:
            text += f" on '{self.endpoint}'"
        if self.detail:
            text += f" ({self.detail})"
        return text

    def _resumes(self) -> str:
        resumes = self.resumes_at
        if resumes is None:
            return "resumes when a slot frees"
        clock = _dt.datetime.fromtimestamp(resumes, _dt.timezone.utc)
        stamp = clock.strftime("%H:%M:%S" if (self.seconds or 0) < 120 else "%H:%M")
        return f"resumes about {stamp} UTC"

    def message(self) -> str:
        if self.seconds is None:
            return f"waiting: {self.what}; {self._resumes()}"
        return f"waiting {format_seconds(self.seconds)}: {self.what}; {self._resumes()}"

    def short(self) -> str:
        """For a progress bar: ``waiting 4m10s (hourly budget), resumes about 16:42 UTC``."""
        length = "" if self.seconds is None else f" {format_seconds(self.seconds)}"
        return f"waiting{length} ({_SHORT[self.reason]}), {self._resumes()}"

    def __str__(self) -> str:
        return self.message()


WaitListener = Callable[[WaitEvent], object]


class WaitNotices:
    """The listeners and the notice rules of one client (thread-safe).

    Waits of one reason announced close together (three workers waiting on the same drained
    budget, a storm of thread-limit rejections) give one event: an event is dropped while an
    earlier one of its reason still covers it (until its announced end, and at least ``6 *
    threshold`` seconds, unless it ends more than ``threshold`` seconds later)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._listeners: list[WaitListener] = []
        self._lock = threading.Lock()
        self._announced: dict[str, float] = {}  # reason -> monotonic time its notice covers
        self._watched: dict[int, tuple[float, WaitReason, str | None, str]] = {}
        self._told: set[int] = set()  # watched waits already announced
        self._ids = itertools.count()
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Condition(self._lock)
        self._closed = False

    # --- listeners --------------------------------------------------------------------------------

    def add(self, listener: WaitListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: WaitListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # --- events -----------------------------------------------------------------------------------

    def due(self, waited: float, upcoming: float | None) -> bool:
        """A run that waited ``waited`` seconds and is about to wait ``upcoming`` more reaches
        the threshold (an unknown ``upcoming`` only counts what was waited)."""
        return waited + (upcoming or 0.0) >= self.threshold

    def emit(
        self,
        reason: WaitReason,
        seconds: float | None,
        endpoint: str | None = None,
        detail: str = "",
    ) -> WaitEvent | None:
        """Announce a wait of ``seconds`` starting now (``None``: unknown length); returns the
        event, or ``None`` when an earlier notice of the same reason still covers it."""
        now = time.monotonic()
        covers = now + max(seconds or 0.0, 6 * self.threshold)
        with self._lock:
            if now < self._announced.get(reason, -1.0) and (
                covers <= self._announced[reason] + self.threshold
            ):
                return None
            self._announced[reason] = covers
            listeners = list(self._listeners)
        event = WaitEvent(reason, seconds, time.time(), endpoint, detail)
        if not listeners:
            logger.warning("%s", event)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not break the request
                logger.exception("wait listener %r failed", listener)
        return event

    # --- blocking waits of unknown length (a slot) --------------------------------------------

    def watch(self, reason: WaitReason, endpoint: str | None, detail: str = "") -> int:
        """Start watching a blocking wait; a watchdog thread announces it once it has lasted
        ``threshold`` seconds. Pass the returned handle to :meth:`unwatch` when it ends."""
        handle = next(self._ids)
        with self._lock:
            self._watched[handle] = (time.monotonic(), reason, endpoint, detail)
            if self._watchdog is None and not self._closed:
                self._watchdog = threading.Thread(
                    target=self._watch_loop, name="py-autotask-waits", daemon=True
                )
                self._watchdog.start()
        return handle

    def unwatch(self, handle: int) -> float:
        """Stop watching; returns how long the wait lasted."""
        with self._lock:
            found = self._watched.pop(handle, None)
            self._told.discard(handle)
        return time.monotonic() - found[0] if found else 0.0

    def _watch_loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                self._wake.wait(min(1.0, max(0.05, self.threshold / 4)))
                now = time.monotonic()
                late = [
                    (h, entry)
                    for h, entry in self._watched.items()
                    if h not in self._told and now - entry[0] >= self.threshold
                ]
                self._told.update(h for h, _entry in late)  # announced once
            for _h, (_started, reason, endpoint, detail) in late:
                self.emit(reason, None, endpoint, detail)

    def close(self) -> None:
        """Stop the watchdog thread (the client is closing); it is gone when this returns."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(5.0)
