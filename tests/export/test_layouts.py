"""Output layouts and API edges: single-file formats in a zip, overwrite protection, the staged
data for other layers (``fetch``), SQLite through an open connection, configuration errors."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest

from py_autotask import AutotaskClient, F
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator

from ._helpers import raw_rows

pytestmark = pytest.mark.xdist_group("export")


def test_excel_in_a_zip_with_its_manifest(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    ex = client.create_exporter().add_entities("companies", "contacts")
    result = ex.export(tmp_path / "book.xlsx", format="excel", compress=True)
    assert result.path == str(tmp_path / "book.xlsx.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert sorted(zf.namelist()) == ["book.xlsx", "manifest.json"]
    with pytest.raises(FileExistsError):
        ex.export(tmp_path / "book.xlsx", format="excel", compress=True)
    again = ex.export(tmp_path / "book.xlsx", format="excel", compress=True, overwrite=True)
    assert (
        again.rows
        == result.rows
        == len(raw_rows(sim, "Companies")) + len(raw_rows(sim, "Contacts"))
    )


def test_fetch_gives_ordered_arrow_batches(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    ex = client.create_exporter().add_entities("tickets", filter=F("id").lte(1200))
    staged = ex.fetch(tmp_path / "work")
    ids = [i for b in staged.batches("Tickets", ["id"]) for i in b.column(0).to_pylist()]
    assert ids == list(range(1, 1201))
    assert staged.columns("Tickets")[0].name == "id"
    info = staged.info("Tickets")
    assert info.rows == info.expected == 1200 and info.verified
    staged.discard()
    assert not (tmp_path / "work").exists()


def test_to_sql_into_an_open_sqlite_connection(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    conn = sqlite3.connect(tmp_path / "m.db")
    ex = (
        client.create_exporter()
        .add_entities("companies")
        .include_relationships("companies.parentCompanyID")
    )
    result = ex.to_sql(conn, work_dir=tmp_path / "w")
    assert conn.execute("SELECT count(*) FROM companies").fetchone() == (
        result.entities["Companies"].rows,
    )
    conn.close()


def test_configuration_errors_say_what_to_do(client: AutotaskClient) -> None:
    ex = client.create_exporter()
    with pytest.raises(AutotaskConfigError, match="unknown Autotask entity"):
        ex.add_entities("DataExport")
    with pytest.raises(AutotaskConfigError, match="add Contacts with add_entities"):
        ex.include_relationships("contacts.company")
    ex.add_entities("tickets")
    with pytest.raises(AutotaskConfigError, match="its references"):
        ex.include_relationships("tickets.nothing")
    with pytest.raises(AutotaskConfigError, match="cannot tell the format"):
        ex.export("out")
    with pytest.raises(AutotaskConfigError, match="workers"):
        client.create_exporter(workers=0)
