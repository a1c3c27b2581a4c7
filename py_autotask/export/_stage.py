"""Durable staging of fetched pages and the export checkpoint.

Each page becomes one Arrow record batch appended to an Arrow IPC stream file of its partition,
flushed and fsync'ed, and only then is the checkpoint (``state.json``, replaced atomically) advanced:
partition ``last`` id, rows written and the durable byte length of every staging file. After a crash
``resume`` truncates each file to its recorded length (dropping a half-written batch) and continues
from the recorded ``last`` id, so at most the page in flight is read again. A new run (or a changed
filter/option fingerprint) starts from scratch.

Layout of a work directory::

    state.json                      checkpoint (see :class:`Stage`)
    <Entity>/columns.json           the entity's output columns (from metadata, fixed at the start;
                                    a column promoted to text is recorded here before a page
                                    holding it as text is staged)
    <Entity>/<part>-s<session>.arrows   staged batches of one partition, one file per session and
                                    schema (a promotion starts a new file)
    <Entity>@related/ids.json       ids of referenced rows to fetch (relationships)

The work directory holds the rows: its folders are created ``0700`` and its files ``0600``
(:mod:`py_autotask._files`).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.ipc as ipc

from .._files import private_dir, private_file
from ._arrow import POOL
from ._columns import Column, columns_from_json, columns_to_json, conform
from ._fetch import Partition
from ._tolerance import OffTypeCount, counts_from_json, counts_to_json, merge_counts

__all__ = ["PartWriter", "Stage"]

STATE_VERSION = 1


def write_json_atomic(
    path: Path, data: Any, *, fsync: bool = True, pretty: bool = True, private: bool = False
) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file renamed over it; ``private``:
    the file is ``0600`` (work-folder state), else it follows the umask (outputs)."""
    tmp = path.with_name(path.name + ".tmp")
    option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS if pretty else 0
    if private:
        private_file(tmp, truncate=True)
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data, option=option))
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def staged_rows(work_dir: str | os.PathLike[str]) -> int:
    """Rows an interrupted run left durable in ``work_dir`` (0 when there is no checkpoint)."""
    path = Path(work_dir) / "state.json"
    try:
        state = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return 0
    if not isinstance(state, dict):
        return 0
    total = 0
    for ent in (state.get("entities") or {}).values():
        for part in ent.get("parts") or []:
            total += int(part.get("rows") or 0)
    return total


class Stage:
    """The work directory of one export run: checkpoint + staged batches (thread-safe)."""

    def __init__(
        self, work_dir: str | os.PathLike[str], key: str, *, resume: bool, fsync: bool = True
    ) -> None:
        self.dir = Path(work_dir)
        self.key = key
        self.fsync = fsync
        self._lock = threading.Lock()
        self._columns: dict[str, list[Column]] = {}
        self.resumed = False
        state_path = self.dir / "state.json"
        state: dict[str, Any] | None = None
        if resume and state_path.exists():
            loaded = orjson.loads(state_path.read_bytes())
            if loaded.get("version") == STATE_VERSION and loaded.get("key") == key:
                state = loaded
                self.resumed = True
        if state is None:
            if self.dir.exists():
                shutil.rmtree(self.dir)
            # staged rows and checkpoints: owner-only (a new parent folder is the output's)
            private_dir(self.dir, parents_private=False)
            state = {"version": STATE_VERSION, "key": key, "entities": {}}
            self._save(state)
        self.state: dict[str, Any] = state
        if self.resumed:
            self._truncate_to_checkpoint()

    # -- checkpoint ------------------------------------------------------------------------------
    def _save(self, state: dict[str, Any] | None = None) -> None:
        write_json_atomic(
            self.dir / "state.json",
            state if state is not None else self.state,
            fsync=self.fsync,
            private=True,
        )

    def save(self) -> None:
        with self._lock:
            self._save()

    def _truncate_to_checkpoint(self) -> None:
        for name, ent in self.state["entities"].items():
            known: set[str] = set()
            for part in ent.get("parts", []):
                for f in part["files"]:
                    known.add(f["name"])
                    path = self.dir / name / f["name"]
                    if path.exists() and path.stat().st_size > f["size"]:
                        os.truncate(path, f["size"])
            folder = self.dir / name
            if folder.is_dir():
                for path in folder.glob("*.arrows"):
                    if path.name not in known:
                        path.unlink()

    def entity(self, name: str) -> dict[str, Any] | None:
        ent: dict[str, Any] | None = self.state["entities"].get(name)
        return ent

    def begin_entity(self, name: str, columns: Sequence[Column], **info: Any) -> dict[str, Any]:
        with self._lock:
            private_dir(self.dir / name)
            write_json_atomic(
                self.dir / name / "columns.json",
                columns_to_json(columns),
                fsync=self.fsync,
                private=True,
            )
            ent = {"parts": [], "done": False, **info}
            self.state["entities"][name] = ent
            self._save()
            return ent

    def set_parts(self, name: str, parts: Sequence[Partition]) -> None:
        with self._lock:
            ent = self.state["entities"][name]
            ent["parts"] = [
                dict(p.to_json(), key=f"p{i:04d}", files=[]) for i, p in enumerate(parts)
            ]
            self._save()

    def update(self, name: str, **info: Any) -> None:
        with self._lock:
            self.state["entities"][name].update(info)
            self._save()

    def columns(self, name: str) -> list[Column]:
        with self._lock:
            cached = self._columns.get(name)
            if cached is None:
                data = orjson.loads((self.dir / name / "columns.json").read_bytes())
                cached = self._columns[name] = columns_from_json(data)
            return cached

    def promote(self, name: str, column: Column) -> None:
        """Record (durably, before any page holding it as text is staged) that ``column`` of
        ``name`` holds text from now on; batches staged before are converted when read."""
        with self._lock:
            path = self.dir / name / "columns.json"
            columns = columns_from_json(orjson.loads(path.read_bytes()))
            columns = [column if c.name == column.name else c for c in columns]
            write_json_atomic(path, columns_to_json(columns), fsync=self.fsync, private=True)
            self._columns[name] = columns

    def off_type(self, name: str) -> dict[str, OffTypeCount]:
        """Off-type values of the pages of ``name`` that are durably staged, per column."""
        ent = self.entity(name)
        out: dict[str, OffTypeCount] = {}
        for part in (ent or {}).get("parts", []):
            merge_counts(out, counts_from_json(part.get("off_type")))
        return out

    def partitions(self, name: str) -> list[Partition]:
        return [Partition.from_json(p) for p in self.state["entities"][name]["parts"]]

    def rows(self, name: str) -> int:
        ent = self.entity(name)
        return sum(int(p["rows"]) for p in ent["parts"]) if ent else 0

    def writer(self, name: str, index: int) -> PartWriter:
        return PartWriter(self, name, index)

    # -- reading ---------------------------------------------------------------------------------
    def batches(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        types: Sequence[Column] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Every staged batch of ``name`` in partition order (ascending ids for a root export),
        with the types of ``types`` (default: the entity's columns now, so a column promoted to
        text after a batch was staged is text in every batch)."""
        ent = self.entity(name)
        if ent is None:
            return
        target = list(types) if types is not None else self.columns(name)
        for part in ent["parts"]:
            for f in part["files"]:
                if f["size"] == 0:
                    continue
                # Streamed one batch at a time. Files of earlier sessions were truncated to their
                # recorded size when this run started; files of this run end with end-of-stream.
                with pa.OSFile(str(self.dir / name / f["name"]), memory_pool=POOL) as source:
                    for batch in ipc.open_stream(source, memory_pool=POOL):
                        picked = batch.select(list(columns)) if columns is not None else batch
                        yield conform(picked, target)

    def iter_column(self, name: str, column: str) -> Iterator[pa.Array]:
        for batch in self.batches(name, [column]):
            yield batch.column(0)


class PartWriter:
    """Appends the pages of one partition; :meth:`write` returns once the page is durable and the
    checkpoint records it."""

    def __init__(self, stage: Stage, name: str, index: int) -> None:
        self.stage = stage
        self.name = name
        self.index = index
        self._file: pa.NativeFile | None = None
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._schema: pa.Schema | None = None
        self._record: dict[str, Any] | None = None

    def _open(self, schema: pa.Schema) -> None:
        with self.stage._lock:
            part = self.stage.state["entities"][self.name]["parts"][self.index]
            session = len(part["files"])
            fname = f"{part['key']}-s{session:03d}.arrows"
            record = {"name": fname, "size": 0}
            part["files"].append(record)
        self._record = record
        # a native file: Arrow writes the batch's buffers itself (a Python file object would
        # get each buffer copied into a bytes object first)
        path = private_file(self.stage.dir / self.name / fname, truncate=True)
        self._file = pa.OSFile(str(path), "wb")
        self._writer = ipc.new_stream(self._file, schema)
        self._schema = schema

    def write(
        self,
        batch: pa.RecordBatch | None,
        *,
        last: int | None,
        done: bool,
        off_type: Mapping[str, OffTypeCount] | None = None,
    ) -> None:
        """Append ``batch`` durably, then record it (rows, ``last`` id, ``done``, its off-type
        counts) in the checkpoint. A batch whose schema differs from this file's (a column was
        promoted to text) starts a new file of the partition."""
        if batch is not None and batch.num_rows:
            if self._writer is not None and not batch.schema.equals(self._schema):
                self.close()
            if self._writer is None:
                self._open(batch.schema)
            assert self._writer is not None and self._file is not None
            self._writer.write_batch(batch)
            self._file.flush()
            if self.stage.fsync:
                os.fsync(self._file.fileno())
            size = self._file.tell()
        with self.stage._lock:
            part = self.stage.state["entities"][self.name]["parts"][self.index]
            if batch is not None and batch.num_rows:
                assert self._record is not None
                self._record["size"] = size
                part["rows"] += batch.num_rows
            if last is not None:
                part["last"] = last
            if done:
                part["done"] = True
            if off_type:
                merged = merge_counts(counts_from_json(part.get("off_type")), off_type)
                part["off_type"] = counts_to_json(merged)
            self.stage._save()

    def close(self) -> None:
        if self._writer is not None:
            # The end-of-stream marker lands after the recorded size; readers stop at that size.
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._schema = None
