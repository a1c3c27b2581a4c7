"""The issue's must-hold at its own scale: 50,000 tickets with their referenced companies and
contacts, exported in every format (CSV, JSON, JSON Lines, Parquet, Excel, SQLite, DuckDB and a real
PostgreSQL server), each read back with the format's own reader and compared with what the
simulator holds (ids, values, types from metadata, nulls, picklist labels, UDFs); then SQLite and
PostgreSQL syncs of the same tenant hold the same rows.

One simulator for the module (seeding 50,000 tickets takes seconds, not the comparisons); the
expected rows are read once, independently of the exporter, with plain httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

from ._helpers import expected_rows, raw_rows, read_excel, read_files, read_sql
from .test_formats import RELATIONSHIPS, assert_same

pytestmark = [pytest.mark.xdist_group("export-50k"), pytest.mark.timeout(900)]

TICKETS = 50_000
COMPANIES = 800
CONTACTS = 6_000


@pytest.fixture(scope="module")
def big_sim() -> Iterator[Simulator]:
    with Simulator(
        seed=5,
        profile="tiny",
        counts={"Tickets": TICKETS, "Companies": COMPANIES, "Contacts": CONTACTS},
        hourly_threshold=0,
    ) as s:
        yield s


@pytest.fixture(scope="module")
def expected(big_sim: Simulator) -> dict[str, Any]:
    """Filled by the first test that has a manifest (the columns come from metadata, so every
    format's manifest lists the same ones; each test asserts that)."""
    return {}


def _expected_for(
    sim: Simulator, manifest: dict[str, Any], cache: dict[str, Any]
) -> dict[str, dict[int, dict[str, Any]]]:
    columns = {e: info["columns"] for e, info in manifest["entities"].items()}
    if cache:
        assert columns == cache["columns"]
        rows: dict[str, dict[int, dict[str, Any]]] = cache["rows"]
        return rows
    tickets = raw_rows(sim, "Tickets")
    assert len(tickets) == TICKETS
    company_ids = {t["companyID"] for t in tickets if t["companyID"] is not None}
    contact_ids = {
        t[f] for t in tickets for f in ("contactID", "createdByContactID") if t[f] is not None
    }
    # the references are many and varied, so the relationship fetch really batches
    assert len(company_ids) > 500 and len(contact_ids) > 1_000
    del tickets
    cache["columns"] = columns
    cache["rows"] = {
        "Tickets": expected_rows(sim, "Tickets", columns["Tickets"]),
        "Companies": expected_rows(sim, "Companies", columns["Companies"], company_ids),
        "Contacts": expected_rows(sim, "Contacts", columns["Contacts"], contact_ids),
    }
    return cache["rows"]


def _exporter(client: AutotaskClient) -> Any:
    exporter = client.create_exporter(picklist_labels=True)
    exporter.add_entities("tickets").include_relationships(RELATIONSHIPS)
    return exporter


def _check(result: Any, manifest: dict[str, Any]) -> None:
    assert manifest["complete"] is True
    tickets = manifest["entities"]["Tickets"]
    assert tickets["rows"] == tickets["expected"] == TICKETS and tickets["count_verified"]
    assert result.rows == sum(e["rows"] for e in manifest["entities"].values())
    # about 2 requests per 1,000 records: pages of 500, related rows in `in` batches of 500
    assert result.requests <= 2.05 * result.rows / 1000 + 12


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "json"])
def test_file_formats_of_50k_tickets_read_back_equal(
    big_sim: Simulator, expected: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).export(tmp_path / "out", format=fmt, compress=fmt == "csv")
    manifest, data = read_files(Path(result.path), fmt)
    _check(result, manifest)
    assert_same(data, _expected_for(big_sim, manifest, expected))


def test_excel_of_50k_tickets_reads_back_equal(
    big_sim: Simulator, expected: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "dataset.xlsx"
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).export(target, format="excel")
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    _check(result, manifest)
    # Excel keeps milliseconds: compared at that precision
    assert_same(read_excel(target, manifest), _expected_for(big_sim, manifest, expected), ms=True)


@pytest.mark.parametrize("fmt,suffix", [("sqlite", ".db"), ("duckdb", ".duckdb")])
def test_database_files_of_50k_tickets_read_back_equal(
    big_sim: Simulator, expected: dict[str, Any], tmp_path: Path, fmt: str, suffix: str
) -> None:
    target = tmp_path / f"mirror{suffix}"
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).export(target, format=fmt)
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    _check(result, manifest)
    assert {("Tickets", "companyID", "Companies"), ("Tickets", "contactID", "Contacts")} <= {
        tuple(fk) for fk in result.foreign_keys
    }
    assert_same(read_sql(fmt, target, manifest), _expected_for(big_sim, manifest, expected))


def test_postgresql_export_of_50k_tickets_reads_back_equal(
    big_sim: Simulator, expected: dict[str, Any], postgres_url: str
) -> None:
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).to_sql(
            connection=postgres_url, create_tables=True, preserve_relationships=True
        )
    _check(result, result.manifest)
    assert_same(
        read_sql("postgresql", postgres_url, result.manifest),
        _expected_for(big_sim, result.manifest, expected),
    )


def test_sqlite_and_postgresql_syncs_of_50k_tickets_hold_the_same_rows(
    big_sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    from tests.sync.helpers import assert_same as assert_same_rows
    from tests.sync.helpers import db_rows
    from tests.sync.helpers import expected_rows as sync_expected

    sqlite_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    tables = {"Tickets": "tickets", "Companies": "companies", "Contacts": "contacts"}
    expected = {entity: sync_expected(big_sim, entity) for entity in tables}
    # the seeded counts plus the tenant's own company (id 0)
    assert len(expected["Tickets"]) == TICKETS and len(expected["Companies"]) >= COMPANIES
    for url in (sqlite_url, postgres_url):
        with AutotaskClient(**big_sim.credentials) as client:
            result = client.create_syncer().sync_to_database(
                url, list(tables), handle_signals=False
            )
        assert result.ok, result.to_dict()
        created = {e.entity: e.created for e in result.entities}
        assert created == {entity: len(rows) for entity, rows in expected.items()}
    for entity, table in tables.items():
        from_sqlite = db_rows(sqlite_url, table, entity)
        from_pg = db_rows(postgres_url, table, entity)
        assert_same_rows(from_sqlite, from_pg)
        assert_same_rows(expected[entity], from_pg)
