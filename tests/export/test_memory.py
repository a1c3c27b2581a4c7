"""What an export costs in memory beyond its data: it never imports pandas.

pyarrow asks pandas whether each Python value it converts is a pandas object, importing pandas
the first time (~45 MB and 0.3 s of a fresh process, a third of an export's memory budget), so
the exporter builds its Arrow values from buffers. Checked in a fresh process per run, every
format, with the parts that convert Python values: picklist labels, UDFs and related rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from py_autotask.simulator import Simulator

pytestmark = pytest.mark.xdist_group("export")

_SCRIPT = """
import json, os, sys
from pathlib import Path
from py_autotask import AutotaskClient

out = Path(sys.argv[1])
suffix = {"excel": ".xlsx", "sqlite": ".db", "duckdb": ".duckdb"}
rows = {}
with AutotaskClient(**json.loads(os.environ["EXPORT_TEST_CREDENTIALS"])) as client:
    for fmt in ["parquet", "csv", "jsonl", "json", "excel", "sqlite", "duckdb"]:
        exporter = client.create_exporter(picklist_labels=True)
        exporter.add_entities("tickets").include_relationships(["tickets.company", "tickets.contacts"])
        result = exporter.export(out / (fmt + suffix.get(fmt, "")), format=fmt)
        rows[fmt] = [result.rows, "pandas" in sys.modules]
print(json.dumps(rows))
"""


def test_an_export_of_every_format_never_imports_pandas(sim: Simulator, tmp_path: Path) -> None:
    pytest.importorskip("pandas")  # without pandas there is nothing to import
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)],
        env={**os.environ, "EXPORT_TEST_CREDENTIALS": json.dumps(sim.credentials)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    # every format exported the tickets and the rows they reference, and none imported pandas
    assert len({r for r, _ in rows.values()}) == 1 and next(iter(rows.values()))[0] > 3000
    assert {fmt: imported for fmt, (_, imported) in rows.items()} == dict.fromkeys(rows, False)


@pytest.mark.parametrize(
    "values,arrow_type",
    [
        (["a", None, "", "é€😀", "x" * 1000, None, "q", "r", "s"], "string"),
        ([0, None, -1, 2**63 - 1, -(2**63), 7, None, 8, 9], "int64"),
        ([0.0, -0.0, None, 1.5, float("inf"), float("-inf"), 3, None, 1e300], "double"),
        ([True, False, None, True, True, False, False, True, None, True], "bool"),
        ([], "string"),
        ([None] * 17, "int64"),
    ],
    ids=["string", "int64", "double", "bool", "empty", "all-null"],
)
def test_arrays_built_from_buffers_equal_pyarrows_own(values: list, arrow_type: str) -> None:
    import pyarrow as pa

    from py_autotask.export import _arrow

    typ = pa.type_for_alias(arrow_type)
    built = _arrow.column(values, typ)
    built.validate(full=True)
    assert built.type == typ and built.to_pylist() == pa.array(values, typ).to_pylist()
    for i, v in enumerate(values):
        assert _arrow.scalar(v, typ).as_py() == built[i].as_py()
    assert _arrow.indices(3, 40, 7).to_pylist() == list(range(3, 40, 7))
