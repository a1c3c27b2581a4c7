"""Exactly-once changes from several sources: the client's own writes, webhooks and sync.

The identity of a change is ``(entity, id, field, new value)``: a field of a record taking a
value. :class:`ChangeLog` remembers, per record, the last value delivered for each field and
when, and the last known value of every field (the record as last seen: the read a client
update makes first, a sync's row, every event's new values). An event is turned into the
changes not delivered yet within ``window`` seconds; a field whose value equals the last
known one is no change (a webhook's display-always fields), nor is one the metadata marks
read-only (``lastActivityDate`` moves with every change, it never makes one on its own).
Creates and deletes are identified by ``(entity, id)``. The order of arrival does not matter:
a webhook that arrives before the write's response takes the old values from the record the
client read before writing; the write's own event then finds its fields delivered.

Memory is bounded: ``max_records`` records (least recently changed dropped first).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .._registry import spec_for
from .._values import datetime_or_none
from ..exceptions import AutotaskUnknownEntityError

__all__ = ["Change", "ChangeLog", "same_value"]

_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d")


def _norm(value: Any) -> Any:
    """A value in the form two sources agree on: ``True`` and ``1``, ``2.0`` and ``2``, the
    same instant written two ways, JSON text and the structure it holds compare equal."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _DATE_RE.match(text):
            parsed = datetime_or_none(text, naive=True)
            if parsed is not None:
                return parsed.isoformat()
        if text[:1] in ("[", "{"):
            try:
                return json.dumps(json.loads(text), sort_keys=True)
            except ValueError:
                return value
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return _norm(value.isoformat())
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two sources' values are the same value (see :func:`_norm`)."""
    return bool(_norm(a) == _norm(b))


@dataclass(slots=True)
class _Record:
    known: dict[str, Any] = field(default_factory=dict)
    #: field -> (normalised value delivered, monotonic time)
    delivered: dict[str, tuple[Any, float]] = field(default_factory=dict)
    created: float | None = None
    deleted: float | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What reaches the plugins: ``kind`` ``created``, ``updated`` or ``deleted``; ``record``
    the record as far as known; ``old`` / ``new`` the changed fields (updates)."""

    kind: str
    entity: str
    id: int
    record: dict[str, Any]
    old: dict[str, Any]
    new: dict[str, Any]
    source: str


def _read_only(entity: str) -> frozenset[str]:
    try:
        spec = spec_for(entity)
    except AutotaskUnknownEntityError:
        return frozenset()
    return frozenset(name.lower() for name, f in spec.fields.items() if f.read_only)


class ChangeLog:
    """Turns events into :class:`Change` objects, each change once (thread-safe)."""

    def __init__(
        self,
        *,
        window: float = 3600.0,
        max_records: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not window > 0:
            raise ValueError("window must be a number of seconds > 0")
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self.window = window
        self.max_records = max_records
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[tuple[str, int], _Record] = OrderedDict()
        self._read_only: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def _record(self, entity: str, record_id: int) -> _Record:
        key = (entity, record_id)
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = _Record()
            while len(self._records) > self.max_records:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        return rec

    def _fresh(self, at: float | None, now: float) -> bool:
        return at is not None and now - at <= self.window

    def remember(self, entity: str, record_id: int, values: Mapping[str, Any]) -> None:
        """The record as it is now (a read): the old values of the next change."""
        with self._lock:
            self._record(entity, record_id).known.update(values)

    def created(
        self, entity: str, record_id: int, values: Mapping[str, Any], source: str
    ) -> Change | None:
        now = self._clock()
        with self._lock:
            rec = self._record(entity, record_id)
            rec.known.update(values)
            for name, value in values.items():
                rec.delivered.setdefault(name, (_norm(value), now))
            if self._fresh(rec.created, now):
                return None
            rec.created = now
            record = {**rec.known, "id": record_id}
        return Change("created", entity, record_id, record, {}, dict(values), source)

    def deleted(self, entity: str, record_id: int, source: str) -> Change | None:
        now = self._clock()
        with self._lock:
            rec = self._record(entity, record_id)
            if self._fresh(rec.deleted, now):
                return None
            rec.deleted = now
            record = {**rec.known, "id": record_id}
        return Change("deleted", entity, record_id, record, {}, {}, source)

    def updated(
        self,
        entity: str,
        record_id: int,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any],
        source: str,
    ) -> Change | None:
        """The fields of ``new`` that changed and were not delivered yet, or ``None``."""
        read_only = self._read_only.get(entity)
        if read_only is None:
            read_only = self._read_only[entity] = _read_only(entity)
        now = self._clock()
        with self._lock:
            rec = self._record(entity, record_id)
            changed_old: dict[str, Any] = {}
            changed_new: dict[str, Any] = {}
            for name, value in new.items():
                if name == "id" or name.lower() in read_only:
                    continue
                norm = _norm(value)
                last = rec.delivered.get(name)
                if last is not None and last[0] == norm and self._fresh(last[1], now):
                    continue  # delivered already (another source saw it first)
                if old is not None and name in old:
                    before, known = old[name], True
                elif name in rec.known:
                    before, known = rec.known[name], True
                else:
                    before, known = None, False
                if known and _norm(before) == norm:
                    continue  # not a change (a display-always field of a webhook)
                changed_old[name] = before
                changed_new[name] = value
            for name, value in changed_new.items():
                rec.delivered[name] = (_norm(value), now)
            rec.known.update(new)
            if not changed_new:
                return None
            record = {**rec.known, "id": record_id}
        return Change("updated", entity, record_id, record, changed_old, changed_new, source)
