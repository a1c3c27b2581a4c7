"""A tenant that sends values off their declared types (the simulator's ``messy=``): every format
keeps every record and every value, converted when nothing is lost or as the text received, with
the columns that had to become text named; counts reported once per field; ``strict=True`` names
the first off-type value; a resumed export gives the same output; DataFrames the same rule.

The expectations are derived from the raw API rows by the rules of ``tests/_offtype.py`` (not the
exporter's code): a value of the declared JSON type is itself, an off-type value that converts
without loss is its converted value, anything else must come back as the exact text received."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from py_autotask import AutotaskClient
from py_autotask.exceptions import AutotaskPermissionError
from py_autotask.export import Exporter, ExportResult, OffTypeValueError
from py_autotask.simulator import Simulator
from tests._offtype import NOT_LOSSLESS, lossless, off_type, parse_text, received

from ._helpers import raw_rows, read_excel, read_files, read_sql

pytestmark = pytest.mark.xdist_group("export-messy")

COUNTS = {"Tickets": 1500, "Companies": 80, "Contacts": 600}
RELATIONSHIPS = ["tickets.company", "tickets.contacts"]
KINDS = {"int64": "int", "double": "float", "bool": "bool", "string": "string"}
EXPECTED = {
    "integer": "int",
    "decimal": "float",
    "boolean": "bool",
    "datetime": "datetime",
    "string": "string",
}


def _kind(arrow_type: str) -> str:
    return "datetime" if arrow_type.startswith("timestamp") else KINDS[arrow_type]


class Source:
    """The raw API rows of the exported entities and the expectations derived from them."""

    def __init__(self, sim: Simulator) -> None:
        self.rows = {e: {r["id"]: r for r in raw_rows(sim, e)} for e in COUNTS}
        tickets = self.rows["Tickets"].values()
        self.exported = {
            "Tickets": set(self.rows["Tickets"]),
            "Companies": {t["companyID"] for t in tickets if t["companyID"] is not None},
            "Contacts": {
                t[f]
                for t in tickets
                for f in ("contactID", "createdByContactID")
                if t[f] is not None
            },
        }

    def value(self, entity: str, rid: int, col: dict[str, Any]) -> Any:
        row = self.rows[entity][rid]
        if col["udf"]:
            udfs = row.get("userDefinedFields") or []
            items = (
                udfs.items() if isinstance(udfs, dict) else ((u["name"], u["value"]) for u in udfs)
            )
            return dict(items).get(col["source"])
        return row.get(col["source"])

    def declared(self, col: dict[str, Any]) -> str:
        return _kind(col["promoted_from"] or col["type"])

    def text_needed(self, entity: str, col: dict[str, Any]) -> bool:
        kind = self.declared(col)
        return any(
            lossless(kind, self.value(entity, rid, col)) is NOT_LOSSLESS
            for rid in self.exported[entity]
        )

    def off_type_count(self, entity: str, col: dict[str, Any]) -> int:
        kind = self.declared(col)
        return sum(
            off_type(kind, self.value(entity, rid, col), udf=col["udf"])
            for rid in self.exported[entity]
        )


@pytest.fixture(scope="module")
def messy_sim() -> Iterator[Simulator]:
    with Simulator(seed=42, profile="tiny", counts=COUNTS, messy=0.05, hourly_threshold=0) as s:
        yield s


@pytest.fixture(scope="module")
def source(messy_sim: Simulator) -> Source:
    return Source(messy_sim)


@pytest.fixture
def messy_client(messy_sim: Simulator) -> Iterator[AutotaskClient]:
    messy_sim.faults.clear()
    with AutotaskClient(**messy_sim.credentials) as c:
        yield c


def _export(client: AutotaskClient, path: Any, fmt: str, **kw: Any) -> ExportResult:
    ex = client.create_exporter(picklist_labels=True, workers=kw.pop("workers", 3))
    ex.add_entities("tickets").include_relationships(RELATIONSHIPS)
    if fmt == "postgresql":
        return ex.to_sql(path, **kw)
    return ex.export(path, format=fmt, **kw)


def assert_every_value_survives(
    source: Source, manifest: dict[str, Any], data: dict[str, dict[int, dict[str, Any]]]
) -> None:
    for entity, info in manifest["entities"].items():
        got = data[entity]
        assert set(got) == source.exported[entity], f"{entity}: records lost or added"
        for col in info["columns"]:
            if col["label_of"]:
                continue
            kind = source.declared(col)
            promoted = col["promoted_from"] is not None
            assert promoted == source.text_needed(entity, col), (entity, col["name"])
            for rid in source.exported[entity]:
                raw = source.value(entity, rid, col)
                want = lossless(kind, raw)
                back = got[rid][col["name"]]
                if want is NOT_LOSSLESS:  # kept: exactly the text received
                    assert back == received(raw), (entity, rid, col["name"], raw, back)
                elif promoted and back is not None:  # a converted value as text
                    assert parse_text(kind, back) == want, (entity, rid, col["name"], raw, back)
                else:
                    if isinstance(want, dt.datetime) and isinstance(back, dt.datetime):
                        want = want.replace(microsecond=want.microsecond // 1000 * 1000)
                        back = back.replace(microsecond=round(back.microsecond / 1000) * 1000)
                    assert back == want, (entity, rid, col["name"], raw, back)


def assert_reported(source: Source, result: ExportResult, manifest: dict[str, Any]) -> None:
    reported = {(r.entity, r.column): r for r in result.off_type}
    total = 0
    for entity, info in manifest["entities"].items():
        for col in info["columns"]:
            if col["label_of"]:
                continue
            n = source.off_type_count(entity, col)
            total += n
            r = reported.get((entity, col["name"]))
            assert (r.values if r else 0) == n, (entity, col["name"])
            if r is not None:
                assert r.promoted == (col["promoted_from"] is not None)
                assert str(r) in result.warnings
                assert r.to_dict() in info["off_type"]
    assert result.off_type_values == total > 0
    promoted = {c for e in result.entities.values() for c in e.promoted_columns}
    assert promoted and promoted < {
        c["name"] for e in manifest["entities"].values() for c in e["columns"]
    }


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_file_formats_keep_every_record_and_value(
    messy_client: AutotaskClient, source: Source, tmp_path: Path, fmt: str
) -> None:
    result = _export(messy_client, tmp_path / "out", fmt)
    manifest, data = read_files(tmp_path / "out", fmt)
    assert_every_value_survives(source, manifest, data)
    assert_reported(source, result, manifest)


def test_excel_keeps_every_record_and_value(
    messy_client: AutotaskClient, source: Source, tmp_path: Path
) -> None:
    result = _export(messy_client, tmp_path / "t.xlsx", "excel")
    manifest = json.loads((tmp_path / "t.xlsx.manifest.json").read_text())
    assert_every_value_survives(source, manifest, read_excel(tmp_path / "t.xlsx", manifest))
    assert_reported(source, result, manifest)


@pytest.mark.parametrize("fmt,suffix", [("sqlite", ".db"), ("duckdb", ".duckdb")])
def test_database_files_keep_every_record_and_value(
    messy_client: AutotaskClient, source: Source, tmp_path: Path, fmt: str, suffix: str
) -> None:
    target = tmp_path / f"t{suffix}"
    result = _export(messy_client, target, fmt)
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    assert_every_value_survives(source, manifest, read_sql(fmt, target, manifest))
    assert_reported(source, result, manifest)


def test_postgresql_keeps_every_record_and_value(
    messy_client: AutotaskClient, source: Source, postgres_url: str
) -> None:
    result = _export(messy_client, postgres_url, "postgresql")
    manifest = result.manifest
    assert_every_value_survives(source, manifest, read_sql("postgresql", postgres_url, manifest))
    assert_reported(source, result, manifest)
    import psycopg

    promoted = result.entities["Tickets"].promoted_columns
    with psycopg.connect(postgres_url) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'tickets'"
            ).fetchall()
        )
    assert {types[c] for c in promoted} == {"text"} and types["id"] == "bigint"


def test_strict_names_the_first_off_type_value(
    messy_client: AutotaskClient, source: Source, tmp_path: Path
) -> None:
    exporter = Exporter(messy_client.sender, strict=True).add_entities("tickets")
    with pytest.raises(OffTypeValueError) as caught:
        exporter.export(tmp_path / "strict", format="parquet")
    err = caught.value
    raw = source.rows["Tickets"][err.record_id][err.field]
    assert err.entity == "Tickets" and err.value == raw
    assert off_type(EXPECTED[err.expected], raw)
    text = str(err)
    assert f"Tickets id {err.record_id}" in text and repr(err.field) in text
    assert err.expected in text and (repr(raw) in text or json.dumps(raw) in text)
    assert not (tmp_path / "strict").exists()


@pytest.fixture(scope="module")
def sparse_sim() -> Iterator[Simulator]:
    """Few messy records (1 %): columns turn text on the second and third page."""
    with Simulator(seed=42, profile="tiny", counts=COUNTS, messy=0.01, hourly_threshold=0) as s:
        yield s


def test_an_interrupted_export_resumes_to_the_same_output(
    sparse_sim: Simulator, tmp_path: Path
) -> None:
    # the 3rd Tickets page fails: pages 1-2 are staged (a column turned text on page 2, after
    # page 1 was staged with it typed), the resumed run turns more columns text on page 3
    fail_at = 3
    sparse_sim.reset()
    source = Source(sparse_sim)
    with AutotaskClient(**sparse_sim.credentials) as client:
        baseline = _export(client, tmp_path / "baseline", "parquet", workers=1)
        # columns that turn text on a later page than the interruption, and on an earlier one
        first_kept: dict[str, int] = {}
        for col in baseline.manifest["entities"]["Tickets"]["columns"]:
            if col["promoted_from"] and not col["udf"]:
                kind = _kind(col["promoted_from"])
                first_kept[col["name"]] = min(
                    rid
                    for rid, row in source.rows["Tickets"].items()
                    if lossless(kind, row[col["source"]]) is NOT_LOSSLESS
                )
        staged = 500 * (fail_at - 1)
        assert any(rid > staged for rid in first_kept.values()), first_kept
        assert any(rid <= staged for rid in first_kept.values()), first_kept
        sequence: list[Any] = ["ok"] * (fail_at - 1) + [403]
        sparse_sim.add_fault(match={"entity": "Tickets", "operation": "query"}, sequence=sequence)
        with pytest.raises(AutotaskPermissionError):
            _export(client, tmp_path / "out", "parquet", workers=1)
        sparse_sim.faults.clear()
        resumed = _export(client, tmp_path / "out", "parquet", workers=1, resume=True)
    assert resumed.resumed
    for name in ("tickets.parquet", "companies.parquet", "contacts.parquet"):
        assert pq.read_table(tmp_path / "out" / name) == pq.read_table(
            tmp_path / "baseline" / name
        ), name
    assert resumed.off_type == baseline.off_type
    assert resumed.manifest["entities"] == baseline.manifest["entities"]
    data = read_files(tmp_path / "out", "parquet")[1]
    assert_every_value_survives(source, resumed.manifest, data)


def test_dataframes_keep_every_value_with_text_columns(
    messy_client: AutotaskClient, source: Source
) -> None:
    df = messy_client.tickets.to_dataframe()
    assert sorted(df["id"]) == sorted(source.rows["Tickets"])
    reports = {r["column"]: r for r in df.attrs["off_type"]}
    promoted = [c for c, r in reports.items() if r["promoted"]]
    assert promoted
    for name in promoted:
        assert df[name].dtype == object or str(df[name].dtype) in ("str", "string")
        for rid, back in zip(df["id"], df[name], strict=True):
            raw = source.rows["Tickets"][rid][name]
            kind = EXPECTED[reports[name]["expected"]]
            want = lossless(kind, raw)
            if want is NOT_LOSSLESS:
                assert back == received(raw)
            elif want is None:
                assert back is None or back != back  # None / NaN
            else:
                assert parse_text(kind, back) == want
    typed = [c for c, r in reports.items() if not r["promoted"] and r["expected"] == "integer"]
    assert typed and all(df[c].dtype == "Int64" for c in typed)


def test_clean_data_reports_nothing(client: AutotaskClient, tmp_path: Path) -> None:
    result = client.create_exporter().add_entities("tickets").export(tmp_path / "c", "parquet")
    assert result.off_type == [] and result.off_type_values == 0
    assert result.entities["Tickets"].promoted_columns == []
    assert result.manifest["entities"]["Tickets"]["off_type"] == []
