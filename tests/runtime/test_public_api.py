"""The public surface of ``py_autotask`` and its import cost."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import py_autotask
from py_autotask import exceptions

ROOT = Path(__file__).resolve().parents[2]


def test_all_names_resolve() -> None:
    for name in py_autotask.__all__:
        assert getattr(py_autotask, name) is not None, name
    assert sorted(py_autotask.__all__) == sorted(set(py_autotask.__all__))


def test_exported_members() -> None:
    assert set(py_autotask.__all__) == {
        "AsyncAutotaskClient",
        "AutotaskAPIError",
        "AutotaskAmbiguousWriteError",
        "AutotaskAuthError",
        "AutotaskBudgetExhaustedError",
        "AutotaskCircuitOpenError",
        "AutotaskClient",
        "AutotaskConfigError",
        "AutotaskConnectionError",
        "AutotaskError",
        "AutotaskInputError",
        "AutotaskMethodNotAllowedError",
        "AutotaskModel",
        "AutotaskNotFoundError",
        "AutotaskOffTypeValueError",
        "AutotaskOperationNotSupportedError",
        "AutotaskPermissionError",
        "AutotaskRateLimitError",
        "AutotaskServerError",
        "AutotaskUnknownEntityError",
        "AutotaskValidationError",
        "CorrelationUdf",
        "Credentials",
        "F",
        "Filter",
        "FilterArg",
        "OffTypeValue",
        "Page",
        "PageDetails",
        "ReadStats",
        "ReconcileConfig",
        "ZoneOptions",
        "__version__",
        "and_",
        "build_query_body",
        "from_dataframe",
        "or_",
        "to_dataframe",
    }
    # every error class is exported from the package too
    assert set(exceptions.__all__) <= set(py_autotask.__all__)


def test_error_tree() -> None:
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.AutotaskError)
    for name in (
        "AutotaskAuthError",
        "AutotaskPermissionError",
        "AutotaskNotFoundError",
        "AutotaskMethodNotAllowedError",
        "AutotaskValidationError",
        "AutotaskRateLimitError",
        "AutotaskServerError",
        "AutotaskOffTypeValueError",
    ):
        assert issubclass(getattr(exceptions, name), exceptions.AutotaskAPIError)
    assert issubclass(exceptions.AutotaskConfigError, ValueError)


def test_version_matches_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    assert match is not None
    assert py_autotask.__version__ == match.group(1)


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_import_is_lazy() -> None:
    # The import time itself is measured in benchmarks/bench_import.py (target < 0.3 s); here
    # the behaviour that keeps it small: nothing heavy is loaded by ``import py_autotask``.
    out = _run(
        "import sys\n"
        "import py_autotask\n"
        "heavy = ('httpx', 'pydantic', 'py_autotask_generated.models._tickets', 'pandas', 'pyarrow')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    assert out.strip() == "[]"


def test_client_attribute_loads_on_demand() -> None:
    out = _run("import py_autotask\nprint(py_autotask.AutotaskClient.__module__)\n")
    assert out.strip() == "py_autotask._client"
