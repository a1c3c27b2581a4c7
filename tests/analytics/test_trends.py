"""TicketAnalyzer over the simulator's API, its sync mirror and a DataFrame: the same numbers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.analytics import TicketAnalyzer
from py_autotask.analytics._data import MIRROR_PICKLIST_TABLE, TICKET_FIELDS, TicketData
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator
from py_autotask.sync import _db

from ..sync.helpers import sim_records
from .conftest import TICKETS

METRICS = [
    "count",
    "backlog",
    "resolution_time",
    "first_response_time",
    "sla_met_rate",
    "reopen_rate",
]


def test_the_seed_sketch_runs_as_written_and_satisfaction_is_unavailable(
    sim: Simulator, client: AutotaskClient
) -> None:
    analyzer = TicketAnalyzer(client)
    trends = analyzer.analyze_trends(
        time_range="last_6_months",
        group_by="priority",
        metrics=["count", "resolution_time", "customer_satisfaction"],
    )
    # read once through the client: Tickets pages of 500 plus the picklist metadata, nothing else
    paths = [e.path.split("/V1.0/")[1].split("?")[0] for e in sim.journal()]
    pages = -(-TICKETS // 500)
    assert paths == ["Tickets/query"] + ["Tickets/query/next"] * (pages - 1) + [
        "Tickets/entityInformation/fields"
    ]
    assert trends.tickets > 0 and trends.summary["count"].sum() == trends.tickets
    # labels come from the tenant's metadata, not the bare values
    assert set(trends.summary["label"]) <= {f"priority {p}" for p in (1, 2, 3, 5, 6)}
    assert not trends.availability["customer_satisfaction"].available
    reason = trends.availability["customer_satisfaction"].reason or ""
    assert "survey" in reason and "currentServiceThermometerRating" in reason
    assert trends.summary["satisfaction_mean"].isna().all()  # never invented
    assert trends.availability["resolution_time"].available
    # the newest ticket is the reference point of "last_6_months"
    assert (trends.end - trends.start).days in range(178, 186)


def test_api_mirror_and_dataframe_give_the_same_trends(
    sim: Simulator, tickets: TicketData, mirror: Path
) -> None:
    via_api = TicketAnalyzer(tickets).analyze_trends("last_2_years", "queue", METRICS)
    via_db = TicketAnalyzer(f"sqlite:///{mirror}").analyze_trends("last_2_years", "queue", METRICS)
    frame = pd.DataFrame(sim_records(sim, "Tickets"))
    via_df = TicketAnalyzer(frame).analyze_trends("last_2_years", "queue", METRICS)
    assert via_db.source == "sqlite" and via_api.source == "API"
    pd.testing.assert_frame_equal(via_api.summary, via_db.summary)
    # the DataFrame has no metadata: the same numbers under the bare values
    assert via_df.summary["count"].sum() == via_api.summary["count"].sum()
    assert sorted(via_df.summary["resolution_hours_median"].round(6)) == sorted(
        via_api.summary["resolution_hours_median"].round(6)
    )


def test_the_numbers_are_the_tickets_numbers(sim: Simulator, tickets: TicketData) -> None:
    records = sim_records(sim, "Tickets")
    trends = TicketAnalyzer(tickets).analyze_trends("all", "priority", METRICS)
    got = trends.summary.set_index("label")
    for priority in (1, 6):
        mine = [r for r in records if r["priority"] == priority]
        created = pd.to_datetime([r["createDate"] for r in mine], utc=True, format="ISO8601")
        end = pd.to_datetime(
            [r["resolvedDateTime"] or r["completedDate"] for r in mine], utc=True, format="ISO8601"
        )
        hours = pd.Series((end - created).total_seconds() / 3600).dropna()
        row = got.loc[f"priority {priority}"]
        assert row["count"] == len(mine)
        assert row["resolution_hours_median"] == pytest.approx(hours.median())
        # backlog at the range's end (the newest ticket's creation): not completed by then
        done = pd.to_datetime([r["completedDate"] for r in mine], utc=True, format="ISO8601")
        assert row["backlog"] == sum(1 for d in done if pd.isna(d) or d > trends.end)
        met = [r["serviceLevelAgreementHasBeenMet"] for r in mine]
        known = [m for m in met if m is not None]
        assert row["sla_met_rate"] == pytest.approx(sum(known) / len(known))
    # business hours never exceed calendar hours; urgent tickets are worked round the clock
    assert (got["resolution_business_hours_median"] <= got["resolution_hours_median"]).all()


def test_the_async_client_reads_the_same(sim: Simulator, tickets: TicketData) -> None:
    async def main() -> pd.DataFrame:
        async with AsyncAutotaskClient(**sim.credentials) as client:
            analyzer = TicketAnalyzer(client)
            with pytest.raises(AutotaskConfigError, match=r"await analyzer\.fetch"):
                analyzer.analyze_trends()  # inside a running loop it cannot block to read
            await analyzer.fetch()
            return analyzer.analyze_trends("last_6_months", "priority").summary

    want = TicketAnalyzer(tickets).analyze_trends("last_6_months", "priority").summary
    pd.testing.assert_frame_equal(asyncio.run(main()), want)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"metrics": ["count", "happiness"]}, ["happiness", "customer_satisfaction"]),
        ({"group_by": "colour"}, ["colour", "priority", "issue_type"]),
        ({"time_range": "since forever"}, ["since forever", "last_6_months"]),
    ],
)
def test_bad_arguments_name_what_to_write(kwargs: dict[str, object], words: list[str]) -> None:
    frame = pd.DataFrame({"id": [1], "createDate": ["2025-01-01T00:00:00"]})
    with pytest.raises(AutotaskConfigError) as err:
        TicketAnalyzer(frame).analyze_trends(**kwargs)  # type: ignore[arg-type]
    for word in words:
        assert word in str(err.value)


def test_a_missing_mirror_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(AutotaskConfigError, match="no such database file"):
        TicketAnalyzer(f"sqlite:///{path}").analyze_trends()
    assert not path.exists()


def test_the_mirror_picklist_table_name_is_the_syncers() -> None:
    assert MIRROR_PICKLIST_TABLE == _db.PICKLIST_TABLE
    assert "createDate" in TICKET_FIELDS


def test_figure_has_a_panel_per_available_metric(tickets: TicketData) -> None:
    trends = TicketAnalyzer(tickets).analyze_trends(
        "last_6_months", "priority", ["count", "resolution_time", "customer_satisfaction"]
    )
    fig = trends.figure()
    # count + two resolution columns; satisfaction has no panel (no data)
    assert len(fig.axes) == 3
    assert all(ax.lines for ax in fig.axes)
