"""``py-autotask demo``: the embedded simulator -> a SQLite mirror -> Parquet files, no credentials."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import QuietOpt, errors

__all__ = ["DEMO_ENTITIES", "demo", "run_demo"]

#: What the demo mirrors (the collections the demo tenant is seeded with most).
DEMO_ENTITIES = (
    "Companies",
    "Contacts",
    "Resources",
    "Contracts",
    "Projects",
    "Tasks",
    "ConfigurationItems",
    "Tickets",
    "TicketNotes",
    "TimeEntries",
)


def _sqlite_to_parquet(db_path: Path, table: str, target: Path) -> int:
    """Write one mirrored table to Parquet with column types from the SQLite declarations."""
    import sqlite3

    import pyarrow as pa
    import pyarrow.parquet as pq

    from .._values import datetime_or_none

    con = sqlite3.connect(db_path)
    try:
        decl = con.execute(f'PRAGMA table_info("{table}")').fetchall()
        names = [str(d[1]) for d in decl]
        types = [str(d[2]).upper() for d in decl]
        cols = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
        rows = con.execute(f'SELECT {cols} FROM "{table}" ORDER BY "id"').fetchall()
    finally:
        con.close()
    arrays = []
    for i, t in enumerate(types):
        values: list[Any] = [r[i] for r in rows]
        if t == "INTEGER":
            arrays.append(pa.array(values, type=pa.int64()))
        elif t == "REAL":
            arrays.append(pa.array(values, type=pa.float64()))
        elif t == "BOOLEAN":
            arrays.append(pa.array([None if v is None else bool(v) for v in values], pa.bool_()))
        elif t == "DATETIME":
            arrays.append(
                pa.array(
                    [None if v is None else datetime_or_none(str(v), naive=True) for v in values],
                    type=pa.timestamp("us"),
                )
            )
        else:
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, names=names), target, compression="zstd")
    return len(rows)


def run_demo(out: str | Path, *, size: str = "demo", quiet: bool = False) -> int:
    """Run the demo; returns the exit code."""
    from rich.console import Console
    from rich.table import Table

    from .. import AutotaskClient
    from ..simulator import Simulator
    from ..sync import table_name
    from ._shared import OutputFormat
    from ._sync import run_sync

    err = Console(stderr=True, highlight=False)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "autotask.db"
    parquet_dir = out_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    with err.status(
        f"starting the embedded Autotask simulator ({size} tenant) ...", spinner="dots"
    ):
        sim = Simulator(profile=size, seed=42, thread_limit=0, hourly_threshold=0)
        sim.start()
    try:
        err.print(f"simulator ready at {sim.url} in {time.perf_counter() - started:.1f}s")
        creds = sim.credentials
        client = AutotaskClient(
            creds["username"], creds["secret"], creds["integration_code"], api_url=sim.url
        )
        with client:
            t0 = time.perf_counter()
            ok = run_sync(
                client,
                list(DEMO_ENTITIES),
                f"sqlite:///{db_path}",
                output=OutputFormat.table,
                quiet=quiet,
                summary=True,
            )
            sync_seconds = time.perf_counter() - t0
    finally:
        sim.close()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    t1 = time.perf_counter()
    written: list[tuple[str, int, int]] = []
    with Progress(
        TextColumn("[bold]Parquet"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err,
        disable=quiet,
    ) as progress:
        task = progress.add_task("", total=len(DEMO_ENTITIES))
        for entity in DEMO_ENTITIES:
            table = table_name(entity)
            progress.update(task, description=table)
            target = parquet_dir / f"{table}.parquet"
            n = _sqlite_to_parquet(db_path, table, target)
            written.append((table, n, target.stat().st_size))
            progress.advance(task)
    parquet_seconds = time.perf_counter() - t1

    summary = Table(title="demo summary")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    summary.add_column("parquet", justify="right")
    for table, n, nbytes in written:
        summary.add_row(table, f"{n:,}", f"{nbytes / 1024:,.0f} KiB")
    total = sum(n for _, n, _ in written)
    summary.add_row("[bold]total[/bold]", f"[bold]{total:,}[/bold]", "")
    console = Console()
    console.print(summary)
    console.print(
        f"SQLite mirror: {db_path}  (sync {sync_seconds:.1f}s)\n"
        f"Parquet files: {parquet_dir}/  ({parquet_seconds:.1f}s)\n"
        f"total {time.perf_counter() - started:.1f}s. Next: re-run `py-autotask sync` against a "
        "real tenant with AUTOTASK_* set, or query the file: "
        f"sqlite3 {db_path} 'select priority, count(*) from tickets group by 1'"
    )
    return ExitCode.OK if ok else ExitCode.PARTIAL


def demo(
    out: Annotated[
        str, typer.Option("--out", help="Directory for the SQLite file and Parquet files.")
    ] = "autotask-demo",
    size: Annotated[
        str, typer.Option("--size", help="Simulator seed profile: demo | tiny.")
    ] = "demo",
    quiet: QuietOpt = False,
) -> None:
    """No credentials needed: start the embedded simulator with a demo tenant, sync it into a
    SQLite file and export Parquet files, with progress bars and a summary."""
    with errors():
        code = run_demo(out, size=size, quiet=quiet)
    raise typer.Exit(code)
