"""Drift report: the real 2022-07 -> 2026-06 Swagger documents and synthetic schemas/ trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.drift import Change, DriftReport, PicklistChange, diff_inputs, diff_trees, run_diff

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "schemas" / "source"
SWAGGER_2022 = SOURCE / "autotask-swagger-v1-2022-07-SergLGP.json"
SWAGGER_2026 = SOURCE / "autotask-swagger-v1-2026-06.json"


# --------------------------------------------------------------------------- 2022 -> 2026


@pytest.fixture(scope="module")
def report_2022_2026() -> DriftReport:
    return diff_inputs(SWAGGER_2022, SWAGGER_2026)


def test_2022_to_2026_lists_known_additions(report_2022_2026: DriftReport) -> None:
    report = report_2022_2026
    added = {e.name: e for e in report.entities_added}
    assert set(added) == {
        "OpportunityCategories",
        "ResourceDailyAvailabilities",
        "ResourceTimeOffAdditional",
        "ResourceTimeOffApprovers",
        "ResourceTimeOffBalances",
        "TimeOffRequestsApprove",
        "TimeOffRequestsReject",
    }
    assert report.entities_removed == []
    assert added["OpportunityCategories"].routes_added == {
        "/V1.0/OpportunityCategories": ["count", "get", "query", "replace", "update"]
    }
    assert added["ResourceDailyAvailabilities"].routes_added[
        "/V1.0/Resources/{parentId}/DailyAvailabilities"
    ] == [
        "get",
        "list",
        "replace",
        "update",
    ]
    assert added["TimeOffRequestsApprove"].routes_added[
        "/V1.0/TimeOffRequests/{parentId}/Approve"
    ] == ["list"]
    assert added["TimeOffRequestsReject"].routes_added[
        "/V1.0/TimeOffRequests/{parentId}/Reject"
    ] == ["create"]

    changed = {e.name: e for e in report.changed}
    assert "impersonatorApproveRejectResourceID" in changed["TimeOffRequests"].fields_added
    assert changed["Contracts"].fields_added == ["lastModifiedDateTime"]
    assert Change("hasUserDefinedFields", "false", "true") in changed["Services"].info_changes

    # Consistent with the documents: 65 paths added, 0 removed (reference/autotask-api.md §1).
    assert report.swagger_paths_added is not None and len(report.swagger_paths_added) == 65
    assert report.swagger_paths_removed == []
    assert "/V1.0/OpportunityCategories/query" in report.swagger_paths_added
    assert set(report.swagger_paths_unmodelled or []) == {
        "/V1.0/Authenticate",
        "/V1.0/Companies/{id}/invoiceSettings",
        "/V1.0/Companies/{id}/invoiceSettings/contactRecipients",
        "/V1.0/Companies/{id}/invoiceSettings/contactRecipients/{contactId}",
        "/V1.0/Companies/{id}/invoiceSettings/resourceRecipients",
        "/V1.0/Companies/{id}/invoiceSettings/resourceRecipients/{resourceId}",
        "/V1.0/Invoices/{id}/InvoicePdf",
    }
    summary = report.summary
    assert (summary.entities_added, summary.entities_removed) == (7, 0)
    assert (summary.routes_added, summary.routes_removed) == (13, 0)
    assert summary.operations_removed == 0 and summary.fields_removed == 0


def test_saved_report_is_current(report_2022_2026: DriftReport) -> None:
    doc = (REPO / "docs" / "drift-2022-07-to-2026-06.md").read_text(encoding="utf-8")
    assert report_2022_2026.summary_line() in doc
    assert "+ ResourceDailyAvailabilities (11 fields)" in doc


def test_cli_diff_text_and_json() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    text = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", str(SWAGGER_2022), str(SWAGGER_2026)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert text.splitlines()[1].startswith("Summary: entities +7 -0")
    assert "  + TimeOffRequestsReject (" in text
    assert "  + /V1.0/Authenticate  *" in text
    data = json.loads(
        subprocess.run(
            [sys.executable, "-m", "codegen.drift", "--json", str(SWAGGER_2022), str(SWAGGER_2026)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
    )
    assert data["summary"]["swagger_paths_added"] == 65
    assert "OpportunityCategories" in [e["name"] for e in data["entities_added"]]


# --------------------------------------------------------------------------- synthetic trees


def _field(name: str, data_type: str = "integer", length: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "dataType": data_type,
        "length": length,
        "isRequired": kw.get("isRequired", False),
        "isReadOnly": kw.get("isReadOnly", False),
        "isQueryable": True,
        "isReference": False,
        "referenceEntityType": "",
        "isPickList": "picklistValues" in kw,
        "picklistValues": kw.get("picklistValues"),
        "picklistParentValueField": "",
        "isSupportedWebhookField": False,
    }


def _pv(value: str, label: str, sort: int) -> dict[str, Any]:
    return {
        "value": value,
        "label": label,
        "isDefaultValue": False,
        "sortOrder": sort,
        "parentValue": "",
        "isActive": True,
        "isSystem": True,
    }


def _udf(name: str) -> dict[str, Any]:
    return {"name": name, "label": name, "type": "string", "length": 8000, "picklistValues": None}


def _write_entity(
    root: Path,
    name: str,
    fields: list[dict[str, Any]],
    *,
    udfs: list[dict[str, Any]] | None = None,
    root_ops: list[str] | None = None,
    parent_routes: list[dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> None:
    folder = root / "entities" / name
    folder.mkdir(parents=True)
    files = {
        "entityInformation.json": {"info": {"name": name, "canCreate": True, **(info or {})}},
        "fields.json": {"fields": fields},
        "userDefinedFields.json": {"fields": udfs or []},
        "derived.json": {
            "name": name,
            "root": None if root_ops is None else {"url": f"/V1.0/{name}", "operations": root_ops},
            "parentRoutes": parent_routes or [],
            "childRoutes": [],
        },
    }
    for fname, data in files.items():
        (folder / fname).write_text(
            json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    status_old = [_pv("1", "New", 1), _pv("2", "Open", 2), _pv("5", "Complete", 5)]
    status_new = [
        _pv("1", "New", 1),
        _pv("2", "In progress", 2),
        _pv("7", "Waiting", 7),
        _pv("8", "Hold", 8),
    ]
    _write_entity(
        old,
        "Widgets",
        [
            _field("id", "long", isRequired=True, isReadOnly=True),
            _field("title", "string", 50, isRequired=True),
            _field("count", "integer"),
            _field("legacyCode", "string", 10),
            _field("status", "integer", picklistValues=status_old),
            _field("ownerID", "integer", isReadOnly=True),
            _field("CamelCase", "string", 5),
        ],
        udfs=[_udf("Old UDF"), _udf("Kept UDF")],
        root_ops=["get", "query"],
        info={"canDelete": False},
    )
    _write_entity(
        new,
        "Widgets",
        [
            _field("id", "long", isRequired=True, isReadOnly=True),
            _field("title", "string", 100, isRequired=False),
            _field("count", "long"),
            _field("status", "integer", picklistValues=status_new),
            _field("ownerID", "integer", isReadOnly=False),
            _field("camelCase", "string", 5),
            _field("dueDate", "datetime"),
        ],
        udfs=[_udf("Kept UDF"), _udf("New UDF")],
        root_ops=["create", "get", "query"],
        parent_routes=[
            {
                "parent": "Boxes",
                "child": "Widgets",
                "url": "/V1.0/Boxes/{parentId}/Widgets",
                "parentIdField": "boxID",
                "operations": ["list"],
            }
        ],
        info={"canDelete": True},
    )
    for tree in (old, new):
        _write_entity(tree, "Unchanged", [_field("id", "long")], root_ops=["get"])
    _write_entity(old, "Gadgets", [_field("id", "long")], root_ops=["get", "delete"])
    _write_entity(
        new, "Gizmos", [_field("id", "long"), _field("name", "string", 20)], root_ops=["query"]
    )
    return old, new


def test_synthetic_diff_reports_exactly_the_planted_changes(trees: tuple[Path, Path]) -> None:
    report = diff_trees(*trees)
    assert [e.name for e in report.entities_added] == ["Gizmos"]
    assert report.entities_added[0].routes_added == {"/V1.0/Gizmos": ["query"]}
    assert report.entities_added[0].field_count == 2
    assert [e.name for e in report.entities_removed] == ["Gadgets"]
    assert report.entities_removed[0].routes_removed == {"/V1.0/Gadgets": ["delete", "get"]}
    assert [e.name for e in report.changed] == ["Widgets"]  # "Unchanged" is not listed

    w = report.changed[0]
    assert w.routes_added == {"/V1.0/Boxes/{parentId}/Widgets": ["list"]}
    assert w.routes_removed == {}
    assert w.operations_added == {"/V1.0/Widgets": ["create"]}
    assert w.operations_removed == {}
    assert w.fields_added == ["dueDate"]
    assert w.fields_removed == ["legacyCode"]
    assert w.fields_renamed == [Change("camelCase", "CamelCase", "camelCase")]
    assert w.fields_retyped == [
        Change("count", "integer", "long"),
        Change("title", "string(50)", "string(100)"),
    ]
    assert w.required_flips == [Change("title", "true", "false")]
    assert w.readonly_flips == [Change("ownerID", "true", "false")]
    assert w.picklists == [PicklistChange("status", added=2, removed=1, relabelled=1)]
    assert w.udfs_added == ["New UDF"]
    assert w.udfs_removed == ["Old UDF"]
    assert w.info_changes == [Change("canDelete", "false", "true")]

    s = report.summary
    assert (s.entities_added, s.entities_removed, s.entities_changed) == (1, 1, 1)
    assert (s.routes_added, s.routes_removed) == (2, 1)  # Gizmos root + Boxes/Widgets; Gadgets
    assert (s.operations_added, s.operations_removed) == (3, 2)
    assert (s.fields_added, s.fields_removed, s.fields_retyped) == (1, 1, 2)
    assert (s.picklist_values_added, s.picklist_values_removed, s.picklist_labels_changed) == (
        2,
        1,
        1,
    )

    text = report.format_text()
    assert report.summary_line() in text
    for line in (
        "  + Gizmos (2 fields)",
        "      /V1.0/Gizmos [query]",
        "  - Gadgets (1 fields)",
        "    route added: /V1.0/Boxes/{parentId}/Widgets [list]",
        "    operations added on /V1.0/Widgets: create",
        "    fields added (1): dueDate",
        "    fields removed (1): legacyCode",
        "    fields retyped (2): count integer -> long; title string(50) -> string(100)",
        "    isRequired flipped (1): title true -> false",
        "    isReadOnly flipped (1): ownerID true -> false",
        "    picklist values changed (1): status +2 -1 ~1 label(s)",
        "    UDFs added (1): New UDF",
        "    UDFs removed (1): Old UDF",
        "    entityInformation changed (1): canDelete false -> true",
    ):
        assert line in text.splitlines(), line
    assert "Unchanged" not in text
    assert json.loads(report.to_json())["summary"]["fields_retyped"] == 2


def test_reverse_diff_mirrors(trees: tuple[Path, Path]) -> None:
    old, new = trees
    back = diff_trees(new, old)
    assert [e.name for e in back.entities_added] == ["Gadgets"]
    assert [e.name for e in back.entities_removed] == ["Gizmos"]
    w = back.changed[0]
    assert (w.fields_added, w.fields_removed) == (["legacyCode"], ["dueDate"])
    assert w.routes_removed == {"/V1.0/Boxes/{parentId}/Widgets": ["list"]}
    assert w.operations_removed == {"/V1.0/Widgets": ["create"]}


def test_identical_trees_and_bad_input(
    trees: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = trees
    assert run_diff(old, old) == 0
    out = capsys.readouterr().out
    assert "No differences." in out
    assert "Summary: entities +0 -0 (0 changed)" in out
    assert run_diff(old, tmp_path / "missing") == 2
    assert "does not exist" in capsys.readouterr().err
    not_swagger = tmp_path / "x.json"
    not_swagger.write_text("{}", encoding="utf-8")
    assert run_diff(not_swagger, old) == 2
    assert "neither a schemas/ directory nor a Swagger document" in capsys.readouterr().err
