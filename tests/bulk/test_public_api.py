"""The public surface of py_autotask.bulk is its __all__; every name resolves."""

from __future__ import annotations

import py_autotask.bulk as bulk
from py_autotask import AsyncAutotaskClient, AutotaskClient


def test_bulk_all_is_complete_and_importable():
    assert len(set(bulk.__all__)) == len(bulk.__all__)
    for name in bulk.__all__:
        assert getattr(bulk, name) is not None
    public = {
        n
        for n in vars(bulk)
        if n.isidentifier() and not n.startswith("_") and n not in {"annotations", "cli"}
    }
    assert public - set(bulk.__all__) == set()


def test_clients_create_bulk_managers(sim):
    with AutotaskClient(**{**sim.credentials, "api_url": sim.url}) as client:
        manager = client.create_bulk_manager(max_concurrent=2)
        assert isinstance(manager, bulk.BulkManager) and manager.max_concurrent == 2
    assert isinstance(
        AsyncAutotaskClient(**{**sim.credentials, "api_url": sim.url}).create_bulk_manager(),
        bulk.AsyncBulkManager,
    )
