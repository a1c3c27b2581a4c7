"""A receiver killed with SIGKILL after acknowledging loses nothing and runs each event once; the
ASGI app mounts under a prefix in a Starlette application served by uvicorn."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from py_autotask.webhooks import EventQueue, WebhookEvent, WebhookServer

from .helpers import SECRET, LoopThread, body_of, payload, post, wait_for

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _child(queue: Path, out: Path, gate: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "generated"), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks._child", str(queue), str(out), str(gate)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read() if proc.stderr else url
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def _handled(out: Path) -> list[tuple[str, int, int]]:
    if not out.exists():
        return []
    with sqlite3.connect(out) as db:
        return [tuple(r) for r in db.execute("SELECT key, record, seq FROM handled ORDER BY rowid")]


def test_sigkill_after_the_acknowledgement_loses_nothing_and_runs_each_event_once(
    tmp_path: Path,
) -> None:
    queue, out, gate = tmp_path / "queue.db", tmp_path / "handled.db", tmp_path / "gate"
    bodies = [body_of(payload(n % 7, sequence=n, fields={"n": n})) for n in range(1, 61)]
    with _child(queue, out, gate) as (proc, url), httpx.Client(timeout=10) as client:
        for body in bodies:
            assert post(url, body, client=client).status_code == 200
        proc.send_signal(signal.SIGKILL)  # acknowledged, handlers not finished (gate closed)
        proc.wait(10)
    assert _handled(out) == []
    gate.touch()
    with _child(queue, out, gate) as (_proc, url):
        wait_for(lambda: len(_handled(out)) >= 60, timeout=30)
        assert post(url, bodies[0]).json()["duplicate"] is True  # a replay after the restart
        wait_for(lambda: EventQueue(queue).counts()["done"] == 60, timeout=10)
    rows = _handled(out)
    assert sorted(seq for _key, _record, seq in rows) == list(range(1, 61))  # each exactly once
    for record in range(7):  # and in order per record
        seqs = [seq for _key, rec, seq in rows if rec == record]
        assert seqs == sorted(seqs)


def test_the_app_mounts_under_a_prefix_in_starlette(tmp_path: Path) -> None:
    server = WebhookServer(port=0, secret_key=SECRET, queue=tmp_path / "q.db")
    got: list[WebhookEvent] = []
    server.handler("ticket.created")(got.append)

    async def health(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/health", health), Mount("/hooks/autotask", app=server.app)])
    loop = LoopThread()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    serving = asyncio.run_coroutine_threadsafe(uv.serve(), loop.loop)
    try:
        wait_for(lambda: uv.started)
        port = uv.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").text == "ok"
        body = body_of(payload(11, action="Create"))
        assert post(f"{base}/hooks/autotask/", body, secret="wrong").status_code == 401
        assert post(f"{base}/hooks/autotask/", body).status_code == 200
        wait_for(lambda: len(got) == 1)
        assert got[0].id == 11 and got[0].topic == "ticket.created"
    finally:
        uv.should_exit = True
        serving.result(10)
        loop.call(server.stop())
        loop.close()


def test_run_serves_until_sigterm_then_stops_cleanly(tmp_path: Path) -> None:
    queue, out = tmp_path / "queue.db", tmp_path / "handled.txt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "generated")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks._child", str(queue), str(out), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
                break
        assert url.startswith("http://127.0.0.1:"), url
        assert post(url, body_of(payload(3, sequence=77))).status_code == 200
        wait_for(lambda: out.exists() and out.read_text().strip() != "")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert out.read_text().splitlines() == [f"{payload()['Guid']}|seq|77"]
    assert EventQueue(queue).counts()["done"] == 1
