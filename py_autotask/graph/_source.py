"""Where a GraphQL query's records come from: the shape every data source implements.

The executor (``py_autotask.graph``) never talks to the API or a database directly; it calls
:meth:`GraphSource.find` with filters it builds itself (equality/``in``/``and`` from the GraphQL
arguments, the CLI filter expression compiled to the same JSON, and relationship loads
``{"op": "in", "field": <"id" or the referencing field>, "value": [<= 500 ids]}``) and
:meth:`GraphSource.picklist` to resolve picklist labels at run time (labels are per tenant).

Two implementations: the API (through a client's Sender, so pacing, thread limits and the budget
apply) and a sync mirror (SQLite/PostgreSQL, zero API requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["GraphSource"]


@runtime_checkable
class GraphSource(Protocol):
    """Where a GraphQL query's records come from: the API (through a client's Sender) or a sync mirror."""

    name: str  # "api" or "sqlite"/"postgresql" (shown in errors and estimates)

    async def find(
        self,
        entity: str,
        filter: list[dict[str, Any]],
        fields: Sequence[str] | None,
        first: int | None,
    ) -> list[dict[str, Any]]:
        """The records of ``entity`` (the collection's spec name, e.g. ``"Tickets"``) matching
        ``filter`` (Autotask filter JSON, e.g. ``[{"op": "in", "field": "id", "value": [1, 2]}]``).

        ``fields``: the API field names wanted (None = all); ``"id"`` is always included.
        ``first``: at most this many records (None = all).

        Records are keyed by API field names; values as ``read_wire`` gives them for the API, the
        same Python values for the database (datetimes tz-aware UTC, decimals as float, picklists
        as their stored values, UDFs in ``"userDefinedFields"`` list form ``[{"name", "value"}]``).
        """
        ...

    async def picklist(self, entity: str, field: str) -> list[dict[str, Any]] | None:
        """The tenant's picklist values [{"value", "label", "isActive", ...}] of a field, or None when the source
        does not know them (a mirror without metadata)."""
        ...
