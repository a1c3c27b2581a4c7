"""The hook specifications (pluggy): what a plugin can implement. docs/plugins.md describes
each hook with its arguments, when it is called and an example."""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["PROJECT", "HookSpecs", "hookimpl", "hookspec"]

#: the pluggy project name and the entry-point group's stem
PROJECT = "py_autotask"
hookspec = pluggy.HookspecMarker(PROJECT)
#: mark a function of a plugin module or class as a hook implementation
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """Every named hook; the generated ``on_<entity>_created``, ``on_<entity>_deleted`` and
    ``on_<entity>_<field>_changed`` hooks are checked against the metadata when a plugin is
    registered (:mod:`py_autotask.plugins._names`)."""

    @hookspec
    def before_request(self, request: Any) -> Any:
        """Before each HTTP attempt is sent: ``request.headers`` (or a returned mapping) adds
        headers; credentials and the client's own headers cannot be set or read."""

    @hookspec
    def after_response(self, request: Any, response: Any) -> None:
        """After each HTTP attempt: ``request`` (method, url without query, entity, operation,
        resend_count) and ``response`` (status, elapsed, kind); no header, no body."""

    @hookspec
    def on_record(self, entity: str, record: dict[str, Any]) -> Any:
        """Each record read (opt-in: ``PluginManager(..., transform_records=True)``): return
        the record to use instead, or ``None`` to keep it."""

    @hookspec
    def on_record_created(self, entity: str, record: dict[str, Any]) -> None:
        """A record was created (entity is the collection name, ``"Tickets"``)."""

    @hookspec
    def on_record_updated(
        self, entity: str, record: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Fields of a record changed: ``old`` and ``new`` hold the changed fields only."""

    @hookspec
    def on_record_deleted(self, entity: str, record_id: int) -> None:
        """A record was deleted."""

    @hookspec
    def on_ticket_created(self, ticket: dict[str, Any]) -> None:
        """A ticket was created (the generated ``on_<entity>_created`` of Tickets)."""

    @hookspec
    def on_ticket_priority_changed(
        self, ticket: dict[str, Any], old_priority: Any, new_priority: Any
    ) -> None:
        """A ticket's priority changed (the generated ``on_<entity>_<field>_changed``)."""

    @hookspec
    def on_alert(self, alert: dict[str, Any]) -> None:
        """An alert was raised (bus topic ``alert.raised``): ``name``, ``severity``
        (``warning``/``critical``), ``message``, ``value``, ``threshold``."""
