"""Deterministic, reference-consistent seed data for the simulator, derived from ``schemas/``.

Entry point: :func:`generate` streams ``(collection_name, record)`` pairs for every entity in the
metadata snapshot, in dependency order, with no per-record state kept between yields (only the id
range of every collection), so a 1,000,000-ticket ``bench`` profile runs in constant memory.

Record shape
    API (camelCase) field names exactly as ``fields.json`` lists them (in that order), every field
    present (``None`` for empty optional values), ``id`` sequential per collection starting at 1.
    ``Companies`` additionally gets id 0 first, the owner ("root") company of the tenant. Entities
    whose ``userDefinedFields.json`` is non-empty carry
    ``userDefinedFields: [{"name": ..., "value": str | None}, ...]`` (one entry per definition).

Value rules
    * required fields are always filled; strings are cut to ``length`` (when > 0);
    * picklists draw from the active ``picklistValues`` (``value`` converted to the field's
      ``dataType``: integer/long/short -> ``int``, decimal/double/float -> ``float``); dependent
      picklists (``picklistParentValueField``, matched case-insensitively) use a value whose
      ``parentValue`` equals the parent's value, or are left null when no such value exists;
      picklists the snapshot has no values for get a small integer 1-5 (or a word for strings);
    * references (``isReference``/``referenceEntityType`` -> ``derived.json`` ``singular``) and
      child-route parent id fields (``parentRoutes[].parentIdField``) point at ids of the target
      collection; references to ``Companies`` use 1..N (0 only when no other company exists);
      self references point at a lower id of the same collection (or are null for id 1);
    * company scoping: collections with a required company reference (Contacts, CompanyLocations,
      ConfigurationItems, Contracts, Projects, Opportunities, Tickets ...) are "company-owned" and
      get their company round-robin (``companyID = 1 + (id - 1) % companies``), so the ids owned by
      company ``c`` are ``c, c + n, c + 2n ...``; a record with a company that references another
      company-owned collection (a ticket's contact, location, CI, contract, project ...) picks an
      id of the *same* company (null when that company has none). This costs O(1) per reference
      and keeps the generator stateless;
      references to a collection missing from the snapshot are null (1 when required);
      integer ``...ID`` fields the metadata does not flag as references but whose name ends in a
      known entity (or SOAP entity) name (``attachedByResourceID``, ``ticketNoteID``,
      ``installedProductID``) point at ids of that collection when it was emitted earlier;
    * datetimes are UTC without offset, millisecond precision with .NET-style trailing zeros trimmed
      (``2024-03-30T13:10:35.563``, ``2024-03-30T13:10:35.5``, ``2024-03-30T13:10:35``); the
      window is 2023-01-01 .. 2025-12-31. Creation timestamps grow with ``id`` (so incremental sync
      and "newest first" tests behave), modification/activity timestamps (``lastActivityDate``,
      ``lastModifiedDateTime``, the ``changeTrackingField`` ...) are >= the creation timestamp;
      date-only fields (no "Time" in the name) are midnight; other datetimes lie after the
      record's creation (``end``/``due``/``completed``/``resolved``/``expiration``-like ones 1-365
      days after it); ``start...``/``end...`` pairs are ordered (a datetime pair spans at most 8
      hours, e.g. a time entry's work period; a date pair at most a year);
    * attachment ``data`` fields hold a small base64 text file (``contentType`` ``text/plain``);
    * with ``messy`` > 0, that fraction of the records of each collection carries off-type values
      as real tenants send them (:mod:`py_autotask.simulator._messy`), drawn from a random stream
      of their own: every other record, and every clean field, is the same as with ``messy=0``.

Order
    Topological over references (Companies -> Contacts -> Tickets -> TicketNotes/TimeEntries ...).
    A reference cycle is broken by emitting the collection with the fewest unsatisfied *required*
    references first and leaving its optional references into collections not yet emitted null.
    Should a cycle consist of required references only, the required reference still points into
    the (fixed, known) id range of the later collection: it is valid once the stream is complete.

Which collections get records
    Every collection with fields that can be read back (``entityInformation.canQuery`` or a
    ``get``/``query``/``list`` route). Write-only, action-style collections
    (``InventoryStockedItemsAdd|Remove|Transfer``, ``TimeOffRequestsApprove|Reject``,
    ``*Adjustments``, ``*ChecklistLibraries`` applied via ``create`` only) get zero records, and so
    do collections without fields. Attachment collections are seeded (small text payloads). A
    collection that another seeded collection references through a *required* field gets at least
    one record even when its count is 0.

Profiles (``counts`` overrides any entry; unknown names raise ``ValueError``)
    ``tiny``   a handful of core records (5 companies, 20 tickets ...) and 1 record of everything
               else; about 310 rows for the 232-collection snapshot. For unit tests.
    ``demo``   10,000 tickets with proportionate companies/contacts/resources/notes/time entries,
               5 records of everything else.
    ``bench``  1,000,000 tickets, 1,000,000 ticket notes, 1,000,000 time entries, 10,000 companies,
               50,000 contacts ... and 10 of everything else.

Speed
    Per collection a pool of up to :data:`POOL_SIZE` fully random "static" records is built once;
    each emitted record is a shallow copy of a randomly chosen pool record with the per-record
    parts (id, references, creation/modification timestamps, identifying strings such as
    ``ticketNumber``/``name``/``emailAddress``, UDFs) filled in. Each collection has its own
    ``random.Random`` seeded from ``(seed, collection, concern)``, so changing one collection's
    count changes only that collection and the references pointing into it. Measured on 2 vCPUs:
    about 75k tickets/s (1,000,000 tickets in ~13 s), the whole ``bench`` profile (3.2M records)
    in ~30 s, peak RSS ~40 MB whatever the count (``benchmarks/bench_seed.py``).
"""

from __future__ import annotations

import base64
import heapq
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .._values import value_kind
from ._messy import Apply, field_shapes, mess, udf_shapes
from ._tickets import TicketStructure

__all__ = [
    "DEFAULT_SCHEMAS_DIR",
    "POOL_SIZE",
    "PROFILES",
    "default_counts",
    "generate",
    "generation_plan",
    "record_count",
]

#: ``schemas/`` of a source checkout (the package lives in ``<root>/py_autotask/simulator``).
DEFAULT_SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

#: Maximum number of distinct static record templates kept per collection.
POOL_SIZE = 512

PROFILES = ("tiny", "demo", "bench")

# Explicit sizes per profile; every other seedable collection gets ``_OTHER[profile]``.
_CORE_COUNTS: dict[str, dict[str, int]] = {
    "tiny": {
        "Companies": 5,
        "CompanyLocations": 5,
        "Contacts": 8,
        "Resources": 4,
        "Contracts": 3,
        "Projects": 2,
        "Tasks": 4,
        "Tickets": 20,
        "TicketNotes": 20,
        "TimeEntries": 20,
        "ConfigurationItems": 5,
        "Opportunities": 2,
    },
    "demo": {
        "Companies": 200,
        "CompanyLocations": 220,
        "CompanyNotes": 400,
        "Contacts": 1_000,
        "Resources": 50,
        "Contracts": 150,
        "ContractServices": 300,
        "Projects": 60,
        "Tasks": 600,
        "TaskNotes": 600,
        "Tickets": 10_000,
        "TicketNotes": 20_000,
        "TimeEntries": 15_000,
        "TicketCharges": 500,
        "TicketSecondaryResources": 500,
        "ConfigurationItems": 800,
        "Opportunities": 100,
        "Products": 100,
        "ServiceCalls": 200,
    },
    "bench": {
        "Companies": 10_000,
        "CompanyLocations": 11_000,
        "CompanyNotes": 20_000,
        "Contacts": 50_000,
        "Resources": 500,
        "Contracts": 5_000,
        "ContractServices": 10_000,
        "Projects": 2_000,
        "Tasks": 20_000,
        "TaskNotes": 20_000,
        "Tickets": 1_000_000,
        "TicketNotes": 1_000_000,
        "TimeEntries": 1_000_000,
        "TicketCharges": 20_000,
        "TicketSecondaryResources": 20_000,
        "ConfigurationItems": 40_000,
        "Opportunities": 2_000,
        "Products": 1_000,
        "ServiceCalls": 5_000,
    },
}
_OTHER = {"tiny": 1, "demo": 5, "bench": 10}

# Tie-break preference for the topological order (lower first); the rest follow by name.
_PREFERRED = (
    "Companies",
    "Resources",
    "Contacts",
    "CompanyLocations",
    "Contracts",
    "Projects",
    "Tasks",
    "Tickets",
)

_EPOCH = datetime(2023, 1, 1)
_WINDOW_MS = int((datetime(2025, 12, 31) - _EPOCH).total_seconds() * 1000)
_DAY_MS = 86_400_000


# ---------------------------------------------------------------------------------------------
# Word lists (small, built in; no Faker dependency)

_WORDS = [
    "alpha",
    "bravo",
    "cable",
    "cloud",
    "cluster",
    "data",
    "delta",
    "desk",
    "device",
    "disk",
    "domain",
    "email",
    "error",
    "firewall",
    "laptop",
    "license",
    "login",
    "mail",
    "monitor",
    "network",
    "office",
    "outage",
    "patch",
    "phone",
    "policy",
    "port",
    "printer",
    "project",
    "queue",
    "report",
    "request",
    "router",
    "server",
    "service",
    "share",
    "software",
    "storage",
    "switch",
    "sync",
    "system",
    "ticket",
    "update",
    "upgrade",
    "user",
    "vendor",
    "vpn",
    "wifi",
    "backup",
    "access",
    "account",
    "alert",
    "audit",
    "billing",
    "calendar",
    "client",
    "config",
    "contract",
    "drive",
    "folder",
    "invoice",
    "mobile",
    "password",
    "portal",
    "reset",
    "restore",
    "scanner",
    "security",
    "setup",
    "site",
    "token",
    "website",
]
_VERBS = [
    "cannot access",
    "fails to start",
    "is slow",
    "needs replacing",
    "stopped working",
    "keeps restarting",
    "shows an error",
    "requires an update",
    "is offline",
    "was reported",
    "needs configuring",
    "is unreachable",
]
_FIRST = [
    "Alex",
    "Ana",
    "Ben",
    "Carla",
    "Chen",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Marco",
    "Nina",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Victor",
    "Wei",
    "Yara",
    "Zoe",
    "Liam",
    "Maya",
    "Noah",
]
_LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Meyer",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Usman",
    "Vargas",
    "Wong",
    "Young",
    "Zimmer",
    "Novak",
    "Berg",
    "Costa",
]
_ORG_A = [
    "Acme",
    "Apex",
    "Blue",
    "Bright",
    "Cedar",
    "Delta",
    "Eagle",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Keystone",
    "Lakeside",
    "Maple",
    "Northwind",
    "Oak",
    "Pioneer",
    "Quantum",
    "Red",
    "Summit",
    "Silver",
    "Sterling",
    "Union",
    "Vertex",
]
_ORG_B = [
    "Dental",
    "Legal",
    "Logistics",
    "Manufacturing",
    "Medical",
    "Partners",
    "Retail",
    "Systems",
    "Solutions",
    "Holdings",
    "Consulting",
    "Engineering",
    "Foods",
    "Finance",
    "Labs",
    "Media",
    "Motors",
    "Realty",
    "Health",
    "Energy",
]
_ORG_C = ("Inc", "LLC", "Ltd", "Group", "Co", "GmbH", "Pty Ltd")
_CITIES = [
    "Springfield",
    "Riverton",
    "Fairview",
    "Franklin",
    "Greenville",
    "Bristol",
    "Clinton",
    "Georgetown",
    "Salem",
    "Madison",
    "Arlington",
    "Ashland",
    "Burlington",
    "Dover",
    "Kingston",
    "Milton",
    "Newport",
    "Oxford",
]
_STATES = ("CA", "NY", "TX", "WA", "FL", "IL", "MA", "CO", "GA", "OR", "NC", "AZ")
_STREETS = ("Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Lake", "Hill", "Park", "Church")
_COUNTRIES = ("United States", "United Kingdom", "Canada", "Australia", "Germany")
_JOBS = (
    "Service Desk Engineer",
    "Network Engineer",
    "Account Manager",
    "Office Manager",
    "IT Director",
    "Project Manager",
    "Technician",
    "Finance Controller",
    "Operations Lead",
    "CEO",
)
_ATTACHMENT_FILLED = frozenset({"title", "fullpath", "contenttype", "attachmenttype", "filesize"})
_ATTACHMENT_TEXT = b"py-autotask simulator attachment\n"


# ---------------------------------------------------------------------------------------------
# Metadata loading


@dataclass
class _Entity:
    name: str
    singular: str
    fields: list[dict[str, Any]]
    udfs: list[dict[str, Any]]
    info: dict[str, Any]
    derived: dict[str, Any]
    readable: bool
    # field name -> target collection (references + parent id fields)
    refs: dict[str, str] = field(default_factory=dict)
    required_refs: set[str] = field(default_factory=set)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _load(schemas_dir: Path) -> dict[str, _Entity]:
    root = Path(schemas_dir) / "entities"
    index = _read_json(Path(schemas_dir) / "index.json")
    if isinstance(index, dict) and isinstance(index.get("entities"), list):
        names = [str(n) for n in index["entities"] if (root / str(n)).is_dir()]
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    entities: dict[str, _Entity] = {}
    for name in sorted(names):
        d = root / name
        fields_doc = _read_json(d / "fields.json") or {}
        udf_doc = _read_json(d / "userDefinedFields.json") or {}
        info_doc = _read_json(d / "entityInformation.json") or {}
        derived = _read_json(d / "derived.json") or {}
        info = info_doc.get("info") or {}
        fields = list(fields_doc.get("fields") or [])
        udfs = list(udf_doc.get("fields") or [])
        root_ops = set((derived.get("root") or {}).get("operations") or [])
        child_ops: set[str] = set()
        for pr in derived.get("parentRoutes") or []:
            child_ops.update(pr.get("operations") or [])
        readable = (
            bool(info.get("canQuery"))
            or bool(root_ops & {"query", "get"})
            or bool(child_ops & {"list", "get"})
        )
        singular = str(derived.get("singular") or info.get("name") or name)
        entities[name] = _Entity(name, singular, fields, udfs, info, derived, readable)

    by_singular: dict[str, str] = {}
    for name, ent in entities.items():
        by_singular.setdefault(ent.singular.lower(), name)
    for name in entities:  # collection names resolve too (some snapshots use them)
        by_singular.setdefault(name.lower(), name)
    for name, ent in entities.items():  # legacy names: installedProductID -> ConfigurationItems
        soap = str(ent.derived.get("soapEntity") or "").lower()
        if soap:
            by_singular.setdefault(soap, name)

    for ent in entities.values():
        names_lower = {f["name"].lower(): f["name"] for f in ent.fields}
        for f in ent.fields:
            target_name = f.get("referenceEntityType") or ""
            if f.get("isReference") and target_name and f["name"] != "id":
                target = by_singular.get(str(target_name).lower())
                if target is not None:
                    ent.refs[f["name"]] = target
                    if f.get("isRequired"):
                        ent.required_refs.add(f["name"])
        for f in ent.fields:
            field_name = str(f["name"])
            if (
                field_name in ent.refs
                or f.get("isReference")
                or f.get("isPickList")
                or value_kind(str(f.get("dataType") or "")) != "integer"
            ):
                continue
            implicit = _implicit_target(field_name, by_singular)
            if implicit is not None:
                ent.refs[field_name] = implicit  # optional: cycles leave it null
        for pr in ent.derived.get("parentRoutes") or []:
            pid = pr.get("parentIdField")
            parent = pr.get("parent")
            if not pid or parent not in entities:
                continue
            fname = names_lower.get(str(pid).lower())
            if fname is not None and fname != "id":
                ent.refs[fname] = parent
                ent.required_refs.add(fname)
    return entities


# ---------------------------------------------------------------------------------------------
# Counts and order


def default_counts(profile: str, schemas_dir: Path | None = None) -> dict[str, int]:
    """Record counts of ``profile``.

    Without ``schemas_dir`` only the explicitly sized core collections are returned; with it, the
    effective count of every collection in the snapshot (after the zero-record rules and the
    "required reference target gets at least one record" rule). ``Companies`` counts exclude the
    owner company (id 0), which is always emitted in addition.
    """
    if profile not in _CORE_COUNTS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if schemas_dir is None:
        return dict(_CORE_COUNTS[profile])
    entities = _load(schemas_dir)
    return _resolve_counts(entities, profile, None)


def _seedable(ent: _Entity) -> bool:
    return ent.readable and bool(ent.fields)


def _resolve_counts(
    entities: Mapping[str, _Entity], profile: str, counts: Mapping[str, int] | None
) -> dict[str, int]:
    if profile not in _CORE_COUNTS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    core = _CORE_COUNTS[profile]
    other = _OTHER[profile]
    result: dict[str, int] = {}
    for name, ent in entities.items():
        result[name] = core.get(name, other) if _seedable(ent) else 0
    explicit: set[str] = set()
    if counts:
        for name, n in counts.items():
            if name not in entities:
                raise ValueError(f"unknown collection {name!r} in counts")
            if int(n) < 0:
                raise ValueError(f"negative count for {name!r}")
            result[name] = int(n) if entities[name].fields else 0
            explicit.add(name)
    # required reference targets need at least one record (fixpoint)
    changed = True
    while changed:
        changed = False
        for name, ent in entities.items():
            if result[name] <= 0:
                continue
            for fname in ent.required_refs:
                target = ent.refs[fname]
                if target == name or target == "Companies":  # self / owner company 0 exists
                    continue
                if result[target] <= 0 and entities[target].fields:
                    result[target] = 1
                    changed = True
    return result


def generation_plan(
    schemas_dir: Path, profile: str = "tiny", *, counts: Mapping[str, int] | None = None
) -> list[tuple[str, int]]:
    """``(collection, record count)`` in emission order (collections with 0 records omitted).

    ``Companies`` is reported with its full row count (owner company included).
    """
    entities = _load(schemas_dir)
    resolved = _resolve_counts(entities, profile, counts)
    order, _ = _order(entities, resolved)
    return [(n, resolved[n] + (1 if n == "Companies" else 0)) for n in order]


def record_count(
    profile: str = "tiny",
    schemas_dir: Path | None = None,
    *,
    counts: Mapping[str, int] | None = None,
) -> int:
    """Total number of records :func:`generate` yields for ``profile`` (owner company included)."""
    plan = generation_plan(schemas_dir or DEFAULT_SCHEMAS_DIR, profile, counts=counts)
    return sum(n for _, n in plan)


def _order(
    entities: Mapping[str, _Entity], counts: Mapping[str, int]
) -> tuple[list[str], dict[str, set[str]]]:
    """Topological emission order and, per collection, the targets emitted *after* it."""
    active = [n for n in entities if counts.get(n, 0) > 0 or (n == "Companies")]
    active_set = set(active)
    rank = {n: i for i, n in enumerate(_PREFERRED)}

    def key(n: str) -> tuple[int, str]:
        return (rank.get(n, len(_PREFERRED)), n)

    deps: dict[str, set[str]] = {}
    req_deps: dict[str, set[str]] = {}
    for n in active:
        ent = entities[n]
        deps[n] = {t for t in ent.refs.values() if t != n and t in active_set}
        req_deps[n] = {ent.refs[f] for f in ent.required_refs} & deps[n]
    scc = _components(active, deps)
    remaining = set(active)
    done: set[str] = set()
    order: list[str] = []
    deferred: dict[str, set[str]] = {}
    ready = [key(n) for n in active if not deps[n]]
    heapq.heapify(ready)
    while remaining:
        if not ready:
            # Cycle: only nodes of a "source" strongly connected component (all unsatisfied
            # dependencies inside their own component) are candidates; emit the one with the
            # fewest unsatisfied required, then fewest unsatisfied optional, references.
            candidates = [n for n in remaining if (deps[n] - done) <= scc[n]]
            pick = min(
                candidates,
                key=lambda n: (len(req_deps[n] - done), len(deps[n] - done), *key(n)),
            )
            heapq.heappush(ready, key(pick))
        _, n = heapq.heappop(ready)
        if n not in remaining:
            continue
        remaining.discard(n)
        done.add(n)
        order.append(n)
        deferred[n] = deps[n] - done
        for m in remaining:
            if n in deps[m] and not (deps[m] - done) and key(m) not in ready:
                heapq.heappush(ready, key(m))
    return order, deferred


def _components(nodes: list[str], deps: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Strongly connected components (iterative Tarjan): node -> its component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: dict[str, frozenset[str]] = {}
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(deps[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(deps[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                frozen = frozenset(comp)
                for member in comp:
                    result[member] = frozen
    return result


# ---------------------------------------------------------------------------------------------
# Value helpers


_HM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SS = tuple(f"{x:02d}" for x in range(60))
_FRAC = ("", *(f".{x:03d}".rstrip("0") for x in range(1, 1000)))
_DAYS: dict[int, str] = {}


def _day(day: int) -> str:
    d = _DAYS.get(day)
    if d is None:
        d = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _DAYS[day] = d
    return d


def _fmt_ms(ms: int) -> str:
    """Milliseconds since the window start -> ``2024-03-30T13:10:35.563`` (trailing zeros trimmed)."""
    day = ms // 86_400_000
    rem = ms - day * 86_400_000
    sec = rem // 1000
    minute, s = divmod(sec, 60)
    return (_DAYS.get(day) or _day(day)) + _HM[minute] + _SS[s] + _FRAC[rem - sec * 1000]


_MIDNIGHTS: dict[int, str] = {}


def _midnight(ms: int) -> str:
    day = ms // _DAY_MS
    text = _MIDNIGHTS.get(day)
    if text is None:
        text = _MIDNIGHTS[day] = _day(day) + "00:00:00"
    return text


def _cut(value: str, length: int) -> str:
    return value[:length] if length > 0 else value


def _convert_pick(value: str, data_type: str) -> Any:
    dt = data_type.lower()
    if value_kind(dt) == "integer":
        return int(value)
    if value_kind(dt) == "number":
        return float(value)
    if dt == "boolean":
        return value.lower() in ("1", "true", "yes")
    return value


def _pick_options(f: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """Usable ``(converted value, parentValue)`` pairs of a picklist field (active ones first)."""
    values = f.get("picklistValues") or []
    active = [v for v in values if v.get("isActive", True)] or list(values)
    dt = str(f.get("dataType") or f.get("type") or "string")
    out: list[tuple[Any, str]] = []
    for v in active:
        raw = v.get("value")
        if raw is None:
            continue
        try:
            conv = _convert_pick(str(raw), dt)
        except ValueError:
            continue
        out.append((conv, str(v.get("parentValue") or "")))
    return out


def _is_tracking_name(low: str) -> bool:
    return (
        "lastactivity" in low
        or "lastmodified" in low
        or "lasttracked" in low
        or "lastedit" in low
        or "lastupdated" in low
        or low in ("updatedatetime", "updatedate", "modifieddate", "modifieddatetime")
    )


def _is_create_name(low: str) -> bool:
    return low in (
        "createdate",
        "createdatetime",
        "createddate",
        "createddatetime",
        "datecreated",
        "creationdate",
        "attachdate",
    )


_LATE_RE = re.compile(r"(end|due|expir|until|complet|resolv|closed|through|to$|deleted)")


def _string_value(rng: random.Random, low: str, entity: str) -> str:
    """A plausible string for a field, chosen by its (lower-case) name."""
    r = rng.random
    if "email" in low:
        return f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}@example.com"
    if "phone" in low or low.startswith("fax") or low.endswith("fax") or "faxnumber" in low:
        return f"+1 555-{rng.randrange(100, 1000)}-{rng.randrange(0, 10000):04d}"
    if "url" in low or "webaddress" in low or low in ("website", "domain"):
        w = rng.choice(_WORDS)
        if low == "domain":
            return f"{w}.example.com"
        return f"https://{w}.example.com/{rng.choice(_WORDS)}"
    if "guid" in low or low.endswith("uid"):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if low == "username":
        return f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}"
    if low == "title" and entity in ("Contacts", "Resources"):
        return rng.choice(_JOBS)
    if "firstname" in low:
        return rng.choice(_FIRST)
    if "lastname" in low:
        return rng.choice(_LAST)
    if "middle" in low:
        return rng.choice(_FIRST)[0]
    if "address1" in low or low in ("address", "addressline", "street"):
        return f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)} St"
    if "address2" in low:
        return f"Suite {rng.randrange(100, 999)}"
    if "city" in low:
        return rng.choice(_CITIES)
    if low.endswith("state"):
        return rng.choice(_STATES)
    if "postal" in low or "zip" in low:
        return f"{rng.randrange(10000, 99999)}"
    if "country" in low:
        return rng.choice(_COUNTRIES)
    if low in ("ipaddress",) or low.endswith("ip") or "ipaddress" in low:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if "macaddress" in low:
        return ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
    if "color" in low or "colour" in low:
        return f"#{rng.randrange(0x1000000):06X}"
    if "secret" in low or "password" in low or low.endswith("key"):
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
    if low in ("contenttype",):
        return "text/plain"
    if low == "attachmenttype":
        return "FILE_ATTACHMENT"
    if low in ("fullpath", "filename"):
        return f"{rng.choice(_WORDS)}-{rng.randrange(1000)}.txt"
    if "companyname" in low or low in ("accountname", "organizationname"):
        return f"{rng.choice(_ORG_A)} {rng.choice(_ORG_B)} {rng.choice(_ORG_C)}"
    if (
        "description" in low
        or "note" in low
        or low
        in (
            "text",
            "resolution",
            "comment",
            "comments",
            "body",
            "details",
            "instructions",
            "alerttext",
            "summarynotes",
            "content",
            "contentdata",
            "reason",
            "keywords",
        )
    ):
        n = 4 + int(r() * 20)
        words = " ".join(rng.choice(_WORDS) for _ in range(n))
        return f"{rng.choice(_WORDS).capitalize()} {rng.choice(_VERBS)}; {words}."
    if "title" in low or "subject" in low or "summary" in low:
        return f"{rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} {rng.choice(_VERBS)}"
    if "name" in low or low == "label":
        return " ".join(rng.choice(_WORDS).capitalize() for _ in range(1 + int(r() * 3)))
    if "number" in low or low.endswith("id") or "code" in low or low in ("sku", "bin"):
        return f"{rng.choice(_WORDS)[:3].upper()}-{rng.randrange(100000, 999999)}"
    return " ".join(rng.choice(_WORDS) for _ in range(1 + int(r() * 2)))


def _number_value(rng: random.Random, low: str, integer: bool, data_type: str) -> Any:
    if integer:
        if low.startswith(("is", "has")) and len(low) > 3:  # integer flags (Contacts.isActive)
            return 1 if rng.random() < (0.9 if "active" in low else 0.5) else 0
        if "year" in low:
            return rng.randrange(2020, 2027)
        if "month" in low:
            return rng.randrange(1, 13)
        if low.endswith("day") or "dayof" in low:
            return rng.randrange(1, 29)
        if "percent" in low:
            return rng.randrange(0, 101)
        if low.endswith("id"):
            return rng.randrange(1, 100000)
        if data_type == "short" or "order" in low or "position" in low or "sequence" in low:
            return rng.randrange(1, 100)
        return rng.randrange(0, 1000)
    if "hour" in low:
        return rng.randrange(1, 33) * 0.25
    if "percent" in low or (low[-4:] == "rate" and "tax" in low):
        return round(rng.random() * 100, 2)
    if any(k in low for k in ("price", "cost", "amount", "total", "rate", "value", "revenue")):
        return round(rng.random() * 2000, 2)
    return round(rng.random() * 100, 2)


# ---------------------------------------------------------------------------------------------
# Per-entity generator


_StaticGen = Callable[[random.Random, dict[str, Any], int], Any]


@dataclass
class _Plan:
    name: str
    field_names: list[str]
    static: list[tuple[str, _StaticGen]]  # applied in order when building the pool
    # dynamic per-record parts
    refs: list[tuple[str, int, int, bool]]  # (field, lo, span, required)
    self_refs: list[tuple[str, bool]]  # (field, required)
    created: list[str]
    modified: list[str]
    identity: list[tuple[str, Callable[[dict[str, Any], int, int], str]]]
    udfs: list[tuple[str, _StaticGen]]
    # (start field, end field, max span ms): the end datetime follows the start
    spans: list[tuple[str, str, int]] = field(default_factory=list)
    # company scoping: the record's company field, whether it is assigned round-robin by id
    # (company-owned collections), the number of companies, and references into other
    # company-owned collections that must belong to the same company: (field, count, required)
    company_field: str | None = None
    company_rr: bool = False
    n_companies: int = 0
    scoped: list[tuple[str, int, bool]] = field(default_factory=list)
    # fields (and UDFs by name) that may carry real-tenant off-type values, with their shapes
    messy: list[tuple[str, tuple[Apply, ...]]] = field(default_factory=list)
    messy_udfs: dict[str, tuple[Apply, ...]] = field(default_factory=dict)


def _fill_prob(f: Mapping[str, Any]) -> float:
    dt = str(f.get("dataType") or "").lower()
    if dt == "boolean":
        return 0.9
    if f.get("isPickList"):
        return 0.7
    if f.get("isReadOnly"):
        return 0.4
    return 0.6


def _static_gen(ent: _Entity, f: Mapping[str, Any], by_lower: Mapping[str, str]) -> _StaticGen:
    name = str(f["name"])
    low = name.lower()
    dt = str(f.get("dataType") or "string").lower()
    length = int(f.get("length") or 0)
    required = bool(f.get("isRequired"))
    prob = 1.0 if required else _fill_prob(f)
    if ent.name.endswith("Attachments") and low in _ATTACHMENT_FILLED:
        prob = 1.0

    if f.get("isPickList"):
        options = _pick_options(f)
        parent_field = str(f.get("picklistParentValueField") or "")
        parent = by_lower.get(parent_field.lower()) if parent_field else None
        if options and parent is not None:
            by_parent: dict[str, list[Any]] = {}
            for value, pv in options:
                by_parent.setdefault(pv, []).append(value)

            def dep_gen(rng: random.Random, rec: dict[str, Any], _i: int) -> Any:
                pval = rec.get(parent)
                if pval is None or rng.random() >= prob:
                    return None
                key = str(pval).lower() if isinstance(pval, bool) else str(pval)
                choices = by_parent.get(key)
                return rng.choice(choices) if choices else None

            return dep_gen
        if options:
            values = [v for v, _ in options]
            if dt == "string" and length > 0:
                values = [v for v in values if len(str(v)) <= length] or values

            def pick_gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
                if prob < 1.0 and rng.random() >= prob:
                    return None
                return values[int(rng.random() * len(values))]

            return pick_gen
        # picklist without values in the snapshot: small integers / words

    if dt == "boolean":

        def bool_gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
            if prob < 1.0 and rng.random() >= prob:
                return None
            if low in ("isactive", "active"):
                return rng.random() < 0.9
            return rng.random() < 0.5

        return bool_gen

    if low == "filesize" and ent.name.endswith("Attachments"):
        size = len(_ATTACHMENT_TEXT)  # matches the base64 ``data`` payload

        def size_gen(_rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
            return size

        return size_gen

    if value_kind(dt) in ("integer", "number"):
        integer = value_kind(dt) == "integer"
        small_pick = bool(f.get("isPickList"))

        def num_gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
            if prob < 1.0 and rng.random() >= prob:
                return None
            if small_pick:
                return rng.randrange(1, 6) if integer else float(rng.randrange(1, 6))
            return _number_value(rng, low, integer, dt)

        return num_gen

    if dt in ("datetime", "date"):
        date_only = dt == "date" or "time" not in low
        late = bool(_LATE_RE.search(low)) and "start" not in low

        def dt_gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
            if prob < 1.0 and rng.random() >= prob:
                return None
            if late:
                return _RelDate(rng.randrange(_DAY_MS, 365 * _DAY_MS), date_only)
            return _RelDate(rng.randrange(0, 30 * _DAY_MS), date_only)

        return dt_gen

    # strings (and anything unknown)
    if low == "data" and ent.name.endswith("Attachments"):
        payload = base64.b64encode(_ATTACHMENT_TEXT).decode("ascii")

        def data_gen(_rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
            return payload

        return data_gen

    def str_gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
        if prob < 1.0 and rng.random() >= prob:
            return None
        s = rng.choice(_WORDS) if f.get("isPickList") else _string_value(rng, low, ent.name)
        s = _cut(s, length)
        if required and not s:
            s = "x"
        return s

    return str_gen


def _udf_gen(u: Mapping[str, Any]) -> _StaticGen:
    dt = str(u.get("type") or u.get("dataType") or "string").lower()
    low = str(u.get("name") or "").lower().replace(" ", "")
    length = int(u.get("length") or 0)
    required = bool(u.get("isRequired"))
    prob = 1.0 if required else 0.5
    options = [
        str(v.get("value")) for v in (u.get("picklistValues") or []) if v.get("isActive", True)
    ]

    def gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
        if prob < 1.0 and rng.random() >= prob:
            return None
        if u.get("isPickList") and options:
            return rng.choice(options)
        if dt in ("datetime", "date"):
            return _fmt_ms(rng.randrange(0, _WINDOW_MS))
        if value_kind(dt) == "integer":
            return str(rng.randrange(0, 1000))
        if value_kind(dt) == "number":
            return f"{rng.random() * 1000:.2f}"
        if dt == "boolean":
            return "true" if rng.random() < 0.5 else "false"
        return _cut(_string_value(rng, low, ""), length if length > 0 else 100)

    return gen


def _identity(
    ent: _Entity, f: Mapping[str, Any]
) -> Callable[[dict[str, Any], int, int], str] | None:
    """Per-record identifying strings (unique-ish per id) for a few well-known field names."""
    name = str(f["name"])
    low = name.lower()
    length = int(f.get("length") or 0)
    if str(f.get("dataType") or "").lower() != "string" or f.get("isPickList"):
        return None
    sing = ent.singular.lower()
    if low == "ticketnumber" and ent.name == "Tickets":
        prefixes: dict[int, str] = {}

        def ticket_number(_rec: dict[str, Any], i: int, created: int) -> str:
            day = created // _DAY_MS
            prefix = prefixes.get(day)
            if prefix is None:
                text = _day(day)
                prefix = prefixes[day] = f"T{text[0:4]}{text[5:7]}{text[8:10]}."
            number = f"{prefix}{i % 10000:04d}"
            return number if len(number) <= length or length <= 0 else number[:length]

        return ticket_number
    if low in (f"{sing}number", "number") and low != "ticketnumber":
        prefix = re.sub(r"[^A-Z]", "", ent.singular)[:3] or "N"

        def number(_rec: dict[str, Any], i: int, _c: int) -> str:
            return _cut(f"{prefix}{i:06d}", length)

        return number
    if low == "name" or low == f"{sing}name" or (ent.name == "Companies" and low == "companyname"):

        def unique_name(rec: dict[str, Any], i: int, _c: int) -> str:
            base = rec.get(name) or ent.singular
            suffix = f" {i}"
            if length > 0:
                return (str(base)[: max(length - len(suffix), 0)] + suffix)[-length:]
            return f"{base}{suffix}"

        return unique_name
    if low == "emailaddress" and ent.name in ("Contacts", "Resources"):

        def email(rec: dict[str, Any], i: int, _c: int) -> str:
            first = str(rec.get("firstName") or "user").lower()
            last = str(rec.get("lastName") or "x").lower()
            return _cut(f"{first}.{last}{i}@example.com", length)

        return email
    return None


def _is_real_ref(ent: _Entity, name: str) -> bool:
    """A reference field the generator fills with ids (a picklist with values wins)."""
    if name not in ent.refs:
        return False
    for f in ent.fields:
        if f["name"] == name:
            return not (f.get("isPickList") and _pick_options(f))
    return True


def _company_anchor(ent: _Entity) -> str | None:
    """The field holding a record's company (required first, ``companyID`` preferred)."""
    candidates = [n for n, t in ent.refs.items() if t == "Companies" and _is_real_ref(ent, n)]
    if not candidates or ent.name == "Companies":
        return None
    return min(
        candidates,
        key=lambda n: (n not in ent.required_refs, n.lower() != "companyid", n),
    )


def _company_owned(entities: Mapping[str, _Entity]) -> set[str]:
    """Collections whose records belong to exactly one company (required company reference)."""
    owned = set()
    for name, ent in entities.items():
        anchor = _company_anchor(ent)
        if anchor is not None and anchor in ent.required_refs:
            owned.add(name)
    return owned


_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _implicit_target(name: str, singulars: Mapping[str, str]) -> str | None:
    """``attachedByResourceID`` -> ``Resources``: an id field the metadata does not flag as a
    reference but whose name ends in a known entity name (longest camel-case suffix wins)."""
    if len(name) <= 2 or name[-2:].lower() != "id":
        return None
    words = _CAMEL.findall(name[:-2])
    for k in range(len(words)):
        target = singulars.get("".join(words[k:]).lower())
        if target is not None:
            return target
    return None


def _build_plan(
    ent: _Entity,
    counts: Mapping[str, int],
    deferred: set[str],
    owned: set[str] | frozenset[str] = frozenset(),
) -> _Plan:
    by_lower = {str(f["name"]).lower(): str(f["name"]) for f in ent.fields}
    change_field = str(ent.derived.get("changeTrackingField") or "")
    static: list[tuple[str, _StaticGen]] = []
    refs: list[tuple[str, int, int, bool]] = []
    self_refs: list[tuple[str, bool]] = []
    created: list[str] = []
    modified: list[str] = []
    identity: list[tuple[str, Callable[[dict[str, Any], int, int], str]]] = []
    messy: list[tuple[str, tuple[Apply, ...]]] = []

    n_companies = counts.get("Companies", 0)
    anchor = _company_anchor(ent) if n_companies > 0 and "Companies" not in deferred else None
    company_rr = anchor is not None and ent.name in owned
    scoped: list[tuple[str, int, bool]] = []

    # Parents of dependent picklists first so children see their value.
    parents = {
        by_lower.get(str(f.get("picklistParentValueField") or "").lower())
        for f in ent.fields
        if f.get("picklistParentValueField")
    }
    ordered = sorted(ent.fields, key=lambda f: 0 if f["name"] in parents else 1)

    for f in ordered:
        name = str(f["name"])
        low = name.lower()
        dt = str(f.get("dataType") or "").lower()
        if name == "id":
            continue
        if name in ent.refs and not (f.get("isPickList") and _pick_options(f)):
            target = ent.refs[name]
            required = name in ent.required_refs
            if target == ent.name:
                self_refs.append((name, required))
                static.append((name, _const_none))
                continue
            n = counts.get(target, 0)
            if target == "Companies":
                lo, span = (1, n) if n > 0 else (0, 1)
            else:
                lo, span = 1, n
            if span <= 0 or (target in deferred and not required):
                static.append((name, _const_none))
                continue
            if name == anchor and company_rr:
                static.append((name, _const_none))  # assigned round-robin per record
                continue
            if anchor is not None and target in owned and target not in deferred:
                scoped.append((name, n, required))
            else:
                refs.append((name, lo, span, required))
            static.append((name, _ref_marker(required, _fill_prob(f))))
            continue
        if (
            f.get("isReference")
            and f.get("referenceEntityType")
            and not (f.get("isPickList") and _pick_options(f))
        ):
            # reference into a collection the snapshot does not have: nothing valid to point at
            static.append((name, _const_one if f.get("isRequired") else _const_none))
            continue
        if dt in ("datetime", "date") and (_is_create_name(low)):
            created.append(name)
            static.append((name, _const_none))
            continue
        if dt in ("datetime", "date") and (_is_tracking_name(low) or name == change_field):
            modified.append(name)
            static.append((name, _const_none))
            continue
        ident = _identity(ent, f)
        if ident is not None:
            identity.append((name, ident))
        else:
            shapes = field_shapes(f, ent.name)
            if shapes:
                messy.append((name, shapes))
        static.append((name, _static_gen(ent, f, by_lower)))

    udfs = [(str(u.get("name")), _udf_gen(u)) for u in ent.udfs]
    spans: list[tuple[str, str, int]] = []
    dated = {
        str(f["name"]).lower(): str(f["name"])
        for f in ent.fields
        if str(f.get("dataType") or "").lower() in ("datetime", "date")
    }
    for low_name, start_name in dated.items():
        if "start" in low_name:
            end_name = dated.get(low_name.replace("start", "end", 1))
            if end_name is not None:
                # times of day / work periods: up to 8 hours; date ranges: up to a year
                span = 8 * 3_600_000 if "time" in low_name else 365 * _DAY_MS
                spans.append((start_name, end_name, span))
    return _Plan(
        ent.name,
        [str(f["name"]) for f in ent.fields],
        static,
        refs,
        self_refs,
        created,
        modified,
        identity,
        udfs,
        spans,
        anchor,
        company_rr,
        n_companies,
        scoped,
        messy,
        {str(u.get("name")): udf_shapes(u) for u in ent.udfs},
    )


def _const_none(_rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
    return None


def _const_one(_rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
    return 1


_REF = object()  # pool marker: "fill this reference per record"


@dataclass(frozen=True)
class _RelDate:
    """Pool marker: a datetime ``offset`` ms after the record's creation timestamp."""

    offset: int
    date_only: bool


def _ref_marker(required: bool, prob: float) -> _StaticGen:
    def gen(rng: random.Random, _rec: dict[str, Any], _i: int) -> Any:
        if required or rng.random() < prob:
            return _REF
        return None

    return gen


_Template = tuple[
    dict[str, Any],  # static part of the record
    tuple[tuple[str, int, int], ...],  # references to fill: (field, lowest id, id span)
    tuple[str, ...],  # self references to fill
    tuple[tuple[str, int], ...],  # datetimes: (field, offset ms after creation)
    tuple[tuple[str, int], ...],  # date-only: (field, offset ms after creation) -> midnight
    list[dict[str, Any]],  # UDF entries [{"name", "value"}] (copied per record)
    tuple[tuple[str, int, bool], ...],  # company-scoped references: (field, count, required)
]


def _build_pool(plan: _Plan, rng: random.Random, size: int) -> list[_Template]:
    pool: list[_Template] = []
    ref_info = {name: (lo, span) for name, lo, span, _ in plan.refs}
    for k in range(size):
        scratch: dict[str, Any] = {}
        for name, gen in plan.static:
            scratch[name] = gen(rng, scratch, k)
        for start_name, end_name, span in plan.spans:
            start_value, end_value = scratch.get(start_name), scratch.get(end_name)
            if isinstance(start_value, _RelDate) and isinstance(end_value, _RelDate):
                offset = start_value.offset + rng.randrange(span // 32, span)
                scratch[end_name] = _RelDate(offset, end_value.date_only)
        base: dict[str, Any] = {}
        dates: list[tuple[str, int]] = []
        days: list[tuple[str, int]] = []
        for name in plan.field_names:
            v = scratch.get(name)
            if v is _REF:
                v = None
            elif isinstance(v, _RelDate):
                (days if v.date_only else dates).append((name, v.offset))
                v = None
            base[name] = v
        live_refs = tuple(
            (name, *ref_info[name]) for name, _, _, _ in plan.refs if scratch.get(name) is _REF
        )
        live_self = tuple(
            name for name, required in plan.self_refs if required or rng.random() < 0.2
        )
        udf_vals = [{"name": n, "value": g(rng, scratch, k)} for n, g in plan.udfs]
        live_scoped = tuple(x for x in plan.scoped if scratch.get(x[0]) is _REF)
        pool.append((base, live_refs, live_self, tuple(dates), tuple(days), udf_vals, live_scoped))
    return pool


def _rng(seed: int, collection: str, concern: str) -> random.Random:
    return random.Random(f"py-autotask-seed:{seed}:{collection}:{concern}")


def _emit(
    plan: _Plan,
    count: int,
    seed: int,
    *,
    with_owner: bool,
    messy: float = 0.0,
    structure: TicketStructure | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Records ``start..count`` of one collection (``start`` = 0 with the owner company); a
    fraction ``messy`` of them carries off-type values (own random stream: see :mod:`._messy`)."""
    name = plan.name
    start = 0 if with_owner else 1
    size = max(1, min(POOL_SIZE, count + 1 - start))
    pool = _build_pool(plan, _rng(seed, name, "pool"), size)
    rng = _rng(seed, name, "rows")
    r = rng.random
    has_udfs = bool(plan.udfs)
    created = plan.created
    modified = plan.modified
    identity = plan.identity
    step = max(_WINDOW_MS // max(count, 1), 1)
    fmt = _fmt_ms
    mid = _midnight
    copy_dict = dict.copy
    company_field = plan.company_field
    company_rr = plan.company_rr
    n_companies = plan.n_companies
    sequential_pool = count + 1 - start <= size
    max_touch = 60 * _DAY_MS
    messy_rng = _rng(seed, name, "messy")
    messy_draw = messy_rng.random if messy > 0 else None
    structure_rng = _rng(seed, name, "structure")
    for i in range(start, count + 1):
        if sequential_pool:
            base, refs, selfs, dates, days, udfv, scoped = pool[i - start]
        else:
            base, refs, selfs, dates, days, udfv, scoped = pool[int(r() * size)]
        rec = base.copy()
        rec["id"] = i
        for fname, lo, span in refs:
            rec[fname] = lo + int(r() * span)
        for fname in selfs:
            rec[fname] = 1 + int(r() * (i - 1)) if i > 1 else None
        if company_field is not None:
            if company_rr:
                company = 1 + (i - 1) % n_companies
                rec[company_field] = company
            else:
                company = rec[company_field]
            for fname, cnt, required in scoped:
                if company is not None and 1 <= company <= cnt:
                    # ids company, company + n, company + 2n ... belong to this company
                    rec[fname] = company + n_companies * int(
                        r() * ((cnt - company) // n_companies + 1)
                    )
                elif required:
                    rec[fname] = 1 + int(r() * cnt)
                else:
                    rec[fname] = None
        ts = (i - 1 if i > 0 else 0) * step + int(r() * step)
        if structure is not None:
            ts = structure.warp(ts)
        if created:
            text = fmt(ts)
            for fname in created:
                rec[fname] = text
        if modified:
            text = fmt(ts + int(r() * max_touch))
            for fname in modified:
                rec[fname] = text
        for fname, off in dates:
            rec[fname] = fmt(ts + off)
        for fname, off in days:
            rec[fname] = mid(ts + off)
        for fname, fn in identity:
            rec[fname] = fn(rec, i, ts)
        if structure is not None:
            structure.apply(rec, ts, structure_rng, fmt, modified)
        if has_udfs:
            rec["userDefinedFields"] = list(map(copy_dict, udfv))
        if messy_draw is not None and messy_draw() < messy:
            rec = mess(rec, plan.messy, plan.messy_udfs, messy_rng)
        yield name, rec


def _owner_overrides(rec: dict[str, Any]) -> None:
    if "companyName" in rec:
        rec["companyName"] = "Simulator Owner Company"
    if "isActive" in rec:
        rec["isActive"] = True
    if "parentCompanyID" in rec:
        rec["parentCompanyID"] = None


def generate(
    schemas_dir: Path,
    profile: str = "tiny",
    seed: int = 42,
    *,
    counts: Mapping[str, int] | None = None,
    messy: float = 0.0,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(collection_name, record)`` for every seeded record, in dependency order.

    Streams: memory stays constant in the record count (see the module docstring for the rules).
    Same ``(schemas, profile, seed, counts, messy)`` -> identical output. ``messy`` (0..1) is the
    fraction of records per collection that carry real-tenant off-type values (:mod:`._messy`);
    the other records are exactly those of ``messy=0``.
    """
    if not 0.0 <= messy <= 1.0:
        raise ValueError(f"messy must be a fraction from 0 to 1, not {messy!r}")
    entities = _load(Path(schemas_dir))
    resolved = _resolve_counts(entities, profile, counts)
    order, deferred = _order(entities, resolved)
    owned = {n for n in _company_owned(entities) if "Companies" not in deferred.get(n, set())}
    for name in order:
        ent = entities[name]
        if not ent.fields:
            continue
        plan = _build_plan(ent, resolved, deferred.get(name, set()), owned)
        owner = name == "Companies"
        structure = (
            TicketStructure.from_fields(ent.fields, seed, _WINDOW_MS) if name == "Tickets" else None
        )
        emitted = _emit(
            plan, resolved[name], seed, with_owner=owner, messy=messy, structure=structure
        )
        for coll, rec in emitted:
            if owner and rec["id"] == 0:
                _owner_overrides(rec)
            yield coll, rec
