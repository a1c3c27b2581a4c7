"""``report``: one self-contained HTML file of a sync mirror's ticket trends and predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._exitcodes import ExitCode
from ._shared import err_console, errors, fail

__all__ = ["report"]


def report(
    db: Annotated[
        str,
        typer.Option(
            "--db", help="The sync mirror: sqlite:///file.db | postgresql://... | a file path."
        ),
    ] = "autotask.db",
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    time_range: Annotated[
        str, typer.Option("--time-range", help="last_6_months | last_30_days | last_2_years | all.")
    ] = "last_6_months",
) -> None:
    """Ticket trends (volume, backlog, resolution and first-response times, SLA and reopen rates
    per priority and queue), the resolution-time model's holdout score against the baseline and
    the data's date range, as one HTML file that loads nothing from the network. Reads the
    mirror `sync` made; sends no API request. Needs pip install 'py-autotask[analytics]'."""
    from ..sync._db import database_target

    with errors():
        kind, url = database_target(db)
        if kind == "duckdb":
            fail(
                f"--db {db}: the report reads SQLite or PostgreSQL mirrors, not DuckDB; "
                "sync into a SQLite file (--db autotask.db) for it",
                ExitCode.USAGE,
            )
        if url.startswith("sqlite:///") and "://" not in db and not Path(db).is_file():
            fail(
                f"--db {db}: no such database file; make it first with py-autotask sync Tickets --db {db}",
                ExitCode.USAGE,
            )
        if not out.parent.is_dir():
            fail(f"--out {out}: the folder {out.parent} does not exist", ExitCode.USAGE)
        if out.is_dir():
            fail(f"--out {out} is a folder: name the HTML file to write", ExitCode.USAGE)
        from ..analytics import build_report

        summary = build_report(url, out, time_range=time_range)
        first, last = summary.data_range
        span = f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}" if first and last else "no dates"
        model = (
            f"model MAE {summary.model.model_mae_hours:.1f} h vs baseline "
            f"{summary.model.baseline_mae_hours:.1f} h"
            if summary.model
            else f"no model: {summary.model_problem}"
        )
        err_console().print(
            f"wrote {out}: {summary.tickets} tickets ({span}), {summary.charts} charts, {model}"
        )
