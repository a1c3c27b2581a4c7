"""``sync``: mirror collections into a database (or push SQL rows into Autotask)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import (
    Credentials,
    MetricsPortOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    err_console,
    errors,
    escape,
    fail,
    serving_metrics,
    waits_shown_in,
    with_credentials,
    write_records,
)

if TYPE_CHECKING:
    from .._client import AutotaskClient

__all__ = ["run_sync", "sync"]


@with_credentials
def sync(
    entities: Annotated[
        list[str] | None, typer.Argument(help="Collections to mirror, e.g. Tickets Companies.")
    ] = None,
    database: Annotated[
        str,
        typer.Option(
            "--database",
            "--db",
            help="sqlite:///file.db | postgresql://... | duckdb:///file.duckdb | a file path.",
        ),
    ] = "autotask.db",
    every: Annotated[
        float | None,
        typer.Option("--every", help="Daemon mode: run every N minutes until SIGINT/SIGTERM."),
    ] = None,
    overlap: Annotated[
        float, typer.Option("--overlap", help="Overlap window in minutes for incremental runs.")
    ] = 10.0,
    reconcile: Annotated[
        bool | None,
        typer.Option(
            "--reconcile/--no-reconcile", help="Force/skip the id reconciliation (default: daily)."
        ),
    ] = None,
    max_delete: Annotated[
        float,
        typer.Option(
            "--max-delete-fraction", help="Refuse to delete more than this fraction of a table."
        ),
    ] = 0.5,
    force: Annotated[
        bool, typer.Option("--force", help="Allow deletions beyond --max-delete-fraction.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Restart with a full load.")] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            help="Seconds to wait when another sync holds the database (default 0: exit 6 at once).",
        ),
    ] = 0.0,
    status: Annotated[
        bool,
        typer.Option("--status", help="Show the sync state stored in the database and exit."),
    ] = False,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Real-time: after the incremental run, receive webhook callouts on HOST:PORT "
            "(':8080' is 127.0.0.1:8080; 0.0.0.0:8080 for every interface) and apply their "
            "changes; --every is then the gap-closing run's interval (default 5 min).",
        ),
    ] = None,
    secret_env: Annotated[
        str,
        typer.Option(
            "--secret-from-env",
            metavar="VAR",
            help="--listen: the environment variable holding the webhooks' secret key.",
        ),
    ] = "AUTOTASK_WEBHOOK_SECRET",
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            help="--listen: the receiver's durable event queue (default: <database>.webhooks.db).",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.table,
    quiet: QuietOpt = False,
    source: Annotated[
        str,
        typer.Option("--from", help="autotask (mirror into --db) | sql (push rows into Autotask)."),
    ] = "autotask",
    target: Annotated[
        str, typer.Option("--to", help="db (with --from autotask) | autotask (with --from sql).")
    ] = "db",
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="--from sql: SQLAlchemy URL of the source database."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="--from sql: table to read (default: entity).")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="--from sql: a SELECT to read instead of a table.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="--from sql: validate every row, write nothing.")
    ] = False,
    metrics_port: MetricsPortOpt = None,
    *,
    credentials: Credentials,
) -> None:
    """Mirror collections into a database: full load first, then incremental runs (changes,
    deletions, periodic reconciliation). Resumable after a crash.

    With ``--from sql --to autotask --connection URL``, push rows of a SQL table (or ``--query``)
    into one collection through the bulk path instead: rows with an id are merged, the rest
    created, exactly once."""
    if (source, target) == ("sql", "autotask"):
        if not entities or len(entities) != 1 or not connection:
            fail(
                "usage: py-autotask sync ENTITY --from sql --to autotask --connection URL "
                "[--table T | --query SELECT]",
                ExitCode.USAGE,
            )
        from ._bulk import sync_push_command

        sync_push_command(
            entity=entities[0],
            connection=connection,
            table=table,
            query=query,
            dry_run=dry_run,
            metrics_port=metrics_port,
            **dataclasses.asdict(credentials),
        )
        return
    if (source, target) != ("autotask", "db"):
        fail(
            f"--from {source} --to {target} is not a sync direction: use --from autotask --to db "
            "(the default) or --from sql --to autotask",
            ExitCode.USAGE,
        )
    from ..sync._db import check_database_url

    with errors():
        if status:
            check_database_url(database, allow_memory=False)
            with _database_errors(database):
                _print_sync_state(database, output)
            return
        if not entities:
            fail(
                "name the collections to sync, e.g. py-autotask sync Tickets Companies",
                ExitCode.USAGE,
            )
        if every is not None and every <= 0:
            fail("--every must be a positive number of minutes", ExitCode.USAGE)
        if not lock_timeout >= 0:
            fail("--lock-timeout must be a number of seconds >= 0", ExitCode.USAGE)
        check_database_url(database, allow_memory=False)
        if listen is not None:
            host, port = parse_listen(listen)
            secret = _listen_secret(secret_env)
            client = credentials.client(plugins=True)
            with client, serving_metrics(client, metrics_port), _database_errors(database):
                ok = run_realtime(
                    client,
                    list(entities),
                    database,
                    host=host,
                    port=port,
                    secret_key=secret,
                    queue=queue,
                    every=every if every is not None else 5.0,
                    overlap=overlap,
                    reconcile=reconcile,
                    output=output,
                    quiet=quiet,
                    lock_timeout=lock_timeout,
                )
            if not ok:
                raise typer.Exit(ExitCode.PARTIAL)
            return
        client = credentials.client(plugins=True)
        with client, serving_metrics(client, metrics_port), _database_errors(database):
            result = run_sync(
                client,
                list(entities),
                database,
                every=every,
                overlap=overlap,
                reconcile=reconcile,
                max_delete=max_delete,
                force=force,
                full=full,
                output=output,
                quiet=quiet,
                lock_timeout=lock_timeout,
            )
        if not result:
            raise typer.Exit(ExitCode.PARTIAL)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (127.0.0.1) or ``[v6]:PORT`` -> (host, port); a bad value exits 2
    with one line."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        fail(
            f"--listen {value!r} is not HOST:PORT: give e.g. :8080, 127.0.0.1:8080 or 0.0.0.0:8080",
            ExitCode.USAGE,
        )
    return host, int(port_text)


def _listen_secret(variable: str) -> str:
    import os

    secret = os.environ.get(variable, "")
    if not secret.strip():
        fail(
            f"--listen needs the webhooks' secret key in the environment variable {variable} "
            "(or name another with --secret-from-env VAR): unsigned callouts are never accepted",
            ExitCode.USAGE,
        )
    return secret


def run_realtime(
    client: AutotaskClient,
    entities: list[str],
    database: str,
    *,
    host: str,
    port: int,
    secret_key: str,
    queue: str | None = None,
    every: float = 5.0,
    overlap: float = 10.0,
    reconcile: bool | None = None,
    output: OutputFormat = OutputFormat.table,
    quiet: bool = False,
    lock_timeout: float = 0.0,
) -> bool:
    """``sync --listen``: the incremental run, then the webhook receiver keeping the mirror
    current until SIGINT/SIGTERM; status lines on stderr, each run's summary on stdout."""
    from ..realtime import RealtimeSync
    from ..sync import SyncResult

    all_ok = True

    def on_run(result: SyncResult) -> None:
        nonlocal all_ok
        if not quiet:
            _print_sync_summary(result, output)
        all_ok = all_ok and all(e.status in ("ok", "stopped") for e in result.entities)
        for e in result.entities:
            if e.status not in ("ok", "stopped"):
                err_console().print(f"[bold red]error:[/bold red] {escape(e.message or e.status)}")

    def on_status(line: str) -> None:
        if not quiet:
            err_console().print(f"realtime: {escape(line)}")

    realtime = RealtimeSync(
        client,
        database,
        entities,
        catch_up_every=_dt.timedelta(minutes=every),
        overlap=_dt.timedelta(minutes=overlap),
        reconcile=reconcile,
        lock_timeout=lock_timeout,
        on_status=on_status,
        on_catch_up=on_run,
    )
    realtime.serve(host, port, secret_key=secret_key, queue=queue)
    return all_ok


@contextlib.contextmanager
def _database_errors(database: str) -> Iterator[None]:
    """An error of the database (connection refused, authentication, disk) as one line naming
    the database without its password (exit 1), not SQLAlchemy's multi-line text."""
    from ..sync._db import database_problem

    try:
        yield
    except Exception as exc:
        problem = database_problem(exc, database)
        if problem is None:
            raise
        fail(problem, ExitCode.ERROR)


def _print_sync_state(database: str, output: OutputFormat) -> None:
    from pathlib import Path

    from ..sync import STATE_TABLE, open_database, sync_lock_status
    from ..sync._db import database_target
    from ..sync._lock import FileLock, sync_lock_for

    lock = sync_lock_for(database)
    if isinstance(lock, FileLock) and not Path(lock.db_path).exists():
        # reading the state must not create an empty database
        fail(f"no database at {lock.db_path}: nothing has been synced there yet", ExitCode.USAGE)
    held, holder = sync_lock_status(database)
    if held:
        who = holder.describe() if holder is not None else "another process (details unavailable)"
        err_console().print(f"sync lock: held by {escape(who)}")
    else:
        err_console().print("sync lock: free (no sync is running on this database)")
    try:
        db = open_database(database)
    except Exception as exc:
        if held and "lock" in str(exc).lower() and database_target(database)[0] == "duckdb":
            fail(
                "the sync state cannot be read while that sync run has the DuckDB file open "
                "(DuckDB admits one process per file); try again when the run is over (a daemon "
                "closes the file between runs)",
                ExitCode.ERROR,
            )
        raise
    try:
        if not db.columns(STATE_TABLE):
            fail(
                f"{lock.database} has no sync state (no {STATE_TABLE} table): py-autotask sync "
                "has not written to it",
                ExitCode.ERROR,
            )
        states = db.all_states()
    finally:
        db.close()
    rows = [
        {
            "entity": st.entity,
            "table": st.table_name,
            "status": st.status,
            "phase": st.phase,
            "rows": st.rows,
            "watermark": st.watermark,
            "id_watermark": st.id_watermark,
            "last_full_load": st.last_full_load,
            "last_reconciliation": st.last_reconciliation,
            "run_id": st.run_id,
            "message": st.message,
        }
        for st in states
    ]
    from ..sync._db import redact_url

    write_records(rows, output, title=f"sync state in {redact_url(database)}", max_table_columns=20)


def run_sync(
    client: AutotaskClient,
    entities: list[str],
    database: str,
    *,
    every: float | None = None,
    overlap: float = 10.0,
    reconcile: bool | None = None,
    max_delete: float = 0.5,
    force: bool = False,
    full: bool = False,
    output: OutputFormat = OutputFormat.table,
    quiet: bool = False,
    summary: bool = True,
    lock_timeout: float = 0.0,
) -> bool:
    """Run the syncer with progress bars on stderr and a per-entity summary on stdout; returns
    whether every entity succeeded."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..sync import SyncResult

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=err_console(),
        disable=quiet,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def on_page(entity: str, phase: str, done: int, total: int | None) -> None:
        task = tasks.get(entity)
        if task is None:
            task = progress.add_task(f"{entity} ({phase})", total=total)
            tasks[entity] = task
        if phase == "done":
            progress.update(task, completed=done, total=max(done, 1))
            if not done:
                progress.update(task, completed=1)
        else:
            progress.update(task, completed=done, total=total)

    all_ok = True

    def on_run(result: SyncResult) -> None:
        nonlocal all_ok
        for task in tasks.values():
            progress.update(task, total=progress.tasks[task].completed or 1)
        tasks.clear()
        if summary:
            _print_sync_summary(result, output)
        all_ok = all_ok and all(e.status in ("ok", "stopped") for e in result.entities)

    syncer = client.create_syncer(progress=on_page)
    with progress, waits_shown_in(progress):
        result = syncer.sync_to_database(
            database,
            entities,
            _dt.timedelta(minutes=every) if every else None,
            overlap=_dt.timedelta(minutes=overlap),
            reconcile=reconcile,
            max_delete_fraction=max_delete,
            force=force,
            full=full,
            on_run=on_run,
            lock_timeout=lock_timeout,
        )
    if result.stopped:
        err_console().print("[yellow]stopped by signal after committing the current page[/yellow]")
    for e in result.entities:
        if e.status not in ("ok", "stopped"):
            err_console().print(f"[bold red]error:[/bold red] {escape(e.message or e.status)}")
    return all_ok


def _print_sync_summary(result: Any, output: OutputFormat) -> None:
    rows = [
        {
            "entity": e.entity,
            "mode": e.mode,
            "created": e.created,
            "updated": e.updated,
            "deleted": e.deleted,
            "rows": e.rows,
            "requests": e.requests,
            "status": e.status,
        }
        for e in result.entities
    ]
    for row, e in zip(rows, result.entities, strict=True):
        if e.added_columns:
            row["new_columns"] = ", ".join(e.added_columns)
    if output is OutputFormat.json:
        import json

        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        sys.stdout.flush()
        return
    write_records(
        rows,
        output,
        title=f"sync run {result.run_id}: {result.seconds:.1f}s, {result.requests} requests",
        max_table_columns=20,
    )
    for warning in result.warnings:
        err_console().print(f"[yellow]warning:[/yellow] {escape(warning)}")
