"""GraphQL's database source over real sync mirrors: the simulator's records are synced into a
SQLite file and a real PostgreSQL database, and every filter the executor can send gives, over the
mirror, exactly the records the API gives for it (read over HTTP and through ``read_wire``), with
no request reaching the simulator while the mirror is read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask._registry import spec_for
from py_autotask._values import KEPT, read_wire, value_kind
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.graph._db import PICKLIST_TABLE, UDF_COLUMN, DatabaseSource, MirrorError
from py_autotask.simulator import Simulator
from tests.graph._tenant import SEED_QUERY, reopen_half
from tests.servers import PostgresServer
from tests.sync.helpers import client_for

pytestmark = pytest.mark.xdist_group("graph_db")

ENTITIES = ["Tickets", "Companies", "Resources", "TimeEntries"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        profile="tiny", seed=11, counts={"Tickets": 400}, thread_limit=0, hourly_threshold=0
    ) as s:
        reopen_half(s)
        yield s


@pytest.fixture(scope="module")
def mirrors(
    sim: Simulator, tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[dict[str, DatabaseSource]]:
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('graph_db') / 'mirror.db'}"
    pg_url = postgres_server.create_database(f"g_{uuid.uuid4().hex[:12]}")
    with client_for(sim) as client:
        syncer = client.create_syncer()
        for url in (sqlite_url, pg_url):
            result = syncer.sync_to_database(url, ENTITIES, handle_signals=False)
            assert result.ok, result.to_dict()
    sources = {"sqlite": DatabaseSource(sqlite_url), "postgresql": DatabaseSource(pg_url)}
    yield sources
    for s in sources.values():
        s.close()


def _read(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """An API record with its values read by ``read_wire`` (what the API source gives)."""
    spec = spec_for(entity)
    kinds = {n.lower(): value_kind(f.data_type) for n, f in spec.fields.items()}
    kinds["id"] = "integer"
    kinds[UDF_COLUMN.lower()] = "udfs"
    out = {}
    for name, value in record.items():
        typed, status = read_wire(kinds.get(name.lower(), "string"), value)
        out[name] = value if status == KEPT else typed
    return out


def api_records(
    sim: Simulator,
    entity: str,
    flt: list[dict[str, Any]],
    fields: list[str] | None = None,
    first: int | None = None,
) -> list[dict[str, Any]]:
    """What the API returns for ``flt``, id-ordered, keyset-paged over HTTP."""
    out: list[dict[str, Any]] = []
    last = -1
    with client_for(sim) as client:
        while True:
            body: dict[str, Any] = {
                "filter": [*flt, {"op": "gt", "field": "id", "value": last}],
                "MaxRecords": 500,
            }
            if fields:
                body["IncludeFields"] = ["id", *fields]
            items = client.raw_request("POST", f"{entity}/query", json=body)["items"]
            if not items:
                break
            out += [_read(entity, i) for i in items]
            last = items[-1]["id"]
    out.sort(key=lambda r: r["id"])
    return out[:first] if first is not None else out


def find(
    source: DatabaseSource,
    entity: str,
    flt: list[dict[str, Any]],
    fields: list[str] | None = None,
    first: int | None = None,
) -> list[dict[str, Any]]:
    return asyncio.run(source.find(entity, flt, fields, first))


_SEEN: dict[tuple[int, str], list[dict[str, Any]]] = {}


def _some(sim: Simulator, entity: str, field: str) -> list[Any]:
    key = (id(sim), entity)
    if key not in _SEEN:
        _SEEN[key] = api_records(sim, entity, [])
    values = [r[field] for r in _SEEN[key] if r.get(field) is not None]
    assert values, f"the simulator seeded no {entity}.{field}"
    return values


CASES: list[tuple[str, str, Any, list[str] | None, int | None]] = [
    # (name, entity, filter (a callable of the simulator), fields, first)
    ("eq int", "Tickets", lambda s: [{"op": "eq", "field": "priority", "value": 1}], None, None),
    ("in", "Tickets", lambda s: [{"op": "in", "field": "priority", "value": [1, 2]}], None, None),
    ("notIn", "Tickets", lambda s: [{"op": "notIn", "field": "status", "value": [5]}], None, None),
    ("noteq", "Tickets", lambda s: [{"op": "noteq", "field": "priority", "value": 3}], None, 25),
    (
        "datetime range",
        "Tickets",
        lambda s: [
            {
                "op": "gte",
                "field": "createDate",
                "value": sorted(_some(s, "Tickets", "createDate"))[50].isoformat(),
            },
            {
                "op": "lt",
                "field": "createDate",
                "value": sorted(_some(s, "Tickets", "createDate"))[200].isoformat(),
            },
        ],
        ["title", "createDate"],
        None,
    ),
    (
        "contains, case-insensitive",
        "Tickets",
        lambda s: [
            {
                "op": "contains",
                "field": "title",
                "value": _some(s, "Tickets", "title")[0].split()[0][1:4].upper(),
            }
        ],
        ["title"],
        None,
    ),
    (
        "beginsWith",
        "Companies",
        lambda s: [
            {
                "op": "beginsWith",
                "field": "companyName",
                "value": _some(s, "Companies", "companyName")[0][:2].lower(),
            }
        ],
        None,
        None,
    ),
    (
        "endsWith",
        "Companies",
        lambda s: [
            {
                "op": "endsWith",
                "field": "companyName",
                "value": _some(s, "Companies", "companyName")[1][-3:],
            }
        ],
        None,
        None,
    ),
    (
        "eq text, case-insensitive",
        "Resources",
        lambda s: [
            {"op": "eq", "field": "lastName", "value": _some(s, "Resources", "lastName")[0].upper()}
        ],
        ["firstName", "lastName", "email"],
        None,
    ),
    (
        "exist",
        "Tickets",
        lambda s: [{"op": "exist", "field": "assignedResourceID"}],
        ["assignedResourceID"],
        None,
    ),
    (
        "notExist",
        "Tickets",
        lambda s: [{"op": "notExist", "field": "completedDate"}],
        ["completedDate"],
        None,
    ),
    (
        "bool",
        "Companies",
        lambda s: [{"op": "eq", "field": "isActive", "value": True}],
        ["isActive"],
        None,
    ),
    (
        "or of and",
        "Tickets",
        lambda s: [
            {
                "op": "or",
                "items": [
                    {"op": "eq", "field": "priority", "value": 1},
                    {
                        "op": "and",
                        "items": [
                            {"op": "eq", "field": "priority", "value": 2},
                            {"op": "lte", "field": "id", "value": 100},
                        ],
                    },
                ],
            }
        ],
        ["priority"],
        None,
    ),
    (
        "relationship load",
        "TimeEntries",
        lambda s: [
            {
                "op": "in",
                "field": "ticketID",
                "value": sorted(set(_some(s, "TimeEntries", "ticketID")))[:40],
            }
        ],
        ["hoursWorked", "dateWorked", "ticketID"],
        None,
    ),
    ("first", "Tickets", lambda s: [{"op": "gt", "field": "id", "value": 0}], None, 7),
    # UDFs (the mirror's JSON list): text compared case-insensitively, as the API does
    ("udf eq", "Tickets", lambda s: [_udf("eq", "FR Result", "TRANSITIONED")], ["title"], None),
    ("udf noteq", "Tickets", lambda s: [_udf("noteq", "fr result", "Transitioned")], None, None),
    (
        "udf in",
        "Tickets",
        lambda s: [_udf("in", "Project Swimlanes", ["pilot", "TaskProgress"])],
        None,
        None,
    ),
    (
        "udf contains",
        "Tickets",
        lambda s: [_udf("contains", "Status Summary", "STOPPED")],
        None,
        None,
    ),
    (
        "udf beginsWith",
        "Tickets",
        lambda s: [_udf("beginsWith", "N-central Alert ID", "c")],
        None,
        None,
    ),
    ("udf exist", "Tickets", lambda s: [_udf("exist", "Ext URL")], ["id"], None),
    ("udf notExist", "Tickets", lambda s: [_udf("notExist", "Ext URL")], ["id"], None),
    (
        "udf or a field",
        "Tickets",
        lambda s: [
            {
                "op": "or",
                "items": [
                    _udf("eq", "Tasks Swimlanes", "assigned"),
                    {"op": "eq", "field": "priority", "value": 1},
                ],
            }
        ],
        ["priority"],
        None,
    ),
]


def _udf(op: str, name: str, value: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"op": op, "field": name, "udf": True}
    if value is not None:
        item["value"] = value
    return item


@pytest.fixture(scope="module")
def cases(sim: Simulator) -> list[tuple[str, str, Any, list[str] | None, int | None, Any]]:
    """Each case with its filter made and what the API returns for it."""
    out = []
    for name, entity, make, fields, first in CASES:
        flt = make(sim)
        out.append((name, entity, flt, fields, first, api_records(sim, entity, flt, fields, first)))
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_filter_gives_the_apis_records(
    sim: Simulator,
    mirrors: dict[str, DatabaseSource],
    backend: str,
    cases: list[tuple[str, str, Any, list[str] | None, int | None, Any]],
) -> None:
    source = mirrors[backend]
    assert source.name == backend
    for name, entity, flt, fields, first, expected in cases:
        assert expected, f"{name}: the case matches nothing, so it proves nothing"
        sim.clear_journal()
        got = find(source, entity, flt, fields, first)
        assert sim.journal() == [], f"{name}: the mirror sent requests"
        if fields is not None:
            wanted = {"id", *fields}
            assert all(set(r) == wanted for r in got), f"{name}: {set(got[0])} != {wanted}"
            expected = [{k: v for k, v in r.items() if k in wanted} for r in expected]
        assert [r["id"] for r in got] == [r["id"] for r in expected], name
        for g, e in zip(got, expected, strict=True):
            e = {k: e.get(k) for k in g}  # a field the API leaves out is null, as in the mirror
            assert set(e) >= set(expected[0]) - {UDF_COLUMN}
            assert g == e, (
                name,
                {k: (g.get(k), e.get(k)) for k in {*g, *e} if g.get(k) != e.get(k)},
            )


def test_udfs_and_datetimes_come_back_as_the_api_gives_them(
    sim: Simulator, mirrors: dict[str, DatabaseSource]
) -> None:
    expected = api_records(sim, "Tickets", [{"op": "lte", "field": "id", "value": 50}])
    for source in mirrors.values():
        got = find(source, "Tickets", [{"op": "lte", "field": "id", "value": 50}], None, None)
        assert got == expected
        created = got[0]["createDate"]
        assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
        assert isinstance(got[0][UDF_COLUMN], list)
        assert all(set(u) == {"name", "value"} for u in got[0][UDF_COLUMN])


def test_picklists_come_from_the_mirrors_metadata(
    sim: Simulator, mirrors: dict[str, DatabaseSource]
) -> None:
    with client_for(sim) as client:
        meta = client.raw_request("GET", "Tickets/entityInformation/fields")
    status = next(f for f in meta["fields"] if f["name"] == "status")
    expected = sorted(
        (str(p["value"]), p["label"], bool(p["isActive"])) for p in status["picklistValues"]
    )
    for source in mirrors.values():
        values = asyncio.run(source.picklist("Tickets", "status"))
        assert values is not None
        assert sorted((p["value"], p["label"], p["isActive"]) for p in values) == expected
        # an entity the mirror holds no metadata for: unknown, not empty
        assert asyncio.run(source.picklist("Contacts", "title")) is None
        assert "py-autotask sync Contacts --db" in source.missing_picklists_hint("Contacts")


def test_a_collection_not_synced_names_it_and_the_sync_to_run(
    sim: Simulator, mirrors: dict[str, DatabaseSource]
) -> None:
    for source in mirrors.values():
        sim.clear_journal()
        with pytest.raises(MirrorError) as info:
            find(source, "Contacts", [{"op": "eq", "field": "id", "value": 1}])
        text = str(info.value)
        assert "Contacts" in text and "py-autotask sync Contacts --db" in text
        assert "\n" not in text
        with pytest.raises(MirrorError, match="no field 'nosuchField' for Tickets"):
            find(source, "Tickets", [{"op": "eq", "field": "nosuchField", "value": 1}])
        with pytest.raises(MirrorError, match="not a valid integer value for 'companyID'"):
            find(source, "Tickets", [{"op": "eq", "field": "companyID", "value": "acme"}])
        with pytest.raises(MirrorError, match="unknown filter operator 'like'"):
            find(source, "Tickets", [{"op": "like", "field": "title", "value": "x"}])
        with pytest.raises(MirrorError, match="holds no UDFs for Resources"):
            find(source, "Resources", [{"op": "eq", "field": "Tier", "udf": True, "value": "x"}])
        assert sim.journal() == []


def test_a_missing_mirror_file_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(AutotaskConfigError, match="no sync mirror at") as info:
        DatabaseSource(f"sqlite:///{path}")
    assert "py-autotask sync" in str(info.value)
    assert not path.exists()
    for url in ("mysql://u:hunter22@h/db", "duckdb:///m.duckdb", str(tmp_path / "m.duckdb")):
        with pytest.raises(AutotaskConfigError, match="unsupported mirror") as info:
            DatabaseSource(url)
        assert "hunter22" not in str(info.value)


def test_the_password_never_shows(postgres_server: PostgresServer) -> None:
    url = (
        postgres_server.url.replace("postgres@", "postgres:s3cr3tpw@").rsplit("/", 1)[0] + "/nodb_x"
    )
    source = DatabaseSource(url)
    try:
        with pytest.raises(MirrorError) as info:
            find(source, "Tickets", [{"op": "eq", "field": "id", "value": 1}])
    finally:
        source.close()
    assert "s3cr3tpw" not in str(info.value)


def test_the_mirror_names_match_the_syncers() -> None:
    from py_autotask.sync._db import PICKLIST_TABLE as SYNC_PICKLISTS
    from py_autotask.sync._syncer import UDF_COLUMN as SYNC_UDFS

    assert (PICKLIST_TABLE, UDF_COLUMN) == (SYNC_PICKLISTS, SYNC_UDFS)


def test_a_label_over_a_mirror_without_picklists_says_how_to_get_them(
    mirrors: dict[str, DatabaseSource], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    copy = tmp_path / "no_picklists.db"
    shutil.copy(str(mirrors["sqlite"].engine.url.database), copy)
    with sqlite3.connect(copy) as conn:
        conn.execute(f"DROP TABLE {PICKLIST_TABLE}")
    source = DatabaseSource(str(copy))
    try:
        assert asyncio.run(source.picklist("Tickets", "status")) is None
        with pytest.raises(MirrorError) as info:
            find(source, "Tickets", [{"op": "in", "field": "status", "value": ["In Progress"]}])
    finally:
        source.close()
    text = str(info.value)
    assert "'In Progress' is not a value of Tickets.status" in text
    assert f"py-autotask sync Tickets --db sqlite:///{copy}" in text


GRAPH_QUERIES = [
    SEED_QUERY,
    # labels, filter:, first:, a reverse reference two levels down, a single record
    """{ tickets(filter: "createDate >= 2000-01-01", first: 30) { id statusLabel priorityLabel
         createDate company { id companyName tickets { id title } } } }""",
    """{ companies(isActive: true) { id name tickets { id statusLabel } } }""",
    """{ ticket(id: 3) { id title userDefinedFields { name value } timeEntries { id dateWorked } } }""",
    """{ resources { id firstName ticketsByAssignedResource { id priority } } }""",
]


def test_graphql_gives_the_same_result_over_the_api_and_both_mirrors(
    sim: Simulator, mirrors: dict[str, DatabaseSource]
) -> None:
    from py_autotask.query import GraphQLQuery

    with client_for(sim) as client:
        over_api = [GraphQLQuery(client).execute_sync(q).to_dict() for q in GRAPH_QUERIES]
    assert over_api[0]["tickets"], "the seed query matches nothing, so it proves nothing"
    assert any(t["timeEntries"] for t in over_api[0]["tickets"])
    for backend, source in mirrors.items():
        sim.clear_journal()
        query = GraphQLQuery(db=source.url)
        for text, expected in zip(GRAPH_QUERIES, over_api, strict=True):
            assert query.execute_sync(text).to_dict() == expected, (backend, text)
        assert sim.journal() == [], f"{backend}: querying the mirror sent requests"


def test_graphql_over_a_mirror_missing_a_collection_names_the_sync_to_run(
    sim: Simulator, mirrors: dict[str, DatabaseSource]
) -> None:
    from py_autotask.graph import GraphQLQueryError
    from py_autotask.query import GraphQLQuery

    sim.clear_journal()
    with pytest.raises(GraphQLQueryError) as info:
        GraphQLQuery(db=mirrors["sqlite"].url).execute_sync("{ contacts { id firstName } }")
    text = str(info.value)
    assert "no Contacts" in text and "py-autotask sync Contacts --db sqlite:///" in text
    assert sim.journal() == []


def test_the_cli_queries_the_mirror_with_zero_requests(
    sim: Simulator, mirrors: dict[str, DatabaseSource], tmp_path: Path
) -> None:
    import json

    from py_autotask.query import GraphQLQuery
    from tests._cli import cli_env, run_cli

    text = "{ tickets(priority: [1, 2], first: 20) { id title priorityLabel company { name } } }"
    with client_for(sim) as client:
        expected = GraphQLQuery(client).execute_sync(text).to_dict()
    # no credentials at all: the mirror needs none
    env = cli_env({}, tmp_path)
    sqlite_url = mirrors["sqlite"].url
    sim.clear_journal()
    proc = run_cli("graphql", "--db", sqlite_url, text, "-o", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
    # a collection the mirror lacks, a mirror file that does not exist: one line, exit 2
    proc = run_cli("graphql", "--db", sqlite_url, "{ contacts { id } }", env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "py-autotask sync Contacts --db" in proc.stderr and "Traceback" not in proc.stderr
    missing = tmp_path / "none.db"
    proc = run_cli("graphql", "--db", f"sqlite:///{missing}", text, env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "no sync mirror at" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not missing.exists()
    assert sim.journal() == []


def test_a_number_compares_a_udf_numerically(mirrors: dict[str, DatabaseSource]) -> None:
    """The simulator seeds no number UDFs: three rows of each mirror get one (and a text value
    that is not a number), restored afterwards."""
    import json

    import sqlalchemy as sa

    scores = {1: "12", 2: "9", 3: "n/a"}
    for source in mirrors.values():
        with source.engine.begin() as conn:
            rows = conn.execute(
                sa.text('SELECT id, "userDefinedFields" FROM tickets WHERE id <= 3')
            )
            saved = {int(r[0]): r[1] for r in rows}
            for i, score in scores.items():
                conn.execute(
                    sa.text('UPDATE tickets SET "userDefinedFields" = :u WHERE id = :i'),
                    {"u": json.dumps([{"name": "Score", "value": score}]), "i": i},
                )
        try:
            gt = find(source, "Tickets", [_udf("gt", "score", 10)], ["id"])
            assert [r["id"] for r in gt] == [1]  # 9 < 10 (as text "9" > "10"); "n/a" no number
            lte = find(source, "Tickets", [_udf("lte", "Score", 12.0)], ["id"])
            assert [r["id"] for r in lte] == [1, 2]
        finally:
            with source.engine.begin() as conn:
                for i, u in saved.items():
                    conn.execute(
                        sa.text('UPDATE tickets SET "userDefinedFields" = :u WHERE id = :i'),
                        {"u": u, "i": i},
                    )
