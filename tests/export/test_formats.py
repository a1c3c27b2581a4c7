"""Every format, read back with its own reader, equals what the simulator holds: ids, values,
types (from metadata) and nulls, for tickets plus the companies and contacts they reference."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.export import ExportResult
from py_autotask.simulator import Simulator

from ._helpers import expected_rows, raw_rows, read_excel, read_files, read_sql

pytestmark = pytest.mark.xdist_group("export")

RELATIONSHIPS = ["tickets.company", "tickets.contacts"]


def _expected(sim: Simulator, manifest: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    tickets = raw_rows(sim, "Tickets")
    company_ids = {t["companyID"] for t in tickets if t["companyID"] is not None}
    contact_ids = {
        t[f] for t in tickets for f in ("contactID", "createdByContactID") if t[f] is not None
    }
    ents = manifest["entities"]
    return {
        "Tickets": expected_rows(sim, "Tickets", ents["Tickets"]["columns"]),
        "Companies": expected_rows(sim, "Companies", ents["Companies"]["columns"], company_ids),
        "Contacts": expected_rows(sim, "Contacts", ents["Contacts"]["columns"], contact_ids),
    }


def _round_ms(rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    def r(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.replace(microsecond=round(v.microsecond / 1000) * 1000 % 1_000_000)
        return v

    return {i: {k: r(v) for k, v in row.items()} for i, row in rows.items()}


def assert_same(
    actual: dict[str, dict[int, dict[str, Any]]],
    expected: dict[str, dict[int, dict[str, Any]]],
    *,
    ms: bool = False,
) -> None:
    assert set(actual) == set(expected)
    for entity in expected:
        got, want = actual[entity], expected[entity]
        if ms:
            got, want = _round_ms(got), _round_ms(want)
        assert sorted(got) == sorted(want), entity
        for i in want:
            if got[i] != want[i]:
                diff = {k: (got[i].get(k), v) for k, v in want[i].items() if got[i].get(k) != v}
                raise AssertionError(f"{entity} id {i} differs (got, want): {diff}")


def _export(client: AutotaskClient, path: Path, fmt: str, **kw: Any) -> ExportResult:
    exporter = client.create_exporter(picklist_labels=True)
    exporter.add_entities("tickets").include_relationships(RELATIONSHIPS)
    return exporter.export(path, format=fmt, **kw)


def _check_manifest(result: ExportResult, manifest: dict[str, Any], sim: Simulator) -> None:
    assert manifest["complete"] is True
    tickets = manifest["entities"]["Tickets"]
    assert tickets["rows"] == tickets["expected"] == len(raw_rows(sim, "Tickets"))
    assert tickets["count_verified"] is True
    names = [c["name"] for c in tickets["columns"]]
    assert names[0] == "id" and "status_label" in names and any(n.startswith("udf_") for n in names)
    assert result.rows == sum(e["rows"] for e in manifest["entities"].values())


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
@pytest.mark.parametrize("compress", [False, True], ids=["folder", "zip"])
def test_file_formats_read_back_equal(
    client: AutotaskClient, sim: Simulator, tmp_path: Path, fmt: str, compress: bool
) -> None:
    result = _export(client, tmp_path / "out", fmt, compress=compress)
    path = Path(result.path)
    assert path.name == ("out.zip" if compress else "out") and path.exists()
    assert not list(tmp_path.glob("*.partial*")) and not list(tmp_path.glob("*.export-state"))
    manifest, data = read_files(path, fmt)
    _check_manifest(result, manifest, sim)
    assert_same(data, _expected(sim, manifest))


def test_excel_workbook_reads_back_equal(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    result = _export(client, tmp_path / "dataset.xlsx", "excel")
    manifest = json.loads((tmp_path / "dataset.xlsx.manifest.json").read_text())
    _check_manifest(result, manifest, sim)
    assert sorted(e["location"] for e in manifest["entities"].values()) == [
        "Companies",
        "Contacts",
        "Tickets",
    ]
    assert_same(read_excel(tmp_path / "dataset.xlsx", manifest), _expected(sim, manifest), ms=True)


@pytest.mark.parametrize("fmt,suffix", [("sqlite", ".db"), ("duckdb", ".duckdb")])
def test_database_files_read_back_equal(
    client: AutotaskClient, sim: Simulator, tmp_path: Path, fmt: str, suffix: str
) -> None:
    target = tmp_path / f"mirror{suffix}"
    result = _export(client, target, fmt)
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    _check_manifest(result, manifest, sim)
    assert_same(read_sql(fmt, target, manifest), _expected(sim, manifest))
    fks = {(a, b, c) for a, b, c in result.foreign_keys}
    assert ("Tickets", "companyID", "Companies") in fks and (
        "Tickets",
        "contactID",
        "Contacts",
    ) in fks
    if fmt == "sqlite":
        conn = sqlite3.connect(target)
        declared = {(r[3], r[2]) for r in conn.execute("PRAGMA foreign_key_list(tickets)")}
        assert ("companyID", "companies") in declared and ("contactID", "contacts") in declared
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        pk = [r[1] for r in conn.execute("PRAGMA table_info(tickets)") if r[5]]
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(tickets)")}
        stored = conn.execute(
            "SELECT entity, rows FROM _autotask_export ORDER BY entity"
        ).fetchall()
        conn.close()
        assert pk == ["id"] and "ix_tickets_companyid" in indexes
        assert dict(stored)["Tickets"] == manifest["entities"]["Tickets"]["rows"]
    else:
        import duckdb

        conn = duckdb.connect(str(target), read_only=True)
        cons = conn.execute(
            "SELECT table_name, constraint_type FROM duckdb_constraints() WHERE table_name = 'tickets'"
        ).fetchall()
        conn.close()
        kinds = {k for _, k in cons}
        assert "PRIMARY KEY" in kinds and "FOREIGN KEY" in kinds


def test_postgresql_target_on_a_real_server(
    client: AutotaskClient, sim: Simulator, postgres_url: str
) -> None:
    exporter = client.create_exporter(picklist_labels=True)
    exporter.add_entities("tickets").include_relationships(RELATIONSHIPS)
    result = exporter.to_sql(
        connection=postgres_url, create_tables=True, preserve_relationships=True, batch_size=1000
    )
    assert result.format == "postgresql" and "***" not in postgres_url
    manifest = result.manifest
    assert_same(read_sql("postgresql", postgres_url, manifest), _expected(sim, manifest))
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        fks = set(
            conn.execute(
                "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
                "WHERE tc.constraint_type = 'FOREIGN KEY'"
            ).fetchall()
        )
        pks = set(
            conn.execute(
                "SELECT tc.table_name FROM information_schema.table_constraints tc WHERE tc.constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        )
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tickets'")
        }
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'tickets'"
            ).fetchall()
        )
        stored = conn.execute("SELECT entity, rows FROM _autotask_export").fetchall()
    assert {("tickets", "companyID"), ("tickets", "contactID"), ("contacts", "companyID")} <= fks
    assert {("tickets",), ("companies",), ("contacts",)} <= pks
    assert "ix_tickets_companyid" in indexes
    assert types["createDate"] == "timestamp with time zone" and types["id"] == "bigint"
    assert (
        types["isVisibleToComanaged"] == "boolean" and types["estimatedHours"] == "double precision"
    )
    assert dict(stored)["Tickets"] == result.entities["Tickets"].rows
    # a second run replaces the tables (one transaction), it does not duplicate rows
    again = exporter.to_sql(connection=postgres_url)
    assert again.entities["Tickets"].rows == result.entities["Tickets"].rows
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (
            result.entities["Tickets"].rows,
        )
