"""Sync Autotask collections into SQLite, PostgreSQL or DuckDB: a resumable full load, then
incremental runs by each entity's change-tracking field, deletions from the deleted-record logs and
a periodic id reconciliation guarded against mass deletion.

>>> syncer = client.create_syncer()                                      # doctest: +SKIP
>>> result = syncer.sync_to_database("sqlite:///autotask.db", ["Tickets", "Companies"])  # doctest: +SKIP

Tables are named like the client attributes (``tickets``, ``time_entries``), columns like the API
fields (typed from the tenant's metadata), UDFs are a JSON column ``userDefinedFields``. The state
of each entity is in ``autotask_sync_state``, picklist labels in ``autotask_picklists`` and one row
per run and entity in ``autotask_sync_runs``.

One syncer at a time per database: ``sync_to_database`` holds the database's sync lock (an OS lock
on ``<file>.sync.lock`` for SQLite/DuckDB, a PostgreSQL advisory lock) for the whole call and
raises :class:`SyncLockedError`, naming the holder, when another syncer has it.
"""

from __future__ import annotations

from ._db import PICKLIST_TABLE, RUNS_TABLE, STATE_TABLE, Database, EntityState, open_database
from ._lock import (
    LOCK_SUFFIX,
    LOCK_TABLE,
    LockHolder,
    SyncLockedError,
    advisory_key,
    sync_lock_status,
)
from ._syncer import (
    DeletionLog,
    EntitySyncResult,
    MassDeletionError,
    Syncer,
    SyncResult,
    deletion_logs,
    table_name,
)

__all__ = [
    "LOCK_SUFFIX",
    "LOCK_TABLE",
    "PICKLIST_TABLE",
    "RUNS_TABLE",
    "STATE_TABLE",
    "Database",
    "DeletionLog",
    "EntityState",
    "EntitySyncResult",
    "LockHolder",
    "MassDeletionError",
    "SyncLockedError",
    "SyncResult",
    "Syncer",
    "advisory_key",
    "deletion_logs",
    "open_database",
    "sync_lock_status",
    "table_name",
]
