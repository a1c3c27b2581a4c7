"""Request journal (what the server received and answered) and the change feed (what it committed)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ChangeEvent", "ChangeFeed", "Journal", "JournalEntry"]


@dataclass
class JournalEntry:
    seq: int
    method: str
    path: str
    entity: str | None
    operation: str | None
    integration_code: str | None
    username: str | None
    status: int = 0
    item_ids: list[int] = field(default_factory=list)
    record_count: int | None = None
    in_flight_at_start: int = 0
    outcome: str = "ok"  # ok | error | rejected_thread | rejected_budget | fault:<type> | ...
    error: str | None = None
    started_at: float = 0.0  # real time.time()
    finished_at: float = 0.0
    virtual_started_at: float = 0.0
    budget_latency: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """Bounded, thread-safe list of requests."""

    def __init__(self, maxlen: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=maxlen)
        self._seq = 0

    def start(self, **kwargs: Any) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry = JournalEntry(seq=self._seq, **kwargs)
            self._entries.append(entry)
            return entry

    def entries(
        self,
        *,
        method: str | None = None,
        entity: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        outcome: str | None = None,
        since: int | None = None,
        path_contains: str | None = None,
    ) -> list[JournalEntry]:
        with self._lock:
            items = list(self._entries)
        out = []
        for e in items:
            if method and e.method.upper() != method.upper():
                continue
            if entity and (e.entity or "").lower() != entity.lower():
                continue
            if operation and (e.operation or "") != operation:
                continue
            if status is not None and e.status != status:
                continue
            if outcome and not e.outcome.startswith(outcome):
                continue
            if since is not None and e.seq <= since:
                continue
            if path_contains and path_contains.lower() not in e.path.lower():
                continue
            out.append(e)
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class ChangeEvent:
    sequence: int
    action: str  # created | updated | deleted
    entity: str
    id: int
    time: str  # virtual time, Autotask datetime format
    fields: list[str]  # fields whose value changed (created: all non-null fields)
    resource_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChangeFeed:
    """Committed writes in order: the seam for webhook callouts."""

    def __init__(self, maxlen: int = 500_000) -> None:
        self._lock = threading.Lock()
        self._events: deque[ChangeEvent] = deque(maxlen=maxlen)
        self._seq = 0
        self._cond = threading.Condition(self._lock)
        #: called with each event, in sequence order, while the feed is locked (keep them quick)
        self.listeners: list[Callable[[ChangeEvent], None]] = []

    def emit(self, **kwargs: Any) -> ChangeEvent:
        with self._lock:
            self._seq += 1
            ev = ChangeEvent(sequence=self._seq, **kwargs)
            self._events.append(ev)
            self._cond.notify_all()
            for listener in self.listeners:
                listener(ev)
            return ev

    def since(self, sequence: int = 0, entity: str | None = None) -> list[ChangeEvent]:
        with self._lock:
            return [
                e
                for e in self._events
                if e.sequence > sequence and (entity is None or e.entity.lower() == entity.lower())
            ]

    @property
    def last_sequence(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
