"""The structure STYLE.md asks for, checked on the real import graph and source.

- the import-linter contracts in pyproject.toml hold (layers, the simulator on core + generated
  only, no cycles), and every module of ``py_autotask`` belongs to exactly one layer, so a new
  module cannot slip past them;
- nothing outside the client module reaches into a client's private parts;
- no absolute paths of a build machine and no ``sys.path`` changes in the package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "py_autotask"


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _layer_of(module: str, layers: list[list[str]]) -> list[int]:
    return [
        i
        for i, layer in enumerate(layers)
        for entry in layer
        if module == entry or module.startswith(entry + ".")
    ]


def test_import_linter_contracts_hold() -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and "3 kept, 0 broken" in proc.stdout


def test_every_module_is_in_exactly_one_layer() -> None:
    layers_contract = _contracts()["layers"]
    layers = [
        [m.strip() for m in re.split(r"[|:]", str(layer))]
        for layer in layers_contract["layers"]  # type: ignore[attr-defined]
    ]
    graph = grimp.build_graph("py_autotask")
    # public facades at the top import whatever they re-export; the simulator has its own contract
    top = {"py_autotask", "py_autotask.models", "py_autotask.types", "py_autotask.auth"}
    unplaced, doubly = [], []
    for module in sorted(graph.modules):
        if module in top or module.startswith("py_autotask.simulator"):
            continue
        found = _layer_of(module, layers)
        if not found:
            unplaced.append(module)
        elif len(set(found)) > 1:
            doubly.append(module)
    assert unplaced == [], f"modules in no layer of pyproject.toml's contract: {unplaced}"
    assert doubly == [], f"modules in more than one layer: {doubly}"


_PRIVATE_ACCESS = re.compile(r"\bclient\._[a-z]\w*|\._client\._[a-z]\w*|\bself\.client\._[a-z]\w*")


def test_no_module_reaches_into_a_client_s_private_parts() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_client.py" and path.parent == PACKAGE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PRIVATE_ACCESS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_only_the_facade_imports_the_client_module() -> None:
    graph = grimp.build_graph("py_autotask")
    importers = sorted(graph.find_modules_that_directly_import("py_autotask._client"))
    assert importers in ([], ["py_autotask"]), importers


@pytest.mark.parametrize("folder", ["py_autotask", "codegen", "generated", "templates", "tests"])
def test_no_absolute_build_machine_paths_and_no_sys_path_changes(folder: str) -> None:
    hits = []
    for path in sorted((ROOT / folder).rglob("*")):
        if (
            path.suffix not in (".py", ".jinja", ".toml", ".json", ".md", ".txt")
            or not path.is_file()
        ):
            continue
        text = path.read_text(errors="replace")
        if path.resolve() == Path(__file__).resolve():
            continue
        if re.search(r"/work/|/home/\w+/|C:\\\\Users", text):
            hits.append(f"{path.relative_to(ROOT)}: absolute path")
        if folder == "py_autotask" and re.search(
            r"sys\.path\.(append|insert|extend)|sys\.path\s*=", text
        ):
            hits.append(f"{path.relative_to(ROOT)}: changes sys.path")
    assert hits == []
