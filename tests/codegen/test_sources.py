"""``schemas/source/`` holds what codegen is built from: ``codegen bootstrap`` rebuilds ``schemas/``
from it byte for byte, ``import-sources`` is reproducible, and no tenant's own label is stored."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.bootstrap import bootstrap
from codegen.sources import INPUTS, LIVE_TENANT, MANIFEST, import_sources, read_manifest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "schemas" / "source"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] != "source"
    }


def test_bootstrap_from_the_source_folder_rebuilds_schemas_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "bootstrap", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    built, committed = _tree(out), _tree(ROOT / "schemas")
    assert len(committed) > 900
    assert sorted(built) == sorted(committed)
    assert [name for name in committed if built[name] != committed[name]] == []


def test_index_records_the_originals_hashes_from_the_manifest() -> None:
    manifest = read_manifest(SOURCE)
    sources = json.loads((ROOT / "schemas" / "index.json").read_text())["sources"]
    assert sources == {name: manifest[name]["sha256"] for name in sources}
    # the live-tenant capture is stored neutralised: a copy, not the original bytes
    live = manifest[LIVE_TENANT]
    assert live["storedSha256"] != live["sha256"]
    assert live["stored"].startswith("picklist labels of non-system values neutralised")


def test_every_stored_file_is_the_one_the_manifest_names() -> None:
    import hashlib

    manifest = read_manifest(SOURCE)
    assert set(manifest) == {s.name for s in INPUTS}
    assert {p.name for p in SOURCE.iterdir()} == {*manifest, MANIFEST, "README.md"}
    for name, entry in manifest.items():
        data = (SOURCE / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["storedSha256"], name
        assert len(data) == entry["storedBytes"], name
        if entry["stored"] == "verbatim":
            assert entry["storedSha256"] == entry["sha256"], name


def test_the_live_capture_holds_no_tenant_label() -> None:
    doc = json.loads((SOURCE / LIVE_TENANT).read_text())
    tenant, system = 0, 0
    for body in doc["entities"].values():
        for item in [*body["fields"], *body["userDefinedFields"]]:
            for pv in item.get("picklistValues") or []:
                if pv["isSystem"]:
                    system += 1
                else:
                    assert pv["label"] == f"{item['name']} {pv['value']}", (item["name"], pv)
                    tenant += 1
    assert (tenant, system) == (471, 701)  # system values keep Autotask's own labels
    assert "<tenant>" in doc["_meta"]["source_path"]
    assert set(doc) == {"_meta", "entities"}


def test_import_sources_is_reproducible(tmp_path: Path) -> None:
    # The stored copies imported again give the same bytes: verbatim files are copied, and the
    # neutralisation of the live capture changes nothing that is already neutral.
    out = tmp_path / "source"
    changed = import_sources(SOURCE, out)
    assert len(changed) == len(INPUTS) + 2  # every input, manifest.json, README.md
    for source in INPUTS:
        assert (out / source.name).read_bytes() == (SOURCE / source.name).read_bytes()
    again = read_manifest(out)
    for name, entry in read_manifest(SOURCE).items():
        assert again[name]["storedSha256"] == entry["storedSha256"]
        assert again[name]["origin"] == entry["origin"]
    assert import_sources(SOURCE, out) == []  # nothing to rewrite the second time


def test_import_sources_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SystemExit, match=r"lacks autotask-swagger-v1-2026-06\.json"):
        import_sources(tmp_path / "data", tmp_path / "out")


def test_bootstrap_refuses_a_hand_edited_source_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SOURCE, data)
    live = data / LIVE_TENANT
    live.write_text(live.read_text().replace('"Tickets"', '"Tickets" ', 1))
    with pytest.raises(SystemExit, match=r"not the copy manifest\.json records"):
        bootstrap(data, tmp_path / "schemas")
