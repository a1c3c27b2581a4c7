"""The ``py-autotask`` command line (install with ``pip install "py-autotask[cli]"``).

Commands: ``query``, ``get``, ``count``, ``entities``, ``describe``, ``estimate``, ``export``,
``sync``, ``demo``, ``profile add|list|remove|default``, ``simulator serve``. Exit codes: 0 ok,
1 error, 2 usage, 3 auth, 4 rate limit/budget, 5 partial failure, 6 another syncer holds the
database's sync lock.
"""

from __future__ import annotations

try:
    import rich  # noqa: F401
    import typer  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'The py-autotask CLI needs the "cli" extra: pip install "py-autotask[cli]"'
    ) from exc

from ._app import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_RATE,
    EXIT_USAGE,
    app,
    exit_code_for,
    main,
)
from ._filterlang import (
    FilterSyntaxError,
    check_field_names,
    check_filter,
    compile_filter,
    parse_filter,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_RATE",
    "EXIT_USAGE",
    "FilterSyntaxError",
    "app",
    "check_field_names",
    "check_filter",
    "compile_filter",
    "exit_code_for",
    "main",
    "parse_filter",
]
