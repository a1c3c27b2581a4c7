"""Per-call impersonation (``client.impersonating(...)``) against the simulator, which records the
impersonated resource as ``creatorResourceID`` and the API user as
``impersonatorCreatorResourceID``, like Autotask."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from py_autotask import AsyncAutotaskClient, AutotaskClient
from py_autotask.exceptions import AutotaskConfigError
from tests.runtime.conftest import BASE, INTEGRATION_CODE, SECRET, USERNAME, Recorder, json_response

simulator = pytest.importorskip("py_autotask.simulator")
pytest.importorskip("py_autotask_generated._client_mixin")


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=5, profile="tiny", hourly_threshold=1_000_000) as s:
        yield s


@pytest.fixture(scope="module")
def facts(sim: Any) -> dict[str, int]:
    with AutotaskClient(**sim.credentials) as client:
        resources = [r.id for r in client.resources.query(max_records=3).items]
        company = client.companies.query(max_records=1).items[0].id
    assert len(resources) == 3 and company is not None
    return {
        "api_user": sim.config.users[0].resource_id,
        "a": resources[0],
        "b": resources[1],
        "c": resources[2],
        "company": company,
    }


def _ticket(company: int, title: str) -> dict[str, Any]:
    return {"companyID": company, "title": title, "status": 1, "priority": 2}


def _creator(client: AutotaskClient, ticket_id: int) -> tuple[Any, Any]:
    ticket = client.tickets.get(ticket_id)
    assert ticket is not None
    data = ticket.model_dump(by_alias=True)
    return data["creatorResourceID"], data["impersonatorCreatorResourceID"]


def test_block_scoped_impersonation_sets_creator_fields(sim: Any, facts: dict[str, int]) -> None:
    with AutotaskClient(**sim.credentials) as client:
        plain = client.tickets.create(_ticket(facts["company"], "as the API user"))
        with client.impersonating(facts["a"]):
            as_a = client.tickets.create(_ticket(facts["company"], "as resource a"))
            with client.impersonating(facts["b"]):  # nesting: the inner one wins
                as_b = client.tickets.create(_ticket(facts["company"], "as resource b"))
            as_a_again = client.tickets.create(_ticket(facts["company"], "a again"))
        after = client.tickets.create(_ticket(facts["company"], "after the block"))
        assert _creator(client, plain) == (facts["api_user"], None)
        assert _creator(client, as_a) == (facts["a"], facts["api_user"])
        assert _creator(client, as_b) == (facts["b"], facts["api_user"])
        assert _creator(client, as_a_again) == (facts["a"], facts["api_user"])
        assert _creator(client, after) == (facts["api_user"], None)


def test_block_overrides_the_client_wide_resource(sim: Any, facts: dict[str, int]) -> None:
    with AutotaskClient(**sim.credentials, impersonation_resource_id=facts["a"]) as client:
        default = client.tickets.create(_ticket(facts["company"], "client-wide"))
        with client.impersonating(facts["c"]):
            other = client.tickets.create(_ticket(facts["company"], "block"))
        with client.impersonating(None):
            itself = client.tickets.create(_ticket(facts["company"], "as API user"))
        assert _creator(client, default) == (facts["a"], facts["api_user"])
        assert _creator(client, other) == (facts["c"], facts["api_user"])
        assert _creator(client, itself) == (facts["api_user"], None)


def test_threads_do_not_see_each_others_impersonation(sim: Any, facts: dict[str, int]) -> None:
    results: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)
    with AutotaskClient(**sim.credentials) as client:

        def work(who: str) -> None:
            with client.impersonating(facts[who]):
                barrier.wait()
                for n in range(5):
                    results[who].append(
                        client.tickets.create(_ticket(facts["company"], f"{who}{n}"))
                    )

        threads = [threading.Thread(target=work, args=(w,)) for w in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for who, ids in results.items():
            assert len(ids) == 5
            assert {_creator(client, i)[0] for i in ids} == {facts[who]}


def test_async_tasks_each_keep_their_own(sim: Any, facts: dict[str, int]) -> None:
    async def scenario() -> dict[str, list[int]]:
        async with AsyncAutotaskClient(**sim.credentials) as client:

            async def work(who: str) -> list[int]:
                with client.impersonating(facts[who]):
                    ids = []
                    for n in range(4):
                        ids.append(
                            await client.tickets.create(_ticket(facts["company"], f"{who}{n}"))
                        )
                        await asyncio.sleep(0)
                    return ids

            a, b = await asyncio.gather(work("a"), work("b"))
            plain = await client.tickets.create(_ticket(facts["company"], "plain"))
            return {"a": a, "b": b, "api_user": [plain]}

    results = asyncio.run(scenario())
    with AutotaskClient(**sim.credentials) as client:
        for who, ids in results.items():
            assert {_creator(client, i)[0] for i in ids} == {facts[who]}, who


def test_header_on_the_wire_and_bad_ids() -> None:
    rec = Recorder(lambda r: json_response(200, {"majorVersion": "1"}))
    with AutotaskClient(
        USERNAME, SECRET, INTEGRATION_CODE, BASE, transport=httpx.MockTransport(rec)
    ) as client:
        client.raw_request("GET", "Version")
        with client.impersonating(42):
            client.raw_request("GET", "Version")
        for bad in (0, -3, True, "7"):
            with pytest.raises(AutotaskConfigError), client.impersonating(bad):  # type: ignore[arg-type]
                pass
        assert "impersonat" not in repr(client).lower()
    assert "ImpersonationResourceId" not in rec.requests[0].headers
    assert rec.requests[1].headers["ImpersonationResourceId"] == "42"
