"""Bulk create, update and delete for Autotask, which has no batch endpoint.

>>> bulk = client.create_bulk_manager()  # doctest: +SKIP
>>> result = bulk.bulk_create("tickets", "tickets.csv", validate=True, batch_size="auto")  # doctest: +SKIP
>>> result.exit_code, result.counts()  # doctest: +SKIP
(0, {'ok': 2000, 'failed': 0, 'skipped': 0, 'unknown': 0, 'pending': 0})

Every call validates the rows against the entity metadata and the tenant's picklists first, keeps a
write-ahead journal (SQLite) of every row's intent and outcome, sends through the client's pipeline
(its pacing, retries and exactly-once creates) and returns one :class:`RowOutcome` per row. Creates are
exactly-once: a correlation token written into the record resolves ambiguous outcomes and crashes
(:meth:`BulkManager.resume`). Updates resolve conflicts against the server's current records
(fetched 500 per request) and keep previous values for :meth:`BulkManager.undo`.
"""

from __future__ import annotations

from ._async import AsyncBulkManager
from ._convert import DEFAULT_NULL_VALUE, EXPECTED_PREFIX, TenantFields
from ._input import BulkInputError, SqlSource, read_rows, sql_source
from ._journal import BulkJournal, JournalRow
from ._manager import BulkManager, default_journal_dir
from ._plan import CORRELATION_UDF, BulkEstimate, ConflictResolution, Correlation
from ._results import EXIT_OK, EXIT_PARTIAL, BulkProgress, BulkResult, RowOutcome, RowProblem
from ._sync import bulk_from_records, sync_sql_to_autotask

__all__ = [
    "CORRELATION_UDF",
    "DEFAULT_NULL_VALUE",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXPECTED_PREFIX",
    "AsyncBulkManager",
    "BulkEstimate",
    "BulkInputError",
    "BulkJournal",
    "BulkManager",
    "BulkProgress",
    "BulkResult",
    "ConflictResolution",
    "Correlation",
    "JournalRow",
    "RowOutcome",
    "RowProblem",
    "SqlSource",
    "TenantFields",
    "bulk_from_records",
    "default_journal_dir",
    "read_rows",
    "sql_source",
    "sync_sql_to_autotask",
]
