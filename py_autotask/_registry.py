"""The one entity-name resolver: any accepted spelling -> the generated :class:`EntitySpec`.

Accepted: the collection name (``"Tickets"``), the client attribute (``"tickets"``,
``"configuration_items"``), the singular entity name (``"Ticket"``), a SOAP-era name
(``"Account"``), in any case; an entity object (``client.tickets``) or an ``EntitySpec`` itself.
An unknown name raises :class:`~py_autotask.exceptions.AutotaskUnknownEntityError` with the
closest real names. Everything that takes an entity by name (estimate, bulk, dataframes, export,
sync, the CLI) resolves it here, once, and passes the spec on.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from py_autotask_generated.entities import ATTRIBUTES, MODULES, resolve_name, spec

from ._model import AutotaskModel
from ._spec import EntitySpec
from .exceptions import AutotaskUnknownEntityError

__all__ = [
    "entity_names",
    "model_for",
    "require_operation",
    "spec_for",
    "suggestions",
    "table_name",
]


def entity_names() -> list[str]:
    """Every collection name, sorted."""
    return sorted(MODULES)


def suggestions(name: str, n: int = 3) -> list[str]:
    """Real collection names (or client attributes) closest to ``name``."""
    pool = list(MODULES) + list(ATTRIBUTES)
    found = difflib.get_close_matches(name, pool, n=n)
    if not found:
        lowered = {p.lower(): p for p in pool}
        found = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n)]
    return found


def spec_for(entity: Any) -> EntitySpec:
    """The spec of ``entity`` (see the module docstring for what is accepted)."""
    if isinstance(entity, EntitySpec):
        return entity
    if isinstance(entity, str):
        resolved = resolve_name(entity.strip())
        if resolved is not None:
            return spec(resolved)
        close = suggestions(entity.strip())
        hint = (
            f"did you mean {', '.join(close)}?"
            if close
            else "`py-autotask entities` lists them all"
        )
        raise AutotaskUnknownEntityError(
            f"unknown Autotask entity {entity!r}; {hint}",
            name=entity,
            suggestions=close,
        )
    found = getattr(type(entity), "_spec", None)
    if isinstance(found, EntitySpec):
        return found
    raise AutotaskUnknownEntityError(
        f"expected an entity such as 'Tickets' or client.tickets, not {type(entity).__name__}"
    )


_TABLES = {collection: attr for attr, collection in ATTRIBUTES.items()}


def table_name(collection: str) -> str:
    """The SQL table of a collection, in sync mirrors and exports alike: its client attribute
    name (``Tickets`` -> ``tickets``, ``ConfigurationItems`` -> ``configuration_items``); a
    name not in the generated list (a tenant's newer collection) in snake case."""
    found = _TABLES.get(collection)
    if found is not None:
        return found
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", collection).lower()


def model_for(entity: Any) -> type[AutotaskModel]:
    """The generated response model of ``entity`` (any spelling :func:`spec_for` accepts)."""
    import importlib

    module = importlib.import_module(MODULES[spec_for(entity).name])
    model: type[AutotaskModel] = module.MODEL
    return model


def require_operation(spec: EntitySpec, operation: str, *, root: bool = False) -> None:
    """Raise when ``spec`` cannot do ``operation`` (at its root collection with ``root=True``)."""
    from .exceptions import AutotaskOperationNotSupportedError

    ops = spec.root_operations if root else spec.operations
    if operation not in ops:
        where = " at its root collection" if root else " through the API"
        supported = ", ".join(sorted(ops)) or "nothing"
        raise AutotaskOperationNotSupportedError(
            f"{spec.name} does not support '{operation}'{where} (it supports: {supported})"
        )
