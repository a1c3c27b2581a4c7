"""Dry runs validate for real (every problem, with row and field, zero writes); malformed input
is refused as a whole before anything is sent."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from py_autotask.bulk import BulkInputError
from tests.bulk.conftest import ticket_base, writes

COLUMNS = [
    "title",
    "companyID",
    "status",
    "priority",
    "dueDateTime",
    "estimatedHours",
    "externalID",
    "createDate",
    "contactID",
    "purchaseOrderNumber",
    "isVisibleToComanaged",
    "issueType",
    "udf:FR Result",
    "queueID",
    "monitorID",
]

# (overrides of a valid row, field the problem must name): 20 problems of different kinds
PLANTED: list[tuple[dict[str, str], str]] = [
    ({"title": ""}, "title"),  # required field missing
    ({"companyID": "abc"}, "companyID"),  # not an integer
    ({"priority": "99"}, "priority"),  # not in the tenant's picklist
    ({"status": "Bogus"}, "status"),  # neither a picklist value nor a label
    ({"dueDateTime": "31/12/2024"}, "dueDateTime"),  # not ISO 8601
    ({"estimatedHours": "lots"}, "estimatedHours"),  # not a number
    ({"title": "x" * 300}, "title"),  # longer than 255
    ({"externalID": "e" * 60}, "externalID"),  # longer than 50
    ({"createDate": "2024-01-01T00:00:00Z"}, "createDate"),  # read-only
    ({"companyID": "999999"}, "companyID"),  # reference to a company that does not exist
    ({"contactID": "888888"}, "contactID"),  # reference to a contact that does not exist
    ({"purchaseOrderNumber": "p" * 51}, "purchaseOrderNumber"),  # longer than 50
    ({"priority": "<null>"}, "priority"),  # required field set to null
    ({"isVisibleToComanaged": "maybe"}, "isVisibleToComanaged"),  # not a boolean
    ({"issueType": "12345"}, "issueType"),  # not in the tenant's picklist
    ({"udf:FR Result": "Bogus"}, "udf:FR Result"),  # not in the UDF's picklist
    ({"dueDateTime": "2024-13-01"}, "dueDateTime"),  # month 13
    ({"estimatedHours": "1e999"}, "estimatedHours"),  # not finite
    ({"queueID": "abc"}, "queueID"),  # not an integer
    ({"monitorID": "1.5"}, "monitorID"),  # not an integer (long)
]


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


def _valid(base: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "title": f"dry run row {i}",
        "companyID": str(base["companyID"]),
        "status": str(base["status"]),
        "priority": str(base["priority"]),
        "dueDateTime": "2024-05-01T10:00:00+02:00",
        "estimatedHours": "1.5",
        "isVisibleToComanaged": "yes",
    }


def test_dry_run_reports_all_20_planted_errors_with_row_and_field_and_writes_nothing(
    sim, client, bulk, tmp_path
):
    base = ticket_base(client)
    rows: list[dict[str, Any]] = []
    expected: set[tuple[int, str]] = set()
    for overrides, fld in PLANTED:
        rows.append(_valid(base, len(rows)))  # a valid row between the bad ones
        rows.append({**_valid(base, len(rows)), **overrides})
        expected.add((len(rows), fld))
    # labels are accepted and converted: "priority 2" is a label in the simulated tenant
    rows.append({**_valid(base, len(rows)), "priority": "priority 2", "udf:FR Result": "Escalated"})
    path = _write_csv(tmp_path / "tickets.csv", rows)
    sim.clear_journal()

    result = bulk(journal_dir=tmp_path).bulk_create(
        "tickets", path, dry_run=True, check_references=True
    )

    got = {(p.row, p.field) for p in result.problems}
    assert got == expected, sorted(got ^ expected)
    assert len(result.problems) == 20
    assert all(p.reason for p in result.problems)
    assert result.exit_code == 5
    assert result.counts()["failed"] == 20 and result.counts()["ok"] == len(rows) - 20
    assert result.journal_path is None
    # zero writes: only metadata reads and batched reference queries reached the simulator
    assert writes(sim) == []
    assert {e.operation for e in sim.journal()} <= {"meta", "query"}
    assert all(e.path.endswith("/query") for e in sim.journal(method="POST"))
    assert len(sim.journal(operation="query")) == 2  # one `in` query per referenced entity
    # the failures CSV carries row, field and reason next to the original values
    failures = result.write_failures_csv(tmp_path / "failures.csv")
    with failures.open(encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert len(back) == 20 and {int(r["_row"]) for r in back} == {row for row, _ in expected}


def test_dry_run_update_prefetches_and_reports_what_would_change(sim, client, bulk, tmp_path):
    tickets = client.tickets.query(max_records=5, include_fields=["id", "title"]).items
    rows = (
        [{"id": t.id, "title": t.title} for t in tickets[:2]]
        + [{"id": t.id, "title": f"changed {t.id}"} for t in tickets[2:]]
        + [{"id": 987654321, "title": "nobody"}]
    )
    sim.clear_journal()
    result = bulk().bulk_update("tickets", rows, dry_run=True)
    statuses = [r.status for r in result.rows]
    assert statuses == ["skipped", "skipped", "ok", "ok", "ok", "failed"]
    assert result.rows[2].changed_fields == ("title",)
    assert result.rows[5].field == "id" and "does not exist" in (result.rows[5].reason or "")
    assert writes(sim) == []
    assert result.requests["prefetch"] == 1


# --- malformed input: a clear error, nothing sent ----------------------------------------------------


def test_wrong_encoding_is_refused_with_the_line_and_nothing_is_sent(sim, client, bulk, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "title,companyID,status,priority\nok,1,1,1\nCaf\xe9 cr\xe8me,1,1,1\n".encode("cp1252")
    )
    sim.clear_journal()
    with pytest.raises(BulkInputError) as info:
        bulk(journal_dir=tmp_path).bulk_create("tickets", path)
    assert "not valid utf-8-sig" in str(info.value) and "line 3" in str(info.value)
    assert "--encoding" in str(info.value)
    assert writes(sim) == []
    # with the right encoding it reads
    result = bulk(journal_dir=tmp_path).bulk_create(
        "tickets", path, encoding="cp1252", dry_run=True
    )
    assert result.rows[1].status == "ok"


def test_update_without_an_id_column_is_refused(sim, client, bulk, tmp_path):
    path = _write_csv(tmp_path / "u.csv", [{"title": "a"}], ["title", "priority"])
    sim.clear_journal()
    with pytest.raises(BulkInputError, match="no 'id' column"):
        bulk(journal_dir=tmp_path).bulk_update("tickets", path)
    assert sim.journal(operation="query") == [] and writes(sim) == []


def test_unknown_field_is_refused_naming_the_column(sim, client, bulk, tmp_path):
    rows = [
        {"title": "a", "companyID": 1, "status": 1, "priority": 1, "colour": "red", "udf:Nope": "x"}
    ]
    sim.clear_journal()
    with pytest.raises(BulkInputError) as info:
        bulk(journal_dir=tmp_path).bulk_create("tickets", rows)
    assert "'colour' is not a Tickets field" in str(info.value)
    assert "no Tickets user-defined field named 'Nope'" in str(info.value)
    assert writes(sim) == []


def test_bad_numbers_and_dates_stop_the_job_before_any_write(sim, client, bulk, tmp_path):
    base = ticket_base(client)
    rows = [
        {**base, "title": "fine"},
        {**base, "title": "bad number", "estimatedHours": "1,5"},
        {**base, "title": "bad date", "dueDateTime": "yesterday"},
    ]
    sim.clear_journal()
    result = bulk(journal_dir=tmp_path).bulk_create("tickets", rows)
    assert [(p.row, p.field) for p in result.problems] == [
        (2, "estimatedHours"),
        (3, "dueDateTime"),
    ]
    assert "expects a number" in result.problems[0].reason
    assert "ISO 8601" in result.problems[1].reason
    assert result.rows[0].status == "skipped" and "on_invalid='abort'" in (
        result.rows[0].reason or ""
    )
    assert result.exit_code == 5 and result.journal_path is None
    assert writes(sim) == []
    # on_invalid="skip" sends the valid row only
    sent = bulk(journal_dir=tmp_path).bulk_create("tickets", rows, on_invalid="skip")
    assert [r.status for r in sent.rows] == ["ok", "failed", "failed"]
    assert len(writes(sim)) == 1


def test_a_csv_row_with_more_cells_than_the_header_is_refused(sim, client, bulk, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("title,companyID,status,priority\na,1,1,1,extra\n", encoding="utf-8")
    with pytest.raises(BulkInputError, match="5 cells but the header has 4 columns"):
        bulk(journal_dir=tmp_path).bulk_create("tickets", path)
    assert writes(sim) == []
