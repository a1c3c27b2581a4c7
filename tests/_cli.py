"""The ``py-autotask`` command line in a child process (``python -m py_autotask.cli``), with this
checkout first on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_env(sim_environ: Mapping[str, str], home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI child: the simulator's credentials, config and bulk journals
    under ``home``, this checkout on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTASK_")}
    return {
        **env,
        **sim_environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
        "PY_AUTOTASK_CONFIG_DIR": str(home / "config"),
        "PY_AUTOTASK_BULK_DIR": str(home / "journals"),
        **extra,
    }


def run_cli(
    *args: str, env: Mapping[str, str], timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "py_autotask.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
