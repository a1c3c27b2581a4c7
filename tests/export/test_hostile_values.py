"""Hostile text created through the client survives every format: quotes, newlines, unicode, long
text, and values a spreadsheet would run as formulas (neutralised in CSV/Excel unless disabled)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.simulator import Simulator

from ._helpers import read_excel, read_files, read_sql, unneutralize

pytestmark = pytest.mark.xdist_group("export")

TITLES = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2 degrees",
    "@SUM(A1:A9)",
    "\"quoted\" and 'single', commas, ; semicolons",
    "line one\nline two\r\nline three",
    "unicode ✓ 日本語 café 🎉 \u200b zero-width",
    "\ttab first",
    "",
]
LONG = ("0123456789abcdef\n" * 470)[:7990] + "ÿ"  # near the 8,000-character field limit


@pytest.fixture
def hostile(client: AutotaskClient, sim: Simulator) -> dict[int, dict[str, Any]]:
    company = next(iter(client.companies.query_all_iter())).id
    created = {}
    for i, title in enumerate(TITLES):
        description = LONG if i == 0 else title
        ticket_id = client.tickets.create(
            {
                "title": title or "x",
                "description": description,
                "status": 1,
                "priority": 1,
                "companyID": company,
            }
        )
        created[ticket_id] = {"title": title or "x", "description": description}
    return created


def _export(client: AutotaskClient, ids: list[int], path: Path, fmt: str, **kw: Any) -> Any:
    ex = client.create_exporter(**kw).add_entities("tickets", filter=F("id").in_(ids))
    return ex.export(path, format=fmt)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_file_formats_keep_hostile_text(
    client: AutotaskClient, hostile: dict[int, dict[str, Any]], tmp_path: Path, fmt: str
) -> None:
    _export(client, sorted(hostile), tmp_path / "out", fmt)
    _manifest, data = read_files(tmp_path / "out", fmt)  # CSV reader strips the neutralising quote
    for i, want in hostile.items():
        assert {k: data["Tickets"][i][k] for k in want} == want
    if fmt == "csv":
        raw = (tmp_path / "out" / "tickets.csv").read_text(encoding="utf-8")
        assert "'=HYPERLINK" in raw and "'+1+1" in raw and "'@SUM" in raw and "'-2 degrees" in raw
        assert '"=HYPERLINK' not in raw


def test_csv_neutralisation_can_be_disabled(
    client: AutotaskClient, hostile: dict[int, dict[str, Any]], tmp_path: Path
) -> None:
    _export(client, sorted(hostile), tmp_path / "raw", "csv", neutralize_formulas=False)
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        tmp_path / "raw" / "tickets.csv",
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={"title": "string"}),
    )
    titles = dict(
        zip(table.column("id").to_pylist(), table.column("title").to_pylist(), strict=True)
    )
    assert {i: titles[i] for i in hostile} == {i: v["title"] for i, v in hostile.items()}


def test_excel_cells_are_text_not_formulas(
    client: AutotaskClient, hostile: dict[int, dict[str, Any]], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    _export(client, sorted(hostile), tmp_path / "t.xlsx", "excel")
    manifest = json.loads((tmp_path / "t.xlsx.manifest.json").read_text())
    data = read_excel(tmp_path / "t.xlsx", manifest)["Tickets"]
    for i, want in hostile.items():
        # xlsx limits: XML normalises CR LF to LF, an empty text cell is an empty cell
        excel = {k: v.replace("\r\n", "\n") or None for k, v in want.items()}
        assert {k: data[i][k] for k in want} == excel
    wb = load_workbook(tmp_path / "t.xlsx")
    ws = wb["Tickets"]
    formula_like = [
        c
        for row in ws.iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str) and c.value[:1] in "=+-@"
    ]
    assert len(formula_like) == 7 and all(c.data_type == "s" for c in formula_like)
    assert not any(cell.data_type == "f" for row in ws.iter_rows() for cell in row)
    # disabled: the formula stays a formula
    _export(client, sorted(hostile), tmp_path / "f.xlsx", "excel", neutralize_formulas=False)
    ws = load_workbook(tmp_path / "f.xlsx")["Tickets"]
    assert any(cell.data_type == "f" for row in ws.iter_rows() for cell in row)


@pytest.mark.parametrize("fmt,suffix", [("sqlite", ".db"), ("duckdb", ".duckdb")])
def test_databases_keep_hostile_text(
    client: AutotaskClient,
    hostile: dict[int, dict[str, Any]],
    tmp_path: Path,
    fmt: str,
    suffix: str,
) -> None:
    target = tmp_path / f"t{suffix}"
    _export(client, sorted(hostile), target, fmt)
    manifest = json.loads(target.with_name(target.name + ".manifest.json").read_text())
    data = read_sql(fmt, target, manifest)["Tickets"]
    for i, want in hostile.items():
        assert {k: data[i][k] for k in want} == want


def test_postgresql_keeps_hostile_text(
    client: AutotaskClient, hostile: dict[int, dict[str, Any]], postgres_url: str
) -> None:
    ex = client.create_exporter().add_entities("tickets", filter=F("id").in_(sorted(hostile)))
    result = ex.to_sql(postgres_url)
    data = read_sql("postgresql", postgres_url, result.manifest)["Tickets"]
    for i, want in hostile.items():
        assert {k: data[i][k] for k in want} == want
    assert unneutralize("'=x") == "=x"
