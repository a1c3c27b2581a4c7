"""The mirror of a messy tenant (off-type values as real tenants send them, docs/simulator.md):
the sync keeps values it cannot convert as received text (PostgreSQL turns such a column into
text), and GraphQL's database source must still filter those columns as the API does: typed
comparisons over the typed values, kept text never matching."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask._registry import spec_for
from py_autotask._values import value_kind
from py_autotask.graph._db import DatabaseSource
from py_autotask.simulator import Simulator
from tests.graph._tenant import reopen_half
from tests.graph.test_graph_db import api_records
from tests.servers import PostgresServer
from tests.sync.helpers import client_for

pytestmark = pytest.mark.xdist_group("graph_db_messy")


@pytest.fixture(scope="module")
def messy(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[tuple[Simulator, dict[str, DatabaseSource], list[str]]]:
    with Simulator(
        profile="tiny",
        seed=5,
        counts={"Tickets": 300},
        thread_limit=0,
        hourly_threshold=0,
        messy=0.1,
    ) as sim:
        reopen_half(sim)
        sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('messy') / 'mirror.db'}"
        pg_url = postgres_server.create_database(f"m_{uuid.uuid4().hex[:12]}")
        promoted: list[str] = []
        with client_for(sim) as client:
            for url in (sqlite_url, pg_url):
                result = client.create_syncer().sync_to_database(
                    url, ["Tickets"], handle_signals=False
                )
                assert result.ok, result.to_dict()
                promoted += [c for e in result.entities for c in e.promoted_columns]
        sources = {"sqlite": DatabaseSource(sqlite_url), "postgresql": DatabaseSource(pg_url)}
        try:
            yield sim, sources, sorted(set(promoted))
        finally:
            for s in sources.values():
                s.close()


def _ids(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["id"]) for r in records]


def test_columns_holding_kept_text_filter_as_over_the_api(
    messy: tuple[Simulator, dict[str, DatabaseSource], list[str]],
) -> None:
    sim, sources, promoted = messy
    kinds = {
        n: value_kind(f.data_type) for n, f in spec_for("Tickets").fields.items() if f.queryable
    }
    integers = [c for c in promoted if kinds.get(c) == "integer"]
    assert "priority" in integers, promoted  # the seed query's own argument
    everything = api_records(sim, "Tickets", [])
    filters: list[list[dict[str, Any]]] = []
    for column in integers:
        # typed values the column holds, most common first (kept text like "m" is not one)
        held = Counter(r[column] for r in everything if type(r.get(column)) is int)
        (a, _), (b, _) = held.most_common(2)
        filters += [
            [{"op": "eq", "field": column, "value": a}],
            [{"op": "in", "field": column, "value": [a, b]}],
            [{"op": "gt", "field": column, "value": min(a, b)}],
            [{"op": "noteq", "field": column, "value": a}],
        ]
    dates = sorted(r["createDate"] for r in everything if r.get("createDate") is not None)
    middle = dates[len(dates) // 2].isoformat()
    filters += [
        [{"op": "gte", "field": "createDate", "value": middle}],
        [{"op": "lt", "field": "completedDate", "value": middle}],
        [{"op": "gt", "field": "estimatedHours", "value": 1}],
    ]
    for flt in filters:
        expected = _ids(api_records(sim, "Tickets", flt, ["id"]))
        assert expected, f"{flt} matches nothing, so it proves nothing"
        for backend, source in sources.items():
            sim.clear_journal()
            got = _ids(asyncio.run(source.find("Tickets", flt, ["id"], None)))
            assert got == expected, (backend, flt)
            assert sim.journal() == []


def test_the_seed_query_over_messy_mirrors_equals_the_api(
    messy: tuple[Simulator, dict[str, DatabaseSource], list[str]],
) -> None:
    from py_autotask.query import GraphQLQuery

    sim, sources, _ = messy
    text = '{ tickets(status: "open", priority: [1, 2]) { id title priority statusLabel } }'
    with client_for(sim) as client:
        expected = GraphQLQuery(client).execute_sync(text).to_dict()
    assert expected["tickets"]
    for source in sources.values():
        assert GraphQLQuery(db=source.url).execute_sync(text).to_dict() == expected
