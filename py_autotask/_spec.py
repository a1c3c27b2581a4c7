"""Entity facts that the generated layer hands to the runtime.

Generated code (``py_autotask_generated``) builds one :class:`EntitySpec` per Autotask collection
from ``schemas/``; the runtime reads routing, capabilities and validation facts from it and never
hard-codes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DeletionLogSpec", "EntitySpec", "FieldSpec", "Operation", "RouteSpec"]

#: Operation names used in ``schemas/`` and in specs.
Operation = str  # "query" | "count" | "get" | "create" | "update" | "replace" | "delete" | "list"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field as ``entityInformation/fields`` reports it, plus its Python name."""

    api_name: str
    py_name: str
    data_type: str  # string, integer, long, decimal, double, boolean, datetime, date, short, float
    length: int = 0
    required: bool = False
    read_only: bool = False
    queryable: bool = True
    reference_entity: str | None = None  # singular entity name, e.g. "Company"
    is_picklist: bool = False
    picklist_parent: str | None = None
    soap_aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A ``/V1.0/{Parent}/{parentId}/{Child}`` collection in which the entity is the child."""

    parent: str  # parent collection name, e.g. "Tickets"
    child: str  # URL segment, e.g. "Notes"
    parent_id_field: str | None  # child field holding the parent id, e.g. "ticketID"
    operations: frozenset[str]

    def path(self, parent_id: int) -> str:
        return f"{self.parent}/{parent_id}/{self.child}"


@dataclass(frozen=True, slots=True)
class DeletionLogSpec:
    """The ``Deleted*Logs`` collection that records an entity's deletions."""

    log: str  # the log collection, e.g. "DeletedTicketLogs"
    id_field: str  # the log's field holding the deleted record's id, e.g. "ticketID"
    time_field: str  # the log's datetime of the deletion, e.g. "deletedDateTime"


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """Everything the runtime needs to know about one collection."""

    name: str  # collection name, e.g. "Tickets"
    singular: str  # entityInformation name, e.g. "Ticket"
    root_operations: frozenset[str]  # empty when the entity has no root collection
    parent_routes: tuple[RouteSpec, ...] = ()
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)  # keyed by API name
    has_udfs: bool = False
    change_tracking_field: str | None = None
    soap_entity: str | None = None
    #: The field date-range filters use by default: the creation date, else change tracking.
    default_date_field: str | None = None
    #: The collection holding this entity's attachments (``{Name}/{id}/Attachments``), if any.
    attachment_entity: str | None = None
    #: Where this entity's deletions are logged, if anywhere.
    deletion_log: DeletionLogSpec | None = None

    @property
    def operations(self) -> frozenset[str]:
        """Every operation reachable for this entity, through its root or a parent route."""
        ops = set(self.root_operations)
        for route in self.parent_routes:
            ops |= route.operations
        return frozenset(ops)

    def route_for_parent(self, parent: str) -> RouteSpec | None:
        for route in self.parent_routes:
            if route.parent.lower() == parent.lower():
                return route
        return None
