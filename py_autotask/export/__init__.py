"""Export Autotask collections, with the rows they reference, to files or databases.

Public API (stable; the sync and CLI layers build on it)::

    exporter = client.create_exporter(workers=3, picklist_labels=False, neutralize_formulas=True,
                                      strict=False)  # strict: off-type values raise
    exporter.add_entities("tickets", "companies", filter=None, fields=None)  # -> exporter (chainable)
    exporter.include_relationships(["tickets.company", "tickets.contacts"])
    result = exporter.export(path, format=None, compress=False, resume=False, overwrite=False,
                             work_dir=None, keep_work_dir=False, single_file=False)  # -> ExportResult
    result = exporter.to_sql(connection, create_tables=True, preserve_relationships=True,
                             batch_size=1000, resume=False, work_dir=None)  # -> ExportResult
    staged = exporter.fetch(work_dir, resume=False)                   # -> StagedExport (no output)

Entities are collection names in any spelling the client knows (``tickets``, ``Tickets``,
``ticket``, ``Account``). ``filter`` takes what ``query()`` takes. A relationship
``"<entity>.<target or field>"`` exports the rows of the target that the entity's rows reference
(``tickets.company``: every Tickets reference field pointing at Companies; ``tickets.contactID``: that
field only); they are fetched with ``id in [...]`` queries of at most 500 ids, never one request per
row. Referenced rows already exported are not fetched again.

**Formats** (``format=`` or from the suffix of ``path``):

- ``csv``, ``json`` (array), ``jsonl``, ``parquet``: one file per entity named after the table
  (``tickets.csv``) in the folder ``path``, plus ``manifest.json``; ``compress=True`` writes the same
  into a zip archive (``path`` + ``.zip`` unless it ends in ``.zip``). With ``single_file=True``
  (one entity, no relationships) the entity's file is ``path`` itself, with a sidecar manifest.
- ``excel``: one ``.xlsx`` workbook, a sheet per entity (named by collection; an entity with more rows
  than a sheet holds continues on ``Tickets (2)``); text over 32,767 characters is truncated and
  reported in ``warnings``.
- ``sqlite``, ``duckdb``: one database file; ``postgresql``: ``to_sql("postgresql://...")`` (or
  ``export("postgresql://...")``). See :mod:`py_autotask.export._sql` for tables, keys and indexes.
- single-file outputs get a ``<path>.manifest.json`` beside them (databases also hold it in the
  ``_autotask_export`` table).

**Columns** (every field, or ``fields=[...]`` of ``add_entities``: ``id`` and those, in that
order; only they are requested) come from metadata: the entity's fields (``id`` first, then by API name) with types from
``FieldSpec.data_type`` (integers -> int64, decimal/double -> float64, boolean, datetime -> UTC
timestamp, string), then one ``udf_<name>`` column per UDF definition of the tenant
(``udf_agreed_start_date`` for "Agreed Start Date"), then, with ``picklist_labels=True``, a
``<field>_label`` column after each picklist column. Column names are API names. CSV cells and
Excel cells that a spreadsheet would evaluate (``= + - @``, tab, CR) are neutralised unless
``neutralize_formulas=False`` (CSV: a leading ``'``; Excel: written as text cells).

**Speed and limits.** Each entity is read as id-keyset pages (``id > last``, 500 rows) over id-range
partitions (``workers + 1`` threads, at most ``workers`` requests in flight; Autotask allows 3
concurrent requests per endpoint): about
2 requests per 1,000 records, plus ``/query/count`` and the UDF definitions (and the field metadata
with labels) per entity. Every request goes through the client's ``_send`` (retries, pacing).

**Values off their declared type** (real tenants send a ZIP code as a number, ``"m"`` in an
integer picklist, ``""`` for a datetime ...) never fail the export or lose a record: a value is
converted when nothing is lost (``"42"`` -> 42, ``1.0`` -> 1, ``""`` -> null, ``0``/``1`` ->
booleans, ``90210`` -> ``"90210"``, ``{}`` -> no UDF values), else kept exactly as received and its
column written as text for the whole export (every other value as the text of its typed value; the
manifest's column gets ``promoted_from``). Each (entity, field) is logged once, listed in
``ExportResult.warnings``, ``ExportResult.off_type`` (:class:`OffTypeReport`: converted / kept
counts, an example, whether the column became text), ``off_type_values`` and the manifest's
``off_type``. ``strict=True`` raises :class:`OffTypeValueError` (entity, id, field, expected type,
value) at the first one instead. See :mod:`py_autotask.export._tolerance`.

**Durability.** Pages are staged in ``work_dir`` (default ``<path>.export-state``, or a temp folder
for ``to_sql``) and each page is fsync'ed before the checkpoint records it. An interrupted run
resumed with ``resume=True`` re-reads at most the pages that were in flight: one after a failed
request, one per partition after a kill: at most ``workers + 1`` pages (4 by default; ``workers=1``
reads one partition at a time, so one page). The
output is built under ``<path>.partial`` (databases: inside one transaction) and renamed into place
only once complete; the manifest records, per entity, the rows written, the ``/query/count`` they were
checked against and the columns. A mismatch raises :class:`ExportIncompleteError` and publishes
nothing.
"""

from __future__ import annotations

from ._exporter import (
    FORMATS,
    EntityExport,
    Exporter,
    ExportIncompleteError,
    ExportResult,
    ProgressCallback,
    Relationship,
    StagedExport,
)
from ._tolerance import OffTypeReport, OffTypeValueError

__all__ = [
    "FORMATS",
    "EntityExport",
    "ExportIncompleteError",
    "ExportResult",
    "Exporter",
    "OffTypeReport",
    "OffTypeValueError",
    "ProgressCallback",
    "Relationship",
    "StagedExport",
]
