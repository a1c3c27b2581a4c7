"""The example plugin package (examples/notifier-plugin), installed with pip into a folder on
the child's PYTHONPATH: discovered through its entry point, listed, disabled and enabled by
``py-autotask plugins``, and called by a real ``py-autotask sync`` run, POSTing its message to
an HTTP server of the test."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.cli._credentials import PluginState
from py_autotask.simulator import Simulator
from tests._cli import ROOT, cli_env, run_cli

EXAMPLE = ROOT / "examples" / "notifier-plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"),
            *("--target", str(target), str(EXAMPLE)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


class Inbox:
    """A local HTTP server recording the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                inbox.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.close()


def _env(sim: Simulator, home: Path, installed: Path, **extra: str) -> dict[str, str]:
    env = cli_env(sim.environ, home, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(installed), env["PYTHONPATH"]])
    return env


def _listed(env: dict[str, str]) -> list[dict[str, Any]]:
    result = run_cli("plugins", "list", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_the_example_is_discovered_listed_disabled_and_enabled(
    sim: Simulator, installed: Path, tmp_path: Path
) -> None:
    env = _env(sim, tmp_path, installed)
    (row,) = _listed(env)
    assert row == {
        "name": "notifier",
        "version": "1.0.0",
        "enabled": True,
        "source": "entrypoint:py-autotask-notifier",
        "hooks": "on_record_created, on_record_deleted, on_record_updated",
        "error": None,
    }
    state = tmp_path / "config" / "plugins.json"
    result = run_cli("plugins", "disable", "notifier", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(state.read_text()) == {"disabled": ["notifier"]}
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    info = run_cli("plugins", "info", "notifier", env=env)
    assert "enabled: False" in info.stdout and "version: 1.0.0" in info.stdout
    assert run_cli("plugins", "enable", "notifier", env=env).returncode == 0
    assert json.loads(state.read_text()) == {"disabled": []}


def test_an_unknown_plugin_name_is_a_usage_error_that_writes_nothing(
    sim: Simulator, installed: Path, tmp_path: Path
) -> None:
    env = _env(sim, tmp_path, installed)
    sim.clear_journal()
    for command in ("enable", "info"):
        result = run_cli("plugins", command, "notifer", env=env)
        assert result.returncode == 2
        assert "no installed plugin named 'notifer' (installed: notifier)" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "config").exists()
    assert sim.journal() == []


def test_a_sync_run_makes_the_enabled_example_post_each_change_once(
    sim: Simulator, installed: Path, tmp_path: Path, inbox: Inbox
) -> None:
    env = _env(sim, tmp_path, installed, PY_AUTOTASK_NOTIFIER_URL=inbox.url)
    db = f"sqlite:///{tmp_path / 'mirror.db'}"
    first = run_cli("sync", "Tickets", "--db", db, env=env)
    assert first.returncode == 0, first.stderr
    assert inbox.bodies == []  # a full load is no change
    with AutotaskClient(**sim.credentials) as client:
        ticket = client.tickets.query(max_records=1).items[0]
        tid, old = int(ticket.id), int(ticket.priority)
        new = 1 if old != 1 else 2
        client.tickets.update({"id": tid, "priority": new})
    second = run_cli("sync", "Tickets", "--db", db, env=env)
    assert second.returncode == 0, second.stderr
    assert inbox.bodies == [
        {
            "plugin": "notifier",
            "event": "updated",
            "entity": "Tickets",
            "id": tid,
            "old": {"priority": old},
            "new": {"priority": new},
            "text": f"Tickets {tid} updated: priority {old} -> {new}",
        }
    ]
    assert "Traceback" not in first.stderr + second.stderr


def test_a_bulk_update_run_posts_each_change_with_its_old_value_unless_disabled(
    sim: Simulator, installed: Path, tmp_path: Path, inbox: Inbox
) -> None:
    env = _env(sim, tmp_path, installed, PY_AUTOTASK_NOTIFIER_URL=inbox.url)
    with AutotaskClient(**sim.credentials) as client:
        ticket = client.tickets.query(max_records=1).items[0]
    tid, old = int(ticket.id), int(ticket.priority)
    new = 3 if old != 3 else 2
    rows = tmp_path / "rows.csv"
    # disabled in the config (as `plugins disable` writes it): the change is not posted
    PluginState(tmp_path / "config" / "plugins.json").set_enabled("notifier", False)
    rows.write_text(f"id,priority\n{tid},{new}\n")
    result = run_cli("bulk", "update", "Tickets", "--csv", str(rows), env=env)
    assert result.returncode == 0, result.stderr
    assert inbox.bodies == []
    PluginState(tmp_path / "config" / "plugins.json").set_enabled("notifier", True)
    rows.write_text(f"id,priority\n{tid},{old}\n")
    result = run_cli("bulk", "update", "Tickets", "--csv", str(rows), env=env)
    assert result.returncode == 0, result.stderr
    assert [(b["event"], b["id"], b["old"], b["new"]) for b in inbox.bodies] == [
        ("updated", tid, {"priority": new}, {"priority": old})
    ]
