"""One self-contained HTML report: trends, the model's holdout score and the data's date range.

Charts are inlined as SVG (matplotlib's SVG backend, fonts as paths), styles are inline: the file
loads nothing over the network when it is viewed.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import AutotaskConfigError
from ._data import load_tickets
from ._model import ModelReport, PredictiveModel
from ._trends import TicketAnalyzer, TrendResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ReportSummary", "build_report"]

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
.note { color: #555; font-size: 0.9em; } figure { margin: 0; }
"""


@dataclass(frozen=True)
class ReportSummary:
    """What a report holds (for the CLI's one-line summary and tests)."""

    path: Path
    tickets: int
    data_range: tuple[datetime | None, datetime | None]
    charts: int
    model: ModelReport | None
    model_problem: str | None


def _svg(fig: Figure) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    # the RDF metadata block (creator, a timestamp) is not needed to draw: keep the file stable
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)


def _section(title: str, result: TrendResult) -> str:
    parts = [f"<h2>{html.escape(title)}</h2>", f"<figure>{_svg(result.figure())}</figure>"]
    parts.append(result.summary.to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
    for metric, reason in result.unavailable().items():
        parts.append(
            f'<p class="note">{html.escape(metric)}: unavailable: {html.escape(reason)}</p>'
        )
    return "\n".join(parts)


def build_report(
    source: Any, out: str | Path, *, time_range: Any = "last_6_months", as_of: Any | None = None
) -> ReportSummary:
    """Write the report of ``source``'s tickets to ``out`` (written whole, then renamed into place)."""
    data = load_tickets(source)
    if data.frame.empty:
        raise AutotaskConfigError("the source has no tickets: there is nothing to report")
    analyzer = TicketAnalyzer(data, as_of=as_of)
    metrics = [
        "count",
        "backlog",
        "resolution_time",
        "first_response_time",
        "sla_met_rate",
        "reopen_rate",
        "customer_satisfaction",
    ]
    by_priority = analyzer.analyze_trends(time_range, "priority", metrics)
    by_queue = analyzer.analyze_trends(time_range, "queue", ["count", "resolution_time"])
    model = PredictiveModel(data)
    report: ModelReport | None
    problem: str | None = None
    try:
        report = model.train_resolution_time_model(verbose=False)
    except AutotaskConfigError as exc:
        report, problem = None, str(exc)
    first, last = by_priority.data_range
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" if first and last else "no dates"
    body = [
        "<h1>Ticket report</h1>",
        f"<p>Source: {html.escape(data.source_name)}; {len(data.frame)} tickets created "
        f"{html.escape(span)}. Trends cover {by_priority.start:%Y-%m-%d} to {by_priority.end:%Y-%m-%d}.</p>",
        _section("By priority", by_priority),
        _section("By queue", by_queue),
        "<h2>Resolution-time model</h2>",
    ]
    charts = 2
    if report is not None:
        body.append(f"<figure>{_svg(model.figure())}</figure>")
        body.append(f"<pre>{html.escape(str(report))}</pre>")
        charts += 1
    else:
        body.append(f'<p class="note">No model: {html.escape(problem or "")}</p>')
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>py-autotask ticket report</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    path = Path(out)
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return ReportSummary(path, len(data.frame), by_priority.data_range, charts, report, problem)
