"""``export``: collections (with the rows they reference) to files or a database, resumable.

Every export goes through :class:`~py_autotask.export.Exporter`, ``--fields`` too (a field
selection of the exporter, written as one file), so an interrupted export of any kind resumes with
``--resume``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from .._exitcodes import ExitCode
from .._values import format_wire_datetime, is_date_text, parse_datetime
from ..exceptions import AutotaskConfigError
from ._shared import (
    Credentials,
    FilterOpt,
    MetricsPortOpt,
    OutputFormat,
    QuietOpt,
    check_against_metadata,
    entity_spec,
    err_console,
    errors,
    escape,
    fail,
    field_list,
    serving_metrics,
    waits_shown_in,
    with_credentials,
    write_records,
)

if TYPE_CHECKING:
    from .._spec import EntitySpec
    from ._filterlang import MetadataSource

__all__ = ["export"]

_FOLDER_FORMATS = ("csv", "json", "jsonl", "parquet")
_FILE_SUFFIX = {"excel": ".xlsx", "sqlite": ".db", "duckdb": ".duckdb"}


@dataclass(frozen=True)
class _DateRange:
    """``--date-range START,END`` checked: the conditions' values (either end may be open)."""

    start: str | None
    end: str | None
    end_op: str  # "lt" (the day after a date-only END: the whole END day) or "lte"


def _date_end(text: str, which: str, option: str) -> tuple[str, _dt.datetime]:
    """One end of ``--date-range`` as sent (a date as written, a datetime in the wire format)
    and as a UTC datetime; a usage error when it is not a date."""
    try:
        parsed = parse_datetime(text)
    except ValueError as exc:
        detail = str(exc)
        detail = detail[detail.rfind(" (") :] if detail.endswith(")") else ""
        fail(
            f"{option} {which} {text!r} is not a date (YYYY-MM-DD){detail}: write a date such as "
            "2024-01-31 or a datetime such as 2024-01-31T10:00:00Z",
            ExitCode.USAGE,
        )
    assert parsed is not None  # not blank: the caller skips an open end
    return (text if is_date_text(text) else format_wire_datetime(parsed)), parsed


def _date_range(text: str, option: str = "--date-range") -> _DateRange:
    """``START,END`` (dates or datetimes, UTC unless they carry an offset; END inclusive for
    dates, either end may be left open) checked before anything is sent."""
    start_text, sep, end_text = (part.strip() for part in text.partition(","))
    if not sep or not (start_text or end_text):
        fail(
            f"{option} needs START,END (either may be left open), e.g. 2024-01-01,2024-12-31 "
            f"or 2024-01-01, ; got {text!r}",
            ExitCode.USAGE,
        )
    start = _date_end(start_text, "start", option) if start_text else None
    end = _date_end(end_text, "end", option) if end_text else None
    end_op, end_value, end_at = "lte", None, None
    if end is not None:
        end_value, end_at = end
        if is_date_text(end_text):  # a date: include the whole day
            end_at = end_at + _dt.timedelta(days=1)
            end_op, end_value = "lt", end_at.date().isoformat()
    if start is not None and end_at is not None:
        empty = start[1] >= end_at if end_op == "lt" else start[1] > end_at
        if empty:
            fail(
                f"{option} {text!r} starts after it ends: write the earlier date first "
                f"({end_text},{start_text}?)",
                ExitCode.USAGE,
            )
    return _DateRange(start[0] if start else None, end_value, end_op)


def _date_range_items(
    spec: EntitySpec, span: _DateRange, field: str | None, tenant_fields: MetadataSource
) -> list[dict[str, Any]]:
    """The conditions of a checked ``--date-range`` on ``field`` (default: ``createDate`` when
    the entity has it, else its change-tracking field), which must be a date field of ``spec``."""
    from ._filterlang import check_date_field

    name = field
    if name is None:
        lowered = {f.lower(): f for f in spec.fields}
        name = lowered.get("createdate") or lowered.get("createdatetime")
        name = name or spec.change_tracking_field
        if not name:
            fail(
                f"{spec.name} has no createDate field; name one with --date-field",
                ExitCode.USAGE,
            )
    name = check_date_field(name, spec, tenant_fields=tenant_fields)
    items: list[dict[str, Any]] = []
    if span.start is not None:
        items.append({"op": "gte", "field": name, "value": span.start})
    if span.end is not None:
        items.append({"op": span.end_op, "field": name, "value": span.end})
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
    metrics_port: MetricsPortOpt = None,
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
        span = _date_range(date_range) if date_range is not None else None
        if date_field is not None and span is None:
            fail(
                "--date-field names the field --date-range filters on: add --date-range "
                "START,END (or leave --date-field out)",
                ExitCode.USAGE,
            )
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
        client = credentials.client(plugins=True)
        with client, serving_metrics(client, metrics_port):
            check_against_metadata(client, specs, parsed, chosen)
            ranges = {
                spec.name: _date_range_items(
                    spec,
                    span,
                    date_field,
                    functools.partial(client.metadata.fields, spec.name),
                )
                for spec in specs
                if span is not None
            }
            exporter = client.create_exporter(workers=workers)
            for spec in specs:
                spec_items = list(parsed.items) if parsed is not None else []
                spec_items += ranges.get(spec.name, [])
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
