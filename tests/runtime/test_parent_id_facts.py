"""A parent id field codegen took from codegen/overrides.json routes real requests: a task
predecessor created with only its ``successorTaskID`` goes through ``Tasks/{id}/Predecessors`` of
that task, and is listed there (against the simulator, which serves the same schemas/ facts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.exceptions import AutotaskConfigError

simulator = pytest.importorskip("py_autotask.simulator")


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with simulator.Simulator(seed=5, profile="tiny", hourly_threshold=1_000_000) as s:
        yield s


def test_a_task_predecessor_is_created_and_listed_under_its_successor(sim: Any) -> None:
    with AutotaskClient(**sim.credentials) as client:
        first, second, third = (t.id for t in client.tasks.query(max_records=3).items)
        assert first is not None and second is not None and third is not None
        listed_before = {p.id for p in client.tasks.predecessors(third).query_all()}
        sim.clear_journal()
        new_id = client.task_predecessors.create(
            {"successorTaskID": third, "predecessorTaskID": second, "lagDays": 2}
        )
        (post,) = [e for e in sim.journal(method="POST") if e.operation == "create"]
        assert post.path.endswith(f"/V1.0/Tasks/{third}/Predecessors")
        under_third = {p.id: p for p in client.tasks.predecessors(third).query_all()}
        assert set(under_third) == listed_before | {new_id}
        assert under_third[new_id].successor_task_id == third
        assert under_third[new_id].lag_days == 2
        assert new_id not in {p.id for p in client.tasks.predecessors(first).query_all()}
        # a parent_id that contradicts the record's successorTaskID is refused before sending
        with pytest.raises(AutotaskConfigError, match="successorTaskID"):
            client.task_predecessors.create(
                {"successorTaskID": third, "predecessorTaskID": second}, parent_id=first
            )
