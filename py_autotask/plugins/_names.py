"""The generated hook names: ``on_<entity>_created``, ``on_<entity>_deleted`` and
``on_<entity>_<field>_changed`` for every entity and field of the metadata.

One rule, derived from the specs (no hand-written table): ``<entity>`` is the entity's singular
name in snake case, as webhook topics spell it (``Ticket`` -> ``ticket``, ``ConfigurationItem``
-> ``configuration_item``); ``<field>`` is the field's Python name on the generated model
(``priority``, ``assigned_resource_id``). The hooks' arguments are ``<entity>`` (the record),
``old_<field>`` / ``new_<field>`` and, for ``deleted``, ``record_id``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from .._registry import spec_for
from .._spec import EntitySpec
from ..exceptions import AutotaskUnknownEntityError

__all__ = ["EntityHooks", "GeneratedHook", "entity_hooks", "generated_hook", "snake_singular"]


def snake_singular(spec: EntitySpec) -> str:
    """``Ticket`` -> ``ticket``: the webhook topics' entity part (their rule, imported when
    first needed: the webhooks package is not loaded by a job that has no plugin)."""
    from ..webhooks._events import topic_name

    return topic_name(spec.singular, "").rstrip(".")


@dataclass(frozen=True, slots=True)
class GeneratedHook:
    """What a generated hook name means: its collection, kind (``created``, ``deleted``,
    ``changed``), field (API name, for ``changed``) and argument names."""

    entity: str
    kind: str
    field: str | None
    argnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EntityHooks:
    """The generated hook names of one entity."""

    singular: str
    created: str
    deleted: str
    #: API field name (lower-case) -> (hook name, argnames)
    changed: Mapping[str, tuple[str, str, tuple[str, ...]]]


@functools.cache
def entity_hooks(entity: str) -> EntityHooks:
    spec = spec_for(entity)
    singular = snake_singular(spec)
    changed = {
        api.lower(): (
            api,
            f"on_{singular}_{f.py_name}_changed",
            (singular, f"old_{f.py_name}", f"new_{f.py_name}"),
        )
        for api, f in spec.fields.items()
        if api != "id"
    }
    return EntityHooks(singular, f"on_{singular}_created", f"on_{singular}_deleted", changed)


def _entity_of(words: list[str]) -> tuple[EntitySpec, int] | None:
    """The entity whose snake singular is the longest prefix of ``words`` (and its length)."""
    for k in range(len(words), 0, -1):
        candidate = "".join(w.capitalize() for w in words[:k])
        try:
            spec = spec_for(candidate)
        except AutotaskUnknownEntityError:
            continue
        if snake_singular(spec) == "_".join(words[:k]):
            return spec, k
    return None


@functools.lru_cache(maxsize=1024)
def generated_hook(name: str) -> GeneratedHook:
    """The meaning of a generated hook name; ``ValueError`` saying what the names are."""
    words = name.split("_")
    found = _entity_of(words[1:-1]) if len(words) >= 3 and words[0] == "on" else None
    if found is not None:
        spec, k = found
        hooks = entity_hooks(spec.name)
        rest = "_".join(words[1 + k :])
        if rest == "created":
            return GeneratedHook(spec.name, "created", None, (hooks.singular,))
        if rest == "deleted":
            return GeneratedHook(spec.name, "deleted", None, ("record_id",))
        for api, hook, args in hooks.changed.values():
            if hook == name:
                return GeneratedHook(spec.name, "changed", api, args)
        fields = [hook for _api, hook, _args in hooks.changed.values()]
        close = difflib.get_close_matches(name, fields, n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{name} is not a hook of {spec.name}{hint}")
    raise ValueError(
        f"{name} is not a hook: generated hooks are on_<entity>_created, on_<entity>_deleted "
        "and on_<entity>_<field>_changed, with the entity's singular snake-case name and the "
        "model's field name (on_ticket_priority_changed); docs/plugins.md lists the others"
    )
