"""Entity facts derived once, at render time, from ``schemas/`` (fields and routes).

The runtime reads them from each generated ``EntitySpec`` instead of guessing them from names:

- :func:`default_date_field`: the field date-range filters use when the caller names none;
- :func:`attachment_entities`: which collection holds a parent's attachments;
- :func:`deletion_logs`: which ``Deleted*Logs`` collection records an entity's deletions.

Each rule is written in its function's docstring; ``docs/architecture.md`` repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

DATE_TYPES = frozenset({"date", "datetime"})
ATTACHMENTS_SEGMENT = "Attachments"
_DELETION_LOG = re.compile(r"Deleted(\w+)Logs")


class _Field(Protocol):
    api_name: str
    data_type: str
    reference: str | None


class _Route(Protocol):
    parent: str
    child: str


class _Entity(Protocol):
    name: str
    singular: str
    root_ops: list[str]

    @property
    def fields(self) -> Sequence[_Field]: ...

    @property
    def routes(self) -> Sequence[_Route]: ...


@dataclass(frozen=True)
class DeletionLog:
    log: str  # e.g. DeletedTicketLogs
    id_field: str  # e.g. ticketID
    time_field: str  # e.g. deletedDateTime


def default_date_field(fields: Iterable[_Field], change_tracking_field: str | None) -> str | None:
    """The field date-range filters use when none is named.

    Rule: the entity's creation date, i.e. a ``date``/``datetime`` field whose name starts with
    ``create`` (``createDate``, ``createDateTime``, ``createdDateTime``, ``createdTime``; the
    shortest such name, then alphabetical, when there are several); else its change-tracking field
    (``lastModifiedDateTime``, ...); else ``None``.
    """
    created = [
        f.api_name
        for f in fields
        if f.data_type.lower() in DATE_TYPES and f.api_name.lower().startswith("create")
    ]
    if created:
        return min(created, key=lambda name: (len(name), name))
    return change_tracking_field


def attachment_entities(entities: Iterable[_Entity]) -> dict[str, str]:
    """Parent collection -> the collection that holds its attachments.

    Rule: a child route whose URL segment is ``Attachments`` (``/V1.0/{Parent}/{parentId}/
    Attachments``) is where the parent's attachments live; the route's entity (``TicketAttachments``
    under ``Tickets``) is the attachment collection. A parent with two such routes is an error
    (the spec has room for one).
    """
    found: dict[str, str] = {}
    for ent in entities:
        for route in ent.routes:
            if route.child != ATTACHMENTS_SEGMENT:
                continue
            if route.parent in found:
                raise SystemExit(
                    f"codegen: {route.parent} has two attachment routes ({found[route.parent]}, "
                    f"{ent.name}); EntitySpec.attachment_entity holds one"
                )
            found[route.parent] = ent.name
    return dict(sorted(found.items()))


def deletion_logs(entities: Sequence[_Entity]) -> dict[str, DeletionLog]:
    """Collection -> the ``Deleted*Logs`` collection that records its deletions.

    Rule: a collection ``Deleted<X>Logs`` with a queryable root logs the deletions of the
    collection whose singular is ``<X>`` (``DeletedTicketLogs`` -> ``Tickets``) when exactly one of
    its fields has ``referenceEntityType`` ``<X>`` (the deleted record's id, ``ticketID``) and it has
    a ``datetime`` field named ``deleted...`` (when, ``deletedDateTime``). Activity logs
    (``DeletedTicketActivityLogs``: no collection's singular is ``TicketActivity``) log nothing here.
    """
    by_singular: dict[str, list[str]] = {}
    for ent in entities:
        by_singular.setdefault(ent.singular, []).append(ent.name)
    found: dict[str, DeletionLog] = {}
    for log in entities:
        match = _DELETION_LOG.fullmatch(log.name)
        if match is None or "query" not in log.root_ops:
            continue
        singular = match.group(1)
        targets = by_singular.get(singular, [])
        ids = [f.api_name for f in log.fields if f.reference == singular]
        times = [
            f.api_name
            for f in log.fields
            if f.data_type.lower() == "datetime" and f.api_name.lower().startswith("deleted")
        ]
        if len(targets) == 1 and len(ids) == 1 and times:
            found[targets[0]] = DeletionLog(log.name, ids[0], times[0])
    return dict(sorted(found.items()))
