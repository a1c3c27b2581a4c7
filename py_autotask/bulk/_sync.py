"""Push rows into Autotask through the bulk path: from a SQL table/query, or from records.

``sync_sql_to_autotask`` is what ``py-autotask sync companies --from sql --to autotask
--connection postgresql://...`` runs: rows with an ``id`` update their record (merge: only the
fields that differ are sent), rows without one are created (exactly-once, journaled). Columns that
are not fields of the entity (a sync table's bookkeeping columns) and read-only fields are left
out, and listed in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exitcodes import ExitCode
from ..exceptions import AutotaskConfigError
from ._input import SqlSource, read_rows, sql_source
from ._manager import BulkManager, resolve_spec
from ._plan import ConflictResolution
from ._results import BulkResult

if TYPE_CHECKING:
    from .._sender import Sender
    from ._jobs import SenderHost

    #: What these functions accept: a manager, a client (anything with ``.sender``) or a sender.
    Target = BulkManager | SenderHost[Sender] | Sender

__all__ = ["SqlPushResult", "bulk_from_records", "sync_sql_to_autotask"]


def bulk_from_records(
    client: Target,
    records: Any,
    operation: str = "update",
    *,
    entity: str | None = None,
    **options: Any,
) -> BulkResult:
    """Run a bulk ``operation`` (create/update/delete) on ``records``: anything with
    ``.records()`` (``py_autotask.from_dataframe(df, "companies")``: its ``entity`` is used when
    ``entity`` is not given), a DataFrame or a list of dicts. ``options`` are the keyword arguments
    of the matching :class:`BulkManager` method::

        bulk_from_records(client, py_autotask.from_dataframe(df, "companies"), "update",
                          conflict_resolution="merge", dry_run=True)
    """
    name = entity or getattr(records, "entity", None)
    if not name:
        raise AutotaskConfigError(
            "bulk_from_records needs entity=... (or records that carry one, e.g. "
            "from_dataframe(df, 'companies'))"
        )
    manager = client if isinstance(client, BulkManager) else BulkManager(client)
    if operation == "create":
        return manager.bulk_create(name, records, **options)
    if operation == "update":
        return manager.bulk_update(name, records, **options)
    if operation == "delete":
        return manager.bulk_delete(name, records, **options)
    raise AutotaskConfigError(f"operation must be create, update or delete, not {operation!r}")


@dataclass
class SqlPushResult:
    """The two bulk jobs of a SQL push and the columns left out."""

    entity: str
    created: BulkResult | None = None
    updated: BulkResult | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """``ExitCode.OK`` when both jobs succeeded, else ``ExitCode.PARTIAL``."""
        codes = [r.exit_code for r in (self.created, self.updated) if r is not None]
        return ExitCode.PARTIAL if any(c != ExitCode.OK for c in codes) else ExitCode.OK

    def summary(self) -> str:
        parts = [r.summary() for r in (self.created, self.updated) if r is not None]
        if not parts:
            parts = [f"{self.entity}: no rows"]
        if self.ignored_columns:
            parts.append("ignored columns: " + ", ".join(self.ignored_columns))
        return "\n".join(parts)


def _default_table(entity: str) -> str:
    try:
        from ..sync import table_name

        return str(table_name(entity))
    except ImportError:  # pragma: no cover
        return entity.lower()


def sync_sql_to_autotask(
    client: Target,
    entity: str,
    connection: str,
    *,
    table: str | None = None,
    query: str | None = None,
    key: str = "id",
    conflict_resolution: ConflictResolution = "merge",
    create_missing: bool = True,
    dry_run: bool = False,
    journal_dir: str | Path | None = None,
    columns: Sequence[str] | None = None,
    **options: Any,
) -> SqlPushResult:
    """Push the rows of a SQL table (default: the entity's sync table name, ``companies``) or a
    SELECT into Autotask. ``connection`` is a SQLAlchemy URL (``postgresql://`` uses psycopg).
    Rows whose ``key`` column (``id``) is set are updated with ``conflict_resolution``; rows
    without one are created when ``create_missing``. ``columns`` limits the fields pushed."""
    spec = resolve_spec(entity)
    manager = (
        client if isinstance(client, BulkManager) else BulkManager(client, journal_dir=journal_dir)
    )
    source: SqlSource = (
        sql_source(connection, query)
        if query is not None
        else SqlSource(connection, table=table or _default_table(spec.name))
    )
    all_columns, rows = read_rows(source)
    known = {f.lower(): f for f in spec.fields}
    wanted = {c.lower() for c in columns} if columns is not None else None
    keep: list[str] = []
    ignored: list[str] = []
    for col in all_columns:
        low = col.lower()
        fld = spec.fields.get(known.get(low, ""))
        is_key = low == key.lower()
        if (
            (fld is None and not low.startswith("udf:") and not is_key)
            or (fld is not None and fld.read_only and not is_key)
            or (wanted is not None and low not in wanted and not is_key)
        ):
            ignored.append(col)
        else:
            keep.append(col)
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for _row, values in rows:
        record = {("id" if c.lower() == key.lower() else c): values.get(c) for c in keep}
        if record.get("id") in (None, ""):
            record.pop("id", None)
            creates.append(record)
        else:
            updates.append(record)
    result = SqlPushResult(spec.name, ignored_columns=ignored)
    if updates:
        result.updated = manager.bulk_update(
            spec.name, updates, conflict_resolution=conflict_resolution, dry_run=dry_run, **options
        )
    if creates and create_missing:
        result.created = manager.bulk_create(spec.name, creates, dry_run=dry_run, **options)
    return result
