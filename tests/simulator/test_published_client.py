"""The published py-autotask 2.3.0 client (PyPI, scratch venv) against the simulator.

Runs ``benchmarks/published_client_check.py --smoke``; skipped when the 2.3.0 wheel cannot be
installed (no network / PyPI unreachable). Marked slow: a pip install plus a server start
(~30-60 s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_published_230_client_works_unchanged_but_for_the_base_url() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.published_client_check", "--smoke", "--doc", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    if "SKIP:" in proc.stdout:
        pytest.skip(proc.stdout.strip().splitlines()[-1][:300])
    assert proc.returncode == 0, out
    assert "OK: every answer was Autotask-shaped" in out
    # get, filtered query and create succeed through the real routes ...
    assert "POST http" in out and "/v1.0/Tickets -> 200" in out
    # ... and 2.3.0's PATCH /Tickets/{id} gets the API's unsupported-method answer
    assert "does not support http method 'PATCH'" in out
