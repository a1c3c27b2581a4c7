"""GraphQL over the API (py_autotask.graph) against the real simulator: the seed plan's sketch as
written with a sync and an async client, every nested value checked against direct API reads,
batched request counts read from the simulator's journal, picklist labels and values as
arguments, the filter language, and errors that name the bad field or argument before anything
is sent."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.graph import GraphQLQueryError
from py_autotask.graph._api import ApiSource
from py_autotask.query import F, GraphQLQuery
from py_autotask.simulator import Simulator
from tests.graph._tenant import SEED_QUERY, reopen_half

pytestmark = pytest.mark.xdist_group("graph-api")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        seed=17,
        profile="tiny",
        counts={"Tickets": 120, "TimeEntries": 300},
        hourly_threshold=0,
        thread_limit=0,
    ) as s:
        reopen_half(s)
        with AutotaskClient(**s.credentials) as client:
            _complete_the_sketch_data(client)
        s.clear_journal()
        yield s


def _complete_the_sketch_data(client: AutotaskClient) -> None:
    """The sketch's loop reads ``ticket.assignedResource.firstName`` and sums ``te.hours``: give
    the tickets it selects a resource and their time entries hours (Autotask allows both null)."""
    status = {int(v): k for v, k in client.picklists.choices("Tickets", "status").items()}
    complete = [v for v, label in status.items() if label.lower() == "complete"]
    tickets = client.tickets.query_all(
        filter=F("priority").in_([1, 2]) & F("status").not_in(complete)
    )
    resource = client.resources.query_all(filter=F("isActive").eq(True))[0].id
    for t in tickets:
        if t.assigned_resource_id is None:
            client.tickets.update({"id": t.id, "assignedResourceID": resource})
    if tickets:
        entries = client.time_entries.query_all(filter=F("ticketID").in_([t.id for t in tickets]))
        for te in entries:
            if te.hours_worked is None:
                client.time_entries.update({"id": te.id, "hoursWorked": 1.25})


@pytest.fixture
def client(sim: Simulator) -> Iterator[AutotaskClient]:
    sim.clear_journal()
    with AutotaskClient(**sim.credentials) as c:
        yield c


def _data_requests(sim: Simulator) -> list[Any]:
    return [e for e in sim.journal() if e.operation != "meta"]


def _sketch(result: Any) -> list[str]:
    """The seed plan's loop, as written (print -> a list of lines)."""
    lines: list[str] = []
    print = lines.append
    for ticket in result.tickets:
        print(f"{ticket.title} - {ticket.company.name}")
        print(f"Assigned to: {ticket.assignedResource.firstName}")
        total_hours = sum(te.hours for te in ticket.timeEntries)
        print(f"Total hours: {total_hours}")
    return lines


def _expected(client: AutotaskClient) -> dict[int, dict[str, Any]]:
    """The seed query's answer, from direct API reads (one query per collection)."""
    labels = client.picklists.choices("Tickets", "status", include_inactive=True)
    open_values = [int(v) for v, label in labels.items() if label.lower() != "complete"]
    tickets = client.tickets.query_all(
        filter=F("priority").in_([1, 2]) & F("status").in_(open_values)
    )
    companies = {
        c.id: c
        for c in client.companies.query_all(filter=F("id").in_({t.company_id for t in tickets}))
    }
    resources = {
        r.id: r
        for r in client.resources.query_all(
            filter=F("id").in_({t.assigned_resource_id for t in tickets})
        )
    }
    entries = client.time_entries.query_all(filter=F("ticketID").in_([t.id for t in tickets]))
    out: dict[int, dict[str, Any]] = {}
    for t in tickets:
        company = companies[t.company_id]
        resource = resources[t.assigned_resource_id]
        out[t.id] = {
            "id": t.id,
            "title": t.title,
            "priority": t.priority,
            "company": {"name": company.company_name, "isActive": company.is_active},
            "assignedResource": {
                "firstName": resource.first_name,
                "lastName": resource.last_name,
                "email": resource.email,
            },
            "timeEntries": sorted(
                (
                    {
                        "hours": te.hours_worked,
                        "billableHours": te.hours_to_bill,
                        "dateWorked": te.date_worked.isoformat() if te.date_worked else None,
                    }
                    for te in entries
                    if te.ticket_id == t.id
                ),
                key=repr,
            ),
        }
    return out


def _as_checked(result: Any) -> dict[int, dict[str, Any]]:
    out = {}
    for t in result.to_dict()["tickets"]:
        t["timeEntries"] = sorted(t["timeEntries"], key=repr)
        out[t["id"]] = t
    return out


def test_seed_sketch_as_written_with_a_sync_client(sim: Simulator, client: AutotaskClient) -> None:
    query = GraphQLQuery(client)

    async def main() -> Any:
        return await query.execute(SEED_QUERY)

    result = asyncio.run(main())
    expected = _expected(client)
    assert len(expected) >= 10
    assert _as_checked(result) == expected
    first = result.tickets[0]
    assert result.tickets[0].company.name == expected[first.id]["company"]["name"]
    lines = _sketch(result)
    assert len(lines) == 3 * len(expected)
    hours = {tid: sum(te["hours"] for te in e["timeEntries"]) for tid, e in expected.items()}
    assert f"Total hours: {hours[first.id]}" == lines[2]
    # the same through execute_sync
    assert _as_checked(query.execute_sync(SEED_QUERY)) == expected


def test_seed_sketch_as_written_with_an_async_client(
    sim: Simulator, client: AutotaskClient
) -> None:
    async def main() -> Any:
        async with AsyncAutotaskClient(**sim.credentials) as async_client:
            query = GraphQLQuery(async_client)
            result = await query.execute(SEED_QUERY)
            return result

    result = asyncio.run(main())
    assert _as_checked(result) == _expected(client)
    assert len(_sketch(result)) == 3 * len(result.tickets)


def test_relationships_load_in_batches_of_500_ids(sim: Simulator, client: AutotaskClient) -> None:
    # 1 + 1 + 1 + 1 requests for 120 tickets: the tickets' page, then per relationship one
    # `in` query, whatever the number of parents; nested levels the same
    query = GraphQLQuery(client)
    result = query.execute_sync(
        "{ tickets { id company { companyName tickets { id } } timeEntries { id ticket { id } } } }"
    )
    sent = _data_requests(sim)
    by_entity: dict[str, int] = {}
    for e in sent:
        by_entity[e.entity] = by_entity.get(e.entity, 0) + 1
    tickets = result.tickets
    assert len(tickets) == 120
    # Tickets: the root page (120 <= 500) + the companies' tickets (one in-query: <= 500 ids)
    # + the time entries' ticket (one in-query); Companies: one; TimeEntries: one
    n_entries = sum(len(t.timeEntries) for t in tickets)
    assert by_entity == {
        "Tickets": 1 + 1 + (1 if n_entries else 0),
        "Companies": 1,
        "TimeEntries": 1,
    }
    assert result.requests == len(sent)
    for t in tickets:
        assert t.id in {x.id for x in t.company.tickets}
        assert all(te.ticket.id == t.id for te in t.timeEntries)


def test_more_than_500_parents_split_into_ceil_n_over_500_batches(
    sim: Simulator, client: AutotaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the batch size is the one knob: at 50 ids per batch, 120 tickets' time entries take
    # ceil(120 / 50) = 3 queries (the rule is ceil(distinct ids / BATCH))
    from py_autotask.graph import _exec

    monkeypatch.setattr(_exec, "BATCH", 50)
    result = GraphQLQuery(client).execute_sync("{ tickets { id timeEntries { id } } }")
    entries = [e for e in _data_requests(sim) if e.entity == "TimeEntries"]
    assert len(entries) == math.ceil(len(result.tickets) / 50) == 3
    direct = client.time_entries.query_all(filter=F("ticketID").in_([t.id for t in result.tickets]))
    assert sorted(te.id for t in result.tickets for te in t.timeEntries) == sorted(
        te.id for te in direct
    )


def test_only_the_selected_fields_are_requested(sim: Simulator, client: AutotaskClient) -> None:
    source = ApiSource(client)
    records = asyncio.run(
        source.find("Tickets", [{"op": "gte", "field": "id", "value": 0}], ["title"], 3)
    )
    assert len(records) == 3
    # IncludeFields honoured (Autotask, like the simulator, still sends an empty UDF list)
    assert all(set(r) - {"userDefinedFields"} == {"id", "title"} for r in records)


def test_picklist_arguments_take_labels_any_case_or_values(
    sim: Simulator, client: AutotaskClient
) -> None:
    query = GraphQLQuery(client)
    by_label = query.execute_sync('{ tickets(status: "new") { id status statusLabel } }')
    by_value = query.execute_sync("{ tickets(status: 1) { id } }")
    direct = client.tickets.query_all(filter=F("status").eq(1))
    assert sorted(t.id for t in by_label.tickets) == sorted(t.id for t in by_value.tickets)
    assert sorted(t.id for t in by_label.tickets) == sorted(t.id for t in direct)
    assert {(t.status, t.statusLabel) for t in by_label.tickets} == {(1, "New")}


def test_a_label_the_tenant_does_not_have_lists_the_valid_ones(
    sim: Simulator, client: AutotaskClient
) -> None:
    with pytest.raises(GraphQLQueryError) as err:
        GraphQLQuery(client).execute_sync('{ tickets(status: "Shelved") { id } }')
    text = str(err.value)
    assert "argument status of tickets" in text and "'Shelved'" in text
    assert "New" in text and "Complete" in text and "Waiting Customer" in text
    assert _data_requests(sim) == []  # only the picklist metadata was read


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{ tickets { id nope } }", ["nope", "Ticket"]),
        ("{ tickets(bogus: 1) { id } }", ["bogus", "tickets"]),
        ("{ tickets { id company { nme } } }", ["nme", "Company"]),
        ('{ tickets(filter: "titel = x") { id } }', ["argument filter of tickets", "titel"]),
        ('{ tickets(priority: "x") { id } }', ["argument priority of tickets", "'x'"]),
        ("{ tickets(first: -1) { id } }", ["first", ">= 0"]),
        ("{ tickets { id ", ["Syntax Error"]),
    ],
)
def test_bad_fields_and_arguments_are_named_and_nothing_is_sent(
    sim: Simulator, client: AutotaskClient, text: str, words: list[str]
) -> None:
    with pytest.raises(GraphQLQueryError) as err:
        GraphQLQuery(client).execute_sync(text)
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert _data_requests(sim) == []


def test_filter_expression_first_and_single_record(sim: Simulator, client: AutotaskClient) -> None:
    query = GraphQLQuery(client)
    result = query.execute_sync(
        '{ tickets(filter: "priority <= 2 and title contains e", first: 5) { id priority title } }'
    )
    direct = client.tickets.query_all(filter=F("priority").lte(2) & F("title").contains("e"))
    assert [t.id for t in result.tickets] == [t.id for t in direct][:5]
    one = direct[0]
    got = query.execute_sync(
        "query One($id: Int!) { ticket(id: $id) { id title company { id } } }", {"id": one.id}
    )
    assert got.ticket.title == one.title and got.ticket.company.id == one.company_id
    assert query.execute_sync("{ ticket(id: 999999) { id } }").ticket is None


def test_estimate_bounds_what_the_query_costs(sim: Simulator, client: AutotaskClient) -> None:
    query = GraphQLQuery(client)
    estimate = query.estimate_sync(SEED_QUERY)
    counted = len(_data_requests(sim))
    assert counted == estimate.counted  # the estimate's own count requests, nothing else
    sim.clear_journal()
    result = query.execute_sync(SEED_QUERY)
    assert result.requests <= estimate.requests
    text = str(estimate)
    assert "tickets.timeEntries" in text and "total" in text
    paths = [line[0] for line in estimate.lines]
    assert paths == [
        "tickets",
        "tickets.company",
        "tickets.assignedResource",
        "tickets.timeEntries",
    ]
    assert estimate.lines[0][1] == len(result.tickets)


def test_execution_is_a_graphql_job(sim: Simulator, client: AutotaskClient) -> None:
    from py_autotask._observe import Observer

    seen: list[tuple[str, dict[str, Any]]] = []

    class Jobs(Observer):
        def job_started(self, job: Any) -> Any:
            seen.append((job.kind, dict(job.attributes)))

    client.observers.add(Jobs())
    GraphQLQuery(client).execute_sync("{ tickets(first: 1) { id } }")
    assert ("graphql", {"action": "execute", "source": "api"}) in seen


def test_1200_tickets_cost_their_pages_plus_ceil_ids_over_500_per_relationship() -> None:
    with (
        Simulator(
            seed=5,
            profile="tiny",
            counts={"Tickets": 1200, "TimeEntries": 1500},
            hourly_threshold=0,
            thread_limit=0,
        ) as sim,
        AutotaskClient(**sim.credentials) as client,
    ):
        reopen_half(sim)
        sim.clear_journal()
        result = GraphQLQuery(client).execute_sync(
            "{ tickets { id company { name } timeEntries { hours } } }"
        )
        sent: dict[str, int] = {}
        for e in _data_requests(sim):
            sent[e.entity] = sent.get(e.entity, 0) + 1
        tickets = result.tickets
        assert len(tickets) == 1200
        ids = sorted(t.id for t in tickets)
        companies = {t.company.name for t in tickets}
        per_chunk = [
            sum(len(t.timeEntries) for t in tickets if t.id in set(ids[i : i + 500]))
            for i in range(0, len(ids), 500)
        ]
        assert sum(per_chunk) > 500  # some batch needs more than one page
        assert sent == {
            "Tickets": math.ceil(1200 / 500),
            "Companies": math.ceil(len(companies) / 500),
            # one batch per 500 ticket ids, each with the pages its time entries fill
            "TimeEntries": sum(max(1, math.ceil(k / 500)) for k in per_chunk),
        }
        assert result.requests == sum(sent.values())
        naive = 3 + 2 * 1200  # the tickets' pages, then a company and a time-entry query each
        assert naive / sum(sent.values()) >= 50
        direct = client.time_entries.query_all()
        assert sum(per_chunk) == len([te for te in direct if te.ticket_id in set(ids)])
