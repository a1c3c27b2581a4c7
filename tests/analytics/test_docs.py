"""docs/analytics.md's example runs as written on the demo tenant (its Python blocks, in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"


def test_the_docs_example_runs_on_the_demo_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 4
    namespace: dict[str, object] = {"__name__": "docs_analytics"}
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        sim = namespace.get("sim")
        if sim is not None:
            sim.stop()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "tickets created" in out and "customer_satisfaction: unavailable" in out
    assert "mean absolute error" in out and "the model beats the baseline" in out
    assert "ticketCategory" in out and "server_issue" in out
    assert re.search(r"\d+\.\d h \(80 % interval", out)
