"""Private by default: what the tool keeps for itself (bulk journals with every row's body, the
export's work folder of staged rows, sync lock files) is ``0600`` in folders it creates ``0700``;
a folder the user already had is left alone; outputs (export files, failure CSVs, databases)
follow the umask. Run under umask 022, in real processes against the simulator."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator
from tests._cli import cli_env, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(profile="tiny", seed=11, hourly_threshold=0) as s:
        yield s


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bulk_journal_is_private_and_the_failures_csv_follows_the_umask(
    sim: Simulator, tmp_path: Path
) -> None:
    with AutotaskClient(**{**sim.credentials, "api_url": sim.url}) as client:
        t = client.tickets.query(max_records=1).items[0]
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "title,companyID,status,priority\n"
        f"private one,{t.company_id},{t.status},{t.priority}\n"
        f"private two,{t.company_id},{t.status},999\n",
        encoding="utf-8",
    )
    journals = tmp_path / "state" / "py-autotask" / "bulk"  # none of it exists yet
    env = cli_env(sim.environ, tmp_path, PY_AUTOTASK_BULK_DIR=str(journals))
    failures = tmp_path / "failures.csv"
    proc = run_cli(
        "bulk-create",
        "Tickets",
        "--csv",
        str(rows),
        "--on-invalid",
        "skip",
        "--failures",
        str(failures),
        "-q",
        env=env,
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr  # one row invalid, one created
    for folder in (tmp_path / "state", tmp_path / "state" / "py-autotask", journals):
        assert mode(folder) == 0o700, folder
    files = sorted(journals.iterdir())
    assert any(f.suffix == ".sqlite" for f in files), files
    for f in files:
        assert mode(f) == 0o600, (f, oct(mode(f)))
    assert mode(failures) == 0o644  # an output the user asked for

    # a journal path in a folder the user already has: the file is private, the folder untouched
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    proc = run_cli(
        "bulk-create",
        "Tickets",
        "--csv",
        str(rows),
        "--on-invalid",
        "skip",
        "--journal",
        str(mine / "job.sqlite"),
        "--failures",
        str(tmp_path / "f2.csv"),
        "-q",
        env=env,
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert mode(mine) == 0o755
    assert mode(mine / "job.sqlite") == 0o600


def test_export_work_folder_is_private_and_outputs_follow_the_umask(
    sim: Simulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with AutotaskClient(**{**sim.credentials, "api_url": sim.url}) as client:
        exporter = client.create_exporter(fsync=False)
        exporter.add_entities("Tickets", "Companies")
        exporter.export(out, format="csv", keep_work_dir=True)
    work = tmp_path / "out.export-state"
    folders = [work, *(p for p in work.rglob("*") if p.is_dir())]
    files = [p for p in work.rglob("*") if p.is_file()]
    assert len(folders) >= 3 and any(f.suffix == ".arrows" for f in files), files
    assert {oct(mode(p)) for p in folders} == {oct(0o700)}
    assert {oct(mode(p)) for p in files} == {oct(0o600)}
    assert mode(out) == 0o755
    outputs = list(out.iterdir())
    assert {p.name for p in outputs} >= {"tickets.csv", "companies.csv", "manifest.json"}
    assert {oct(mode(p)) for p in outputs} == {oct(0o644)}


def test_sync_lock_file_is_private_and_the_database_follows_the_umask(
    sim: Simulator, tmp_path: Path
) -> None:
    db = tmp_path / "mirror.db"
    env = cli_env(sim.environ, tmp_path)
    proc = run_cli("sync", "Companies", "--db", str(db), "-q", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lock = tmp_path / "mirror.db.sync.lock"
    assert lock.exists()
    assert mode(lock) == 0o600
    assert mode(db) == 0o644
