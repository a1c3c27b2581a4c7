"""A SQL source (``bulk-create --sql``, ``sync --from sql --connection``) that cannot be read is one
line naming the URL (password hidden) and what to do, exit 2, before any request: an uninstalled
driver (was ``ModuleNotFoundError: No module named 'MySQLdb'``, exit 1), a malformed URL (was
SQLAlchemy's ``ArgumentError``, exit 1), an in-memory database (nothing to read), a dialect
SQLAlchemy does not know, and a database that refuses the connection (was three lines ending in a
link to SQLAlchemy's docs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=3) as s:
        yield s


CASES = [
    ("mysql://app:hunter22@db.example/crm", "needs the MySQLdb module", "pip install"),
    ("sqlite://", "in-memory database", "name a file"),
    ("notaurl", "malformed database URL", "sqlite:///"),
    ("foo://x/y", "unsupported database kind 'foo'", "postgresql://"),
    ("postgresql://app:hunter22@127.0.0.1:1/crm", "Connection refused", "cannot read rows"),
]


@pytest.mark.parametrize(("url", "what", "todo"), CASES)
def test_a_sql_source_it_cannot_read_is_one_line(
    sim: Simulator, tmp_path: Path, url: str, what: str, todo: str
) -> None:
    sim.reset()
    env = cli_env(sim.environ, tmp_path)
    result = run_cli("bulk-create", "tickets", "--sql", url, "--table", "t", "-q", env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and what in lines[0] and todo in lines[0], result.stderr
    assert "hunter22" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert [e for e in sim.journal() if e.operation == "create"] == []


def test_sync_push_checks_its_source_the_same_way(sim: Simulator, tmp_path: Path) -> None:
    env = cli_env(sim.environ, tmp_path)
    result = run_cli(
        "sync", "Tickets", "--from", "sql", "--to", "autotask",
        "--connection", "mysql://app:hunter22@db.example/crm", "--table", "t", env=env,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "needs the MySQLdb module" in lines[0], result.stderr
    assert "hunter22" not in result.stderr
