"""``bulk ...``, ``bulk-create``, ``bulk-update``, ``bulk-delete`` and the SQL push behind ``sync
--from sql --to autotask``: :mod:`py_autotask.bulk` on the command line.

Exit codes: 0 every row ok or skipped; 5 some rows failed, stayed unknown or were left pending (a
failures CSV of the failed and unknown rows is written: fix it and feed it back); 2 unusable input
or options (nothing was sent); 3 credentials; 4 the job stopped on a rate limit or the hourly
budget: its unsent rows stay pending in the journal (``bulk resume JOURNAL``), never in the
failures CSV.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exitcodes import ExitCode
from .._values import parse_datetime
from ._shared import (
    Credentials,
    MetricsPortOpt,
    QuietOpt,
    errors,
    fail,
    option_group,
    serving_metrics,
    waits_shown_in,
    with_credentials,
)

if TYPE_CHECKING:
    from .. import AutotaskClient
    from ..bulk import BulkManager, BulkProgress, BulkResult

__all__ = [
    "bulk_app",
    "bulk_create_command",
    "bulk_delete_command",
    "bulk_update_command",
    "sync_push_command",
]

bulk_app = typer.Typer(
    help=(
        "Bulk create/update/delete with validation, conflict resolution, a write-ahead journal, "
        "resume and undo. Exit code 5 when some rows failed."
    ),
    no_args_is_help=True,
)

# --- options ----------------------------------------------------------------------------------------

EntityArg = Annotated[str, typer.Argument(help="Collection, e.g. tickets, companies, Contacts.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="CSV file with a header row.")]
SqlOpt = Annotated[
    str | None,
    typer.Option("--sql", help="SQLAlchemy URL to read rows from (with --table or --query)."),
]
TableOpt = Annotated[str | None, typer.Option("--table", help="SQL table to read (with --sql).")]
QueryOpt = Annotated[str | None, typer.Option("--query", help="SQL SELECT to read (with --sql).")]
BatchOpt = Annotated[
    str,
    typer.Option("--batch-size", help="Rows per unit (prefetch, checkpoint, progress) or 'auto'."),
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Validate every row (and prefetch for updates); send no write."),
]
JournalOpt = Annotated[
    Path | None,
    typer.Option(
        "--journal", help="Write-ahead journal file (default: a new file under the state dir)."
    ),
]
FailuresOpt = Annotated[
    Path | None, typer.Option("--failures", help="Where to write the failed rows as CSV.")
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--max-concurrent",
        help="Rows worked on at once (the client still keeps 3 requests in flight per endpoint).",
    ),
]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="CSV encoding (strict).")]
OnInvalidOpt = Annotated[
    str,
    typer.Option(
        "--on-invalid", help="abort: send nothing if any row is invalid; skip: send the valid rows."
    ),
]
RefsOpt = Annotated[
    bool, typer.Option("--check-references", help="Look up every referenced id (batched).")
]
OutputOpt = Annotated[str, typer.Option("--output-format", "-o", help="summary | json | jsonl")]


def _source(csv: Path | None, sql: str | None, table: str | None, query: str | None) -> Any:
    if (csv is None) == (sql is None):
        fail(
            "give exactly one input: --csv FILE or --sql URL (--table T | --query Q)",
            ExitCode.USAGE,
        )
    if csv is not None:
        return csv
    assert sql is not None
    if (table is None) == (query is None):
        fail("--sql needs exactly one of --table or --query", ExitCode.USAGE)
    from ..bulk import SqlSource, sql_source

    return SqlSource(sql, table=table) if table else sql_source(sql, str(query))


def _batch(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        size = int(value)
    except ValueError:
        fail(f"--batch-size must be a number or 'auto', not {value!r}", ExitCode.USAGE)
    if size < 1:
        fail("--batch-size must be >= 1", ExitCode.USAGE)
    return size


@dataclass(frozen=True)
class JobOptions:
    """The options every bulk write command shares (the input, units, journal, output)."""

    csv: Path | None = None
    sql: str | None = None
    table: str | None = None
    query: str | None = None
    batch_size: str = "auto"
    dry_run: bool = False
    journal: Path | None = None
    failures: Path | None = None
    max_concurrent: int | None = None
    encoding: str = "utf-8-sig"
    output: str = "summary"
    quiet: bool = False
    metrics_port: int | None = None

    def source(self) -> Any:
        return _source(self.csv, self.sql, self.table, self.query)

    def size(self) -> int | str:
        return _batch(self.batch_size)

    def emit(self, result: BulkResult) -> None:
        _emit(result, self.output, self.failures, not self.dry_run)


#: Gives a bulk write command the shared options (as ``job: JobOptions``), declared once.
with_job = option_group(
    "job",
    JobOptions,
    [
        ("csv", CsvOpt, None),
        ("sql", SqlOpt, None),
        ("table", TableOpt, None),
        ("query", QueryOpt, None),
        ("batch_size", BatchOpt, "auto"),
        ("dry_run", DryRunOpt, False),
        ("journal", JournalOpt, None),
        ("failures", FailuresOpt, None),
        ("max_concurrent", ConcurrencyOpt, None),
        ("encoding", EncodingOpt, "utf-8-sig"),
        ("output", OutputOpt, "summary"),
        ("quiet", QuietOpt, False),
        ("metrics_port", MetricsPortOpt, None),
    ],
)


@contextmanager
def _progress(quiet: bool, label: str) -> Iterator[Callable[[BulkProgress], object] | None]:
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        ) as bar,
        waits_shown_in(bar),
    ):
        task = bar.add_task(label, total=None)

        def update(p: BulkProgress) -> None:
            bar.update(task, completed=p.done, total=p.total)

        yield update


def _emit(result: BulkResult, output: str, failures: Path | None, write_failures: bool) -> None:
    if output == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
    elif output == "jsonl":
        for row in result.to_dict()["rows"]:
            typer.echo(json.dumps(row, default=str))
    else:
        typer.echo(result.summary())
        shown = 0
        for p in result.problems:
            typer.echo(f"  row {p.row}" + (f" {p.field}" if p.field else "") + f": {p.reason}")
            shown += 1
        listed = {p.row for p in result.problems}
        for r in result.rows:
            if r.status in ("failed", "unknown", "pending") and r.row not in listed:
                typer.echo(
                    f"  row {r.row} {r.status}"
                    + (f" (id {r.id})" if r.id else "")
                    + f": {r.reason}"
                )
                shown += 1
                if shown >= 200:
                    typer.echo("  ... (see the failures CSV for the rest)")
                    break
    if result.journal_path:
        typer.echo(f"journal: {result.journal_path}", err=True)
    pending = result.counts()["pending"]
    if pending and result.journal_path:
        typer.echo(
            f"{pending} rows not sent yet ({result.stopped_reason or 'the job stopped'}); "
            f"continue them with: py-autotask bulk resume {result.journal_path}",
            err=True,
        )
    if (
        result.exit_code != ExitCode.OK
        and (failures is not None or write_failures)
        and result.failure_rows()
    ):
        path = failures
        if path is None and result.journal_path is not None:
            path = result.journal_path.with_suffix(".failures.csv")
        if path is not None:
            result.write_failures_csv(path)
            typer.echo(f"failed rows written to {path} (fix and feed back)", err=True)


def _manager(client: AutotaskClient, max_concurrent: int | None) -> BulkManager:
    return client.create_bulk_manager(max_concurrent=max_concurrent)


# --- commands ---------------------------------------------------------------------------------------


@with_credentials
@with_job
def bulk_update_command(
    entity: EntityArg,
    conflict: Annotated[
        str,
        typer.Option(
            "--conflict",
            help="merge (send what differs) | overwrite (send every given field) | skip (leave records changed since the snapshot)",
        ),
    ] = "merge",
    snapshot_time: Annotated[
        str | None,
        typer.Option("--snapshot-time", help="ISO time of your snapshot (with --conflict skip)."),
    ] = None,
    drop_read_only: Annotated[
        bool,
        typer.Option(
            "--drop-read-only", help="Ignore read-only columns instead of reporting them."
        ),
    ] = False,
    check_references: RefsOpt = False,
    on_invalid: OnInvalidOpt = "abort",
    *,
    job: JobOptions,
    credentials: Credentials,
) -> None:
    """Update records from a CSV or SQL rows (an ``id`` column is required)."""
    source, size = job.source(), job.size()
    with errors():
        snap = parse_datetime(snapshot_time) if snapshot_time else None
        client = credentials.client(plugins=True)
        with (
            client,
            serving_metrics(client, job.metrics_port),
            _progress(job.quiet, f"update {entity}") as progress,
        ):
            result = _manager(client, job.max_concurrent).bulk_update(
                entity,
                source,
                conflict_resolution=conflict,  # type: ignore[arg-type]
                dry_run=job.dry_run,
                batch_size=size,
                journal=job.journal,
                snapshot_time=snap,
                drop_read_only=drop_read_only,
                check_references=check_references,
                on_invalid=on_invalid,
                encoding=job.encoding,
                progress_callback=progress,
            )
        job.emit(result)
    raise typer.Exit(result.exit_code)


@with_credentials
@with_job
def bulk_create_command(
    entity: EntityArg,
    correlation: Annotated[
        str,
        typer.Option(
            "--correlation",
            help="auto | FIELD | udf:NAME | none: where each row's exactly-once token goes.",
        ),
    ] = "auto",
    natural_key: Annotated[
        str | None,
        typer.Option(
            "--natural-key", help="Comma-separated fields that identify a record (opt-in)."
        ),
    ] = None,
    check_references: RefsOpt = False,
    on_invalid: OnInvalidOpt = "abort",
    *,
    job: JobOptions,
    credentials: Credentials,
) -> None:
    """Create one record per CSV/SQL row, exactly once (journaled; resumable)."""
    source, size = job.source(), job.size()
    with errors():
        client = credentials.client(plugins=True)
        with (
            client,
            serving_metrics(client, job.metrics_port),
            _progress(job.quiet, f"create {entity}") as progress,
        ):
            result = _manager(client, job.max_concurrent).bulk_create(
                entity,
                source,
                dry_run=job.dry_run,
                batch_size=size,
                journal=job.journal,
                correlation=correlation,
                natural_key=[k.strip() for k in natural_key.split(",")] if natural_key else None,
                check_references=check_references,
                on_invalid=on_invalid,
                encoding=job.encoding,
                progress_callback=progress,
            )
        job.emit(result)
    raise typer.Exit(result.exit_code)


@with_credentials
@with_job
def bulk_delete_command(
    entity: EntityArg,
    ids: Annotated[str | None, typer.Option("--ids", help="Comma-separated record ids.")] = None,
    *,
    job: JobOptions,
    credentials: Credentials,
) -> None:
    """Delete records by id (from --ids, a CSV with an id column, or SQL). Cannot be undone."""
    source: Any
    if ids is not None:
        if job.csv is not None or job.sql is not None:
            fail("give --ids or --csv/--sql, not both", ExitCode.USAGE)
        try:
            source = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            fail("--ids must be comma-separated integers", ExitCode.USAGE)
    else:
        source = job.source()
    size = job.size()
    with errors():
        client = credentials.client(plugins=True)
        with (
            client,
            serving_metrics(client, job.metrics_port),
            _progress(job.quiet, f"delete {entity}") as progress,
        ):
            result = _manager(client, job.max_concurrent).bulk_delete(
                entity,
                source,
                dry_run=job.dry_run,
                batch_size=size,
                journal=job.journal,
                encoding=job.encoding,
                progress_callback=progress,
            )
        job.emit(result)
    raise typer.Exit(result.exit_code)


@with_credentials
def sync_push_command(
    entity: EntityArg,
    connection: Annotated[
        str, typer.Option("--connection", help="SQLAlchemy URL of the source database.")
    ],
    table: TableOpt = None,
    query: QueryOpt = None,
    key: Annotated[str, typer.Option("--key", help="Column holding the Autotask id.")] = "id",
    conflict: Annotated[str, typer.Option("--conflict", help="merge | overwrite | skip")] = "merge",
    create_missing: Annotated[
        bool,
        typer.Option("--create-missing/--no-create-missing", help="Create rows without an id."),
    ] = True,
    dry_run: DryRunOpt = False,
    max_concurrent: ConcurrencyOpt = None,
    output: OutputOpt = "summary",
    metrics_port: MetricsPortOpt = None,
    *,
    credentials: Credentials,
) -> None:
    """Push rows of a SQL table/SELECT into Autotask (updates by id, creates the rest)."""
    from ..bulk import sync_sql_to_autotask

    with errors():
        client = credentials.client(plugins=True)
        with client, serving_metrics(client, metrics_port):
            pushed = sync_sql_to_autotask(
                _manager(client, max_concurrent),
                entity,
                connection,
                table=table,
                query=query,
                key=key,
                conflict_resolution=conflict,  # type: ignore[arg-type]
                create_missing=create_missing,
                dry_run=dry_run,
            )
        for part in (pushed.updated, pushed.created):
            if part is not None:
                _emit(part, output, None, not dry_run)
        if pushed.ignored_columns:
            typer.echo("ignored columns: " + ", ".join(pushed.ignored_columns), err=True)
    raise typer.Exit(pushed.exit_code)


@bulk_app.command("resume")
@with_credentials
def resume_command(
    journal: Annotated[Path, typer.Argument(help="The job's journal file.")],
    resend_unknown: Annotated[
        bool,
        typer.Option(
            "--resend-unknown", help="Resend creates whose outcome is unknown (risk of duplicates)."
        ),
    ] = False,
    failures: FailuresOpt = None,
    max_concurrent: ConcurrencyOpt = None,
    output: OutputOpt = "summary",
    quiet: QuietOpt = False,
    metrics_port: MetricsPortOpt = None,
    *,
    credentials: Credentials,
) -> None:
    """Finish an interrupted job (creates are reconciled by their token before anything is resent)."""
    with errors():
        client = credentials.client(plugins=True)
        with client, serving_metrics(client, metrics_port), _progress(quiet, "resume") as progress:
            result = _manager(client, max_concurrent).resume(
                journal, resend_unknown=resend_unknown, progress_callback=progress
            )
        _emit(result, output, failures, True)
    raise typer.Exit(result.exit_code)


@bulk_app.command("undo")
@with_credentials
def undo_command(
    journal: Annotated[Path, typer.Argument(help="The job's journal file.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Restore fields even if they changed again since the job."),
    ] = False,
    max_concurrent: ConcurrencyOpt = None,
    output: OutputOpt = "summary",
    quiet: QuietOpt = False,
    metrics_port: MetricsPortOpt = None,
    *,
    credentials: Credentials,
) -> None:
    """Restore updated fields to their previous values; delete created records where the entity
    allows it (lists what could not be undone)."""
    with errors():
        client = credentials.client(plugins=True)
        with client, serving_metrics(client, metrics_port), _progress(quiet, "undo") as progress:
            result = _manager(client, max_concurrent).undo(
                journal, force=force, progress_callback=progress
            )
        _emit(result, output, None, False)
    raise typer.Exit(result.exit_code)


@bulk_app.command("status")
def status_command(
    journal: Annotated[Path, typer.Argument(help="The job's journal file.")],
) -> None:
    """Show a journal's job and row counts (no API call)."""
    from ..bulk import BulkJournal

    with errors(), BulkJournal.open(journal) as jr:
        meta = jr.meta
        typer.echo(
            json.dumps(
                {"job": meta, "rows": jr.counts(), "duplicate_ids": jr.duplicate_record_ids()},
                indent=2,
                default=str,
            )
        )


@bulk_app.command("estimate")
def estimate_command(
    entity: EntityArg,
    operation: Annotated[str, typer.Argument(help="create | update | delete")],
    rows: Annotated[int | None, typer.Option("--rows", help="Number of rows.")] = None,
    csv: CsvOpt = None,
    latency: Annotated[float, typer.Option("--latency", help="Seconds per request.")] = 0.3,
    max_concurrent: ConcurrencyOpt = None,
    budget_fraction: Annotated[
        float, typer.Option("--budget-fraction", help="Share of the hourly threshold.")
    ] = 0.5,
) -> None:
    """Requests and time a bulk job will take (no API call)."""
    from ..bulk import read_rows
    from ..bulk._plan import estimate_requests
    from ._shared import entity_spec

    with errors():
        if rows is None:
            if csv is None:
                fail("give --rows N or --csv FILE", ExitCode.USAGE)
            rows = len(read_rows(csv)[1])
        est = estimate_requests(
            entity_spec(entity),
            operation,
            rows,
            concurrency=min(max_concurrent or 3, 3),
            latency=latency,
            budget_fraction=budget_fraction,
        )
        typer.echo(str(est))


bulk_app.command("create")(bulk_create_command)
bulk_app.command("update")(bulk_update_command)
bulk_app.command("delete")(bulk_delete_command)
bulk_app.command("push")(sync_push_command)
