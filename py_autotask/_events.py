"""The in-process event bus: features publish what happened (``record.created``,
``record.updated``, ``record.deleted`` ...), plugins and caches subscribe.

``subscribe(topic, fn)`` returns a callable that unsubscribes; ``"*"`` receives every topic and
``"record.*"`` every topic under ``record.``. ``publish(topic, payload)`` calls the subscribers in
the order they subscribed, on the publisher's thread; a subscriber that raises is logged and the
others still run (one broken plugin never stops the receiver or a sync). :data:`bus` is the
process-wide default instance; :func:`subscribe` and :func:`publish` use it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["EventBus", "Subscriber", "bus", "publish", "subscribe"]

_log = logging.getLogger("py_autotask.events")

#: a subscriber receives the topic and the payload
Subscriber = Callable[[str, Mapping[str, Any]], object]


class EventBus:
    """Topic -> subscribers; thread-safe (the receiver publishes from its workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[str, Subscriber]] = []

    def subscribe(self, topic: str, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(topic, payload)`` for every event published under ``topic`` (exact,
        ``"*"``, or a ``"prefix.*"`` pattern); returns the callable that unsubscribes it."""
        if not isinstance(topic, str) or not topic:
            raise ValueError("topic must be a non-empty string such as 'record.updated' or '*'")
        entry = (topic, fn)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def subscribers(self, topic: str) -> list[Subscriber]:
        """The subscribers ``publish(topic, ...)`` would call, in order."""
        with self._lock:
            entries = list(self._subscribers)
        return [fn for pattern, fn in entries if _matches(pattern, topic)]

    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Deliver ``payload`` to the subscribers of ``topic``; returns how many were called."""
        called = 0
        for fn in self.subscribers(topic):
            called += 1
            try:
                fn(topic, payload)
            except Exception:
                _log.exception("event bus subscriber %r failed on %s", fn, topic)
        return called


def _matches(pattern: str, topic: str) -> bool:
    if pattern == "*" or pattern == topic:
        return True
    return pattern.endswith(".*") and topic.startswith(pattern[:-1])


#: the process-wide default bus
bus = EventBus()


def subscribe(topic: str, fn: Subscriber) -> Callable[[], None]:
    """:meth:`EventBus.subscribe` on the default :data:`bus`."""
    return bus.subscribe(topic, fn)


def publish(topic: str, payload: Mapping[str, Any]) -> int:
    """:meth:`EventBus.publish` on the default :data:`bus`."""
    return bus.publish(topic, payload)
