"""Per-row outcomes, job results, progress values and failure CSVs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._csv import csv_line
from .._exitcodes import ExitCode
from .._values import plain_value

__all__ = [
    "EXIT_OK",
    "EXIT_PARTIAL",
    "BulkProgress",
    "BulkResult",
    "RowOutcome",
    "RowProblem",
    "Status",
]

#: Exit codes of :attr:`BulkResult.exit_code` (the names of :class:`~py_autotask._exitcodes.ExitCode`
#: members, kept for ``from py_autotask.bulk import EXIT_OK``).
EXIT_OK = ExitCode.OK
EXIT_PARTIAL = ExitCode.PARTIAL

Status = Literal["ok", "failed", "skipped", "unknown", "pending"]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason a row cannot be sent: ``row`` is the 1-based data row of the input."""

    row: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"row {self.row}{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What happened to one input row.

    ``status``: ``ok`` (``id`` is the created/updated/deleted record), ``failed`` (``reason`` is
    Autotask's error text or the validation problem, ``field`` when one field is to blame),
    ``skipped`` (``reason`` says why: no change, changed on the server since the snapshot, ...),
    ``unknown`` (a create whose outcome could not be established and that was not resent; see
    :meth:`BulkManager.resume`), ``pending`` (not attempted: the job stopped early).
    ``reconciled`` is true when a create's id was adopted from a lookup by its correlation value
    after an ambiguous response instead of from the create's own answer.
    """

    row: int
    status: Status
    id: int | None = None
    reason: str | None = None
    field: str | None = None
    reconciled: bool = False
    changed_fields: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class BulkProgress(float):
    """The percentage done (so ``f"{p}%"`` and ``p > 50`` work) plus the counts behind it."""

    done: int
    total: int
    ok: int
    failed: int
    skipped: int

    def __new__(cls, done: int, total: int, ok: int, failed: int, skipped: int) -> BulkProgress:
        percent = 100.0 if total == 0 else round(100.0 * done / total, 1)
        self = super().__new__(cls, percent)
        self.done, self.total, self.ok, self.failed, self.skipped = done, total, ok, failed, skipped
        return self

    def __repr__(self) -> str:
        return (
            f"BulkProgress({float(self)}%, done={self.done}/{self.total}, ok={self.ok}, "
            f"failed={self.failed}, skipped={self.skipped})"
        )


@dataclass
class BulkResult:
    """The outcome of a bulk job: one :class:`RowOutcome` per input row, in input order.

    ``problems`` lists every validation problem found before sending (all of them, not only the
    first per row). ``requests`` counts the API requests the job sent, every one the server
    received: writes, prefetch queries, reconciliation lookups, metadata reads, and the pipeline's
    own ``retries`` (resends after 429s, thread-limit rejections, 5xx...) and ``threshold`` polls.
    ``rate_limits`` is ``{kind: {"rejected": n, "waited": seconds}}`` for the rate limits met
    (``thread_limit``, ``throttled``, ``budget``) and other waits (``pacing``, ``slot``).
    ``stopped_on`` is ``"rate_limit"`` when the job stopped on a rate limit or the exhausted hourly
    budget (exit code ``ExitCode.RATE``, 4), ``"auth"`` when Autotask refused the credentials
    (``ExitCode.AUTH``, 3): either way its unsent rows stay ``pending`` in the journal for
    ``resume``. ``journal_path`` is the write-ahead journal (``None`` for a dry run).
    """

    entity: str
    operation: str
    rows: list[RowOutcome] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False
    journal_path: Path | None = None
    requests: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    stopped_reason: str | None = None
    inputs: Mapping[int, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    rate_limits: dict[str, dict[str, float]] = field(default_factory=dict)
    stopped_on: str | None = None

    # --- counts -------------------------------------------------------------------------------------

    def _count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def ok(self) -> list[RowOutcome]:
        return [r for r in self.rows if r.status == "ok"]

    @property
    def failed(self) -> list[RowOutcome]:
        return [r for r in self.rows if r.status in ("failed", "unknown", "pending")]

    @property
    def skipped(self) -> list[RowOutcome]:
        return [r for r in self.rows if r.status == "skipped"]

    @property
    def succeeded(self) -> bool:
        """True when no row failed, stayed unknown or was left pending (and no problem was found)."""
        return not self.failed and not self.problems

    @property
    def exit_code(self) -> ExitCode:
        """``ExitCode.OK`` (0) when every row is ok or skipped; ``ExitCode.RATE`` (4) when the job
        stopped on a rate limit or the hourly budget (resume it later); ``ExitCode.AUTH`` (3) when
        it stopped because Autotask refused the credentials; ``ExitCode.PARTIAL`` (5) otherwise."""
        if self.succeeded:
            return ExitCode.OK
        if self.stopped_on == "rate_limit":
            return ExitCode.RATE
        return ExitCode.AUTH if self.stopped_on == "auth" else ExitCode.PARTIAL

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.rows if r.status == "ok" and r.id is not None]

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def counts(self) -> dict[str, int]:
        counter = Counter(r.status for r in self.rows)
        return {s: counter.get(s, 0) for s in ("ok", "failed", "skipped", "unknown", "pending")}

    def __iter__(self) -> Iterator[RowOutcome]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        c = self.counts()
        head = f"{self.operation} {self.entity}" + (" (dry run)" if self.dry_run else "")
        parts = [f"{k}={v}" for k, v in c.items() if v or k in ("ok", "failed")]
        text = f"{head}: {len(self.rows)} rows, " + ", ".join(parts)
        if self.problems:
            text += f", {len(self.problems)} problems"
        text += f", {self.total_requests} requests in {self.elapsed:.2f}s"
        limits = _rate_limit_text(self.rate_limits)
        if limits:
            text += f"; waited on {limits}"
        if self.stopped_reason:
            text += f"; stopped: {self.stopped_reason}"
        return text

    # --- failures back out --------------------------------------------------------------------------

    def failure_rows(self) -> list[dict[str, Any]]:
        """The failed rows' original input values plus ``_row``, ``_field`` and ``_error``.
        Rows left ``pending`` (the job stopped before sending them) are not among them: they
        are the journal's to ``resume``, and feeding them back as well would create them twice."""
        by_row: dict[int, list[RowProblem]] = {}
        for p in self.problems:
            by_row.setdefault(p.row, []).append(p)
        out: list[dict[str, Any]] = []
        for outcome in self.rows:
            if outcome.status not in ("failed", "unknown") and outcome.row not in by_row:
                continue
            problems = by_row.get(outcome.row)
            if problems:
                field_text = "; ".join(p.field or "" for p in problems)
                error = "; ".join(p.reason for p in problems)
            else:
                field_text = outcome.field or ""
                error = outcome.reason or outcome.status
            values = dict(self.inputs.get(outcome.row, {}))
            out.append({"_row": outcome.row, "_field": field_text, "_error": error, **values})
        return out

    def write_failures_csv(self, path: str | Path) -> Path:
        """Write :meth:`failure_rows` as UTF-8 CSV: fix the values and feed the file back (the
        ``_row``/``_field``/``_error`` columns are ignored on input). Values are written in the
        project's CSV convention (:mod:`py_autotask._csv`): a cell that had no value stays an
        empty field, an empty string stays ``""``. Returns the path."""
        path = Path(path)
        rows = self.failure_rows()
        columns: list[str] = ["_row", "_field", "_error"]
        for r in rows:
            for key in r:
                if key not in columns:
                    columns.append(key)
        with path.open("w", newline="", encoding="utf-8") as fh:
            fh.write(csv_line(columns))
            for r in rows:
                fh.write(csv_line(_cell(r.get(c)) for c in columns))
        return path

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "operation": self.operation,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "requests": dict(self.requests),
            "elapsed": round(self.elapsed, 3),
            "journal": str(self.journal_path) if self.journal_path else None,
            "stopped_reason": self.stopped_reason,
            "stopped_on": self.stopped_on,
            "rate_limits": self.rate_limits,
            "problems": [
                {"row": p.row, "field": p.field, "reason": p.reason} for p in self.problems
            ],
            "rows": [
                {
                    "row": r.row,
                    "status": r.status,
                    "id": r.id,
                    "reason": r.reason,
                    "field": r.field,
                    "reconciled": r.reconciled,
                }
                for r in self.rows
            ],
        }


def _rate_limit_text(rate_limits: Mapping[str, Mapping[str, float]]) -> str:
    """``thread limit 6x (4.2s), throttled 3x (6.0s), pacing (12.0s)``."""
    parts = []
    for kind, figures in rate_limits.items():
        label = kind.replace("_", " ")
        n = int(figures.get("rejected", 0))
        seconds = float(figures.get("waited", 0.0))
        parts.append(label + (f" {n}x" if n else "") + f" ({seconds:.1f}s)")
    return ", ".join(parts)


def _cell(value: Any) -> Any:
    value = plain_value(value)  # NaN, NaT and pd.NA from a DataFrame are no value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value
