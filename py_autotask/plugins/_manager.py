"""The :class:`Plugin` base class and the :class:`PluginManager` (pluggy underneath).

A manager serves one client (or none: events only). It subscribes to the in-process event bus
(:mod:`py_autotask._events`): ``record.*`` changes from the client's writes, sync and webhooks,
turned into exactly-once changes by :class:`~py_autotask.plugins._changes.ChangeLog`, and
``alert.raised``. On the client it adds a header hook (``before_request``), an observer
(``after_response``) and, opt-in, a record hook (``on_record``).

A registered plugin starts enabled (as pytest and datasette plugins do); ``enable_plugin`` on
an enabled plugin does nothing, so the seed plan's ``register_plugin(...)`` then
``enable_plugin(...)`` reads as written. ``register_plugin(plugin, enabled=False)`` starts it
disabled; ``load_entrypoints(disabled=...)`` takes the names to leave off (the CLI's config).

A hook that raises never breaks the request or the job: the error is logged, reported to the
client's observers (``plugin_failed``: metrics count it), and after ``max_failures`` failures
the plugin is disabled. With ``strict=True`` nothing is disabled and the error propagates where
the hook runs inside the caller's call (``before_request``, ``on_record``); event hooks and
``after_response`` run under the event bus and the observers, which log and contain errors.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pluggy

from .. import _events
from .._observe import Observer, RequestInfo, RequestOutcome
from ..exceptions import AutotaskConfigError
from ._changes import Change, ChangeLog
from ._names import entity_hooks, generated_hook
from ._specs import PROJECT, HookSpecs

if TYPE_CHECKING:
    from .._core import ApiRequest, ClientCore

__all__ = ["ENTRYPOINT_GROUP", "HookRequest", "Plugin", "PluginInfo", "PluginManager"]

_log = logging.getLogger("py_autotask.plugins")

#: the entry-point group plugins are discovered in
ENTRYPOINT_GROUP = "py_autotask.plugins"

_NAMED: frozenset[str] = frozenset(name for name in vars(HookSpecs) if not name.startswith("_"))
#: hooks that need the old values of a client's updates
_UPDATE_HOOKS = ("on_record_updated",)


class Plugin:
    """Base class of the seed plan's plugins: set ``name`` and ``version``, define methods named
    after hooks (``on_ticket_created(self, ticket)``...); no decorator is needed. Methods whose
    names start with ``on_`` must be hooks (a typo is refused when the plugin is registered)."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"


@dataclass
class HookRequest:
    """What ``before_request`` sees: the request's method, URL without its query string,
    entity, operation, and ``headers``, the headers the plugins add (empty at first)."""

    method: str
    url: str
    entity: str | None
    operation: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A row of :meth:`PluginManager.list_plugins`."""

    name: str
    version: str
    enabled: bool
    #: ``"registered"``, or ``"entrypoint:<distribution>"``
    source: str
    failures: int
    hooks: tuple[str, ...]
    #: why an entry point could not be loaded, else ``None``
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "enabled": self.enabled,
            "source": self.source,
            "failures": self.failures,
            "hooks": list(self.hooks),
            "error": self.error,
        }


@dataclass(eq=False)
class _Entry:
    name: str
    plugin: Any
    version: str
    source: str
    enabled: bool = True
    failures: int = 0
    error: str | None = None


class _HasSender(Protocol):
    @property
    def sender(self) -> Any: ...


class _Pluggy(pluggy.PluginManager):
    """pluggy, also taking the seed's style: a :class:`Plugin`'s methods named after hooks."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is not None or not isinstance(plugin, Plugin):
            return opts
        if name in _NAMED or name.startswith("on_"):
            method = getattr(plugin, name, None)
            if callable(method):
                return {
                    "wrapper": False,
                    "hookwrapper": False,
                    "optionalhook": False,
                    "tryfirst": False,
                    "trylast": False,
                    "specname": None,
                }
        return None


def _plugin_name(plugin: Any, name: str | None) -> str:
    found = name or getattr(plugin, "name", None) or ""
    if not found and isinstance(plugin, ModuleType):
        found = plugin.__name__
    if not found:
        found = type(plugin).__name__
    if not isinstance(found, str) or not found.strip():
        raise AutotaskConfigError("a plugin needs a name (the class attribute name)")
    return found.strip()


class _RequestObserver(Observer):
    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        self.manager._call("after_response", {"request": info, "response": outcome})


class PluginManager:
    """Registers, enables, disables and lists plugins and calls their hooks; see the module
    docstring. ``client`` may be ``None`` (events only: sync, webhooks, alerts). Use it as a
    context manager, or call :meth:`close`, to detach it from the client and the bus."""

    def __init__(
        self,
        client: _HasSender | None = None,
        *,
        strict: bool = False,
        max_failures: int = 3,
        transform_records: bool = False,
        bus: _events.EventBus | None = None,
        dedup_window: float = 3600.0,
        max_records: int = 10_000,
    ) -> None:
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise AutotaskConfigError("max_failures must be an integer >= 1")
        self.strict = strict
        self.max_failures = max_failures
        self.changes = ChangeLog(window=dedup_window, max_records=max_records)
        self._lock = threading.RLock()
        self._pm = _Pluggy(PROJECT)
        self._pm.add_hookspecs(HookSpecs)
        self._entries: dict[str, _Entry] = {}
        self._core: ClientCore | None = client.sender.reader if client is not None else None
        self._observer = _RequestObserver(self)
        self._watching = False
        self._closed = False
        self._bus = bus if bus is not None else _events.bus
        self._unsubscribe = [
            self._bus.subscribe("record.*", self._on_change),
            self._bus.subscribe("alert.raised", self._on_alert),
        ]
        core = self._core
        if core is not None:
            core.on_close.append(self.close)  # closing the client detaches the manager
            core.header_hooks = (*core.header_hooks, self._before_request)
            core.observers.add(self._observer)
            if transform_records:
                if core.record_hook is not None:
                    raise AutotaskConfigError("this client already has a record transformer")
                core.record_hook = self._on_record
        self._transforms = transform_records and core is not None

    # --- registry -------------------------------------------------------------------------------

    def register_plugin(self, plugin: Any, *, name: str | None = None, enabled: bool = True) -> str:
        """Register ``plugin`` (a :class:`Plugin`, an object or module with ``@hookimpl``
        functions, or a :class:`Plugin` subclass, instantiated); its name is returned. A hook
        name that does not exist, or a generated hook with wrong argument names, is refused."""
        return self._register(plugin, name=name, enabled=enabled, source="registered")

    def _register(self, plugin: Any, *, name: str | None, enabled: bool, source: str) -> str:
        if inspect.isclass(plugin) and issubclass(plugin, Plugin):
            plugin = plugin()
        plugin_name = _plugin_name(plugin, name)
        with self._lock:
            if plugin_name in self._entries:
                raise AutotaskConfigError(f"a plugin named {plugin_name!r} is registered already")
            try:
                self._pm.register(plugin, plugin_name)
            except pluggy.PluginValidationError as exc:
                raise AutotaskConfigError(f"plugin {plugin_name!r}: {exc}") from None
            try:
                self._check(plugin_name)
            except BaseException:
                self._pm.unregister(name=plugin_name)
                raise
            version = str(getattr(plugin, "version", None) or getattr(plugin, "__version__", "0"))
            entry = _Entry(plugin_name, plugin, version, source, enabled=enabled)
            self._entries[plugin_name] = entry
            if not enabled:
                self._pm.unregister(name=plugin_name)
            self._rewatch()
        return plugin_name

    def _check(self, name: str) -> None:
        """Every hook of the plugin ``name`` is a real one, with arguments it has."""
        for caller in self._pm.get_hookcallers(self._pm.get_plugin(name)) or []:
            if caller.name in _NAMED:
                continue
            try:
                hook = generated_hook(caller.name)
            except ValueError as exc:
                raise AutotaskConfigError(f"plugin {name!r}: {exc}") from None
            for impl in caller.get_hookimpls():
                if impl.plugin_name == name and not set(impl.argnames) <= set(hook.argnames):
                    raise AutotaskConfigError(
                        f"plugin {name!r}: {caller.name} takes ({', '.join(hook.argnames)}), "
                        f"not ({', '.join(impl.argnames)})"
                    )

    def unregister_plugin(self, name: str) -> None:
        with self._lock:
            entry = self._entry(name)
            if entry.enabled:
                self._pm.unregister(name=name)
            del self._entries[name]
            self._rewatch()

    def enable_plugin(self, name: str) -> None:
        with self._lock:
            entry = self._entry(name)
            if entry.error is not None:
                raise AutotaskConfigError(f"plugin {name!r} could not be loaded: {entry.error}")
            if not entry.enabled:
                self._pm.register(entry.plugin, name)
                entry.enabled = True
                entry.failures = 0
            self._rewatch()

    def disable_plugin(self, name: str) -> None:
        with self._lock:
            entry = self._entry(name)
            if entry.enabled:
                self._pm.unregister(name=name)
                entry.enabled = False
            self._rewatch()

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise AutotaskConfigError(f"no plugin named {name!r} (registered: {known})")
        return entry

    def get_plugin(self, name: str) -> Any:
        """The plugin object registered as ``name``."""
        return self._entry(name).plugin

    def list_plugins(self) -> list[PluginInfo]:
        """Every plugin: name, version, enabled, source, failures, hooks, load error."""
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: e.name)
            return [
                PluginInfo(
                    e.name, e.version, e.enabled, e.source, e.failures, self._hooks_of(e), e.error
                )
                for e in entries
            ]

    def _hooks_of(self, entry: _Entry) -> tuple[str, ...]:
        if entry.error is not None:
            return ()
        if isinstance(entry.plugin, Plugin):
            names = [
                n
                for n in dir(entry.plugin)
                if (n in _NAMED or n.startswith("on_")) and callable(getattr(entry.plugin, n))
            ]
        else:
            names = [
                n
                for n in dir(entry.plugin)
                if self._pm.parse_hookimpl_opts(entry.plugin, n) is not None
            ]
        return tuple(sorted(names))

    def load_entrypoints(self, *, disabled: Iterable[str] = ()) -> list[str]:
        """Register the plugins of the ``py_autotask.plugins`` entry-point group (each entry
        point: a :class:`Plugin` subclass or instance, or a module with ``@hookimpl``
        functions); those named in ``disabled`` start disabled. One that cannot be imported is
        logged and listed with its error. Returns the names registered."""
        off = set(disabled)
        names: list[str] = []
        for ep in importlib.metadata.entry_points(group=ENTRYPOINT_GROUP):
            dist = getattr(ep.dist, "name", None) or ep.value
            source = f"entrypoint:{dist}"
            with self._lock:
                if any(e.source == source and e.name == ep.name for e in self._entries.values()):
                    continue
            try:
                obj = ep.load()
                if inspect.isclass(obj) and issubclass(obj, Plugin):
                    obj = obj()
                name = _plugin_name(obj, getattr(obj, "name", None) or ep.name)
                if name in self._entries:
                    continue
                self._register(obj, name=name, enabled=name not in off, source=source)
            except Exception as exc:
                _log.warning("plugin entry point %s (%s) not loaded: %s", ep.name, dist, exc)
                with self._lock:
                    self._entries.setdefault(
                        ep.name,
                        _Entry(ep.name, None, "?", source, enabled=False, error=str(exc)),
                    )
                continue
            names.append(name)
        return names

    # --- calling hooks --------------------------------------------------------------------------

    def _call(self, hook: str, kwargs: Mapping[str, Any]) -> list[Any]:
        """Call ``hook`` on each enabled plugin implementing it, each failure contained."""
        caller = getattr(self._pm.hook, hook, None)
        if caller is None:
            return []
        results: list[Any] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                results.append(impl.function(*[kwargs[a] for a in impl.argnames]))
            except Exception:
                self._failed(impl.plugin_name, hook)
        return results

    def _failed(self, name: str, hook: str) -> None:
        _log.exception("plugin %s failed in %s", name, hook)
        core = self._core
        if core is not None:
            core.observers.plugin_failed(name, hook)
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                entry.failures += 1
                if not self.strict and entry.enabled and entry.failures >= self.max_failures:
                    _log.error(
                        "plugin %s disabled after %d failures (enable it again with "
                        "enable_plugin or `py-autotask plugins enable %s`)",
                        name,
                        entry.failures,
                        name,
                    )
                    self.disable_plugin(name)
        if self.strict:
            raise

    def _rewatch(self) -> None:
        """Keep the client reading records before updates only while an enabled plugin has an
        update hook (it costs one GET per update)."""
        core = self._core
        wants = core is not None and not self._closed and self._wants_updates()
        if core is None or wants == self._watching:
            return
        core.update_watchers += 1 if wants else -1
        self._watching = wants

    def _wants_updates(self) -> bool:
        for caller in self._pm.hook.__dict__.values():
            name = getattr(caller, "name", "")
            if not caller.get_hookimpls():
                continue
            if name in _UPDATE_HOOKS or name.endswith("_changed"):
                return True
        return False

    # --- the client's hooks ---------------------------------------------------------------------

    def _before_request(self, request: ApiRequest, url: str) -> Mapping[str, str] | None:
        caller = self._pm.hook.before_request
        if not caller.get_hookimpls():
            return None
        view = HookRequest(request.method, url, request.entity, request.operation)
        for result in self._call("before_request", {"request": view}):
            if isinstance(result, Mapping):
                view.headers.update({str(k): v for k, v in result.items()})
        return view.headers

    def _on_record(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        for result in self._call("on_record", {"entity": entity, "record": record}):
            if isinstance(result, dict):
                record = result
        return record

    # --- events ---------------------------------------------------------------------------------

    def _on_alert(self, topic: str, payload: Mapping[str, Any]) -> None:
        self._call("on_alert", {"alert": dict(payload)})

    def _on_change(self, topic: str, payload: Mapping[str, Any]) -> None:
        entity = payload.get("entity")
        record_id = payload.get("id")
        if not isinstance(entity, str) or not entity or not isinstance(record_id, int):
            return
        source = str(payload.get("source") or "webhook")
        old = payload.get("old")
        new = payload.get("new") or {}
        log = self.changes
        change: Change | None
        if topic == "record.updating":
            if isinstance(old, Mapping):
                log.remember(entity, record_id, old)
            return
        if topic == "record.created":
            change = log.created(entity, record_id, new, source)
        elif topic == "record.updated":
            change = log.updated(
                entity, record_id, old if isinstance(old, Mapping) else None, new, source
            )
        elif topic == "record.deleted":
            change = log.deleted(entity, record_id, source)
        else:
            return
        if change is not None:
            self.deliver(change)

    def deliver(self, change: Change) -> None:
        """Call the hooks of one change: the generic one, then the entity's generated ones."""
        try:
            hooks = entity_hooks(change.entity)
        except Exception:
            return
        record = change.record
        if change.kind == "created":
            self._call("on_record_created", {"entity": change.entity, "record": record})
            self._call(hooks.created, {hooks.singular: record})
        elif change.kind == "deleted":
            self._call("on_record_deleted", {"entity": change.entity, "record_id": change.id})
            self._call(hooks.deleted, {"record_id": change.id})
        else:
            self._call(
                "on_record_updated",
                {"entity": change.entity, "record": record, "old": change.old, "new": change.new},
            )
            for name, value in change.new.items():
                found = hooks.changed.get(name.lower())
                if found is None:
                    continue
                _api, hook, args = found
                self._call(
                    hook, dict(zip(args, (record, change.old.get(name), value), strict=True))
                )

    # --- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Detach from the client and the bus (the plugins stay registered)."""
        if self._closed:
            return
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        core = self._core
        if core is not None:
            if self.close in core.on_close:
                core.on_close.remove(self.close)
            core.header_hooks = tuple(h for h in core.header_hooks if h != self._before_request)
            core.observers.remove(self._observer)
            if self._transforms and core.record_hook == self._on_record:
                core.record_hook = None
            if self._watching:
                core.update_watchers -= 1
                self._watching = False
        self._closed = True

    def __enter__(self) -> PluginManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        enabled = [e.name for e in self._entries.values() if e.enabled]
        return f"PluginManager(enabled={enabled!r})"
