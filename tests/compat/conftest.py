"""A simulated tenant shaped like the one py-autotask 2.3.0's README assumes.

Its API user is the README's own (``user@example.com`` / ``YOUR_INTEGRATION_CODE`` /
``YOUR_SECRET``), and it holds the records the README names: ticket 12345, companies 123 and
12345 (copies of seeded records under those ids). One simulator per test module (parallel-safe).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from py_autotask.simulator import ApiUser, Simulator, SimulatorConfig

README_USERNAME = "user@example.com"
README_INTEGRATION_CODE = "YOUR_INTEGRATION_CODE"
README_SECRET = "YOUR_SECRET"
TICKET_TITLE = "Printer on the 3rd floor is jammed"


def _put_copy(sim: Simulator, collection: str, source_id: int, new_id: int, **changes: Any) -> None:
    meta = sim.state.schema.entity(collection)
    assert meta is not None
    record = copy.deepcopy(sim.state.store.get(meta, source_id))
    assert record is not None, f"{collection} {source_id} is not seeded"
    record.update(changes, id=new_id)
    sim.state.store.put(meta, record)


def start_readme_tenant() -> Simulator:
    config = SimulatorConfig(
        users=[ApiUser(README_USERNAME, README_SECRET)],
        integration_codes=[README_INTEGRATION_CODE],
    )
    sim = Simulator(profile="tiny", seed=42, config=config).start()
    _put_copy(sim, "Companies", 1, 123, companyName="Contoso 123", isActive=True)
    _put_copy(sim, "Companies", 1, 12345, companyName="Contoso 12345", isActive=True)
    _put_copy(sim, "Tickets", 1, 12345, title=TICKET_TITLE, companyID=12345)
    return sim


@pytest.fixture(scope="module")
def readme_sim() -> Iterator[Simulator]:
    sim = start_readme_tenant()
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def readme_env(readme_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Only the environment points at the simulator."""
    env = {
        "AUTOTASK_USERNAME": README_USERNAME,
        "AUTOTASK_INTEGRATION_CODE": README_INTEGRATION_CODE,
        "AUTOTASK_SECRET": README_SECRET,
        "AUTOTASK_API_URL": readme_sim.url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def client_kwargs(sim: Simulator) -> dict[str, Any]:
    """Client keyword arguments for ``sim`` (its API user and URL)."""
    return {**sim.credentials, "api_url": sim.url}
