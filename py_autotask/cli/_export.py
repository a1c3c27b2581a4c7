"""``export``: collections (with the rows they reference) to files or a database, resumable.

Every export goes through :class:`~py_autotask.export.Exporter`, ``--fields`` too (a field
selection of the exporter, written as one file), so an interrupted export of any kind resumes with
``--resume``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from .._exitcodes import ExitCode
from .._values import datetime_or_none, is_date_text
from ..exceptions import AutotaskConfigError
from ._shared import (
    Credentials,
    FilterOpt,
    OutputFormat,
    QuietOpt,
    check_against_metadata,
    entity_spec,
    err_console,
    errors,
    escape,
    fail,
    field_list,
    waits_shown_in,
    with_credentials,
    write_records,
)

if TYPE_CHECKING:
    from .._spec import EntitySpec

__all__ = ["export"]

_FOLDER_FORMATS = ("csv", "json", "jsonl", "parquet")
_FILE_SUFFIX = {"excel": ".xlsx", "sqlite": ".db", "duckdb": ".duckdb"}


def _date_range_items(spec: EntitySpec, text: str, field: str | None) -> list[dict[str, Any]]:
    """``START,END`` (dates or datetimes; END inclusive for dates) -> two conditions on ``field``
    (default: ``createDate`` when the entity has it, else its change-tracking field)."""
    start, sep, end = text.partition(",")
    if not sep:
        fail(f"--date-range needs START,END, got {text!r}", ExitCode.USAGE)
    name = field
    if name is None:
        lowered = {f.lower(): f for f in spec.fields}
        name = lowered.get("createdate") or lowered.get("createdatetime")
        name = name or spec.change_tracking_field
    if not name:
        fail(f"{spec.name} has no createDate field; name one with --date-field", ExitCode.USAGE)
    items: list[dict[str, Any]] = []
    if start.strip():
        items.append({"op": "gte", "field": name, "value": start.strip()})
    if end.strip():
        value = end.strip()
        if len(value) == 10:  # a date: include the whole day
            if not is_date_text(value) or (parsed := datetime_or_none(value)) is None:
                fail(f"--date-range end {value!r} is not a date (YYYY-MM-DD)", ExitCode.USAGE)
            day = parsed.date() + _dt.timedelta(days=1)
            items.append({"op": "lt", "field": name, "value": day.isoformat()})
        else:
            items.append({"op": "lte", "field": name, "value": value})
    return items


@with_credentials
def export(
    entities: Annotated[list[str], typer.Argument(help="Collections to export, e.g. Tickets.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-F",
            help="csv | json | jsonl | parquet | excel | sqlite | duckdb | postgresql "
            "(default: from --output).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-O",
            help="Folder (csv/json/jsonl/parquet), file (excel/sqlite/duckdb) or postgresql:// URL.",
        ),
    ] = None,
    filter: FilterOpt = None,
    date_range: Annotated[
        str | None,
        typer.Option("--date-range", help="START,END on --date-field, e.g. 2024-01-01,2024-12-31."),
    ] = None,
    date_field: Annotated[
        str | None,
        typer.Option("--date-field", help="Field for --date-range (default createDate)."),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            help="Only these fields of one entity (udf.Name for UDFs; id is always included); "
            "csv/json/jsonl/parquet go to one file.",
        ),
    ] = None,
    include_relationships: Annotated[
        str | None,
        typer.Option(
            "--include-relationships",
            help="Comma-separated, e.g. tickets.company,tickets.contactID; 'all' for every reference.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted export.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output.")
    ] = False,
    compress: Annotated[bool, typer.Option("--compress", help="Zip folder outputs.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=3,
            help="Id-range partitions read in parallel (Autotask allows 3 requests in flight per "
            "endpoint). With 1, a killed export re-reads at most one page on --resume; with N, "
            "at most N+1.",
        ),
    ] = 3,
    quiet: QuietOpt = False,
    *,
    credentials: Credentials,
) -> None:
    """Export collections (with the rows they reference) to files or a database; resumable."""
    from ._filterlang import parse_expression

    with errors():
        specs = [entity_spec(e, "query") for e in entities]
        fmt = format.strip().lower() if format else None
        if output is None:
            from ..sync import table_name

            fmt = fmt or "csv"
            base = table_name(specs[0].name) if len(specs) == 1 else "autotask"
            if fmt in ("postgresql", "postgres"):
                fail(
                    "--format postgresql needs --output postgresql://user@host/database",
                    ExitCode.USAGE,
                )
            # a folder per format (tickets-parquet/, tickets-json/) so exporting one entity in
            # two formats with the defaults does not collide
            output = base + (f"-{fmt}" if fmt in _FOLDER_FORMATS else _FILE_SUFFIX.get(fmt, ""))
        parsed = parse_expression(filter) if filter else None
        chosen = field_list(fields)
        single_file = False
        if chosen:
            if len(specs) != 1:
                fail("--fields works with one entity at a time", ExitCode.USAGE)
            if include_relationships:
                fail(
                    "--fields exports the chosen fields of one entity; --include-relationships "
                    "needs whole rows (drop --fields)",
                    ExitCode.USAGE,
                )
            output, fmt, single_file = _fields_target(output, fmt)
        client = credentials.client()
        with client:
            check_against_metadata(client, specs, parsed, chosen)
            exporter = client.create_exporter(workers=workers)
            for spec in specs:
                spec_items = list(parsed.items) if parsed is not None else []
                if date_range:
                    spec_items += _date_range_items(spec, date_range, date_field)
                exporter.add_entities(spec.name, filter=spec_items or None, fields=chosen)
            if include_relationships:
                rels = _relationships(specs, include_relationships)
                if rels:
                    exporter.include_relationships(rels)
            with _export_progress(quiet) as on_progress:
                exporter.progress = on_progress
                result = exporter.export(
                    output,
                    fmt,
                    compress=compress,
                    resume=resume,
                    overwrite=overwrite,
                    single_file=single_file,
                )
        rows = [
            {
                "entity": e.entity,
                "rows": e.rows,
                "expected": e.expected,
                "verified": e.verified,
                "related_rows": e.related_rows,
                "location": e.location,
            }
            for e in result.entities.values()
        ]
        write_records(
            rows,
            OutputFormat.table,
            title=f"{result.format} export -> {result.path} ({result.requests} requests"
            + (", resumed" if result.resumed else "")
            + ")",
            out=sys.stdout,
            max_table_columns=20,
        )
        for warning in result.warnings:
            err_console().print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _fields_target(output: str, fmt: str | None) -> tuple[str, str | None, bool]:
    """Where ``--fields`` writes: csv/json/jsonl/parquet (``--format``, else the suffix of
    ``--output``, else csv) as one file, ``OUTPUT`` with the format's suffix added when it has
    none; other formats in their usual layout. Returns ``(output, format, single_file)``."""
    from pathlib import Path

    target = Path(output)
    suffix = target.suffix.lower().lstrip(".")
    if fmt is None and suffix and suffix not in _FOLDER_FORMATS:
        return output, None, False  # .xlsx, .db, .duckdb: the exporter tells by the suffix
    kind = fmt or suffix or "csv"
    if kind not in _FOLDER_FORMATS:
        return output, kind, False
    if not target.suffix:
        target = target.with_suffix("." + kind)
    return str(target), kind, True


def _relationships(specs: list[EntitySpec], text: str) -> list[str]:
    """``--include-relationships a.b,c.d`` (``all``: every reference of the entities to a
    collection that can be queried)."""
    from .._registry import spec_for

    rels: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if part.lower() == "all":
            for spec in specs:
                for f in spec.fields.values():
                    if not f.reference_entity:
                        continue
                    try:
                        target = spec_for(f.reference_entity)
                    except AutotaskConfigError:
                        continue  # a reference to an entity the API has no collection for
                    if "query" in target.root_operations:
                        rels.append(f"{spec.name}.{f.api_name}")
        elif part:
            rels.append(part)
    return rels


_PHASES: Final = {"fetch": "read", "related": "read (referenced)", "write": "write"}


@contextlib.contextmanager
def _export_progress(quiet: bool) -> Iterator[Callable[[str, str, int, int | None], None]]:
    """Progress bars on stderr, one per entity and phase (rows read, referenced rows read, rows
    written), fed by the exporter's callback from its worker threads (rich is thread-safe). A long
    wait (pacing, the hourly budget, rate limits) shows in their descriptions too."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        disable=quiet,
    )
    tasks: dict[tuple[str, str], TaskID] = {}
    lock = threading.Lock()

    def on_progress(entity: str, phase: str, done: int, total: int | None) -> None:
        with lock:
            task = tasks.get((entity, phase))
            if task is None:
                label = f"{entity}: {_PHASES.get(phase, phase)}"
                task = tasks[entity, phase] = progress.add_task(label, total=total)
        progress.update(task, completed=done, total=total)

    with progress, waits_shown_in(progress):
        yield on_progress
