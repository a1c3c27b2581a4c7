"""Sync Autotask collections into SQLite, PostgreSQL or DuckDB: a resumable full load, then
incremental runs by each entity's change-tracking field, deletions from the deleted-record logs and
a periodic id reconciliation guarded against mass deletion.

>>> syncer = client.create_syncer()                                      # doctest: +SKIP
>>> result = syncer.sync_to_database("sqlite:///autotask.db", ["Tickets", "Companies"])  # doctest: +SKIP

Tables are named like the client attributes (``tickets``, ``time_entries``), columns like the API
fields (typed from the tenant's metadata), UDFs are a JSON column ``userDefinedFields``. The state
of each entity is in ``autotask_sync_state``, picklist labels in ``autotask_picklists`` and one row
per run and entity in ``autotask_sync_runs``.
"""

from __future__ import annotations

from ._db import PICKLIST_TABLE, RUNS_TABLE, STATE_TABLE, Database, EntityState, open_database
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
    "PICKLIST_TABLE",
    "RUNS_TABLE",
    "STATE_TABLE",
    "Database",
    "DeletionLog",
    "EntityState",
    "EntitySyncResult",
    "MassDeletionError",
    "SyncResult",
    "Syncer",
    "deletion_logs",
    "open_database",
    "table_name",
]
