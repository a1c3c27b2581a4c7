"""Plugins: hook specifications (pluggy), the :class:`Plugin` base class and the
:class:`PluginManager`, fed by the in-process event bus (client writes, sync, webhooks, alerts).
See docs/plugins.md."""

from __future__ import annotations

from ._changes import Change, ChangeLog
from ._manager import ENTRYPOINT_GROUP, HookRequest, Plugin, PluginInfo, PluginManager
from ._specs import HookSpecs, hookimpl, hookspec

__all__ = [
    "ENTRYPOINT_GROUP",
    "Change",
    "ChangeLog",
    "HookRequest",
    "HookSpecs",
    "Plugin",
    "PluginInfo",
    "PluginManager",
    "hookimpl",
    "hookspec",
]
