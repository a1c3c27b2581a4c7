"""An example py-autotask plugin: POST a JSON message for each record change.

The URL comes from ``PY_AUTOTASK_NOTIFIER_URL`` (or ``NotifierPlugin(url=...)``); without one
the plugin does nothing. A failed POST raises: the plugin manager logs it, counts it and
disables the plugin after its ``max_failures``, and the job goes on.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from py_autotask.plugins import Plugin

__all__ = ["NotifierPlugin"]

ENV = "PY_AUTOTASK_NOTIFIER_URL"


class NotifierPlugin(Plugin):
    name = "notifier"
    version = "1.0.0"

    def __init__(self, url: str | None = None, timeout: float = 5.0) -> None:
        self.url = url or os.environ.get(ENV) or None
        self.timeout = timeout

    def _post(self, message: dict[str, Any]) -> None:
        if self.url is None:
            return
        response = httpx.post(self.url, json=message, timeout=self.timeout)
        response.raise_for_status()

    def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
        self._post(
            {
                "plugin": self.name,
                "event": "created",
                "entity": entity,
                "id": record["id"],
                "old": None,
                "new": record,
                "text": f"{entity} {record['id']} created",
            }
        )

    def on_record_updated(
        self, entity: str, record: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        changes = ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in sorted(new.items()))
        self._post(
            {
                "plugin": self.name,
                "event": "updated",
                "entity": entity,
                "id": record["id"],
                "old": old,
                "new": new,
                "text": f"{entity} {record['id']} updated: {changes}",
            }
        )

    def on_record_deleted(self, entity: str, record_id: int) -> None:
        self._post(
            {
                "plugin": self.name,
                "event": "deleted",
                "entity": entity,
                "id": record_id,
                "old": None,
                "new": None,
                "text": f"{entity} {record_id} deleted",
            }
        )
