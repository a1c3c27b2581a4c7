"""The ``py-autotask`` command line (install with ``pip install "py-autotask[cli]"``).

Commands: ``query``, ``get``, ``count``, ``entities``, ``describe``, ``estimate``, ``export``,
``sync``, ``demo``, ``health``, ``bulk ...``, ``bulk-create|update|delete``, ``profile
add|list|remove|default``, ``simulator serve``. Exit codes
(:class:`~py_autotask._exitcodes.ExitCode`): 0 ok, 1 error, 2 usage, 3 auth, 4 rate limit/budget,
5 partial failure, 6 another syncer holds the database's sync lock, 7 ``health`` found the client
unhealthy.
"""

from __future__ import annotations

try:
    import typer  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'The py-autotask CLI needs the "cli" extra: pip install "py-autotask[cli]"'
    ) from exc

from typing import TYPE_CHECKING, Any

from .._exitcodes import ExitCode
from ._app import app, main
from ._shared import exit_code_for

if TYPE_CHECKING:
    from ._filterlang import (
        FilterSyntaxError,
        check_field_names,
        check_filter,
        compile_filter,
        parse_filter,
    )

EXIT_OK = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_AUTH = ExitCode.AUTH
EXIT_RATE = ExitCode.RATE
EXIT_PARTIAL = ExitCode.PARTIAL
EXIT_LOCKED = ExitCode.LOCKED  # sync: another syncer holds the database's sync lock

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_RATE",
    "EXIT_USAGE",
    "ExitCode",
    "FilterSyntaxError",
    "app",
    "check_field_names",
    "check_filter",
    "compile_filter",
    "exit_code_for",
    "main",
    "parse_filter",
]


_FILTER_LANGUAGE = frozenset(
    {"FilterSyntaxError", "check_field_names", "check_filter", "compile_filter", "parse_filter"}
)


def __getattr__(name: str) -> Any:
    # the filter language loads on first use: `py-autotask --help` does not need it
    if name in _FILTER_LANGUAGE:
        from . import _filterlang

        return getattr(_filterlang, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
