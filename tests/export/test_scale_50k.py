"""The issue's must-hold at its own scale: 50,000 tickets with their referenced companies and
contacts, exported in every format (CSV, JSON, JSON Lines, Parquet, Excel, SQLite, DuckDB and a real
PostgreSQL server), each read back with the format's own reader and compared with what the
simulator holds (ids, values, types from metadata, nulls, picklist labels, UDFs); then SQLite and
PostgreSQL syncs of the same tenant hold the same rows.

One simulator for the module (seeding 50,000 tickets takes seconds, not the comparisons); the
expected rows are read once, independently of the exporter, with plain httpx, and kept as one
digest per row; every output is streamed past them (a batch, line or row at a time), so the
worker never holds the 50,000 rows, let alone twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

from ._helpers import (
    ExpectedRows,
    RowsOf,
    assert_rows_match,
    excel_rows,
    expected_digests,
    export_files,
    sql_rows,
)
from .test_formats import RELATIONSHIPS

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
        snapshot_max_rows=0,  # never reset: no copy of the database for reset()
    ) as s:
        yield s


@pytest.fixture(scope="module")
def expected(big_sim: Simulator) -> dict[str, Any]:
    """Filled by the first test that has a manifest (the columns come from metadata, so every
    format's manifest lists the same ones; each test asserts that)."""
    return {}


def _expected_for(
    sim: Simulator, manifest: dict[str, Any], cache: dict[str, Any]
) -> dict[str, ExpectedRows]:
    columns = {e: info["columns"] for e, info in manifest["entities"].items()}
    if cache:
        assert columns == cache["columns"]
        rows: dict[str, ExpectedRows] = cache["rows"]
        return rows
    company_ids: set[int] = set()
    contact_ids: set[int] = set()

    def references(t: Any) -> None:
        if t["companyID"] is not None:
            company_ids.add(t["companyID"])
        contact_ids.update(t[f] for f in ("contactID", "createdByContactID") if t[f] is not None)

    tickets = expected_digests(sim, "Tickets", columns["Tickets"], seen=references)
    assert len(tickets.exact) == TICKETS
    # the references are many and varied, so the relationship fetch really batches
    assert len(company_ids) > 500 and len(contact_ids) > 1_000
    cache["columns"] = columns
    cache["rows"] = {
        "Tickets": tickets,
        "Companies": expected_digests(sim, "Companies", columns["Companies"], company_ids),
        "Contacts": expected_digests(sim, "Contacts", columns["Contacts"], contact_ids),
    }
    return cache["rows"]


def assert_same(
    manifest: dict[str, Any], rows: RowsOf, expected: dict[str, ExpectedRows], *, ms: bool = False
) -> None:
    assert set(manifest["entities"]) == set(expected)
    for entity, want in expected.items():
        assert_rows_match(rows(entity), want, ms=ms)


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
    with export_files(Path(result.path), fmt) as (manifest, rows):
        _check(result, manifest)
        assert_same(manifest, rows, _expected_for(big_sim, manifest, expected))


def test_excel_of_50k_tickets_reads_back_equal(
    big_sim: Simulator, expected: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "dataset.xlsx"
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).export(target, format="excel")
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    _check(result, manifest)
    # Excel keeps milliseconds: compared at that precision
    with excel_rows(target, manifest) as rows:
        assert_same(manifest, rows, _expected_for(big_sim, manifest, expected), ms=True)


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
    with sql_rows(fmt, target, manifest) as rows:
        assert_same(manifest, rows, _expected_for(big_sim, manifest, expected))


def test_postgresql_export_of_50k_tickets_reads_back_equal(
    big_sim: Simulator, expected: dict[str, Any], postgres_url: str
) -> None:
    with AutotaskClient(**big_sim.credentials) as client:
        result = _exporter(client).to_sql(
            connection=postgres_url, create_tables=True, preserve_relationships=True
        )
    _check(result, result.manifest)
    with sql_rows("postgresql", postgres_url, result.manifest) as rows:
        assert_same(result.manifest, rows, _expected_for(big_sim, result.manifest, expected))


def test_sqlite_and_postgresql_syncs_of_50k_tickets_hold_the_same_rows(
    big_sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    from tests.sync.helpers import assert_db_matches, expected_digests

    sqlite_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    tables = {"Tickets": "tickets", "Companies": "companies", "Contacts": "contacts"}
    expected = {entity: expected_digests(big_sim, entity) for entity in tables}
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
    # both databases hold exactly the simulator's rows, so each other's
    for entity, table in tables.items():
        assert_db_matches(expected[entity], sqlite_url, table, entity, big_sim)
        assert_db_matches(expected[entity], postgres_url, table, entity, big_sim)
