"""A field selection (``add_entities(fields=...)``): ``id`` and the chosen fields, in that order,
requested with ``IncludeFields``, written as one file with ``single_file=True``; mistakes are
refused before anything is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from py_autotask import AutotaskClient, F
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator

from ._helpers import FILE_READERS, expected_rows

pytestmark = pytest.mark.xdist_group("export")


@pytest.fixture
def recorded(sim: Simulator) -> Iterator[tuple[AutotaskClient, list[dict[str, Any]]]]:
    """A client whose Tickets query bodies (the keyset pages) are recorded as sent."""
    bodies: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/Tickets/query"):
            bodies.append(json.loads(request.content))

    with (
        httpx.Client(event_hooks={"request": [record]}) as http,
        AutotaskClient(**sim.credentials, http_client=http) as client,
    ):
        yield client, bodies


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_a_field_selection_is_id_and_those_fields_in_one_file(
    recorded: tuple[AutotaskClient, list[dict[str, Any]]],
    sim: Simulator,
    tmp_path: Path,
    fmt: str,
) -> None:
    client, bodies = recorded
    ex = client.create_exporter().add_entities(
        "tickets", filter=F("id").lte(1200), fields=["title", "STATUS", "udf.Ext URL"]
    )
    target = tmp_path / f"few.{fmt}"
    result = ex.export(target, single_file=True)
    assert result.path == str(target) and target.is_file()
    assert result.entities["Tickets"].location == target.name
    manifest = json.loads((tmp_path / f"few.{fmt}.manifest.json").read_text())
    columns = manifest["entities"]["Tickets"]["columns"]
    # id first (rows are read, resumed and keyed by it), then the selection as given, API-cased
    assert [c["name"] for c in columns] == ["id", "title", "status", "udf_ext_url"]
    written = FILE_READERS[fmt](target.read_bytes(), columns)
    assert written == expected_rows(sim, "Tickets", columns, ids=range(1, 1201))
    assert len(written) == 1200
    # only the chosen fields were asked for, on every page
    assert len(bodies) >= 3
    assert all(b["IncludeFields"] == ["id", "title", "status", "userDefinedFields"] for b in bodies)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        target.name,
        target.name + ".manifest.json",
    ]


def test_field_selection_mistakes_are_refused_before_anything_is_read(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    ex = client.create_exporter()
    with pytest.raises(AutotaskConfigError, match="Tickets has no field 'titel'"):
        ex.add_entities("tickets", fields=["id", "titel"])
    with pytest.raises(AutotaskConfigError, match="list of field names"):
        ex.add_entities("tickets", fields="id,title")  # type: ignore[arg-type]
    sim.clear_journal()
    ex.add_entities("tickets", fields=["title"]).include_relationships("tickets.company")
    with pytest.raises(AutotaskConfigError, match=r"reads Tickets\.companyID, which fields="):
        ex.export(tmp_path / "t", format="parquet")
    with pytest.raises(AutotaskConfigError, match="single_file=True writes one entity"):
        ex.export(tmp_path / "t.parquet", single_file=True)
    assert sim.journal() == []
    assert list(tmp_path.iterdir()) == []


def test_a_udf_the_tenant_lacks_is_named(client: AutotaskClient, tmp_path: Path) -> None:
    ex = client.create_exporter().add_entities("tickets", fields=["title", "udf.No Such"])
    with pytest.raises(AutotaskConfigError, match=r"no field 'udf\.No Such' in this tenant"):
        ex.export(tmp_path / "t.csv", single_file=True)
    assert not (tmp_path / "t.csv").exists()
