"""Where an analysis's tickets come from: a client (sync or async), a DataFrame, or a sync mirror.

Every source ends as one pandas DataFrame keyed by API field names (:data:`TICKET_FIELDS` that the
source has), datetimes tz-aware UTC, plus the tenant's picklist labels of the grouping fields
(``{field: {value: label}}``; empty when the source has no metadata: a bare DataFrame).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._registry import table_name
from .._sqlurl import check_sqlalchemy_url, shown_url
from ..exceptions import AutotaskConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATETIME_FIELDS",
    "PICKLIST_FIELDS",
    "TICKET_FIELDS",
    "TicketData",
    "load_tickets",
    "load_tickets_async",
]

#: the fields an analysis reads (only these are requested from the API)
TICKET_FIELDS = (
    "id",
    "createDate",
    "firstResponseDateTime",
    "resolvedDateTime",
    "completedDate",
    "status",
    "priority",
    "queueID",
    "companyID",
    "assignedResourceID",
    "issueType",
    "subIssueType",
    "source",
    "ticketCategory",
    "serviceLevelAgreementID",
    "serviceLevelAgreementHasBeenMet",
    "currentServiceThermometerRating",
    "title",
    "description",
)
DATETIME_FIELDS = ("createDate", "firstResponseDateTime", "resolvedDateTime", "completedDate")
#: picklist fields whose labels an analysis shows (from the tenant's metadata)
PICKLIST_FIELDS = (
    "status",
    "priority",
    "queueID",
    "issueType",
    "subIssueType",
    "source",
    "ticketCategory",
)
#: the sync mirror's picklist table (py_autotask.sync._db.PICKLIST_TABLE; a test keeps them equal)
MIRROR_PICKLIST_TABLE = "autotask_picklists"


@dataclass
class TicketData:
    """The tickets of a source and the labels of their picklist values."""

    frame: pd.DataFrame
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    source_name: str = "DataFrame"


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for name in DATETIME_FIELDS:
        if name in out.columns:
            out[name] = pd.to_datetime(out[name], utc=True, format="ISO8601", errors="coerce")
    if "createDate" not in out.columns:
        raise AutotaskConfigError(
            "the tickets have no createDate column: an analysis needs at least id and createDate "
            f"(and the fields it measures: {', '.join(TICKET_FIELDS)})"
        )
    return out.sort_values("createDate", kind="stable").reset_index(drop=True)


def _labels_from(picklists: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[Any, str]]:
    out: dict[str, dict[Any, str]] = {}
    for name, values in picklists.items():
        mapping: dict[Any, str] = {}
        for item in values:
            raw = item.get("value")
            label = str(item.get("label") or raw)
            mapping[str(raw)] = label
            text = str(raw)
            if text.lstrip("-").isdigit():
                mapping[int(text)] = label
        out[name] = mapping
    return out


def _client_rows(client: Any, start: Any | None) -> tuple[Any, Any]:
    flt = (
        [{"op": "gte", "field": "createDate", "value": start.isoformat()}]
        if start is not None
        else None
    )
    return client.tickets.query_all(flt, include_fields=TICKET_FIELDS), {
        n: client.metadata.picklist("Tickets", n, include_inactive=True) for n in PICKLIST_FIELDS
    }


def _client_data(rows: Any, picks: Mapping[str, list[dict[str, Any]]]) -> TicketData:
    import pandas as pd

    records = [r.model_dump(by_alias=True) if hasattr(r, "model_dump") else dict(r) for r in rows]
    frame = pd.DataFrame.from_records(records, columns=list(TICKET_FIELDS))
    return TicketData(_normalize(frame), _labels_from(picks), "API")


async def load_tickets_async(client: Any, *, start: Any | None = None) -> TicketData:
    """:func:`load_tickets` for an async client (``await analyzer.fetch()``)."""
    rows, picks = _client_rows(client, start)
    return _client_data(await rows, {n: await v for n, v in picks.items()})


def _from_client(client: Any, start: Any | None) -> TicketData:
    if inspect.iscoroutinefunction(client.tickets.query_all):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(load_tickets_async(client, start=start))
        raise AutotaskConfigError(
            "an async client's tickets are read with `await analyzer.fetch()` (or `await "
            "model.fetch()`) inside a running event loop; call it before analysing"
        )
    rows, picks = _client_rows(client, start)
    return _client_data(rows, picks)


def _from_database(url: str) -> TicketData:
    import pandas as pd
    import sqlalchemy as sa

    parsed = check_sqlalchemy_url(
        url, what="ticket analytics", memory="a new in-memory database has no tickets"
    )
    shown = shown_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise AutotaskConfigError(
            f"{shown}: no such database file; make it with py-autotask sync Tickets --db {shown}"
        )
    engine = sa.create_engine(parsed)
    table = table_name("Tickets")
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table):
            raise AutotaskConfigError(
                f"{shown} has no {table} table: sync the tickets first "
                f"(py-autotask sync Tickets --db {shown})"
            )
        present = {c["name"] for c in inspector.get_columns(table)}
        wanted = [f for f in TICKET_FIELDS if f in present]
        cols = ", ".join(f'"{c}"' for c in wanted)
        with engine.connect() as conn:
            frame = pd.read_sql_query(sa.text(f'SELECT {cols} FROM "{table}"'), conn)
            labels: dict[str, list[dict[str, Any]]] = {}
            if inspector.has_table(MIRROR_PICKLIST_TABLE):
                rows = conn.execute(
                    sa.text(
                        f'SELECT "field", "value", "label" FROM "{MIRROR_PICKLIST_TABLE}" '
                        "WHERE \"entity\" = 'Tickets'"
                    )
                ).all()
                for fname, value, label in rows:
                    labels.setdefault(str(fname), []).append({"value": value, "label": label})
    finally:
        engine.dispose()
    return TicketData(_normalize(frame), _labels_from(labels), parsed.get_backend_name())


def load_tickets(source: Any, *, start: Any | None = None) -> TicketData:
    """Tickets of ``source``: a DataFrame, a database URL (``sqlite:///autotask.db``, PostgreSQL)
    or a client (reads ``Tickets`` with only :data:`TICKET_FIELDS`, created at or after ``start``
    when given)."""
    import pandas as pd

    if isinstance(source, TicketData):
        return source
    if isinstance(source, pd.DataFrame):
        return TicketData(_normalize(source), {}, "DataFrame")
    if isinstance(source, str):
        if "://" not in source:
            raise AutotaskConfigError(
                f"{source!r} is not a database URL: pass a client, a pandas DataFrame of tickets or a "
                "sync mirror's URL such as sqlite:///autotask.db"
            )
        return _from_database(source)
    if hasattr(source, "tickets") and hasattr(source, "metadata"):
        return _from_client(source, start)
    raise AutotaskConfigError(
        f"cannot analyse a {type(source).__name__}: pass a client (AutotaskClient or "
        "AsyncAutotaskClient), a pandas DataFrame of tickets or a sync mirror's URL such as "
        "sqlite:///autotask.db"
    )
