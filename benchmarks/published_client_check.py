"""Does a client written for the real Autotask API work against the simulator unchanged but for
the base URL? Checked with the published ``py-autotask==2.3.0`` from PyPI.

The script creates a SCRATCH virtual environment (a temporary directory; never a project
dependency), installs ``py-autotask==2.3.0`` into it, starts ``python -m py_autotask.simulator
serve --port 0`` in a subprocess and runs the 2.3.0 client against it through a get, a filtered
query, a create and an update. Every step is reported (request, status, result) next to what
the simulator journalled. 2.3.0 updates with ``PATCH /v1.0/{Entity}/{id}``, a route the real API
does not have (docs: the swagger's update is ``PATCH /v1.0/{Entity}`` with the id in the body), so a
404/405 there is the faithful answer, not a failure.

``--smoke``: installs the 2.3.0 wheel with ``--no-deps`` plus the two libraries its client
imports (requests, pydantic) and skips cleanly (exit 0) when PyPI is unreachable. ``--full``:
installs 2.3.0 with all its dependencies (~400 MB) and writes the transcript to
``docs/published-client-2.3.0.md`` (``--doc PATH`` to choose; ``--doc -`` for none).

Exit status: 0 when every answer was Autotask-shaped; 1 when the simulator crashed (process
died, an ``outcome: crash`` journal entry, a 5xx without ``errors[]``) or answered with a body
that is not an Autotask shape; 3 when ``--full`` cannot install the package. This file is
deliberately not named ``bench_*.py``: ``benchmarks/run.py`` must not pick it up (it needs network).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import venv
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "py-autotask==2.3.0"
DOC = ROOT / "docs" / "published-client-2.3.0.md"
SKIP_EXIT = 0
INSTALL_FAILED_EXIT = 3

# Runs inside the scratch venv: only the published client (plus requests, which it uses).
CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, traceback
    from py_autotask import AutotaskClient

    api_url, username, secret, code = sys.argv[1:5]
    steps = []
    current = {"requests": []}

    def hook(response, *args, **kwargs):
        req = response.request
        body = req.body.decode() if isinstance(req.body, bytes) else req.body
        current["requests"].append({
            "method": req.method,
            "url": req.url,
            "request_body": body,
            "status": response.status_code,
            "content_type": response.headers.get("content-type"),
            "body": response.text[:5000000],
        })

    client = AutotaskClient.create(
        username=username, integration_code=code, secret=secret, api_url=api_url
    )
    client.session.hooks["response"].append(hook)

    def step(name, call, fn):
        current["requests"] = []
        entry = {"step": name, "call": call}
        try:
            entry["result"] = fn()
            entry["ok"] = True
        except Exception as exc:
            entry["ok"] = False
            entry["exception"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        entry["requests"] = current["requests"]
        steps.append(entry)
        return entry.get("result")

    def get1():
        item = client.get("Tickets", 1)
        return {"id": item.get("id"), "title": item.get("title"), "fields": len(item)}

    seed = step("get", 'client.get("Tickets", 1)', get1) or {}

    def query():
        resp = client.query(
            "Tickets", filters=[{"op": "eq", "field": "status", "value": 1}], max_records=5
        )
        return {
            "items": len(resp.items),
            "statuses": sorted({i.get("status") for i in resp.items}),
            "nextPageUrl": resp.page_details.next_page_url,
        }

    step(
        "filtered query",
        'client.query("Tickets", filters=[{"op": "eq", "field": "status", "value": 1}], '
        "max_records=5)",
        query,
    )

    def create():
        item = client.get("Tickets", 1)
        fields = client.get_field_info("Tickets")["fields"]
        writable = {f["name"] for f in fields if not f.get("isReadOnly")}
        body = {k: v for k, v in item.items() if k in writable and v is not None}
        body["title"] = "Created by py-autotask 2.3.0"
        resp = client.create_entity("Tickets", body)
        return {"item_id": resp.item_id}

    created = step("create", 'client.create_entity("Tickets", {...writable fields of #1})', create)
    new_id = (created or {}).get("item_id") or 1

    def update():
        return client.update("Tickets", {"id": new_id, "title": "Updated by py-autotask 2.3.0"})

    step("update", f'client.update("Tickets", {{"id": {new_id}, "title": ...}})', update)

    def documented_update():
        r = client.session.patch(
            api_url.rstrip("/") + "/v1.0/Tickets",
            json={"id": new_id, "title": "Updated via PATCH /Tickets"},
            timeout=30,
        )
        after = client.get("Tickets", new_id) or {}
        return {"status": r.status_code, "body": r.json(), "title_now": after.get("title")}

    step(
        "update through the documented route (same 2.3.0 session)",
        f'client.session.patch(".../v1.0/Tickets", json={{"id": {new_id}, ...}})',
        documented_update,
    )
    print(json.dumps(steps))
    """
)


def _say(text: str) -> None:
    print(text, flush=True)


def make_venv(where: Path, smoke: bool) -> tuple[Path | None, str]:
    """Create the scratch venv and install 2.3.0; returns (python, pip output)."""
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
    installs = [[PACKAGE, "--no-deps"], ["requests", "pydantic>=2"]] if smoke else [[PACKAGE]]
    outputs = []
    for pkgs in installs:
        cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pkgs]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        outputs.append((proc.stdout + proc.stderr).strip())
        if proc.returncode != 0:
            return None, "\n".join(outputs)
    return python, "\n".join(outputs)


class Server:
    """``python -m py_autotask.simulator serve --port 0`` with its printed URL and credentials."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "py_autotask.simulator",
                "serve",
                "--port",
                "0",
                "--profile",
                "tiny",
                "--seed",
                "42",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        printed: dict[str, str] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        while len(printed) < 4 and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("Autotask simulator:"):
                printed["url"] = line.split(":", 1)[1].strip()
            elif ":" in line:
                key, _, value = line.strip().partition(": ")
                if key in ("UserName", "Secret", "ApiIntegrationCode"):
                    printed[key] = value
        if len(printed) < 4:
            self.stop()
            raise RuntimeError(f"the simulator did not print its URL and credentials: {printed}")
        self.url = printed["url"]  # .../ATServicesRest/V1.0/
        self.zone_url = self.url.rsplit("V1.0/", 1)[0]  # .../ATServicesRest/ (2.3.0's api_url)
        self.root = self.url.split("/ATServicesRest", 1)[0]
        self.username = printed["UserName"]
        self.secret = printed["Secret"]
        self.code = printed["ApiIntegrationCode"]

    def journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(self.root + "/_sim/journal", timeout=30).json()
        return entries

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def autotask_shaped(status: int, body: str) -> str | None:
    """None when ``body`` is one of the API's shapes for ``status``; else what is wrong."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"HTTP {status}: body is not JSON: {body[:120]!r}"
    if not isinstance(doc, dict):
        return f"HTTP {status}: body is not a JSON object"
    if status >= 400:
        errors = doc.get("errors")
        if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
            return None
        return f"HTTP {status} without an errors[] list of strings: {body[:200]}"
    if "items" in doc:
        details = doc.get("pageDetails")
        if isinstance(doc["items"], list) and isinstance(details, dict) and "count" in details:
            return None
        return "a query answer without items[] and pageDetails"
    if "item" in doc and (doc["item"] is None or isinstance(doc["item"], dict)):
        return None
    if isinstance(doc.get("itemId"), int):
        return None
    if "fields" in doc and isinstance(doc["fields"], list):
        return None
    return f"HTTP {status}: unexpected body {body[:200]}"


def _short(text: str | None, limit: int = 300) -> str:
    if text is None:
        return ""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} chars)"


def render(steps: list[dict[str, Any]], journal: list[dict[str, Any]], meta: dict[str, str]) -> str:
    lines = [
        "# The published py-autotask 2.3.0 client against the simulator",
        "",
        "Generated by `benchmarks/published_client_check.py --full` (do not edit by hand). The",
        "2.3.0 client from PyPI was installed into a scratch venv and pointed at "
        "`python -m py_autotask.simulator serve --profile tiny` with `api_url` = the",
        "simulator's `.../ATServicesRest/` and the simulator's printed credentials; "
        "nothing else was changed.",
        "",
        f"- Date: {meta['date']}",
        f"- Client: {meta['client']}",
        f"- Simulator: {meta['server']}",
        "",
        "| Step | 2.3.0 call | HTTP request(s) -> status | Result |",
        "|---|---|---|---|",
    ]
    for s in steps:
        reqs = "<br>".join(
            f"`{r['method']} {r['url'].split('/ATServicesRest', 1)[-1]}` -> {r['status']}"
            for r in s["requests"]
        )
        result = (
            json.dumps(s["result"], default=str)
            if s["ok"]
            else f"raised `{s.get('exception', '')}`"
        )
        lines.append(
            f"| {s['step']} | `{s['call']}` | {reqs} | {_short(result, 400).replace('|', '/')} |"
        )
    lines += ["", "## Responses (bodies truncated)", ""]
    for s in steps:
        lines.append(f"### {s['step']}")
        lines.append("")
        for r in s["requests"]:
            lines.append(f"- `{r['method']} {r['url']}` -> **{r['status']}**")
            if r.get("request_body"):
                lines.append(f"  - request body: `{_short(r['request_body'], 400)}`")
            lines.append(f"  - response: `{_short(r['body'], 400)}`")
        lines.append("")
    lines += [
        "## What the simulator journalled",
        "",
        "| # | Method | Path | Operation | Status | Outcome |",
        "|---|---|---|---|---|---|",
    ]
    for e in journal:
        lines.append(
            f"| {e['seq']} | {e['method']} | `{e['path']}` | {e.get('operation')} | "
            f"{e['status']} | {e['outcome']} |"
        )
    lines += [
        "",
        "## Reading it",
        "",
        "- get, the filtered query and the create are the real API's routes and work unchanged.",
        "- `client.update` sends `PATCH /v1.0/Tickets/{id}`. The Autotask REST API has no such",
        "  route (update is `PATCH /v1.0/Tickets` with the id in the body), so the simulator",
        "  rejects it: 405 \"does not support http method 'PATCH'\" (ASP.NET Web API's answer",
        "  when `/Tickets/{id}` exists for GET only; whether the live API says 404 or 405 is",
        "  unconfirmed, see docs/simulator.md) and 2.3.0 raises `AutotaskAPIError`. That is the",
        "  faithful outcome (the same defect was fixed in WYRE-AI/autotask-mcp PR #48), not a",
        "  simulator failure. The last step shows the documented route working through the same",
        "  2.3.0 session.",
        "- 2.3.0's `handle_api_error` reads `message`, so the simulator's `errors[]` text is lost",
        '  in its exception ("API error: HTTP 405"), as it would be against the live API.',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--venv", type=Path, default=None, help="reuse/create the venv here")
    parser.add_argument("--doc", default=None, help="transcript path ('-' for none)")
    args = parser.parse_args(argv)
    doc_path = (
        None if args.doc == "-" else Path(args.doc) if args.doc else (DOC if args.full else None)
    )

    with tempfile.TemporaryDirectory(prefix="py-autotask-2.3.0-") as tmp:
        where = args.venv or Path(tmp) / "venv"
        _say(f"== installing {PACKAGE} into a scratch venv at {where}")
        started = time.perf_counter()
        try:
            python, output = make_venv(where, args.smoke)
        except (subprocess.TimeoutExpired, OSError) as exc:
            python, output = None, repr(exc)
        if python is None:
            message = f"SKIP: cannot install {PACKAGE} (PyPI unreachable?): {_short(output, 600)}"
            _say(message)
            return SKIP_EXIT if args.smoke else INSTALL_FAILED_EXIT
        _say(f"   installed in {time.perf_counter() - started:.1f}s")
        version = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('py-autotask'))"],
            capture_output=True,
            text=True,
        ).stdout.strip()

        server = Server()
        try:
            _say(f"== simulator at {server.url} (2.3.0 api_url = {server.zone_url})")
            script = Path(tmp) / "client_230.py"
            script.write_text(CLIENT_SCRIPT)
            proc = subprocess.run(
                [
                    str(python),
                    str(script),
                    server.zone_url,
                    server.username,
                    server.secret,
                    server.code,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp,  # never import the repository's py_autotask
            )
            if proc.returncode != 0 or not proc.stdout.strip():
                _say(f"FAIL: the 2.3.0 client script broke:\n{proc.stdout}\n{proc.stderr}")
                return 1
            steps: list[dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
            alive = server.alive()
            journal = server.journal() if alive else []
        finally:
            server.stop()

    problems: list[str] = []
    if not alive:
        problems.append("the simulator process died")
    for s in steps:
        _say(f"-- {s['step']}: {s['call']}")
        for r in s["requests"]:
            _say(f"   {r['method']} {r['url']} -> {r['status']}  {_short(r['body'], 160)}")
            wrong = autotask_shaped(int(r["status"]), r["body"])
            if wrong:
                problems.append(f"{s['step']}: {wrong}")
        if s["ok"]:
            _say(f"   result: {_short(json.dumps(s['result'], default=str), 300)}")
        else:
            _say(f"   2.3.0 raised: {s.get('exception')}")
    for e in journal:
        if e.get("outcome") == "crash":
            problems.append(f"simulator crash on {e['method']} {e['path']}: {e.get('error')}")
    _say("== simulator journal")
    for e in journal:
        _say(
            f"   #{e['seq']} {e['method']} {e['path']} op={e.get('operation')} "
            f"-> {e['status']} {e['outcome']}"
        )
    if doc_path is not None:
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "client": f"py-autotask {version} (PyPI; "
            f"{'--no-deps + requests, pydantic' if args.smoke else 'full install'})",
            "server": f"py_autotask.simulator from this repository, {server.url}",
        }
        doc_path.write_text(render(steps, journal, meta))
        _say(f"== transcript written to {doc_path}")
    if problems:
        _say("FAIL:\n  " + "\n  ".join(problems))
        return 1
    _say("OK: every answer was Autotask-shaped and the simulator never crashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
