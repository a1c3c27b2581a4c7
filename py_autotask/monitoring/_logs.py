"""Log lines as JSON (one object per line) or text, with secrets scrubbed.

:class:`JsonFormatter` turns a :class:`logging.LogRecord` into ``{"time", "level", "logger",
"message", ...}`` plus the record's extra fields (``logger.info("...", extra={"entity":
"Tickets"})``) and ``exception`` when there is one. :class:`ScrubbingFormatter` is the text twin.
Both replace every value ``secrets()`` returns (the API secret, integration code and user name)
by ``***`` in the whole line, extra fields and tracebacks included.

:func:`configure_logging` installs one of them on the root logger's stderr handler; the CLI calls
it for ``--log-format json|text`` and ``--log-level``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, Final, Literal

from ..exceptions import scrub_secrets

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "ScrubbingFormatter",
    "configure_logging",
    "json_line",
]

LogFormat = Literal["text", "json"]

#: attributes every LogRecord has: not "extra" fields
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))
) | {"message", "asctime", "taskName"}

SecretSource = Callable[[], Iterable[str]]


def _no_secrets() -> Iterable[str]:
    return ()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def json_line(
    level: str, logger: str, message: str, secrets: Iterable[str] = (), **fields: Any
) -> str:
    """One JSON log line (no newline) for a message that is not a LogRecord (the CLI's error
    lines), scrubbed like :class:`JsonFormatter`'s."""
    record: dict[str, Any] = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message,
    }
    record.update({k: _jsonable(v) for k, v in fields.items() if v is not None})
    text = json.dumps(record, ensure_ascii=False, default=str)
    return scrub_secrets(text, _scrub_list(secrets))


def _scrub_list(secrets: Iterable[str]) -> list[str]:
    # JSON escapes some characters: scrub the escaped spelling too
    out: list[str] = []
    for value in secrets:
        if value:
            out.append(value)
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            if escaped != value:
                out.append(escaped)
    return out


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object: ``time`` (ISO 8601 UTC), ``level``, ``logger``,
    ``message``, the record's extra fields, ``exception`` (the formatted traceback)."""

    def __init__(self, secrets: SecretSource = _no_secrets) -> None:
        super().__init__()
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        stamp = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
        body: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: _jsonable(v) for k, v in fields.items() if k not in body})
        text = json.dumps(body, ensure_ascii=False, default=str)
        return scrub_secrets(text, _scrub_list(self._secrets()))


class ScrubbingFormatter(logging.Formatter):
    """``LEVEL logger: message`` (and the traceback), secrets scrubbed."""

    def __init__(self, secrets: SecretSource = _no_secrets) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return scrub_secrets(super().format(record), list(self._secrets()))


#: the handler :func:`configure_logging` installed (replaced by the next call)
_installed: logging.Handler | None = None


def configure_logging(
    fmt: LogFormat = "text",
    level: int | str = logging.WARNING,
    *,
    secrets: SecretSource = _no_secrets,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send log records of ``level`` and above to ``stream`` (stderr) as ``fmt`` lines, secrets
    from ``secrets()`` scrubbed; replaces the handler an earlier call installed."""
    global _installed
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(
            f"log level must be debug, info, warning, error or critical, not {level!r}"
        )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(secrets) if fmt == "json" else ScrubbingFormatter(secrets)
    )
    handler.setFormatter(formatter)
    handler.setLevel(numeric)  # also when a logger below root has a lower level of its own
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(numeric)
    _installed = handler
    return handler
