"""Facts codegen writes into every ``EntitySpec`` (deletion log, attachment holder, default date
field, the parent id field of every child route) hold for real entities, and codegen refuses a
child route whose parent id field is neither in the metadata nor reviewed in overrides.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from py_autotask_generated.entities import (
    ATTACHMENT_PARENTS,
    DELETION_LOGS,
    MODULES,
    spec,
)

from codegen import bootstrap as boot
from codegen.render import load_entities
from py_autotask._spec import DeletionLogSpec

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
OVERRIDES = json.loads((ROOT / "codegen" / "overrides.json").read_text())["parentIdField"]


def test_tickets_deletions_are_logged_in_deleted_ticket_logs() -> None:
    log = spec("Tickets").deletion_log
    assert log == DeletionLogSpec("DeletedTicketLogs", "ticketID", "deletedDateTime")
    assert DELETION_LOGS == {"Tickets": "DeletedTicketLogs"}
    # the log's id field is the one that references the entity it logs
    fields = spec("DeletedTicketLogs").fields
    assert fields["ticketID"].reference_entity == "Ticket"
    assert fields["deletedDateTime"].data_type == "datetime"
    # activity logs carry no deleted-record id: Tasks and the logs themselves have no deletion log
    assert spec("Tasks").deletion_log is None
    assert spec("DeletedTicketActivityLogs").deletion_log is None


def test_tickets_attachments_live_in_ticket_attachments() -> None:
    assert spec("Tickets").attachment_entity == "TicketAttachments"
    route = spec("TicketAttachments").route_for_parent("Tickets")
    assert route is not None
    assert route.path(7) == "Tickets/7/Attachments"
    assert {"create", "get", "list", "delete"} <= route.operations
    assert route.parent_id_field == "ticketID"
    assert spec("TicketNotes").attachment_entity == "TicketNoteAttachments"
    assert spec("Contacts").attachment_entity is None  # Autotask has no contact attachments


def test_attachment_index_and_specs_agree_for_every_collection() -> None:
    assert len(ATTACHMENT_PARENTS) == 19
    for name in MODULES:
        holder = spec(name).attachment_entity
        assert holder == ATTACHMENT_PARENTS.get(name), name
        if holder is not None:
            route = spec(holder).route_for_parent(name)
            assert route is not None and route.child == "Attachments", name
        assert (spec(name).deletion_log is not None) == (name in DELETION_LOGS), name


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("Tickets", "createDate"),  # the creation date first ...
        ("Companies", "createDate"),
        ("TimeEntries", "createDateTime"),
        ("Documents", "createdDateTime"),  # ... however it is spelled
        ("Products", "createdTime"),
        ("Contracts", "lastModifiedDateTime"),  # no creation date: the change-tracking field
        ("TaskPredecessors", None),  # neither: callers must name a field
        ("Resources", None),  # hireDate is not a record date
    ],
)
def test_default_date_field(entity: str, expected: str | None) -> None:
    entity_spec = spec(entity)
    assert entity_spec.default_date_field == expected
    if expected is not None:
        assert entity_spec.fields[expected].data_type in ("date", "datetime")


#: The child routes whose parent id field bootstrap could not derive before codegen/overrides.json
#: (and one rule: the parent's SOAP entity name) settled them.
FORMERLY_UNKNOWN = [
    ("ArticlePlainTextContent", "KnowledgeBaseArticles", None),
    ("ConfigurationItemDnsRecords", "ConfigurationItems", "installedProductID"),  # SOAP name rule
    ("DocumentPlainTextContent", "Documents", None),
    ("ExpenseItems", "Expenses", "expenseReportID"),
    ("KnowledgeBaseArticles", "KnowledgeBaseCategories", "articleCategoryID"),
    ("ServiceLevelAgreementResults", "ServiceLevelAgreements", None),
    ("TaskPredecessors", "Tasks", "successorTaskID"),
    ("TimeOffRequestsApprove", "TimeOffRequests", None),
    ("UserDefinedFieldListItems", "UserDefinedFields", "udfFieldId"),
]


@pytest.mark.parametrize(("entity", "parent", "expected"), FORMERLY_UNKNOWN)
def test_formerly_unknown_parent_id_fields(entity: str, parent: str, expected: str | None) -> None:
    route = spec(entity).route_for_parent(parent)
    assert route is not None
    assert route.parent_id_field == expected
    derived = json.loads((SCHEMAS / "entities" / entity / "derived.json").read_text())
    (raw,) = [r for r in derived["parentRoutes"] if r["parent"] == parent]
    url = raw["url"]
    if expected is None:  # only a reviewed "no such field" may leave it empty
        assert OVERRIDES[url]["field"] is None
        assert raw["parentIdFieldReason"].startswith("no such field: parent id only in the URL")
    else:
        assert expected in spec(entity).fields
    if url in OVERRIDES:
        assert raw["parentIdFieldReason"] == OVERRIDES[url]["reason"]
        assert OVERRIDES[url]["field"] == expected


def test_every_child_route_has_a_parent_id_field_or_a_reviewed_reason() -> None:
    used = set()
    for folder in sorted((SCHEMAS / "entities").iterdir()):
        derived = json.loads((folder / "derived.json").read_text())
        fields = {f["name"] for f in json.loads((folder / "fields.json").read_text())["fields"]}
        for route in derived["parentRoutes"]:
            if route["url"] in OVERRIDES:
                used.add(route["url"])
                assert route["parentIdField"] == OVERRIDES[route["url"]]["field"]
                assert route["parentIdFieldReason"] == OVERRIDES[route["url"]]["reason"]
            else:
                assert route["parentIdField"] in fields, route["url"]
                assert "parentIdFieldReason" not in route
    assert used == set(OVERRIDES)  # no stale entry


def test_bootstrap_refuses_a_route_with_no_parent_id_field_and_no_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = dict(OVERRIDES)
    del entries["/V1.0/Tasks/{parentId}/Predecessors"]
    del entries["/V1.0/ServiceLevelAgreements/{parentId}/Results"]
    monkeypatch.setattr(boot, "load_overrides", lambda: entries)
    with pytest.raises(SystemExit) as info:
        boot.bootstrap(SCHEMAS / "source", tmp_path / "schemas")
    message = str(info.value)
    assert "/V1.0/ServiceLevelAgreements/{parentId}/Results" in message
    assert "/V1.0/Tasks/{parentId}/Predecessors" in message
    assert "codegen/overrides.json" in message


def test_bootstrap_refuses_an_override_the_metadata_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = dict(OVERRIDES)
    entries["/V1.0/Tickets/{parentId}/Notes"] = {"field": "ticketID", "reason": "redundant"}
    monkeypatch.setattr(boot, "load_overrides", lambda: entries)
    with pytest.raises(SystemExit, match=r"Tickets/\{parentId\}/Notes the parent id field"):
        boot.bootstrap(SCHEMAS / "source", tmp_path / "schemas")


def test_render_refuses_a_null_parent_id_field_without_a_reason(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas, ignore=shutil.ignore_patterns("source"))
    path = schemas / "entities" / "TaskPredecessors" / "derived.json"
    derived = json.loads(path.read_text())
    derived["parentRoutes"][0]["parentIdField"] = None
    del derived["parentRoutes"][0]["parentIdFieldReason"]
    path.write_text(json.dumps(derived))
    with pytest.raises(SystemExit, match="no parentIdField and no reviewed reason"):
        load_entities(schemas)
    derived["parentRoutes"][0]["parentIdField"] = "taskID"  # not a field of TaskPredecessors
    path.write_text(json.dumps(derived))
    with pytest.raises(SystemExit, match="'taskID' is not a field of TaskPredecessors"):
        load_entities(schemas)
