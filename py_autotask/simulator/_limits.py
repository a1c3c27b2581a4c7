"""Virtual clock, rolling hourly request budget, per-endpoint thread limiter, attachment budget."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from datetime import datetime, timezone

__all__ = ["AttachmentBudget", "Clock", "HourlyBudget", "ThreadLimiter"]


class Clock:
    """Virtual time: ``now = start + real_elapsed * scale + manual offset``.

    Latency the simulator injects is virtual too: ``await clock.sleep(s)`` waits ``s / scale``
    real seconds, so with ``time_scale=3600`` a simulated hour passes in one real second.
    """

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._scale = float(time_scale)
        self._anchor_real = time.monotonic()
        if start is None:
            self._anchor_virtual = time.time()
        elif start.tzinfo is None:
            self._anchor_virtual = start.replace(tzinfo=timezone.utc).timestamp()
        else:
            self._anchor_virtual = start.timestamp()

    @property
    def scale(self) -> float:
        return self._scale

    def time(self) -> float:
        """Virtual POSIX timestamp (seconds)."""
        with self._lock:
            return self._anchor_virtual + (time.monotonic() - self._anchor_real) * self._scale

    def now(self) -> datetime:
        """Virtual UTC time as a naive datetime."""
        return datetime.fromtimestamp(self.time(), tz=timezone.utc).replace(tzinfo=None)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._anchor_virtual += float(seconds)

    def set_scale(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("time_scale must be > 0")
        with self._lock:
            now_real = time.monotonic()
            self._anchor_virtual += (now_real - self._anchor_real) * self._scale
            self._anchor_real = now_real
            self._scale = float(scale)

    def set_time(self, value: datetime) -> None:
        ts = (
            value.replace(tzinfo=timezone.utc).timestamp()
            if value.tzinfo is None
            else value.timestamp()
        )
        with self._lock:
            self._anchor_real = time.monotonic()
            self._anchor_virtual = ts

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds) / self._scale

    async def sleep(self, virtual_seconds: float) -> None:
        if virtual_seconds > 0:
            await asyncio.sleep(self.real_seconds(virtual_seconds))

    def to_dict(self) -> dict[str, object]:
        from ._values import format_datetime

        return {"now": format_datetime(self.now()), "timestamp": self.time(), "scale": self._scale}


class HourlyBudget:
    """Rolling window of counted requests for the whole simulated database."""

    def __init__(self, clock: Clock, threshold: int, timeframe_minutes: int) -> None:
        self.clock = clock
        self.threshold = threshold
        self.timeframe_minutes = timeframe_minutes
        self._events: deque[list[float]] = deque()  # [virtual timestamp, count]
        self._total = 0
        self._lock = threading.Lock()

    @property
    def window_seconds(self) -> float:
        return self.timeframe_minutes * 60.0

    def _prune(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._events and self._events[0][0] <= horizon:
            self._total -= int(self._events.popleft()[1])

    def current(self) -> int:
        with self._lock:
            self._prune(self.clock.time())
            return self._total

    def acquire(self) -> tuple[bool, int]:
        """Count one request. Returns (accepted, requests in the window before this one).
        Rejected requests (window already at the threshold) are not counted."""
        with self._lock:
            now = self.clock.time()
            self._prune(now)
            prior = self._total
            if self.threshold > 0 and prior >= self.threshold:
                return False, prior
            self._add(now, 1)
            return True, prior

    def _add(self, now: float, n: int) -> None:
        if self._events and self._events[-1][0] == now:
            self._events[-1][1] += n
        else:
            self._events.append([now, float(n)])
        self._total += n

    def preload(self, count: int, age_seconds: float = 0.0) -> None:
        """Add ``count`` requests stamped ``age_seconds`` ago (0 = now)."""
        with self._lock:
            now = self.clock.time()
            self._prune(now)
            if count > 0:
                self._events.append([now - age_seconds, float(count)])
                self._total += count
                self._events = deque(sorted(self._events, key=lambda e: e[0]))

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._total = 0


class ThreadLimiter:
    """In-flight requests per (integration code, endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, str], int] = {}

    def try_enter(self, key: tuple[str, str], limit: int) -> tuple[bool, int]:
        """Returns (admitted, in-flight count at start)."""
        with self._lock:
            n = self._inflight.get(key, 0)
            if limit > 0 and n >= limit:
                return False, n
            self._inflight[key] = n + 1
            return True, n

    def leave(self, key: tuple[str, str]) -> None:
        with self._lock:
            n = self._inflight.get(key, 0) - 1
            if n <= 0:
                self._inflight.pop(key, None)
            else:
                self._inflight[key] = n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{k[0]}|{k[1]}": v for k, v in self._inflight.items()}


class AttachmentBudget:
    """Bytes of attachment data accepted per rolling window; a breach blocks for one window."""

    def __init__(self, clock: Clock, window_bytes: int, window_seconds: float) -> None:
        self.clock = clock
        self.window_bytes = window_bytes
        self.window_seconds = window_seconds
        self._events: deque[tuple[float, int]] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def try_add(self, size: int) -> bool:
        with self._lock:
            now = self.clock.time()
            if now < self._blocked_until:
                return False
            while self._events and self._events[0][0] <= now - self.window_seconds:
                self._events.popleft()
            used = sum(n for _, n in self._events)
            if self.window_bytes > 0 and used + size > self.window_bytes:
                self._blocked_until = now + self.window_seconds
                return False
            self._events.append((now, size))
            return True

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._blocked_until = 0.0
