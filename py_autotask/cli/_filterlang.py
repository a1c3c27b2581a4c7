"""The CLI's filter expression language (``--filter``). It lives in the core,
:mod:`py_autotask._filterlang`, so that the GraphQL feature's ``filter:`` argument parses exactly the
same expressions; the command modules import it from here."""

from __future__ import annotations

from .._filterlang import (
    MAX_DEPTH,
    FilterSyntaxError,
    MetadataSource,
    ParsedFilter,
    check_date_field,
    check_field_names,
    check_filter,
    compile_filter,
    parse_expression,
    parse_filter,
)

__all__ = [
    "MAX_DEPTH",
    "FilterSyntaxError",
    "MetadataSource",
    "ParsedFilter",
    "check_date_field",
    "check_field_names",
    "check_filter",
    "compile_filter",
    "parse_expression",
    "parse_filter",
]
