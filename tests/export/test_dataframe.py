"""DataFrames from the simulator: metadata dtypes, date ranges, picklist filters and labels,
time series out of the box, async twin, and records back out of a DataFrame."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import py_autotask
from py_autotask import AsyncAutotaskClient, AutotaskClient, F
from py_autotask.simulator import Simulator

from ._helpers import metadata, parse_dt, raw_rows

pytestmark = pytest.mark.xdist_group("export")


def test_dtypes_come_from_metadata(client: AutotaskClient, sim: Simulator) -> None:
    df = client.tickets.to_dataframe()
    rows = raw_rows(sim, "Tickets")
    assert list(df["id"]) == [r["id"] for r in rows]
    assert df["id"].dtype == "Int64" and df["companyID"].dtype == "Int64"
    assert str(df["createDate"].dtype) == "datetime64[us, UTC]"
    assert df["isVisibleToComanaged"].dtype == "boolean"
    assert df["estimatedHours"].dtype == "float64"
    assert df["contactID"].isna().sum() == sum(1 for r in rows if r["contactID"] is None)
    assert df["createDate"].iloc[0].to_pydatetime() == parse_dt(rows[0]["createDate"])
    # an all-null column still has its metadata type
    assert str(df["completedDate"].dtype) == "datetime64[us, UTC]"
    udf_cols = [c for c in df.columns if c.startswith("udf_")]
    assert len(udf_cols) == len(metadata(sim, "Tickets", "userDefinedFields"))
    assert str(df["udf_agreed_start_date"].dtype) == "datetime64[us, UTC]"


def test_time_series_and_labels_as_categoricals(client: AutotaskClient, sim: Simulator) -> None:
    df = client.tickets.to_dataframe(picklist_labels=True, categorical=True)
    monthly = df.resample("ME", on="createDate")["id"].count()
    assert monthly.sum() == len(df)
    assert df["status_label"].dtype == "category"
    labels = {
        p["value"]: p["label"]
        for f in metadata(sim, "Tickets", "fields")
        if f["name"] == "status"
        for p in f["picklistValues"]
    }
    assert all(
        labels[str(v)] == lab for v, lab in zip(df["status"], df["status_label"], strict=True)
    )
    assert (
        df["status"].dtype == "Int64"
    )  # the value column keeps its type when labels are the categories


def test_top_level_function_with_date_range_and_label_filter(
    client: AutotaskClient, sim: Simulator
) -> None:
    rows = raw_rows(sim, "Tickets")
    status_new = next(
        p
        for f in metadata(sim, "Tickets", "fields")
        if f["name"] == "status"
        for p in f["picklistValues"]
        if p["label"] == "Complete"  # 2023 tickets are done (seeded ticket structure)
    )
    start, end = (
        dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2023, 7, 1, tzinfo=dt.timezone.utc),
    )
    want = sorted(
        r["id"]
        for r in rows
        if r["status"] == int(status_new["value"]) and start <= parse_dt(r["createDate"]) < end  # type: ignore[operator]
    )
    df = py_autotask.to_dataframe(
        "tickets", filters={"status": "Complete"}, date_range="2023-03-01,2023-06-30", client=client
    )
    assert want and list(df["id"]) == want
    same = client.tickets.to_dataframe(
        F("status").eq(int(status_new["value"])), date_range=("2023-03-01", dt.date(2023, 6, 30))
    )
    assert list(same["id"]) == want


def test_async_entity_to_dataframe(sim: Simulator) -> None:
    async def run() -> pd.DataFrame:
        async with AsyncAutotaskClient(**sim.credentials) as c:
            return await c.tickets.to_dataframe(picklist_labels=True)

    df = asyncio.run(run())
    assert len(df) == len(raw_rows(sim, "Tickets")) and df["id"].is_monotonic_increasing
    assert df["id"].dtype == "Int64" and "status_label" in df.columns


def test_from_dataframe_gives_plain_python_records() -> None:
    df = pd.DataFrame(
        {
            "id": pd.array([1, None], dtype="Int64"),
            "hours": [1.5, np.nan],
            "flag": pd.array([True, None], dtype="boolean"),
            "when": pd.to_datetime(["2024-01-02T03:04:05Z", None], utc=True),
            "title": ["a", None],
            "n": np.array([3, 4], dtype=np.int32),
        }
    )
    recs = py_autotask.from_dataframe(df, entity="tickets")
    assert recs.entity == "Tickets" and len(recs) == 2 and recs.columns == list(df.columns)
    first, second = list(recs.records())
    assert first == {
        "id": 1,
        "hours": 1.5,
        "flag": True,
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "title": "a",
        "n": 3,
    }
    assert type(first["id"]) is int and type(first["n"]) is int and type(first["flag"]) is bool
    assert second == {"id": None, "hours": None, "flag": None, "when": None, "title": None, "n": 4}
    assert not any(isinstance(v, float) and math.isnan(v) for v in second.values())
