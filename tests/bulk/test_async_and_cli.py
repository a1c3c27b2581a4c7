"""The async twin, and the CLI commands (exit codes, dry run, resume, undo, estimate, status)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from typer.testing import CliRunner

from py_autotask import AsyncAutotaskClient
from py_autotask.bulk import AsyncBulkManager, BulkJournal
from py_autotask.cli._bulk import bulk_app, bulk_create_command, bulk_update_command
from py_autotask.resilience import PacingConfig
from tests.bulk.conftest import thread_rejections, ticket_base, tickets_with_token, writes


def test_async_create_update_undo_with_max_concurrent(sim, client, tmp_path):
    base = ticket_base(client)
    sim.add_fault(
        match={"method": "POST", "operation": "create"},
        effect={"type": "commit_then_drop"},
        probability=0.1,
    )

    async def run() -> None:
        async with AsyncAutotaskClient(
            **{**sim.credentials, "api_url": sim.url}, pacing=PacingConfig(enabled=False)
        ) as ac:
            bulk = ac.create_bulk_manager(journal_dir=tmp_path)
            assert isinstance(bulk, AsyncBulkManager)
            seen: list[float] = []
            created = await bulk.bulk_create(
                "tickets",
                [{**base, "title": f"async {i}"} for i in range(120)],
                max_concurrent=3,
                progress_callback=seen.append,
            )
            assert created.exit_code == 0 and created.counts()["ok"] == 120
            assert seen and seen[-1] == 100.0
            job_id = BulkJournal.open(created.journal_path).meta["job_id"]
            found = tickets_with_token(sim, f"pyat-{job_id}-")
            assert len(found) == 120 and all(len(v) == 1 for v in found.values())
            updated = await bulk.bulk_update(
                "tickets",
                [{"id": i, "title": f"async edit {i}"} for i in created.ids],
                max_concurrent=2,
            )
            assert updated.counts()["ok"] == 120 and updated.requests["prefetch"] == 1
            undone = await bulk.undo(updated.journal_path)
            assert undone.counts()["ok"] == 120
            titles = {
                t.id: t.title
                for t in await ac.tickets.query_all(
                    {"op": "in", "field": "id", "value": created.ids}
                )
            }
            assert all(titles[i] == f"async {n}" for n, i in enumerate(created.ids))

    asyncio.run(run())
    assert thread_rejections(sim) == 0


def _cred_args(sim) -> list[str]:
    c = sim.credentials
    return [
        "--api-url",
        sim.url,
        "--username",
        c["username"],
        "--secret",
        c["secret"],
        "--integration-code",
        c["integration_code"],
        "-q",
    ]


def _app():
    import typer

    app = typer.Typer()
    app.add_typer(bulk_app, name="bulk")
    app.command("bulk-update")(bulk_update_command)
    app.command("bulk-create")(bulk_create_command)
    return app


def test_cli_bulk_update_dry_run_then_real_run_then_undo(sim, client, tmp_path):
    tickets = client.tickets.query(max_records=3, include_fields=["id", "title"]).items
    path = tmp_path / "updates.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "priority"])
        for t in tickets:
            w.writerow([t.id, f"cli {t.id}", ""])
        w.writerow([tickets[0].id + 100000, "missing", "99"])
    runner = CliRunner()
    app = _app()
    sim.clear_journal()
    out = runner.invoke(
        app,
        [
            "bulk-update",
            "tickets",
            "--csv",
            str(path),
            "--batch-size",
            "500",
            "--dry-run",
            *_cred_args(sim),
        ],
    )
    assert out.exit_code == 5, out.output
    assert "row 4 priority" in out.output and "dry run" in out.output
    assert writes(sim) == []
    good = tmp_path / "good.csv"
    good.write_text(
        "\n".join(path.read_text(encoding="utf-8").splitlines()[:4]) + "\n", encoding="utf-8"
    )
    journal = tmp_path / "upd.sqlite"
    out = runner.invoke(
        app,
        ["bulk-update", "tickets", "--csv", str(good), "--journal", str(journal), *_cred_args(sim)],
    )
    assert out.exit_code == 0, out.output
    assert client.tickets.get(tickets[0].id).title == f"cli {tickets[0].id}"  # type: ignore[union-attr]
    out = runner.invoke(app, ["bulk", "status", str(journal)])
    assert out.exit_code == 0 and '"done": 3' in out.output
    out = runner.invoke(app, ["bulk", "undo", str(journal), *_cred_args(sim)])
    assert out.exit_code == 0, out.output
    assert client.tickets.get(tickets[0].id).title == tickets[0].title  # type: ignore[union-attr]


def test_cli_bad_encoding_is_a_usage_error_and_partial_failure_is_exit_5(sim, client, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("title,companyID,status,priority\nCaf\xe9,1,1,1\n".encode("cp1252"))
    runner = CliRunner()
    out = runner.invoke(_app(), ["bulk-create", "tickets", "--csv", str(bad), *_cred_args(sim)])
    assert out.exit_code == 2 and "encoding" in out.output
    base = ticket_base(client)
    ok = tmp_path / "mixed.csv"
    ok.write_text(
        "title,companyID,status,priority,estimatedHours\n"
        f"fine,{base['companyID']},{base['status']},{base['priority']},1\n"
        f"broken,{base['companyID']},{base['status']},{base['priority']},x\n",
        encoding="utf-8",
    )
    failures = tmp_path / "failed.csv"
    out = runner.invoke(
        _app(),
        [
            "bulk-create",
            "tickets",
            "--csv",
            str(ok),
            "--on-invalid",
            "skip",
            "--failures",
            str(failures),
            *_cred_args(sim),
        ],
    )
    assert out.exit_code == 5, out.output
    assert failures.read_text(encoding="utf-8").count("\n") == 2  # header + the broken row


def test_cli_resume_finishes_an_interrupted_job(sim, client, tmp_path):
    base = ticket_base(client)
    journal = tmp_path / "job.sqlite"
    # a job that stops part way: the hourly budget runs out after 30 creates
    sim.add_fault(
        match={"method": "POST", "operation": "create"},
        sequence=["ok"] * 30
        + [{"type": "status", "status": 429, "errors": ["Request threshold exceeded"]}] * 60,
    )
    from py_autotask.bulk import BulkManager

    first = BulkManager(client).bulk_create(
        "tickets", [{**base, "title": f"resume {i}"} for i in range(60)], journal=journal
    )
    assert first.counts()["ok"] < 60 and first.exit_code == 4  # rate limit: resumable
    sim.faults.clear()
    out = CliRunner().invoke(bulk_app, ["resume", str(journal), *_cred_args(sim)])
    assert out.exit_code == 0, out.output
    job_id = BulkJournal.open(journal).meta["job_id"]
    found = tickets_with_token(sim, f"pyat-{job_id}-")
    assert len(found) == 60 and all(len(v) == 1 for v in found.values())


def test_cli_estimate(tmp_path: Path):
    out = CliRunner().invoke(
        bulk_app, ["estimate", "tickets", "update", "--rows", "5000", "--latency", "0.2"]
    )
    assert out.exit_code == 0
    assert "5,012 requests" in out.output and "1.002 per record" in out.output
