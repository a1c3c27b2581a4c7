"""Ticket trends: volume, backlog, resolution and first-response times, SLA and reopen rates.

Definitions (docs/analytics.md says the same):

* resolution time: ``createDate`` -> ``resolvedDateTime`` (or ``completedDate`` when the ticket has
  no resolved time), in calendar hours and in business hours (:mod:`py_autotask._bizhours`);
* first-response time: ``createDate`` -> ``firstResponseDateTime``;
* SLA met rate: share of tickets with ``serviceLevelAgreementHasBeenMet`` true among those where it
  is set (tickets without an SLA do not count);
* reopen rate: share of resolved tickets that were reopened: completed more than a day after they
  were first resolved, or resolved once and open now;
* backlog: tickets created by the end of a period and not completed by then;
* customer satisfaction: the ticket's service-thermometer survey rating
  (``currentServiceThermometerRating``); without survey data it is unavailable, never estimated.

Times are grouped by month of creation; "last_6_months" ends at ``as_of`` (default: the newest
ticket's creation time in the source, so a mirror synced last year is analysed as of then).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._bizhours import business_ms_between
from ..exceptions import AutotaskConfigError
from ._data import TicketData, load_tickets, load_tickets_async

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["GROUPS", "METRICS", "MetricAvailability", "TicketAnalyzer", "TrendResult"]

#: group_by name -> ticket field
GROUPS = {
    "priority": "priority",
    "queue": "queueID",
    "company": "companyID",
    "resource": "assignedResourceID",
    "issue_type": "issueType",
}
#: metric name -> the result columns it fills
METRICS: dict[str, tuple[str, ...]] = {
    "count": ("count",),
    "backlog": ("backlog",),
    "resolution_time": ("resolution_hours_median", "resolution_business_hours_median"),
    "first_response_time": ("first_response_hours_median",),
    "sla_met_rate": ("sla_met_rate",),
    "reopen_rate": ("reopen_rate",),
    "customer_satisfaction": ("satisfaction_mean",),
}
_ALIASES = {"volume": "count"}
_RANGE = re.compile(r"^last_(\d+)_(day|week|month|year)s?$")
_REOPEN_GAP = timedelta(days=1)


@dataclass(frozen=True)
class MetricAvailability:
    """Whether a metric could be computed from the data in range, and why not when it could not."""

    available: bool
    reason: str | None = None


@dataclass
class TrendResult:
    """Monthly metrics per group (``frame``), the whole range per group (``summary``), and per metric
    whether the data supports it (``availability``)."""

    frame: pd.DataFrame
    summary: pd.DataFrame
    availability: dict[str, MetricAvailability]
    group_by: str
    metrics: list[str]
    start: datetime
    end: datetime
    data_range: tuple[datetime | None, datetime | None]
    source: str
    tickets: int = 0
    notes: list[str] = field(default_factory=list)

    def unavailable(self) -> dict[str, str]:
        """Metric -> why it is unavailable."""
        return {m: a.reason or "" for m, a in self.availability.items() if not a.available}

    def __str__(self) -> str:
        lines = [
            f"{self.tickets} tickets created {self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d} "
            f"(source: {self.source}), grouped by {self.group_by}"
        ]
        lines.append(self.summary.to_string(index=False))
        for metric, reason in self.unavailable().items():
            lines.append(f"{metric}: unavailable: {reason}")
        return "\n".join(lines)

    def figure(self) -> Figure:
        """One panel per available metric: its monthly value per group (the 8 largest groups)."""
        from matplotlib.figure import Figure

        columns = [c for m in self.metrics if self.availability[m].available for c in METRICS[m]]
        fig = Figure(figsize=(9, 2.6 * max(len(columns), 1)), layout="constrained")
        if not columns:
            ax = fig.add_subplot()
            ax.text(0.5, 0.5, "no metric has data in this range", ha="center", va="center")
            ax.set_axis_off()
            return fig
        top = list(self.summary.sort_values("count", ascending=False)["label"].head(8))
        axes = fig.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
        for ax, column in zip(axes, columns, strict=True):
            for label in top:
                part = self.frame[self.frame["label"] == label]
                ax.plot(part["period"].dt.tz_localize(None), part[column], marker=".", label=label)
            ax.set_ylabel(column.replace("_", " "), fontsize=8)
            ax.grid(alpha=0.3)
        axes[0].set_title(f"tickets by {self.group_by}, per month of creation")
        axes[0].legend(fontsize=7, ncol=4, loc="upper left")
        return fig


def _parse_range(time_range: Any, as_of: datetime) -> tuple[datetime, datetime]:
    if isinstance(time_range, str):
        if time_range == "all":
            return datetime(1900, 1, 1, tzinfo=timezone.utc), as_of
        match = _RANGE.match(time_range.strip().lower())
        if not match:
            raise AutotaskConfigError(
                f"time_range {time_range!r} is not understood: write 'last_6_months', 'last_30_days', "
                "'last_2_years', 'all' or a (start, end) pair of dates"
            )
        n, unit = int(match.group(1)), match.group(2)
        if unit == "month":
            month = as_of.month - n
            year = as_of.year + (month - 1) // 12
            month = (month - 1) % 12 + 1
            day = min(as_of.day, 28)
            return as_of.replace(year=year, month=month, day=day), as_of
        days = {"day": 1, "week": 7, "year": 365}[unit] * n
        return as_of - timedelta(days=days), as_of
    try:
        start, end = time_range
    except (TypeError, ValueError):
        raise AutotaskConfigError(
            f"time_range {time_range!r} is not understood: write 'last_6_months' or a (start, end) pair"
        ) from None
    return _as_utc(start), _as_utc(end)


def _as_utc(value: Any) -> datetime:
    import pandas as pd

    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()  # type: ignore[no-any-return]


def ticket_measures(frame: pd.DataFrame) -> pd.DataFrame:
    """Per ticket: resolution and first-response hours (calendar and business), reopened, sla."""
    import numpy as np
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    created = frame["createDate"]
    nat = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    resolved = frame.get("resolvedDateTime", nat)
    completed = frame.get("completedDate", nat)
    end = resolved.fillna(completed)
    out["resolution_hours"] = (end - created).dt.total_seconds() / 3600.0

    def business(a: pd.Series, b: pd.Series) -> pd.Series:
        values = [
            business_ms_between(int(x.value // 1_000_000), int(y.value // 1_000_000)) / 3_600_000
            if not (pd.isna(x) or pd.isna(y))
            else np.nan
            for x, y in zip(a, b, strict=True)
        ]
        return pd.Series(values, index=a.index, dtype="float64")

    out["resolution_business_hours"] = business(created, end)
    first = frame.get("firstResponseDateTime", nat)
    out["first_response_hours"] = (first - created).dt.total_seconds() / 3600.0
    has_resolution = resolved.notna()
    reopened = has_resolution & (completed.isna() | ((completed - resolved) > _REOPEN_GAP))
    out["reopened"] = reopened.where(has_resolution)
    if "serviceLevelAgreementHasBeenMet" in frame:
        out["sla_met"] = frame["serviceLevelAgreementHasBeenMet"].astype("float64")
    else:
        out["sla_met"] = np.nan
    if "currentServiceThermometerRating" in frame:
        out["satisfaction"] = pd.to_numeric(
            frame["currentServiceThermometerRating"], errors="coerce"
        )
    else:
        out["satisfaction"] = np.nan
    out["open_until"] = completed
    return out


_UNAVAILABLE = {
    "resolution_time": "no ticket in the range has a resolvedDateTime or completedDate",
    "first_response_time": "no ticket in the range has a firstResponseDateTime",
    "sla_met_rate": "no ticket in the range has serviceLevelAgreementHasBeenMet set (no SLA assigned)",
    "reopen_rate": "no ticket in the range has been resolved (resolvedDateTime), so none can be reopened",
    "customer_satisfaction": (
        "no ticket in the range has a survey rating (currentServiceThermometerRating): the tenant "
        "has no customer-satisfaction survey data, and none is estimated"
    ),
    "count": "no ticket was created in the range",
    "backlog": "no ticket was created in the range",
}
_SOURCE_COLUMN = {
    "resolution_time": "resolution_hours",
    "first_response_time": "first_response_hours",
    "sla_met_rate": "sla_met",
    "reopen_rate": "reopened",
    "customer_satisfaction": "satisfaction",
}


class TicketAnalyzer:
    """Trends over a source's tickets: a client (sync or async), a pandas DataFrame of tickets
    (API field names), or a sync mirror URL (``sqlite:///autotask.db``, ``postgresql://...``).

    A client's tickets are read once, with only the fields an analysis needs (:data:`TICKET_FIELDS`);
    an async client's inside a running event loop with ``await analyzer.fetch()`` first.
    """

    def __init__(self, source: Any, *, as_of: Any | None = None) -> None:
        _require()
        self._source = source
        self._as_of = _as_utc(as_of) if as_of is not None else None
        self._data: TicketData | None = None

    @property
    def data(self) -> TicketData:
        if self._data is None:
            self._data = load_tickets(self._source)
        return self._data

    async def fetch(self) -> TicketData:
        """Read an async client's tickets (inside a running event loop, before analysing)."""
        if self._data is None:
            if isinstance(self._source, (str, TicketData)) or not hasattr(self._source, "tickets"):
                self._data = load_tickets(self._source)
            else:
                self._data = await load_tickets_async(self._source)
        return self._data

    def as_of(self) -> datetime:
        if self._as_of is not None:
            return self._as_of
        created = self.data.frame["createDate"].dropna()
        if created.empty:
            return datetime.now(timezone.utc)
        return created.max().to_pydatetime()  # type: ignore[no-any-return]

    def analyze_trends(
        self,
        time_range: Any = "last_6_months",
        group_by: str = "priority",
        metrics: Iterable[str] = ("count", "backlog", "resolution_time"),
    ) -> TrendResult:
        """Monthly metrics of the tickets created in ``time_range``, per ``group_by`` value."""
        import numpy as np
        import pandas as pd

        wanted = _metric_names(metrics)
        if group_by not in GROUPS:
            raise AutotaskConfigError(f"group_by {group_by!r} is not one of: {', '.join(GROUPS)}")
        data = self.data
        frame = data.frame
        gfield = GROUPS[group_by]
        start, end = _parse_range(time_range, self.as_of())
        measures = ticket_measures(frame)
        group = frame[gfield] if gfield in frame else pd.Series(np.nan, index=frame.index)
        labels = data.labels.get(gfield, {})
        prefix = {"companyID": "company ", "assignedResourceID": "resource "}.get(gfield, "")

        def label_of(value: Any) -> str:
            if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
                return "(none)"
            key = (
                int(value)
                if isinstance(value, (float, np.floating)) and float(value).is_integer()
                else value
            )
            return labels.get(key) or labels.get(str(key)) or f"{prefix}{key}"

        work = measures.assign(
            created=frame["createDate"],
            label=[label_of(v) for v in group],
        )
        in_range = work[(work["created"] >= start) & (work["created"] <= end)].copy()
        in_range["period"] = (
            in_range["created"]
            .dt.tz_localize(None)
            .dt.to_period("M")
            .dt.to_timestamp()
            .dt.tz_localize("UTC")
        )

        availability: dict[str, MetricAvailability] = {}
        for m in wanted:
            column = _SOURCE_COLUMN.get(m)
            ok = not in_range.empty and (column is None or bool(in_range[column].notna().any()))
            availability[m] = MetricAvailability(ok, None if ok else _UNAVAILABLE[m])

        def aggregate(parts: Any) -> pd.DataFrame:
            agg = parts.agg(
                count=("created", "size"),
                resolution_hours_median=("resolution_hours", "median"),
                resolution_business_hours_median=("resolution_business_hours", "median"),
                first_response_hours_median=("first_response_hours", "median"),
                sla_met_rate=("sla_met", "mean"),
                reopen_rate=("reopened", lambda s: s.dropna().astype(float).mean()),
                satisfaction_mean=("satisfaction", "mean"),
            )
            return agg.reset_index()

        monthly = aggregate(in_range.groupby(["period", "label"], sort=True))
        summary = aggregate(in_range.groupby("label", sort=True))
        # backlog at each month's end (and at the range's end for the summary)
        if "backlog" in wanted:
            created_all = work["created"]
            open_until = work["open_until"]
            values = []
            for period, label in zip(monthly["period"], monthly["label"], strict=True):
                month_end = min(period + pd.offsets.MonthBegin(1), pd.Timestamp(end))
                mask = (work["label"] == label) & (created_all <= month_end)
                mask &= open_until.isna() | (open_until > month_end)
                values.append(int(mask.sum()))
            monthly["backlog"] = values
            summary["backlog"] = [
                int(
                    (
                        (work["label"] == label)
                        & (created_all <= end)
                        & (open_until.isna() | (open_until > end))
                    ).sum()
                )
                for label in summary["label"]
            ]
        keep = ["count"] + [c for m in wanted for c in METRICS[m] if c != "count"]
        for m in wanted:
            if not availability[m].available:
                for c in METRICS[m]:
                    if c in monthly and c != "count":
                        monthly[c] = np.nan
                        summary[c] = np.nan
        columns = list(dict.fromkeys(keep))
        dates = frame["createDate"].dropna()
        return TrendResult(
            frame=monthly[["period", "label", *columns]],
            summary=summary[["label", *columns]],
            availability=availability,
            group_by=group_by,
            metrics=wanted,
            start=start,
            end=end,
            data_range=(
                dates.min().to_pydatetime() if not dates.empty else None,
                dates.max().to_pydatetime() if not dates.empty else None,
            ),
            source=data.source_name,
            tickets=len(in_range),
        )


def _metric_names(metrics: Iterable[str]) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    out: list[str] = []
    for m in metrics:
        name = _ALIASES.get(m, m)
        if name not in METRICS:
            raise AutotaskConfigError(
                f"unknown metric {m!r}: choose from {', '.join([*METRICS, *_ALIASES])}"
            )
        if name not in out:
            out.append(name)
    return out


def _require() -> None:
    import importlib.util

    for module in ("pandas", "sklearn", "matplotlib"):
        if importlib.util.find_spec(module) is None:
            raise AutotaskConfigError(
                f"py_autotask.analytics needs {module}: pip install 'py-autotask[analytics]'"
            )
