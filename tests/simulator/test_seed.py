"""Tests for the seeded-data generator (py_autotask.simulator._seed).

The checks re-derive every rule from ``schemas/`` independently of the generator's own loader.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import resource
import sys
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask.simulator import _seed
from py_autotask.simulator._seed import (
    default_counts,
    generate,
    generation_plan,
    record_count,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

pytestmark = pytest.mark.skipif(
    not (SCHEMAS / "entities").is_dir(), reason="schemas/ snapshot not present"
)

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?$")
INT_TYPES = {"integer", "long", "short"}
FLOAT_TYPES = {"decimal", "double", "float"}


# ------------------------------------------------------------------------------------------------
# Independent view of the snapshot


class Meta:
    def __init__(self, schemas: Path) -> None:
        root = schemas / "entities"
        self.fields: dict[str, list[dict[str, Any]]] = {}
        self.udfs: dict[str, list[dict[str, Any]]] = {}
        self.derived: dict[str, dict[str, Any]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            self.fields[d.name] = json.loads((d / "fields.json").read_text())["fields"]
            self.udfs[d.name] = json.loads((d / "userDefinedFields.json").read_text())["fields"]
            self.derived[d.name] = json.loads((d / "derived.json").read_text())
            self.info[d.name] = json.loads((d / "entityInformation.json").read_text())["info"]
        self.by_singular: dict[str, str] = {}
        for name, der in self.derived.items():
            self.by_singular.setdefault(der["singular"].lower(), name)

    def references(self, name: str) -> dict[str, str]:
        """field -> target collection (isReference fields and child-route parent id fields)."""
        out: dict[str, str] = {}
        lower = {f["name"].lower(): f["name"] for f in self.fields[name]}
        for f in self.fields[name]:
            target = self.by_singular.get((f["referenceEntityType"] or "").lower())
            if f["isReference"] and target and f["name"] != "id":
                if f["isPickList"] and f["picklistValues"]:
                    continue  # picklist values win over the reference
                out[f["name"]] = target
        for pr in self.derived[name]["parentRoutes"]:
            pid = pr.get("parentIdField")
            if pid and pid.lower() in lower and pr["parent"] in self.fields:
                out[lower[pid.lower()]] = pr["parent"]
        return out


@pytest.fixture(scope="module")
def meta() -> Meta:
    return Meta(SCHEMAS)


@pytest.fixture(scope="module")
def tiny() -> list[tuple[str, dict[str, Any]]]:
    return list(generate(SCHEMAS, "tiny"))


@pytest.fixture(scope="module")
def demo() -> list[tuple[str, dict[str, Any]]]:
    return list(generate(SCHEMAS, "demo"))


def digest(stream: Iterable[tuple[str, dict[str, Any]]]) -> str:
    h = hashlib.sha256()
    for coll, rec in stream:
        h.update(coll.encode())
        h.update(json.dumps(rec, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def by_collection(
    stream: Iterable[tuple[str, dict[str, Any]]],
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for coll, rec in stream:
        out[coll].append(rec)
    return out


# ------------------------------------------------------------------------------------------------
# Determinism, counts, profiles


def test_deterministic_same_seed() -> None:
    assert digest(generate(SCHEMAS, "tiny", 42)) == digest(generate(SCHEMAS, "tiny", 42))
    counts = {"Tickets": 3000, "TicketNotes": 2000}
    assert digest(generate(SCHEMAS, "tiny", 7, counts=counts)) == digest(
        generate(SCHEMAS, "tiny", 7, counts=counts)
    )


def test_different_seed_differs() -> None:
    assert digest(generate(SCHEMAS, "tiny", 1)) != digest(generate(SCHEMAS, "tiny", 2))


def test_changing_one_count_keeps_other_collections(meta: Meta) -> None:
    a = by_collection(generate(SCHEMAS, "tiny"))
    b = by_collection(generate(SCHEMAS, "tiny", counts={"TicketNotes": 50}))
    assert len(b["TicketNotes"]) == 50
    assert a["Tickets"] == b["Tickets"]
    assert a["Companies"] == b["Companies"]


def test_deterministic_across_processes() -> None:
    # hash randomisation must not leak in: compare with a fresh interpreter
    import subprocess

    code = (
        "import hashlib,json,sys;from pathlib import Path;"
        "from py_autotask.simulator._seed import generate;"
        "h=hashlib.sha256();"
        "[h.update((c+json.dumps(r,separators=(',',':'))+'\\n').encode()) "
        f"for c,r in generate(Path({str(SCHEMAS)!r}),'tiny',42)];"
        "print(h.hexdigest())"
    )
    h = hashlib.sha256()
    for coll, rec in generate(SCHEMAS, "tiny", 42):
        h.update((coll + json.dumps(rec, separators=(",", ":")) + "\n").encode())
    root = str(SCHEMAS.parent)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": os.pathsep.join([root, f"{root}/generated"])},
    )
    assert out.stdout.strip() == h.hexdigest()


def test_counts_and_record_count(tiny: list[tuple[str, dict[str, Any]]]) -> None:
    counts = Counter(c for c, _ in tiny)
    assert record_count("tiny", SCHEMAS) == len(tiny)
    plan = generation_plan(SCHEMAS, "tiny")
    assert dict(plan) == dict(counts)
    assert 150 <= len(tiny) <= 600
    resolved = default_counts("tiny", SCHEMAS)
    assert counts["Companies"] == resolved["Companies"] + 1  # + owner company
    for name, n in resolved.items():
        if name != "Companies":
            assert counts.get(name, 0) == n, name
    assert default_counts("demo")["Tickets"] == 10_000
    assert default_counts("bench")["Tickets"] == 1_000_000


def test_demo_profile_proportions(demo: list[tuple[str, dict[str, Any]]]) -> None:
    counts = Counter(c for c, _ in demo)
    assert counts["Tickets"] == 10_000
    assert counts["TicketNotes"] > counts["Tickets"]
    assert counts["TimeEntries"] > counts["Tickets"]
    assert 50 <= counts["Resources"] <= counts["Contacts"]
    assert counts["Companies"] < counts["Contacts"]
    assert record_count("demo", SCHEMAS) == len(demo)


def test_bench_counts_without_generating() -> None:
    plan = dict(generation_plan(SCHEMAS, "bench"))
    assert plan["Tickets"] == 1_000_000
    assert record_count("bench", SCHEMAS) == sum(plan.values())


def test_counts_override_validation() -> None:
    with pytest.raises(ValueError, match="unknown collection"):
        list(generate(SCHEMAS, "tiny", counts={"NoSuchThings": 3}))
    with pytest.raises(ValueError, match="unknown profile"):
        list(generate(SCHEMAS, "huge"))
    with pytest.raises(ValueError, match="negative"):
        list(generate(SCHEMAS, "tiny", counts={"Tickets": -1}))


def test_zero_records_for_write_only_collections(
    meta: Meta, tiny: list[tuple[str, dict[str, Any]]]
) -> None:
    counts = Counter(c for c, _ in tiny)
    for name in (
        "InventoryStockedItemsAdd",
        "InventoryStockedItemsRemove",
        "TimeOffRequestsApprove",
    ):
        if name in meta.fields:
            assert counts.get(name, 0) == 0, name
    # everything readable with fields gets records
    for name, fields in meta.fields.items():
        der = meta.derived[name]
        readable = (
            meta.info[name].get("canQuery")
            or set((der.get("root") or {}).get("operations") or []) & {"query", "get"}
            or any(set(p["operations"]) & {"list", "get"} for p in der["parentRoutes"])
        )
        if readable and fields:
            assert counts.get(name, 0) >= 1, name


def test_zero_count_override_keeps_required_targets(meta: Meta) -> None:
    data = by_collection(generate(SCHEMAS, "tiny", counts={"Tickets": 0, "Contacts": 0}))
    assert "Tickets" in data  # TicketNotes etc. need a parent ticket
    assert len(data["Tickets"]) == 1


# ------------------------------------------------------------------------------------------------
# Record shape and values


def test_ids_sequential_and_owner_company(tiny: list[tuple[str, dict[str, Any]]]) -> None:
    data = by_collection(tiny)
    for name, recs in data.items():
        ids = [r["id"] for r in recs]
        start = 0 if name == "Companies" else 1
        assert ids == list(range(start, start + len(ids))), name
    owner = data["Companies"][0]
    assert owner["id"] == 0
    assert owner["companyName"]


def check_records(meta: Meta, stream: Iterable[tuple[str, dict[str, Any]]]) -> Counter[str]:
    """All per-record rules; returns counts. Works on streams (keeps ids only)."""
    seen_ids: dict[str, set[int]] = defaultdict(set)
    checked: Counter[str] = Counter()
    refs_cache: dict[str, dict[str, str]] = {}
    for coll, rec in stream:
        fields = meta.fields[coll]
        refs = refs_cache.get(coll)
        if refs is None:
            refs = refs_cache[coll] = meta.references(coll)
        names = [f["name"] for f in fields]
        expected_keys = set(names) | ({"userDefinedFields"} if meta.udfs[coll] else set())
        assert set(rec) == expected_keys, coll
        by_lower = {f["name"].lower(): f for f in fields}
        for f in fields:
            name, value, dt = f["name"], rec[f["name"]], f["dataType"]
            if f["isRequired"]:
                assert value is not None, (coll, name)
            if value is None:
                continue
            if name in refs and name != "id":
                target = refs[name]
                if target == coll:
                    assert 1 <= value < rec["id"], (coll, name, value)
                else:
                    # reference consistency AND dependency order: already emitted
                    assert value in seen_ids[target], (coll, name, target, value)
                checked["refs"] += 1
                continue
            if f["isPickList"] and f["picklistValues"]:
                allowed = {pv["value"] for pv in f["picklistValues"]}
                if dt in FLOAT_TYPES:
                    assert value in {float(a) for a in allowed}, (coll, name, value)
                else:
                    assert str(value) in allowed, (coll, name, value)
                if dt in INT_TYPES:
                    assert type(value) is int, (coll, name, value)
                parent_name = f["picklistParentValueField"]
                if parent_name:
                    parent = by_lower[parent_name.lower()]["name"]
                    pval = rec[parent]
                    assert pval is not None, (coll, name)
                    match = [pv for pv in f["picklistValues"] if pv["value"] == str(value)]
                    assert any(pv["parentValue"] == str(pval) for pv in match), (coll, name)
                    checked["dependent"] += 1
                checked["picklists"] += 1
                continue
            if dt == "string":
                assert isinstance(value, str), (coll, name)
                if f["length"]:
                    assert len(value) <= f["length"], (coll, name, len(value))
            elif dt in INT_TYPES:
                assert type(value) is int, (coll, name, value)
            elif dt in FLOAT_TYPES:
                assert isinstance(value, (int, float)) and not isinstance(value, bool)
            elif dt == "boolean":
                assert isinstance(value, bool), (coll, name)
            elif dt == "datetime":
                assert DATETIME_RE.match(value), (coll, name, value)
                assert not value.endswith("Z")
        # creation <= modification
        created = [rec[n] for n in names if n.lower() in ("createdate", "createdatetime")]
        modified = [
            rec[n]
            for n in names
            if n.lower() in ("lastactivitydate", "lastmodifieddatetime", "lastmodifieddate")
        ]
        for c in created:
            for m in modified:
                if c is not None and m is not None:
                    assert c <= m, (coll, c, m)
                    checked["timestamps"] += 1
        if meta.udfs[coll]:
            udfs = rec["userDefinedFields"]
            assert [u["name"] for u in udfs] == [u["name"] for u in meta.udfs[coll]]
            for u in udfs:
                assert set(u) == {"name", "value"}
                assert u["value"] is None or isinstance(u["value"], str)
        seen_ids[coll].add(rec["id"])
        checked["records"] += 1
    return checked


def test_tiny_records_follow_metadata(meta: Meta, tiny: list[tuple[str, dict[str, Any]]]) -> None:
    checked = check_records(meta, tiny)
    assert checked["records"] == len(tiny)
    assert checked["refs"] > 100
    assert checked["picklists"] > 100
    assert checked["timestamps"] > 10


def test_demo_records_follow_metadata(meta: Meta, demo: list[tuple[str, dict[str, Any]]]) -> None:
    checked = check_records(meta, demo)
    assert checked["dependent"] > 100  # Tickets.subIssueType under issueType


def test_dependency_order(meta: Meta, tiny: list[tuple[str, dict[str, Any]]]) -> None:
    order = list(dict.fromkeys(c for c, _ in tiny))
    pos = {n: i for i, n in enumerate(order)}
    assert pos["Companies"] < pos["Contacts"] < pos["Tickets"]
    assert pos["Tickets"] < pos["TicketNotes"]
    assert pos["Tickets"] < pos["TimeEntries"]
    assert pos["Resources"] < pos["Tickets"]
    # each collection appears as one contiguous block
    blocks = [c for i, (c, _) in enumerate(tiny) if i == 0 or tiny[i - 1][0] != c]
    assert len(blocks) == len(set(blocks))


def test_core_references_are_populated(demo: list[tuple[str, dict[str, Any]]]) -> None:
    data = by_collection(demo)
    tickets = data["Tickets"]
    assert all(t["companyID"] is not None for t in tickets)
    for fname in ("contactID", "assignedResourceID", "configurationItemID", "contractID"):
        filled = sum(t[fname] is not None for t in tickets)
        assert filled > len(tickets) // 4, fname
    notes = data["TicketNotes"]
    assert len({n["ticketID"] for n in notes}) > 5000  # spread over many tickets
    assert all(e["ticketID"] is None or 1 <= e["ticketID"] <= 10_000 for e in data["TimeEntries"])


def test_company_scoped_references(demo: list[tuple[str, dict[str, Any]]]) -> None:
    """A ticket's contact, location, CI, contract, project all belong to the ticket's company."""
    data = by_collection(demo)
    company_of = {
        coll: {r["id"]: r["companyID"] for r in data[coll]}
        for coll in ("Contacts", "CompanyLocations", "ConfigurationItems", "Contracts", "Projects")
    }
    checked = 0
    for t in data["Tickets"]:
        for fname, coll in (
            ("contactID", "Contacts"),
            ("companyLocationID", "CompanyLocations"),
            ("configurationItemID", "ConfigurationItems"),
            ("contractID", "Contracts"),
            ("projectID", "Projects"),
        ):
            if t[fname] is not None:
                assert company_of[coll][t[fname]] == t["companyID"], (t["id"], fname)
                checked += 1
    assert checked > 10_000
    # every company gets tickets and contacts (round-robin ownership)
    assert len({t["companyID"] for t in data["Tickets"]}) == len(data["Companies"]) - 1
    assert len({c["companyID"] for c in data["Contacts"]}) == len(data["Companies"]) - 1


def test_implicit_id_references(tiny: list[tuple[str, dict[str, Any]]]) -> None:
    """Unflagged ``...ResourceID``/``ticketNoteID`` fields still point at emitted records."""
    ids: dict[str, set[int]] = defaultdict(set)
    checked = 0
    for coll, rec in tiny:
        if coll == "TicketAttachments":
            for fname, target in (
                ("attachedByResourceID", "Resources"),
                ("ticketNoteID", "TicketNotes"),
                ("opportunityID", "Opportunities"),
            ):
                if rec.get(fname) is not None:
                    assert rec[fname] in ids[target], (fname, rec[fname])
                    checked += 1
        ids[coll].add(rec["id"])
    assert checked > 0


def test_values_look_like_autotask(demo: list[tuple[str, dict[str, Any]]]) -> None:
    data = by_collection(demo)
    t = data["Tickets"]
    assert all(re.match(r"^T\d{8}\.\d{4}$", x["ticketNumber"]) for x in t)
    created = [x["createDate"] for x in t]
    assert created == sorted(created)  # creation grows with id
    assert any("." in c for c in created) and any(re.search(r"\.\d{1,2}$", c) for c in created)
    titles = Counter(x["title"] for x in t)
    assert len(titles) > 100
    status = Counter(x["status"] for x in t)
    assert len(status) > 5
    contacts = data["Contacts"]
    emails = [c["emailAddress"] for c in contacts]
    assert len(set(emails)) == len(emails)
    assert all("@" in e for e in emails)
    names = [c["companyName"] for c in data["Companies"]]
    assert len(set(names)) == len(names)
    # a ticket's completedDate is a datetime (the seeded ticket structure, docs/simulator.md),
    # never before the ticket was created or first resolved
    done = [x for x in t if x["completedDate"] is not None]
    assert done and not all(x["completedDate"].endswith("T00:00:00") for x in done)
    assert all(x["completedDate"] >= x["resolvedDateTime"] >= x["createDate"] for x in done)
    # start/end pairs: a work period of at most 8 hours
    for e in data["TimeEntries"]:
        if e["startDateTime"] and e["endDateTime"]:
            assert e["startDateTime"] < e["endDateTime"]
            assert e["endDateTime"][:10] >= e["startDateTime"][:10]
    # integer flags are 0/1
    assert {c["isActive"] for c in contacts} <= {0, 1}
    # later-than-creation datetimes
    for x in t:
        for fname in ("dueDateTime", "resolvedDateTime", "lastActivityDate"):
            if x[fname] is not None:
                assert x[fname] >= x["createDate"], (fname, x[fname], x["createDate"])


def test_attachment_records_carry_base64_data(tiny: list[tuple[str, dict[str, Any]]]) -> None:
    import base64

    data = by_collection(tiny)
    att = data.get("TicketAttachments")
    assert att
    assert base64.b64decode(att[0]["data"])


# ------------------------------------------------------------------------------------------------
# Streaming


def _drain(stream: Iterator[tuple[str, dict[str, Any]]]) -> int:
    n = 0
    for _ in stream:
        n += 1
    return n


def test_streaming_tracemalloc_small() -> None:
    # tracemalloc slows allocation ~15x, so this default run uses 20k tickets; the 200k variant
    # is marked slow below.
    tracemalloc.start()
    try:
        n = _drain(generate(SCHEMAS, "tiny", counts={"Tickets": 20_000}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n > 20_000
    assert peak < 24 * 1024 * 1024, peak


@pytest.mark.slow
def test_streaming_tracemalloc_200k() -> None:
    tracemalloc.start()
    try:
        n = _drain(generate(SCHEMAS, "tiny", counts={"Tickets": 200_000}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n > 200_000
    assert peak < 24 * 1024 * 1024, peak


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage")
def test_streaming_200k_rss_does_not_grow() -> None:
    # 200k tickets held in memory would be ~1.5 GB; streaming must stay far below.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = _drain(generate(SCHEMAS, "tiny", counts={"Tickets": 200_000}))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert n > 200_000
    assert (after - before) * 1024 < 64 * 1024 * 1024


def test_generator_is_lazy() -> None:
    stream = generate(SCHEMAS, "bench")  # 3M+ records: must return instantly
    first = list(itertools.islice(stream, 5))
    assert len(first) == 5


# ------------------------------------------------------------------------------------------------
# Synthetic schemas: cycles, dependent picklists, UDF picklists, missing targets


def _field(name: str, data_type: str = "string", **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "dataType": data_type,
        "length": kw.pop("length", 50 if data_type == "string" else 0),
        "isRequired": False,
        "isReadOnly": False,
        "isQueryable": True,
        "isReference": False,
        "referenceEntityType": "",
        "isPickList": False,
        "picklistValues": None,
        "picklistParentValueField": "",
        "isSupportedWebhookField": False,
    }
    base.update(kw)
    return base


def _pv(value: str, parent: str = "", active: bool = True) -> dict[str, Any]:
    return {
        "value": value,
        "label": f"L{value}",
        "isDefaultValue": False,
        "sortOrder": 0,
        "parentValue": parent,
        "isActive": active,
        "isSystem": False,
    }


def _write_entity(
    root: Path,
    name: str,
    singular: str,
    fields: list[dict[str, Any]],
    *,
    udfs: list[dict[str, Any]] | None = None,
    parent_routes: list[dict[str, Any]] | None = None,
    can_query: bool = True,
) -> None:
    d = root / "entities" / name
    d.mkdir(parents=True)
    fields = [_field("id", "long", isRequired=True, isReadOnly=True), *fields]
    (d / "fields.json").write_text(json.dumps({"fields": sorted(fields, key=lambda f: f["name"])}))
    (d / "userDefinedFields.json").write_text(json.dumps({"fields": udfs or []}))
    (d / "entityInformation.json").write_text(
        json.dumps({"info": {"name": name, "canQuery": can_query, "canCreate": True}})
    )
    ops = ["count", "get", "query"] if can_query else []
    (d / "derived.json").write_text(
        json.dumps(
            {
                "name": name,
                "singular": singular,
                "root": {"url": f"/V1.0/{name}", "operations": ops},
                "parentRoutes": parent_routes or [],
                "childRoutes": [],
                "changeTrackingField": None,
            }
        )
    )


@pytest.fixture()
def synthetic(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    _write_entity(
        root,
        "Widgets",
        "Widget",
        [
            _field("name", isRequired=True, length=5),
            _field(
                "kind",
                "integer",
                isPickList=True,
                isRequired=True,
                picklistValues=[_pv("1"), _pv("2"), _pv("3", active=False)],
            ),
            _field(
                "subKind",
                "integer",
                isPickList=True,
                picklistParentValueField="Kind",
                picklistValues=[_pv("10", "1"), _pv("11", "1"), _pv("20", "2")],
            ),
            _field(
                "gadgetID",
                "integer",
                isReference=True,
                referenceEntityType="Gadget",
                isRequired=True,
            ),
            _field("parentWidgetID", "integer", isReference=True, referenceEntityType="Widget"),
            _field("ghostID", "integer", isReference=True, referenceEntityType="Ghost"),
            _field("createDateTime", "datetime", isReadOnly=True),
            _field("lastModifiedDateTime", "datetime", isReadOnly=True),
        ],
        udfs=[
            {
                "name": "Tier",
                "label": "Tier",
                "type": "string",
                "length": 8000,
                "isPickList": True,
                "picklistValues": [_pv("Gold"), _pv("Silver")],
                "isRequired": True,
            },
            {
                "name": "Seen",
                "label": "Seen",
                "type": "datetime",
                "length": 0,
                "isPickList": False,
                "picklistValues": None,
                "isRequired": False,
            },
        ],
    )
    # Gadget -> Widget (optional) closes a cycle with Widget -> Gadget (required)
    _write_entity(
        root,
        "Gadgets",
        "Gadget",
        [_field("widgetID", "integer", isReference=True, referenceEntityType="Widget")],
    )
    _write_entity(
        root,
        "WidgetNotes",
        "WidgetNote",
        [_field("widgetID", "integer"), _field("note", length=3)],
        parent_routes=[
            {
                "parent": "Widgets",
                "child": "Notes",
                "parentIdField": "WidgetID",
                "url": "/V1.0/Widgets/{parentId}/Notes",
                "operations": ["list"],
            }
        ],
        can_query=False,
    )
    _write_entity(root, "WidgetsAdd", "WidgetsAdd", [_field("x")], can_query=False)
    (root / "index.json").write_text(
        json.dumps({"entities": ["Gadgets", "WidgetNotes", "Widgets", "WidgetsAdd"], "format": 1})
    )
    return root


def test_synthetic_rules(synthetic: Path) -> None:
    counts = {"Widgets": 300, "Gadgets": 20, "WidgetNotes": 500}
    stream = list(generate(synthetic, "tiny", counts=counts))
    data = by_collection(stream)
    order = list(dict.fromkeys(c for c, _ in stream))
    # cycle broken at the optional side: Gadgets first, their widgetID left null
    assert order == ["Gadgets", "Widgets", "WidgetNotes"]
    assert all(g["widgetID"] is None for g in data["Gadgets"])
    assert "WidgetsAdd" not in data
    gadget_ids = {g["id"] for g in data["Gadgets"]}
    widget_ids = {w["id"] for w in data["Widgets"]}
    parents: Counter[str] = Counter()
    for w in data["Widgets"]:
        assert w["gadgetID"] in gadget_ids
        assert w["ghostID"] is None  # unknown target entity
        assert len(w["name"]) <= 5
        assert w["kind"] in (1, 2)  # inactive 3 never used
        if w["subKind"] is not None:
            assert (w["kind"], w["subKind"]) in {(1, 10), (1, 11), (2, 20)}
        if w["parentWidgetID"] is not None:
            assert 1 <= w["parentWidgetID"] < w["id"]
            parents["self"] += 1
        assert w["createDateTime"] <= w["lastModifiedDateTime"]
        udfs = {u["name"]: u["value"] for u in w["userDefinedFields"]}
        assert udfs["Tier"] in ("Gold", "Silver")
        assert udfs["Seen"] is None or DATETIME_RE.match(udfs["Seen"])
    assert parents["self"] > 10
    # child readable only via the parent route, parentIdField matched case-insensitively
    assert len(data["WidgetNotes"]) == 500
    assert all(n["widgetID"] in widget_ids for n in data["WidgetNotes"])
    assert all(n["note"] is None or len(n["note"]) <= 3 for n in data["WidgetNotes"])
    assert "userDefinedFields" not in data["Gadgets"][0]


def test_synthetic_required_cycle_points_into_known_range(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    _write_entity(
        root,
        "As",
        "A",
        [_field("bID", "integer", isReference=True, referenceEntityType="B", isRequired=True)],
    )
    _write_entity(
        root,
        "Bs",
        "B",
        [_field("aID", "integer", isReference=True, referenceEntityType="A", isRequired=True)],
    )
    data = by_collection(generate(root, "tiny", counts={"As": 4, "Bs": 3}))
    assert all(1 <= a["bID"] <= 3 for a in data["As"])
    assert all(1 <= b["aID"] <= 4 for b in data["Bs"])


def test_pool_size_independent_of_count() -> None:
    assert _seed.POOL_SIZE <= 4096


def test_seeded_records_are_accepted_as_create_bodies(meta: Meta) -> None:
    """Every creatable seeded record, sent back as a create body, passes the simulator's own
    write validation (required, lengths, picklists, references). Skipped without the server."""
    testclient = pytest.importorskip("starlette.testclient")
    try:
        from py_autotask.simulator import (
            DEFAULT_INTEGRATION_CODE,
            DEFAULT_SECRET,
            DEFAULT_USERNAME,
            SimulatorState,
            create_app,
        )

        state = SimulatorState(SCHEMAS, profile="tiny")
        state.initial_load()
        app = create_app(state)
    except Exception as exc:  # the server lives in other modules; do not fail on its churn
        pytest.skip(f"simulator app unavailable: {exc!r}")
    headers = {
        "ApiIntegrationCode": DEFAULT_INTEGRATION_CODE,
        "UserName": DEFAULT_USERNAME,
        "Secret": DEFAULT_SECRET,
    }
    failures: dict[str, str] = {}
    sent = 0
    with testclient.TestClient(app) as client:
        for coll, rec in generate(SCHEMAS, "tiny", seed=7):
            fields = meta.fields[coll]
            derived = meta.derived[coll]
            body: dict[str, Any] = {
                f["name"]: rec[f["name"]]
                for f in fields
                if not f["isReadOnly"] and f["name"] != "id" and rec[f["name"]] is not None
            }
            if "userDefinedFields" in rec:
                body["userDefinedFields"] = [
                    u for u in rec["userDefinedFields"] if u["value"] is not None
                ]
            root = derived["root"]
            if root and "create" in root["operations"]:
                url = f"/ATServicesRest/V1.0/{coll}"
            else:
                routes = [
                    p
                    for p in derived["parentRoutes"]
                    if "create" in p["operations"] and p.get("parentIdField")
                ]
                if not routes or rec.get(routes[0]["parentIdField"]) is None:
                    continue
                pr = routes[0]
                url = (
                    f"/ATServicesRest/V1.0/{pr['parent']}/{rec[pr['parentIdField']]}/{pr['child']}"
                )
            resp = client.post(url, json=body, headers=headers)
            sent += 1
            if resp.status_code != 200:
                failures.setdefault(coll, resp.text[:300])
    assert sent > 100
    assert not failures, failures
