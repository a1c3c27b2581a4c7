"""The JSON log format in-process: one object per record with its extra fields and traceback,
every secret scrubbed (also where JSON escapes it), the handler replaced, not stacked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from py_autotask.monitoring import JsonFormatter, configure_logging

SECRET = 'se"cret\\value-9'  # JSON escapes the quote and the backslash


def test_records_become_one_json_object_each_with_extras_and_no_secret() -> None:
    stream = io.StringIO()
    handler = configure_logging("json", "info", secrets=lambda: [SECRET], stream=stream)
    try:
        log = logging.getLogger("py_autotask.test")
        log.info("sent %s", SECRET, extra={"entity": "Tickets", "rows": 3})
        log.debug("not shown at info")
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            log.exception("failed")
        again = configure_logging("json", "warning", secrets=lambda: [SECRET], stream=stream)
        assert handler not in logging.getLogger().handlers and again in logging.getLogger().handlers
        log.info("dropped at warning")
    finally:
        logging.getLogger().removeHandler(again)
    lines = stream.getvalue().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "info" and first["logger"] == "py_autotask.test"
    assert first["message"] == "sent ***" and (first["entity"], first["rows"]) == ("Tickets", 3)
    assert first["time"].endswith("+00:00")
    assert second["level"] == "error" and "RuntimeError: boom ***" in second["exception"]
    assert SECRET not in stream.getvalue()
    assert json.dumps(SECRET)[1:-1] not in stream.getvalue()


def test_formatter_alone_and_bad_settings() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    assert json.loads(JsonFormatter().format(record))["message"] == "hello world"
    with pytest.raises(ValueError, match="text or json"):
        configure_logging("xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log level"):
        configure_logging("text", "loud")
