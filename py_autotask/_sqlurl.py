"""Database URLs, the one rule for every feature that opens one (sync's target, bulk's and sync's
SQL sources): how a URL reaches SQLAlchemy, how it is shown (password hidden), what is refused
before anything is read or written (malformed, driver not installed, in memory where the rows
would be lost) and how a database's own error becomes one line.

SQLAlchemy is imported only inside the functions that need it (extra ``[sql]``).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from ._core import redact_url
from .exceptions import AutotaskConfigError

__all__ = [
    "check_sqlalchemy_url",
    "database_problem",
    "memory_error",
    "missing_module",
    "shown_url",
    "sqlalchemy_url",
]

#: the extra that installs each module a database needs
_EXTRA = {"sqlalchemy": "sql", "psycopg": "sql", "duckdb": "duckdb"}
#: the modules whose exceptions are the database's (connection refused, authentication, disk)
_DATABASE_MODULES = ("sqlalchemy", "psycopg", "psycopg2", "duckdb", "sqlite3", "_duckdb")


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` go through psycopg 3; other URLs are unchanged."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def shown_url(text: str | Path) -> str:
    """A connection string fit for a message: its password (``user:PASSWORD@`` or a
    ``password=`` parameter) shown as ``***`` (a file path as it is)."""
    shown = str(text).strip()
    return redact_url(shown) if "://" in shown else shown


def missing_module(module: str, what: str) -> AutotaskConfigError:
    """``what`` needs ``module``, which is not installed: the pip command that installs it."""
    extra = _EXTRA.get(module)
    if extra is not None:
        todo = f'pip install "py-autotask[{extra}]"'
    elif module in ("MySQLdb", "pymysql"):
        todo = "pip install mysqlclient (or write mysql+pymysql://... and pip install pymysql)"
    else:  # a driver of the user's choosing (postgresql+pg8000://...)
        todo = (
            f"pip install {module}, or for PostgreSQL write postgresql://... (psycopg: "
            'pip install "py-autotask[sql]")'
        )
    return AutotaskConfigError(f"{what} needs the {module} module, which is not installed: {todo}")


def memory_error(shown: str, what: str) -> AutotaskConfigError:
    return AutotaskConfigError(
        f"{shown!r} is an in-memory database: {what}; name a file instead, e.g. "
        "sqlite:///autotask.db"
    )


def check_sqlalchemy_url(url: str, *, what: str, memory: str | None = None) -> Any:
    """The parsed ``sqlalchemy.URL`` of ``url``, or one-line :class:`AutotaskConfigError`: a
    malformed URL, an unknown dialect, a driver that is not installed and (``memory`` given: why
    it would be useless) an in-memory SQLite database. ``what`` names the job in the message."""
    shown = shown_url(url)
    if importlib.util.find_spec("sqlalchemy") is None:
        raise missing_module("sqlalchemy", what)
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(sqlalchemy_url(url.strip()))
    except (sa.exc.ArgumentError, ValueError) as exc:
        detail = redact_url(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise AutotaskConfigError(
            f"malformed database URL {shown!r} ({detail}): write e.g. sqlite:///autotask.db or "
            "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        module = (exc.name or parsed.get_driver_name() or "its driver").split(".")[0]
        raise missing_module(module, f"{what} ({shown!r})") from None
    except sa.exc.NoSuchModuleError:
        what_kind = "database driver" if "+" in parsed.drivername else "database kind"
        raise AutotaskConfigError(
            f"unsupported {what_kind} {parsed.drivername!r} in {shown!r}: SQLAlchemy has no "
            "dialect for it (write e.g. sqlite:///FILE.db or postgresql://USER@HOST/DATABASE)"
        ) from None
    if memory is not None and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if (
            database in ("", ":memory:")
            or "mode=memory" in database
            or parsed.query.get("mode") == "memory"
        ):
            raise memory_error(shown, memory)
    return parsed


def database_problem(exc: BaseException, connection_string: str | Path) -> str | None:
    """One line for an error the database raised (``None`` for any other error): the driver's
    first line without SQLAlchemy's wrapper and links, the password hidden."""
    module = type(exc).__module__.split(".")[0]
    if module not in _DATABASE_MODULES:
        return None
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0].strip() if text else type(exc).__name__
    first = re.sub(r"^\((?:[\w.]+)\)\s*", "", first)  # "(psycopg.OperationalError) ..."
    password = _password(connection_string)
    if password:
        first = first.replace(password, "***")
    return f"database {shown_url(connection_string)}: {redact_url(first)}"


def _password(connection_string: str | Path) -> str:
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@]*:(.*)@", str(connection_string))
    return match.group(1) if match and len(match.group(1)) >= 3 else ""
