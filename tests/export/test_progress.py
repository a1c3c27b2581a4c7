"""The exporter's progress callback: per entity and phase, rows done against the expected total,
never going backwards, ending at exactly the rows written; a resumed run starts from the rows
already staged."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

from ._helpers import raw_rows

pytestmark = pytest.mark.xdist_group("export")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, int | None]] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, entity: str, phase: str, done: int, total: int | None) -> None:
        with self._lock:
            self.events.append((entity, phase, done, total))
            self.threads.add(threading.current_thread().name)

    def series(self, entity: str, phase: str) -> list[tuple[int, int | None]]:
        return [(d, t) for e, p, d, t in self.events if (e, p) == (entity, phase)]


def test_progress_reports_every_phase_up_to_the_rows_written(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    rec = Recorder()
    exporter = client.create_exporter(progress=rec)
    exporter.add_entities("tickets").include_relationships(["tickets.company"])
    result = exporter.export(tmp_path / "out", format="parquet")
    tickets = len(raw_rows(sim, "Tickets"))
    companies = result.entities["Companies"].rows

    fetch = rec.series("Tickets", "fetch")
    assert fetch[0] == (0, tickets)  # the /query/count total, before any page
    assert [d for d, _ in fetch] == sorted(d for d, _ in fetch)  # never backwards
    assert fetch[-1] == (tickets, tickets)
    assert len(fetch) >= tickets // 500  # after every page, not only at the end
    related = rec.series("Companies", "related")
    assert related[0][0] == 0 and related[-1] == (companies, related[0][1])
    for entity, rows in (("Tickets", tickets), ("Companies", companies)):
        write = rec.series(entity, "write")
        assert write[0] == (0, rows) and write[-1] == (rows, rows)
    # pages are reported from the export's worker threads
    assert any(name.startswith("autotask-export") for name in rec.threads)


def test_a_resumed_export_starts_from_the_rows_already_staged(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    tickets = len(raw_rows(sim, "Tickets"))
    seen: list[int] = []

    def stop_half_way(entity: str, phase: str, done: int, total: int | None) -> None:
        if phase == "fetch" and done >= tickets // 2:
            seen.append(done)
            raise KeyboardInterrupt  # the user presses Ctrl-C

    first = client.create_exporter(workers=1, progress=stop_half_way)
    first.add_entities("tickets")
    with pytest.raises(KeyboardInterrupt):
        first.export(tmp_path / "out", format="csv")
    rec = Recorder()
    again = client.create_exporter(workers=1, progress=rec)
    again.add_entities("tickets")
    result = again.export(tmp_path / "out", format="csv", resume=True)
    assert result.resumed and result.entities["Tickets"].rows == tickets
    fetch = rec.series("Tickets", "fetch")
    assert fetch[0] == (seen[0], tickets) and fetch[-1] == (tickets, tickets)


def test_an_interrupted_export_is_not_thrown_away_without_overwrite(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    tickets = len(raw_rows(sim, "Tickets"))

    def stop_after_two_pages(entity: str, phase: str, done: int, total: int | None) -> None:
        if phase == "fetch" and done >= 1000:
            raise KeyboardInterrupt

    first = client.create_exporter(workers=1, progress=stop_after_two_pages)
    first.add_entities("tickets")
    with pytest.raises(KeyboardInterrupt):
        first.export(tmp_path / "out", format="jsonl")
    sim.clear_journal()
    plain = client.create_exporter(workers=1).add_entities("tickets")
    with pytest.raises(FileExistsError) as info:
        plain.export(tmp_path / "out", format="jsonl")
    assert "holds an interrupted export" in str(info.value) and "1,000 rows staged" in str(
        info.value
    )
    assert "resume=True" in str(info.value) and "overwrite=True" in str(info.value)
    assert sim.journal() == []  # refused before any request
    assert (tmp_path / "out.export-state" / "state.json").exists()  # nothing was deleted
    # overwrite=True starts over: every page is read again
    result = plain.export(tmp_path / "out", format="jsonl", overwrite=True)
    assert not result.resumed and result.entities["Tickets"].rows == tickets
    served = sum(e.record_count or 0 for e in sim.journal(entity="Tickets", operation="query"))
    assert served == tickets
    lines = (tmp_path / "out" / "tickets.jsonl").read_bytes().splitlines()
    assert len(lines) == tickets


def test_an_interrupted_to_sql_is_not_thrown_away_either(
    client: AutotaskClient, sim: Simulator, tmp_path: Path
) -> None:
    import sqlite3

    tickets = len(raw_rows(sim, "Tickets"))
    db = f"sqlite:///{tmp_path / 'warehouse.db'}"

    def stop_after_two_pages(entity: str, phase: str, done: int, total: int | None) -> None:
        if phase == "fetch" and done >= 1000:
            raise KeyboardInterrupt

    first = client.create_exporter(workers=1, progress=stop_after_two_pages)
    with pytest.raises(KeyboardInterrupt):
        first.add_entities("tickets").to_sql(db)
    again = client.create_exporter(workers=1).add_entities("tickets")
    with pytest.raises(FileExistsError, match="1,000 rows staged"):
        again.to_sql(db)
    sim.clear_journal()
    result = again.to_sql(db, resume=True)
    assert result.resumed and result.entities["Tickets"].rows == tickets
    served = sum(e.record_count or 0 for e in sim.journal(entity="Tickets", operation="query"))
    assert served == tickets - 1000  # the staged pages were not read again
    with sqlite3.connect(tmp_path / "warehouse.db") as conn:
        assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (tickets,)
