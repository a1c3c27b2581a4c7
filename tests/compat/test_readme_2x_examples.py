"""Every Python example of py-autotask 2.3.0's README runs unchanged against the simulator, with
only the environment pointing at it, and does what the README says (checked in the simulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from py_autotask.simulator import Simulator

from .conftest import TICKET_TITLE

pytestmark = pytest.mark.xdist_group("compat-readme")

EXAMPLES = Path(__file__).parent / "readme_2x_examples"
MANIFEST: dict[str, Any] = json.loads((EXAMPLES / "examples.json").read_text())
BY_FILE = {e["file"]: e for e in MANIFEST["examples"]}
REPORT = "\nimport json as _j, sys as _s\nprint('@@' + _j.dumps({k: repr(v) for k, v in globals().items() if k in _s.argv[1:]}))\n"


def run_example(
    file: str, env: dict[str, str], cwd: Path, report: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run one README example (after the blocks it continues, plus its prelude) in a fresh
    interpreter; DeprecationWarnings are shown (``-W always``) so the test can check them."""
    example = BY_FILE[file]
    parts = [example.get("prelude") or ""]
    for before in example["runs_after"]:
        name, _, lines = before.partition(":")
        text = (EXAMPLES / name).read_text()
        if lines:
            first, last = (int(n) for n in lines.split("-"))
            text = "".join(text.splitlines(keepends=True)[first - 1 : last])
        parts.append(text)
    parts.append((EXAMPLES / file).read_text())
    script = "\n".join(parts) + (REPORT if report else "")
    full_env = {**os.environ, **env, "PYTHONWARNINGS": "always::DeprecationWarning"}
    return subprocess.run(
        [sys.executable, "-c", script, *report],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def reported(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    line = next(line for line in result.stdout.splitlines() if line.startswith("@@"))
    return json.loads(line[2:])  # type: ignore[no-any-return]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def contacts_named(sim: Simulator, first: str, last: str) -> list[dict[str, Any]]:
    import httpx

    body = {
        "filter": [
            {"op": "eq", "field": "firstName", "value": first},
            {"op": "eq", "field": "lastName", "value": last},
        ]
    }
    response = httpx.post(sim.url + "Contacts/query", headers=sim.headers, json=body)
    response.raise_for_status()
    return response.json()["items"]  # type: ignore[no-any-return]


def test_manifest_covers_every_python_block_of_the_readme() -> None:
    readme = (EXAMPLES / "README-2.3.0.md.txt").read_text()
    blocks = readme.split("```python\n")[1:]
    assert len(blocks) == len(MANIFEST["examples"]) == 7
    for block, example in zip(blocks, MANIFEST["examples"], strict=True):
        assert block.split("```")[0] == (EXAMPLES / example["file"]).read_text()


MISSING_IS_ACTIVE = "Missing Required Field: isActive."


def active_company_ids(sim: Simulator) -> list[int]:
    import httpx

    body = {"filter": [{"op": "eq", "field": "isActive", "value": True}]}
    response = httpx.post(sim.url + "Companies/query", headers=sim.headers, json=body)
    response.raise_for_status()
    return sorted(c["id"] for c in response.json()["items"])


def test_basic_usage(readme_sim: Simulator, readme_env: dict[str, str], tmp_path: Path) -> None:
    """Runs unchanged up to the contact: the ticket is read and printed, the companies query
    (string "true" on a boolean) is converted with a warning and answers the active companies.
    The contact create then fails with Autotask's own words, because Autotask requires
    Contacts.isActive (live-tenant field metadata) and the README does not send it; 2.3.0 gets the
    same answer from a real tenant."""
    readme_sim.clear_journal()
    result = run_example("01_basic_usage.py.txt", readme_env, tmp_path)
    assert result.stdout == f"Ticket: {TICKET_TITLE}\n"
    assert "Companies.isActive is a boolean field: the string 'true' was sent as true" in (
        result.stderr
    )
    assert result.stderr.count("DeprecationWarning") == 1, result.stderr
    queries = readme_sim.journal(entity="Companies", operation="query")
    assert [q.status for q in queries] == [200]
    active = active_company_ids(readme_sim)
    assert {123, 12345} <= set(active)
    assert queries[0].record_count == len(active)
    assert result.returncode == 1
    assert "py_autotask.exceptions.AutotaskValidationError" in result.stderr
    assert MISSING_IS_ACTIVE in result.stderr
    assert contacts_named(readme_sim, "John", "Doe") == []


def test_basic_usage_with_is_active_creates_the_contact(
    readme_sim: Simulator, readme_env: dict[str, str], tmp_path: Path
) -> None:
    """The same block with the one field Autotask requires added (``"isActive": 1``)."""
    code = (EXAMPLES / "01_basic_usage.py.txt").read_text()
    patched = code.replace('"companyID": 12345\n', '"companyID": 12345, "isActive": 1\n')
    assert patched != code
    script = patched + REPORT
    result = subprocess.run(
        [sys.executable, "-c", script, "new_contact", "companies"],
        env={**os.environ, **readme_env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ok(result)
    seen = reported(result)
    new_id = int(seen["new_contact"])
    created = contacts_named(readme_sim, "John", "Doe")
    assert [(c["id"], c["companyID"], c["emailAddress"]) for c in created] == [
        (new_id, 12345, "john.doe@example.com")
    ]
    assert "Contoso 12345" in seen["companies"]


def test_environment_variables(readme_env: dict[str, str], tmp_path: Path) -> None:
    result = ok(run_example("02_environment_variables.py.txt", readme_env, tmp_path, ("client",)))
    assert result.stderr == ""
    assert readme_env["AUTOTASK_API_URL"] in reported(result)["client"]


def test_error_handling(readme_env: dict[str, str], tmp_path: Path) -> None:
    result = ok(run_example("03_error_handling.py.txt", readme_env, tmp_path, ("ticket",)))
    # No error: nothing printed, and the ticket was read.
    assert result.stdout.splitlines()[:-1] == []
    assert TICKET_TITLE in reported(result)["ticket"]


def test_error_handling_with_wrong_secret(readme_env: dict[str, str], tmp_path: Path) -> None:
    # The same block, with a secret the tenant rejects: 01 fails on its first call, so run 03
    # after a client built from the environment instead.
    env = {**readme_env, "AUTOTASK_SECRET": "wrong-secret"}
    example = (EXAMPLES / "03_error_handling.py.txt").read_text()
    script = (
        "from py_autotask import AutotaskClient\nclient = AutotaskClient.from_env()\n" + example
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Authentication failed - check credentials\n"


def test_batch_operations(
    readme_sim: Simulator, readme_env: dict[str, str], tmp_path: Path
) -> None:
    """Runs unchanged after 01's client creation; like 01's, its creates omit Contacts.isActive,
    which Autotask requires: the first create answers Autotask's own "Missing Required Field:
    isActive." and nothing is created."""
    result = run_example("04_batch_operations.py.txt", readme_env, tmp_path)
    assert result.returncode == 1 and MISSING_IS_ACTIVE in result.stderr
    assert contacts_named(readme_sim, "Jane", "Smith") == []


def test_request_configuration(readme_env: dict[str, str], tmp_path: Path) -> None:
    result = ok(
        run_example("05_request_configuration.py.txt", readme_env, tmp_path, ("client", "config"))
    )
    assert "RequestConfig is the py-autotask 2.x settings object" in result.stderr
    assert "timeout=60" in result.stderr and "max_retries=5" in result.stderr
    assert readme_env["AUTOTASK_API_URL"] in reported(result)["client"]


def test_logging(readme_env: dict[str, str], tmp_path: Path) -> None:
    ok(run_example("06_logging.py.txt", readme_env, tmp_path))
    assert (tmp_path / "autotask.log").exists()


def test_migration_from_autotask_node(readme_env: dict[str, str], tmp_path: Path) -> None:
    result = ok(run_example("07_migration_from_autotask_node.py.txt", readme_env, tmp_path))
    assert result.stdout == f"{TICKET_TITLE}\n"
    assert result.stderr == ""
