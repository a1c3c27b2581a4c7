"""The generated package resolves, with real types, in every way the project is used.

Wheel, sdist -> wheel, editable install and a fresh clone with nothing installed (with
``PYTHONPATH=generated``, as the tools' settings give it; without it the import fails saying what to
do): in each, the runtime imports work and mypy infers the generated model types (never ``Any``) and reports
``client.tickets.delete`` as an error, because Autotask cannot delete tickets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("_typing_probe.py.txt")

#: What mypy must infer for the probe, line by line (the generated types, never Any).
EXPECTED_REVEALS = [
    'Revealed type is "py_autotask_generated.models._tickets.Ticket | None"',
    'Revealed type is "py_autotask_generated.models._tickets.Ticket"',
    'Revealed type is "list[py_autotask_generated.models._ticket_notes.TicketNote]"',
    'Revealed type is "py_autotask_generated.models._tickets.Ticket | None"',
    'Revealed type is "py_autotask_generated.models._tickets.Ticket"',
]
EXPECTED_DELETE_ERROR = '"TicketsEntity" has no attribute "delete"'


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def mypy_probe(workdir: Path, python: Path, mypy_path: str | None, cache: Path) -> str:
    """Type-check the probe with ``python``'s environment; returns mypy's output."""
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / "probe.py"
    probe.write_text(PROBE.read_text())
    config = workdir / "mypy.ini"
    lines = ["[mypy]", "strict = True", "plugins = pydantic.mypy", f"cache_dir = {cache}"]
    if mypy_path:
        lines.append(f"mypy_path = {mypy_path}")
    config.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    proc = run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--python-executable",
            str(python),
            "--no-error-summary",
            str(probe),
        ],
        cwd=workdir,
        env=env,
    )
    return proc.stdout + proc.stderr


def assert_real_types(output: str) -> None:
    reveals = [
        line.split("note: ", 1)[1] for line in output.splitlines() if "Revealed type" in line
    ]
    assert reveals == EXPECTED_REVEALS, output
    assert EXPECTED_DELETE_ERROR in output, output
    assert "Any" not in "\n".join(reveals), output


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging")]

RUNTIME_PROBE = (
    "import py_autotask, py_autotask_generated;"
    "from py_autotask import AutotaskClient;"
    "from py_autotask.models import Ticket;"
    "c = AutotaskClient(username='u@example.com', secret='s', integration_code='i', api_url='http://127.0.0.1:9/');"
    "t = Ticket.model_validate({'id': 7, 'createDate': '2016-03-30T13:10:35.563'});"
    "print(type(c.tickets).__name__, type(c.tickets.notes(1)).__name__, t.id, t.create_date.isoformat());"
    "print(py_autotask_generated.__file__)"
)
EXPECTED_RUNTIME = "TicketsEntity TicketsNotesCollection 7 2016-03-30T13:10:35.563000+00:00"


@pytest.fixture(scope="module")
def deps_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the runtime dependencies only (py-autotask not installed)."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    proc = run([sys.executable, "-m", "venv", str(venv)], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    py = venv / "bin" / "python"
    proc = run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "httpx",
            "pydantic",
            "typing-extensions",
            "tenacity",
            "sniffio",
            "opentelemetry-api",
            "pluggy",
        ],
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return py


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    proc = run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--wheel",
            "--sdist",
            "--outdir",
            str(out),
        ],
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    rebuilt = out / "from-sdist"
    proc = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(rebuilt),
            str(sdist),
        ],
        cwd=out,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"wheel": wheel, "sdist": sdist, "sdist_wheel": next(rebuilt.glob("*.whl"))}


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tf:
        return set(tf.getnames())


def _install_and_probe(py: Path, wheel: Path, workdir: Path, cache: Path) -> None:
    proc = run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    try:
        proc = run([str(py), "-c", RUNTIME_PROBE], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        first, location = proc.stdout.splitlines()
        assert first == EXPECTED_RUNTIME
        assert "site-packages" in location and str(ROOT) not in location
        assert_real_types(mypy_probe(workdir / "typing", py, None, cache))
    finally:
        run([str(py), "-m", "pip", "uninstall", "--quiet", "--yes", "py-autotask"], cwd=workdir)


def test_wheel_contents(dists: dict[str, Path]) -> None:
    names = _names(dists["wheel"])
    for required in (
        "py_autotask/py.typed",
        "py_autotask/models.py",
        "py_autotask_generated/py.typed",
        "py_autotask_generated/_client_mixin.py",
        "py_autotask_generated/models/_tickets.py",
        "py_autotask_generated/entities/_tickets.py",
        # the GraphQL schema is package data of the generated package
        "py_autotask_generated/schema.graphql",
        # the simulator serves the metadata snapshot from inside the package when installed
        "py_autotask/_schemas/index.json",
        "py_autotask/_schemas/entities/Tickets/fields.json",
    ):
        assert required in names, required
    assert not any(n.startswith(("generated/", "schemas/", "tests/", "codegen/")) for n in names)
    # codegen's raw inputs (schemas/source/, megabytes of Swagger) ship in the sdist only
    assert not any(n.startswith("py_autotask/_schemas/source") for n in names)
    sdist = _sdist_names(dists["sdist"])
    assert any(n.endswith("/schemas/source/autotask-swagger-v1-2026-06.json") for n in sdist)


def test_sdist_builds_the_same_wheel(dists: dict[str, Path]) -> None:
    assert _names(dists["sdist_wheel"]) == _names(dists["wheel"])


def test_installed_wheel_resolves_with_real_types(
    dists: dict[str, Path], deps_venv: Path, tmp_path: Path, mypy_cache: Path
) -> None:
    _install_and_probe(deps_venv, dists["wheel"], tmp_path, mypy_cache)


def test_wheel_built_from_sdist_resolves_with_real_types(
    dists: dict[str, Path], deps_venv: Path, tmp_path: Path, mypy_cache: Path
) -> None:
    _install_and_probe(deps_venv, dists["sdist_wheel"], tmp_path, mypy_cache)


def test_editable_install_resolves_with_real_types(tmp_path: Path, mypy_cache: Path) -> None:
    py = Path(sys.executable)
    proc = run([str(py), "-c", RUNTIME_PROBE], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, location = proc.stdout.splitlines()
    assert first == EXPECTED_RUNTIME
    assert location == str(ROOT / "generated" / "py_autotask_generated" / "__init__.py")
    assert_real_types(mypy_probe(tmp_path / "typing", py, None, mypy_cache))


def test_fresh_clone_with_nothing_installed(
    deps_venv: Path, tmp_path: Path, mypy_cache: Path
) -> None:
    # The checkout itself, with an interpreter where py-autotask is not installed. Importing never
    # changes sys.path: without generated/ on the path the import fails saying what to do; with
    # PYTHONPATH=generated (what pytest's pythonpath, mypy's mypy_path and pyright's extraPaths
    # give the tools) it works, and mypy sees the real types.
    proc = run(
        [
            str(deps_venv),
            "-c",
            "import importlib.util as u; print(u.find_spec('py_autotask') is None)",
        ],
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "True", "py-autotask must not be installed in this environment"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = run([str(deps_venv), "-c", RUNTIME_PROBE], cwd=ROOT, env=env)
    assert proc.returncode == 1
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("ImportError: py_autotask needs its generated package"), proc.stderr
    assert "`pip install -e .`" in error and "`PYTHONPATH=generated python ...`" in error
    env["PYTHONPATH"] = "generated"
    proc = run([str(deps_venv), "-c", RUNTIME_PROBE], cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    first, location = proc.stdout.splitlines()
    assert first == EXPECTED_RUNTIME
    assert (
        ROOT / location
    ).resolve() == ROOT / "generated" / "py_autotask_generated" / "__init__.py"
    probe = (
        "import sys; before = list(sys.path); import py_autotask.models; print(sys.path == before)"
    )
    proc = run([str(deps_venv), "-c", probe], cwd=ROOT, env=env)
    assert proc.stdout.strip() == "True", proc.stderr  # importing changes no sys.path
    output = mypy_probe(tmp_path / "typing", deps_venv, f"{ROOT / 'generated'}:{ROOT}", mypy_cache)
    assert_real_types(output)
