"""The test oracle of the messy-tenant export and sync tests: what a value off its declared type
must become when nothing is lost, by these rules of its own (not the product's code): a value of
the declared JSON type is itself, an off-type value that converts without loss is its converted
value, anything else comes back as the exact text received. Kinds: int, float, bool, datetime,
string; datetimes compare as aware UTC."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from tests.export._helpers import parse_dt

__all__ = ["NOT_LOSSLESS", "lossless", "off_type", "parse_text", "received"]

NOT_LOSSLESS = object()


def received(v: Any) -> str:
    """A value as the text it was received as (JSON for anything not a string)."""
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":")) if not isinstance(v, float) else repr(v)


def lossless(kind: str, v: Any) -> Any:
    """The value ``v`` stands for in a column of ``kind``, or NOT_LOSSLESS."""
    if v is None:
        return None
    if kind == "string":
        if isinstance(v, str):
            return v
        return ("true" if v else "false") if isinstance(v, bool) else received(v)
    if isinstance(v, str):
        text = v.strip()
        if text == "":
            return None
        if kind == "int" and re.fullmatch(r"[+-]?\d+(\.0*)?", text):
            return int(Decimal(text))
        if kind == "float" and re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
            return float(text)
        if kind == "bool" and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if kind == "datetime":
            try:
                return parse_dt(text)
            except ValueError:
                return NOT_LOSSLESS
        return NOT_LOSSLESS
    if kind == "int":
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            return int(v) if v.is_integer() else NOT_LOSSLESS
        return v if isinstance(v, int) else NOT_LOSSLESS
    if kind == "float":
        return float(v) if isinstance(v, (int, float)) else NOT_LOSSLESS
    if kind == "bool":
        if isinstance(v, bool):
            return v
        return bool(v) if v in (0, 1) else NOT_LOSSLESS
    return NOT_LOSSLESS


def off_type(kind: str, v: Any, *, udf: bool = False) -> bool:
    """Whether ``v`` is not of the declared JSON type (UDF values are text on the wire)."""
    if v is None:
        return False
    if udf:
        return not isinstance(v, str) or (v.strip() == "" and kind != "string")
    expected = {
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
        "datetime": (str,),
        "string": (str,),
    }[kind]
    if isinstance(v, bool) and kind != "bool":
        return True
    if kind == "datetime" and isinstance(v, str) and v.strip() == "":
        return True
    return not isinstance(v, expected)


def parse_text(kind: str, text: str) -> Any:
    """A promoted column's text of a converted value, read back as ``kind``."""
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return {"true": True, "false": False}[text]
    if kind == "datetime":
        return parse_dt(text)
    return text
