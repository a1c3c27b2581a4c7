"""`check-drift` passes on the committed tree and fails, readably, after an edit to a schema file
or a template that was not re-rendered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codegen import render

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("render")


def test_committed_generated_tree_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert render.check_drift(ROOT / "schemas", ROOT / "generated") == 0
    assert "matches" in capsys.readouterr().out


def test_schema_edit_without_regenerating_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas, ignore=shutil.ignore_patterns("source"))
    fields_file = schemas / "entities" / "Tickets" / "fields.json"
    data = json.loads(fields_file.read_text())
    title = next(f for f in data["fields"] if f["name"] == "title")
    title["length"] = 999
    fields_file.write_text(json.dumps(data))
    assert render.check_drift(schemas, ROOT / "generated") == 1
    err = capsys.readouterr().err
    assert "differs: generated/py_autotask_generated/entities/_tickets.py" in err
    assert "length=999" in err  # the diff itself is shown
    assert "make generate" in err


def test_template_edit_without_regenerating_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    client_mixin = templates / "client_mixin.py.jinja"
    client_mixin.write_text(
        client_mixin.read_text().replace("One property per Autotask collection", "EDITED")
    )
    monkeypatch.setattr(render, "TEMPLATES", templates)
    assert render.check_drift(ROOT / "schemas", ROOT / "generated") == 1
    err = capsys.readouterr().err
    assert "differs: generated/py_autotask_generated/_client_mixin.py" in err
    assert '+    """EDITED' in err


def _edit(schemas: Path, entity: str, name: str, change: Any) -> None:
    path = schemas / "entities" / entity / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _no_ticket_id_reference(data: dict[str, Any]) -> None:
    next(f for f in data["fields"] if f["name"] == "ticketID")["referenceEntityType"] = ""


def _no_create_date(data: dict[str, Any]) -> None:
    data["fields"] = [f for f in data["fields"] if f["name"] != "createDate"]


def _other_parent_field(data: dict[str, Any]) -> None:
    data["parentRoutes"][0]["parentIdField"] = "predecessorTaskID"


def test_spec_facts_are_checked_for_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One render for three facts codegen derives into the specs (a render takes seconds).
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas, ignore=shutil.ignore_patterns("source"))
    # the deletion log of Tickets follows DeletedTicketLogs' field referencing Ticket
    _edit(schemas, "DeletedTicketLogs", "fields.json", _no_ticket_id_reference)
    # the default date field follows the creation date field
    _edit(schemas, "Tickets", "fields.json", _no_create_date)
    # the parent id field of a child route follows derived.json
    _edit(schemas, "TaskPredecessors", "derived.json", _other_parent_field)
    assert render.check_drift(schemas, ROOT / "generated", max_lines=5000) == 1
    err = capsys.readouterr().err
    assert "differs: generated/py_autotask_generated/entities/__init__.py" in err  # DELETION_LOGS
    assert '-    "Tickets": "DeletedTicketLogs",' in err
    assert "+    deletion_log=None," in err
    assert '+    default_date_field="lastActivityDate",' in err
    assert '+            parent_id_field="predecessorTaskID",' in err
