"""Inputs: a failures CSV fed back, DataFrames (through py_autotask.from_dataframe), SQL tables and
queries on a real PostgreSQL, and the SQL -> Autotask push."""

from __future__ import annotations

import csv

import pytest

from py_autotask import F
from py_autotask.bulk import (
    SqlSource,
    bulk_from_records,
    sql_source,
    sync_sql_to_autotask,
)
from tests.bulk.conftest import ticket_base, writes


def test_failures_csv_can_be_fixed_and_fed_back(sim, client, bulk, tmp_path):
    base = ticket_base(client)
    rows = [{**base, "title": "good"}, {**base, "title": "bad", "estimatedHours": "two"}]
    manager = bulk(journal_dir=tmp_path)
    first = manager.bulk_create("tickets", rows, on_invalid="skip")
    assert [r.status for r in first.rows] == ["ok", "failed"]
    path = first.write_failures_csv(tmp_path / "failures.csv")
    with path.open(encoding="utf-8") as fh:
        failed = list(csv.DictReader(fh))
    assert failed[0]["_row"] == "2" and failed[0]["_field"] == "estimatedHours"
    assert "expects a number" in failed[0]["_error"]
    failed[0]["estimatedHours"] = "2"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(failed[0]))
        w.writeheader()
        w.writerows(failed)
    second = manager.bulk_create("tickets", path)  # the _row/_field/_error columns are ignored
    assert second.exit_code == 0 and second.counts()["ok"] == 1
    assert client.tickets.get(second.ids[0]).estimated_hours == 2  # type: ignore[union-attr]


def test_dataframe_through_from_dataframe(sim, client, bulk, tmp_path):
    pd = pytest.importorskip("pandas")
    from py_autotask import from_dataframe

    tickets = client.tickets.query(max_records=3, include_fields=["id", "title"]).items
    df = pd.DataFrame(
        {
            "id": [t.id for t in tickets],
            "title": [f"df {t.id}" for t in tickets],
            "estimatedHours": [1.5, None, 3.0],
        }
    )
    result = bulk_from_records(
        client, from_dataframe(df, "tickets"), "update", journal=tmp_path / "j.sqlite"
    )
    assert result.exit_code == 0 and result.counts()["ok"] == 3
    assert [client.tickets.get(t.id).title for t in tickets] == [f"df {t.id}" for t in tickets]  # type: ignore[union-attr]
    # a bare DataFrame works too
    again = bulk(journal_dir=tmp_path).bulk_update("tickets", df, dry_run=True)
    assert {r.status for r in again.rows} == {"skipped"}


def test_sql_table_and_query_on_postgres(sim, client, bulk, tmp_path, postgres_url):
    sa = pytest.importorskip("sqlalchemy")
    tickets = client.tickets.query(max_records=4, include_fields=["id", "title"]).items
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE edits (id bigint primary key, title text, estimated_hours numeric)"
            )
        )
        for n, t in enumerate(tickets):
            conn.execute(
                sa.text("INSERT INTO edits VALUES (:id, :title, :h)"),
                {"id": t.id, "title": f"sql {t.id}", "h": n + 0.5},
            )
    engine.dispose()
    manager = bulk(journal_dir=tmp_path)
    sim.clear_journal()
    # Python field names (estimated_hours) are accepted as well as API names
    dry = manager.bulk_update("tickets", SqlSource(postgres_url, table="edits"), dry_run=True)
    assert [r.status for r in dry.rows] == ["ok"] * 4
    assert all("estimatedHours" in r.changed_fields for r in dry.rows)
    assert writes(sim) == []
    done = manager.bulk_update(
        "tickets",
        sql_source(
            postgres_url, 'SELECT id, title, estimated_hours AS "estimatedHours" FROM edits'
        ),
    )
    assert done.exit_code == 0 and done.counts()["ok"] == 4
    assert client.tickets.get(tickets[3].id).estimated_hours == 3.5  # type: ignore[union-attr]


def test_sync_push_from_sql_updates_by_id_and_creates_the_rest(sim, client, tmp_path, postgres_url):
    sa = pytest.importorskip("sqlalchemy")
    companies = client.companies.query(
        max_records=2, include_fields=["id", "companyName", "ownerResourceID"]
    ).items
    owner = companies[0].owner_resource_id
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                'CREATE TABLE companies (id bigint, "companyName" text, "companyType" int, '
                '"phone" text, "ownerResourceID" int, "createDate" text, _synced_at text)'
            )
        )
        for c in companies:
            conn.execute(
                sa.text(
                    "INSERT INTO companies VALUES (:id, :n, 1, '555-0100', :o, '2020-01-01', 'x')"
                ),
                {"id": c.id, "n": f"renamed {c.id}", "o": owner},
            )
        conn.execute(
            sa.text(
                "INSERT INTO companies VALUES (NULL, 'Brand New Co', 1, '555-0199', :o, NULL, 'x')"
            ),
            {"o": owner},
        )
    engine.dispose()
    pushed = sync_sql_to_autotask(client, "companies", postgres_url, journal_dir=tmp_path)
    assert pushed.exit_code == 0, (pushed.summary(), pushed.updated and pushed.updated.rows)
    assert pushed.updated is not None and pushed.updated.counts()["ok"] == 2
    assert pushed.created is not None and pushed.created.counts()["ok"] == 1
    assert set(pushed.ignored_columns) == {"createDate", "_synced_at"}
    assert client.companies.get(companies[0].id).company_name == f"renamed {companies[0].id}"  # type: ignore[union-attr]
    assert client.companies.query(F("companyName").eq("Brand New Co")).items
