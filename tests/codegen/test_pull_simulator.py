"""`codegen pull` against the simulator reproduces schemas/ exactly: no drift, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.pull import pull
from py_autotask.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("pull-simulator")


def _files(tree: Path) -> dict[str, bytes]:
    """The snapshot's files (``source/`` holds codegen's inputs, which ``pull`` does not touch)."""
    return {
        str(p.relative_to(tree)): p.read_bytes()
        for p in sorted(tree.rglob("*.json"))
        if p.relative_to(tree).parts[0] != "source"
    }


def test_pull_from_the_simulator_reproduces_the_snapshot(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas, ignore=shutil.ignore_patterns("source"))
    # webhook_catalog="snapshot": the simulator serves the metadata exactly as the snapshot holds it
    # (by default it adds numbered fieldID/udfFieldID catalogs to <X>WebhookFields, which the
    # snapshot lacks, so that webhooks can be registered against it)
    with Simulator(profile=None, webhook_catalog="snapshot") as sim:
        env = {
            "AUTOTASK_USERNAME": sim.credentials["username"],
            "AUTOTASK_SECRET": sim.credentials["secret"],
            "AUTOTASK_INTEGRATION_CODE": sim.credentials["integration_code"],
        }
        text = pull(schemas, base_url=sim.url, env=env)
        requests = len(sim.journal())
    before, after = _files(ROOT / "schemas"), _files(schemas)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == []
    assert set(after) == set(before)
    assert requests >= 3 * 232  # entityInformation, fields and userDefinedFields of every entity
    assert env["AUTOTASK_SECRET"] not in text
