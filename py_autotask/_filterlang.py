"""A small filter expression language compiled to the :mod:`py_autotask.query` builder.

::

    status = 5 and (priority <= 2 or title contains "VIP") and udf."Customer Ranking" = Gold
    and assignedResourceID exists and id in (1,2,3) and title beginsWith "X"

Grammar (keywords and operator words are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := term ("and" term)*
    term       := "(" expr ")" | condition
    condition  := field ("exists" | "exist" | "notExists" | "notExist" | "not" "exists")
                | field ("in" | "notIn" | "not" "in") "(" value ("," value)* ")"
                | field op value
    op         := "=" | "==" | "!=" | "<>" | ">" | ">=" | "<" | "<="
                | eq | noteq | ne | gt | gte | lt | lte
                | beginsWith | startsWith | endsWith | contains
    field      := name | "udf" "." (name | quoted)           (a UDF, by its name)
    value      := quoted | number | true | false | bareword   (dates are barewords: 2024-01-31)

Every Autotask operator is reachable (``eq noteq gt gte lt lte beginsWith endsWith contains exist
notExist in notIn`` and nested ``and``/``or``). A bad expression raises :class:`FilterSyntaxError`
whose message points at the column with a caret.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._values import integer_bounds, number_bound, parse_datetime, value_kind
from .exceptions import AutotaskConfigError, AutotaskError
from .query import MAX_OR_CONDITIONS, Condition, Filter, Group

if TYPE_CHECKING:
    from ._spec import EntitySpec

#: returns the tenant's ``entityInformation/fields`` (or ``.../userDefinedFields``) list
MetadataSource = Callable[[], Sequence[Mapping[str, Any]]]

__all__ = [
    "MAX_DEPTH",
    "FilterSyntaxError",
    "ParsedFilter",
    "check_date_field",
    "check_field_names",
    "check_filter",
    "compile_filter",
    "parse_expression",
    "parse_filter",
]


class FilterSyntaxError(AutotaskConfigError):
    """A filter expression could not be parsed. ``position`` is the 0-based offset of the
    mistake; ``str(exc)`` shows the expression with a caret under it."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.reason = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        self.column = self.position + 1
        shown, at = _window(text, self.position)
        super().__init__(f"bad filter at column {self.column}: {message}\n  {shown}\n  {' ' * at}^")


#: how much of a long expression an error shows on each side of the mistake
_CONTEXT = 60


def _window(text: str, position: int) -> tuple[str, int]:
    """The part of ``text`` an error shows (all of it when short, else the mistake with
    ``_CONTEXT`` characters each side, cut with ``...``) on one line, and where the caret goes."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)  # keeps the columns
    if len(flat) <= 2 * _CONTEXT + 20:
        return flat, position
    start = max(0, position - _CONTEXT)
    end = min(len(flat), position + _CONTEXT)
    head = "..." if start > 0 else ""
    tail = "..." if end < len(flat) else ""
    return head + flat[start:end] + tail, len(head) + position - start


def _shown(value: Any, raw: str = "") -> str:
    """A value for a message, cut to a readable length: text quoted, a number as written."""
    words = isinstance(value, str) and not _NUMBER_RE.match(value)
    text = repr(value) if words or not raw else raw
    return text if len(text) <= 40 else text[:37] + "..."


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


@dataclass(frozen=True)
class _Token:
    kind: str  # name | string | number | op | lparen | rparen | comma | dot | end
    text: str
    value: Any
    pos: int


_SYMBOL_OPS = {
    "=": "eq",
    "==": "eq",
    "!=": "noteq",
    "<>": "noteq",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
}
_WORD_OPS = {
    "eq": "eq",
    "noteq": "noteq",
    "ne": "noteq",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "beginswith": "beginsWith",
    "startswith": "beginsWith",
    "endswith": "endsWith",
    "contains": "contains",
}
_EXIST_WORDS = {
    "exists": "exist",
    "exist": "exist",
    "notexists": "notExist",
    "notexist": "notExist",
}
_LIST_WORDS = {"in": "in", "notin": "notIn"}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|<>|!=|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<word>[A-Za-z0-9_+\-:.@/]+)
    """,
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: more digits than any integer field holds (a long has 19)
_MAX_DIGITS = 40

#: How deep parentheses may nest. A filter written by hand needs a few levels; 32 (SQL Server's
#: nesting limit, which Autotask's filters become) is far past that and keeps the parser's
#: recursion (three frames a level) a tenth of Python's stack limit, so no expression can end in
#: a RecursionError here, in the builder or in the JSON encoder.
MAX_DEPTH = 32


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch in "\"'":
                raise FilterSyntaxError(f"unterminated string starting with {ch}", text, pos)
            raise FilterSyntaxError(f"unexpected character {ch!r}", text, pos)
        kind = m.lastgroup or ""
        raw = m.group(0)
        if kind == "string":
            tokens.append(_Token("string", raw, _unquote(raw), pos))
        elif kind == "op":
            tokens.append(_Token("op", raw, _SYMBOL_OPS[raw], pos))
        elif kind in ("lparen", "rparen", "comma"):
            tokens.append(_Token(kind, raw, raw, pos))
        elif kind == "word":
            # "udf.Name" is split at the first dot so the field part can be quoted or bare.
            if raw.lower().startswith("udf.") and len(raw) > 4:
                tokens.append(_Token("word", raw[:3], raw[:3], pos))
                tokens.append(_Token("dot", ".", ".", pos + 3))
                tokens.append(_Token("word", raw[4:], raw[4:], pos + 4))
            elif raw.lower() == "udf.":
                tokens.append(_Token("word", raw[:3], raw[:3], pos))
                tokens.append(_Token("dot", ".", ".", pos + 3))
            else:
                tokens.append(_Token("word", raw, raw, pos))
        pos = m.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _literal(tok: _Token) -> Any:
    if tok.kind == "string":
        return tok.value
    text = tok.text
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if _NUMBER_RE.match(text):
        if re.fullmatch(r"[+-]?\d+", text):
            # past any field's range (and Python's int-from-text limit): kept as written, the
            # metadata check names the range
            return int(text) if len(text) <= _MAX_DIGITS else text
        return float(text)
    return text


@dataclass(frozen=True)
class _Found:
    """One parsed condition with the positions of its parts (for metadata checks)."""

    field: str
    udf: bool
    op: str
    value: Any
    field_pos: int  # of the name (for a UDF, after "udf.")
    op_pos: int
    value_pos: int
    value_text: str = ""  # the value as written (quotes included)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.found: list[_Found] = []
        self.depth = 0
        #: OR'd conditions so far, counted as Autotask counts them: the items of every ``or``
        #: group once nested groups are merged (``a or (b or c)`` is one group of three)
        self.or_count = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def _peek(self, offset: int = 1) -> _Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def _advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def _error(self, message: str, tok: _Token | None = None) -> FilterSyntaxError:
        t = tok or self.tok
        return FilterSyntaxError(message, self.text, t.pos)

    def _is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def parse(self) -> Filter:
        if self.tok.kind == "end":
            raise self._error("the filter is empty; write a condition such as: status = 1")
        node = self._or()
        if self.tok.kind != "end":
            if self.tok.kind == "rparen":
                raise self._error("unbalanced ')': no '(' opens it")
            raise self._error(
                f"expected 'and', 'or' or the end of the filter, found {self.tok.text!r}"
            )
        return node

    def _or(self) -> Filter:
        starts = [self.tok]
        items = [self._and()]
        while self._is_word("or"):
            self._advance()
            starts.append(self.tok)
            items.append(self._and())
        if len(items) == 1:
            return items[0]
        # nested or-groups merge into this one: their items were counted already
        count = self.or_count - sum(
            len(item.items) for item in items if isinstance(item, Group) and item.op == "or"
        )
        for item, start in zip(items, starts, strict=True):
            count += len(item.items) if isinstance(item, Group) and item.op == "or" else 1
            if count > MAX_OR_CONDITIONS:
                raise self._error(
                    f"more than {MAX_OR_CONDITIONS} OR'd conditions (Autotask's limit per "
                    "query): list the values with 'in (...)' (e.g. id in (1, 2, 3)) or split the "
                    "filter into several queries",
                    start,
                )
        self.or_count = count
        return Group("or", items)

    def _and(self) -> Filter:
        items = [self._term()]
        while self._is_word("and"):
            self._advance()
            items.append(self._term())
        return items[0] if len(items) == 1 else Group("and", items)

    def _term(self) -> Filter:
        if self.tok.kind == "lparen":
            open_tok = self._advance()
            if self.tok.kind == "rparen":
                raise self._error("empty parentheses: expected a condition")
            if self.depth >= MAX_DEPTH:
                raise self._error(
                    f"parentheses nested more than {MAX_DEPTH} deep: remove the ones that group "
                    "nothing (a filter needs a few levels at most)",
                    open_tok,
                )
            self.depth += 1
            node = self._or()
            self.depth -= 1
            if self.tok.kind != "rparen":
                if self.tok.kind == "end":
                    raise self._error("missing ')' to close the '(' opened here", open_tok)
                raise self._error(f"expected ')' or 'and'/'or', found {self.tok.text!r}")
            self._advance()
            return node
        return self._condition()

    def _field(self) -> tuple[str, bool, _Token, int]:
        """(name, is_udf, first token, position of the name: after ``udf.`` for a UDF)"""
        tok = self.tok
        if tok.kind == "end":
            raise self._error("expected a field name")
        if tok.kind == "word" and tok.text.lower() == "udf" and self._peek().kind == "dot":
            self._advance()
            self._advance()
            name_tok = self.tok
            if name_tok.kind == "string":
                self._advance()
                if not str(name_tok.value).strip():
                    raise self._error("the UDF name is empty", name_tok)
                return str(name_tok.value), True, tok, name_tok.pos
            if name_tok.kind == "word":
                self._advance()
                return name_tok.text, True, tok, name_tok.pos
            raise self._error('expected a UDF name after "udf." (quote names with spaces)')
        if tok.kind == "word" and _NAME_RE.match(tok.text):
            if tok.text.lower() in ("and", "or"):
                raise self._error(f"expected a field name, found the keyword {tok.text!r}")
            self._advance()
            return tok.text, False, tok, tok.pos
        if tok.kind == "string":
            raise self._error(
                'expected a field name, found a quoted string (for a UDF write udf."Name")'
            )
        raise self._error(f"expected a field name, found {tok.text!r}")

    def _value(self) -> Any:
        tok = self.tok
        if tok.kind in ("string", "word"):
            if tok.kind == "word" and tok.text.lower() in ("and", "or"):
                raise self._error(f"expected a value, found the keyword {tok.text!r}")
            self._advance()
            return _literal(tok)
        if tok.kind == "end":
            raise self._error("expected a value at the end of the filter")
        raise self._error(f"expected a value, found {tok.text!r}")

    def _condition(self) -> Filter:
        field, udf, field_tok, name_pos = self._field()
        tok = self.tok
        op: str | None = None
        if tok.kind == "op":
            op = str(tok.value)
            self._advance()
        elif tok.kind == "word":
            low = tok.text.lower()
            if low == "not" and self._peek().kind == "word":
                nxt = self._peek().text.lower()
                if nxt in ("exists", "exist"):
                    self._advance()
                    self._advance()
                    self._note(field, udf, "notExist", None, name_pos, tok, tok)
                    return self._make("notExist", field, udf, None, field_tok)
                if nxt == "in":
                    self._advance()
                    self._advance()
                    return self._list("notIn", field, udf, field_tok, name_pos, tok)
                raise self._error(f"'not' must be followed by 'in' or 'exists', found {nxt!r}")
            if low in _EXIST_WORDS:
                self._advance()
                self._note(field, udf, _EXIST_WORDS[low], None, name_pos, tok, tok)
                return self._make(_EXIST_WORDS[low], field, udf, None, field_tok)
            if low in _LIST_WORDS:
                self._advance()
                return self._list(_LIST_WORDS[low], field, udf, field_tok, name_pos, tok)
            if low in _WORD_OPS:
                op = _WORD_OPS[low]
                self._advance()
        if op is None:
            if tok.kind == "end":
                raise self._error(f"expected an operator after {field!r}")
            raise self._error(
                f"expected an operator after {field!r} (= != < <= > >= contains beginsWith "
                f"endsWith in notIn exists notExists), found {tok.text!r}"
            )
        value_tok = self.tok
        value = self._value()
        self._note(field, udf, op, value, name_pos, tok, value_tok)
        return self._make(op, field, udf, value, value_tok)

    def _list(
        self, op: str, field: str, udf: bool, field_tok: _Token, name_pos: int, op_tok: _Token
    ) -> Filter:
        if self.tok.kind != "lparen":
            raise self._error(f"expected '(' to start the list of values for {op!r}")
        self._advance()
        values = []
        while True:
            value_tok = self.tok
            values.append(self._value())
            self._note(field, udf, op, values[-1], name_pos, op_tok, value_tok)
            if self.tok.kind != "comma":
                break
            self._advance()
        if self.tok.kind != "rparen":
            raise self._error("expected ',' or ')' in the list of values")
        self._advance()
        return self._make(op, field, udf, values, field_tok)

    def _note(
        self,
        field: str,
        udf: bool,
        op: str,
        value: Any,
        name_pos: int,
        op_tok: _Token,
        value_tok: _Token,
    ) -> None:
        self.found.append(
            _Found(field, udf, op, value, name_pos, op_tok.pos, value_tok.pos, value_tok.text)
        )

    def _make(self, op: str, field: str, udf: bool, value: Any, tok: _Token) -> Filter:
        try:
            if op in ("exist", "notExist"):
                return Condition(op, field, udf=udf)
            return Condition(op, field, value, udf=udf)
        except AutotaskConfigError as exc:
            raise FilterSyntaxError(str(exc), self.text, tok.pos) from exc


def parse_filter(text: str) -> Filter:
    """Parse a filter expression into a :class:`~py_autotask.query.Filter` (``F`` builder
    objects). Raises :class:`FilterSyntaxError` with the column of the mistake."""
    if not isinstance(text, str):
        raise AutotaskConfigError("a filter expression must be a string")
    node = parse_expression(text).node
    # an empty expression has no Filter: the parser's own error says what to write
    return node if node is not None else _Parser(text).parse()


@dataclass(frozen=True)
class ParsedFilter:
    """A filter expression parsed once: the :class:`~py_autotask.query.Filter` (``None`` for an
    empty expression, which means every row) and every condition with the positions of its parts.
    The CLI parses ``--filter`` once and hands this to :func:`check_filter` (per entity) and
    :func:`compile_filter`."""

    text: str
    node: Filter | None
    conditions: tuple[_Found, ...] = ()

    @property
    def items(self) -> list[dict[str, Any]]:
        """The raw Autotask ``filter`` array (top-level ``and`` flattened; every row when empty)."""
        if self.node is None:
            return [{"op": "gte", "field": "id", "value": 0}]
        if isinstance(self.node, Group) and self.node.op == "and":
            return [item.to_dict() for item in self.node.items]
        return [self.node.to_dict()]


def parse_expression(text: str | ParsedFilter | None) -> ParsedFilter:
    """Parse ``text`` once (syntax and the one-UDF rule); ``None``/blank parse to every row."""
    if isinstance(text, ParsedFilter):
        return text
    if text is None:
        return ParsedFilter("", None)
    if not isinstance(text, str):
        raise AutotaskConfigError("a filter expression must be a string")
    if not text.strip():
        return ParsedFilter(text, None)
    parser = _Parser(text)
    node = parser.parse()
    udfs = _udf_names(node)
    if len(udfs) > 1:
        second = sorted(udfs.items(), key=lambda kv: kv[1])[1]
        raise FilterSyntaxError(
            f"Autotask allows one user-defined field per query; this filter uses {len(udfs)} "
            f"({', '.join(sorted(udfs))})",
            text,
            _find_udf(text, second[0]),
        )
    return ParsedFilter(text, node, tuple(parser.found))


def _udf_names(node: Filter) -> dict[str, int]:
    found: dict[str, int] = {}

    def walk(n: Filter) -> None:
        if isinstance(n, Condition) and n.udf:
            found.setdefault(n.field.lower(), len(found))
        elif isinstance(n, Group):
            for item in n.items:
                walk(item)

    walk(node)
    return found


def _find_udf(text: str, name: str) -> int:
    low = text.lower()
    hits = [m.start() for m in re.finditer(r"udf\s*\.", low)]
    for pos in hits:
        if name in low[pos : pos + len(name) + 8]:
            return pos
    return hits[-1] if hits else 0


def compile_filter(text: str | ParsedFilter | None) -> list[dict[str, Any]]:
    """A filter expression -> the raw Autotask ``filter`` array (top-level ``and`` flattened);
    ``None``/empty -> the all-rows condition."""
    return parse_expression(text).items


# --- checks against the entity's metadata -----------------------------------------------------------

_TEXT_OPS = frozenset({"beginsWith", "endsWith", "contains"})


@dataclass(frozen=True)
class _FieldInfo:
    name: str
    data_type: str
    queryable: bool
    picklist: bool


def _known(spec: EntitySpec) -> dict[str, _FieldInfo]:
    return {
        f.api_name.lower(): _FieldInfo(f.api_name, f.data_type.lower(), f.queryable, f.is_picklist)
        for f in spec.fields.values()
    }


def _from_tenant(fields: Sequence[Mapping[str, Any]]) -> dict[str, _FieldInfo]:
    out: dict[str, _FieldInfo] = {}
    for f in fields:
        name = f.get("name")
        if isinstance(name, str) and name:
            out[name.lower()] = _FieldInfo(
                name,
                str(f.get("dataType") or f.get("type") or "").lower(),
                bool(f.get("isQueryable", True)),
                bool(f.get("isPickList")),
            )
    return out


class _Lazy:
    """Tenant metadata fetched at most once, and only when the bundled metadata is not enough; a
    failed fetch leaves the decision to the API (``None``)."""

    def __init__(self, source: MetadataSource | None) -> None:
        self._source = source
        self._value: dict[str, _FieldInfo] | None = None
        self._done = source is None

    def get(self) -> dict[str, _FieldInfo] | None:
        if not self._done:
            self._done = True
            assert self._source is not None
            try:
                self._value = _from_tenant(self._source())
            except AutotaskError:
                self._value = None
        return self._value


def _suggest(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3, cutoff=0.6)
    by_lower = {n.lower(): n for n in names}
    return ("; did you mean " + " or ".join(by_lower[c] for c in close) + "?") if close else ""


def _describe_hint(spec: EntitySpec, what: str = "its fields") -> str:
    return f" (`py-autotask describe {spec.name}` lists {what})"


def _lookup(
    name: str, spec: EntitySpec, known: dict[str, _FieldInfo], tenant: _Lazy
) -> _FieldInfo | None:
    """The field's info from the bundled metadata, else from the tenant's (a field the API added
    after this release); ``None`` when neither has it."""
    info = known.get(name.lower())
    if info is None:
        fetched = tenant.get()
        if fetched is not None:
            info = fetched.get(name.lower())
    return info


def check_filter(
    text: str | ParsedFilter | None,
    spec: EntitySpec,
    *,
    tenant_fields: MetadataSource | None = None,
    tenant_udfs: MetadataSource | None = None,
) -> None:
    """Check a filter expression against ``spec``'s fields before anything is sent: unknown
    fields (with a suggestion), fields Autotask cannot filter on, ``contains``/``beginsWith``/
    ``endsWith`` on non-text fields, and values of the wrong type (a label on an integer picklist,
    ``1`` for a boolean, a word for a number). Raises :class:`FilterSyntaxError` pointing at the
    mistake; the real API answers these with an opaque HTTP 500.

    ``tenant_fields`` / ``tenant_udfs`` (called at most once, only when needed) give the tenant's
    own metadata: a field newer than the bundled metadata is accepted when the tenant has it, and
    UDF names are checked only when ``tenant_udfs`` is given. When a fetch fails the API decides.
    ``text`` may be a :class:`ParsedFilter` (parsed once for several entities).
    """
    parsed = parse_expression(text)  # syntax and the one-UDF rule first
    if parsed.node is None:
        return
    text = parsed.text
    found_conditions = parsed.conditions
    known = _known(spec)
    tenant = _Lazy(tenant_fields)
    udfs = _Lazy(tenant_udfs)
    for found in found_conditions:
        if found.udf:
            _check_udf(text, spec, found, udfs)
            continue
        info = _lookup(found.field, spec, known, tenant)
        if info is None:
            if tenant_fields is not None and tenant.get() is None:
                continue  # the tenant's metadata could not be read: let the API judge
            names = [i.name for i in known.values()]
            raise FilterSyntaxError(
                f"{spec.name} has no field {found.field!r}{_suggest(found.field, names)}"
                + _describe_hint(spec),
                text,
                found.field_pos,
            )
        if not info.queryable:
            tenant_info = (tenant.get() or {}).get(found.field.lower())
            if tenant_info is None or not tenant_info.queryable:
                raise FilterSyntaxError(
                    f"{spec.name}.{info.name} cannot be used in a filter: Autotask's metadata "
                    "marks it isQueryable=false",
                    text,
                    found.field_pos,
                )
        _check_value(text, spec, info, found)


def _check_udf(text: str, spec: EntitySpec, found: _Found, udfs: _Lazy) -> None:
    defined = udfs.get()
    if defined is None:
        return
    info = defined.get(found.field.lower())
    if info is None:
        names = [i.name for i in defined.values()]
        if not names:
            reason = f"{spec.name} has no user-defined fields in this tenant"
        else:
            reason = (
                f"{spec.name} has no user-defined field {found.field!r}"
                f"{_suggest(found.field, names)}" + _describe_hint(spec, "the tenant's UDFs")
            )
        raise FilterSyntaxError(reason, text, found.field_pos)
    _check_value(text, spec, info, found, label=f'udf."{info.name}"')


def _is_number_text(value: str) -> bool:
    return bool(_NUMBER_RE.match(value.strip()))


def _whole(value: Any) -> int | str | None:
    """A filter value as a whole number, ``"huge"`` for digits past any range, else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value) is not None:
        digits = value.strip()
        return int(digits) if len(digits) <= _MAX_DIGITS else "huge"
    return None


def _check_value(
    text: str, spec: EntitySpec, info: _FieldInfo, found: _Found, label: str = ""
) -> None:
    where = label or f"{spec.name}.{info.name}"
    data_type = info.data_type
    kind = value_kind(data_type) if data_type else "string"
    if found.op in _TEXT_OPS and data_type and kind != "string":
        raise FilterSyntaxError(
            f"{found.op!r} works on text fields only; {where} is {data_type} (use = != < <= > >= "
            "in notIn exists)",
            text,
            found.op_pos,
        )
    if found.op in ("exist", "notExist"):
        return
    value, shown = found.value, _shown(found.value, found.value_text)
    problem: str | None = None
    if kind == "boolean":
        if not isinstance(value, bool):
            problem = f"{where} is true/false: write true or false (unquoted), not {shown}"
    elif kind == "integer":
        problem = _integer_problem(spec, info, where, value, shown)
    elif kind == "number":
        problem = _number_problem(where, data_type, value, shown)
    elif kind in ("datetime", "date"):
        problem = _date_problem(where, data_type, value, shown)
    if problem is not None:
        raise FilterSyntaxError(problem, text, found.value_pos)


def _integer_problem(
    spec: EntitySpec, info: _FieldInfo, where: str, value: Any, shown: str
) -> str | None:
    low, high = integer_bounds(info.data_type)
    number = _whole(value)
    if number is None:
        extra = (
            ": use the picklist value, not its label" + _describe_hint(spec, "the values")
            if info.picklist
            else f" (write a whole number from {low} to {high})"
        )
        kind_text = _a(info.data_type) + (" picklist" if info.picklist else "")
        return f"{where} is {kind_text} field; {shown} is not a whole number{extra}"
    if number == "huge" or not low <= int(number) <= high:
        return (
            f"{where} is {_a(info.data_type)} field (whole numbers from {low} to {high}); "
            f"{shown} is out of range"
        )
    return None


def _number_problem(where: str, data_type: str, value: Any, shown: str) -> str | None:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value) if not isinstance(value, int) or abs(value) < 10**300 else math.inf
    elif isinstance(value, str) and _is_number_text(value):
        number = float(value.strip())
    if number is None:
        return f"{where} is {_a(data_type)} field; {shown} is not a number"
    bound = number_bound(data_type)
    if not math.isfinite(number) or (bound is not None and abs(number) >= bound):
        size = f"below 1e{len(str(bound)) - 1} in size" if bound is not None else "finite"
        return f"{where} is {_a(data_type)} field (numbers {size}); {shown} is out of range"
    return None


def _date_problem(where: str, data_type: str, value: Any, shown: str) -> str | None:
    reason: str | None = None
    if not isinstance(value, str):
        reason = f"{shown} is not a date"
    else:
        try:
            parse_datetime(value)
        except ValueError as exc:
            # the parser's own detail, e.g. "(month must be in 1..12)"
            detail = str(exc)
            detail = detail[detail.rfind(" (") :] if detail.endswith(")") else ""
            reason = f"{shown} is not a valid date or datetime{detail}"
        else:
            if not value.strip():
                reason = "an empty value is not a date (for no date use notExists)"
    if reason is None:
        return None
    return (
        f"{where} is {_a(data_type)}: {reason}; write a date such as 2024-01-31 or "
        "2024-01-31T10:00:00Z (ISO 8601, UTC unless it has an offset)"
    )


def check_field_names(
    names: Sequence[str],
    spec: EntitySpec,
    *,
    option: str = "--fields",
    tenant_fields: MetadataSource | None = None,
    tenant_udfs: MetadataSource | None = None,
) -> None:
    """Check a list of field names (``udf.Name`` for UDFs) against ``spec`` like
    :func:`check_filter` does; raises :class:`AutotaskConfigError` naming the unknown one."""
    known = _known(spec)
    tenant = _Lazy(tenant_fields)
    udfs = _Lazy(tenant_udfs)
    for name in names:
        if name.lower().startswith("udf."):
            udf_name = name[4:].strip().strip('"')
            defined = udfs.get()
            if defined is not None and udf_name.lower() not in defined:
                hint = _suggest(udf_name, [i.name for i in defined.values()])
                raise AutotaskConfigError(
                    f"{option}: {spec.name} has no user-defined field {udf_name!r}{hint}"
                    + _describe_hint(spec, "the tenant's UDFs")
                )
            continue
        if _lookup(name, spec, known, tenant) is None:
            if tenant_fields is not None and tenant.get() is None:
                continue
            hint = _suggest(name, [i.name for i in known.values()])
            raise AutotaskConfigError(
                f"{option}: {spec.name} has no field {name!r}{hint}" + _describe_hint(spec)
            )


def check_date_field(
    name: str,
    spec: EntitySpec,
    *,
    option: str = "--date-field",
    tenant_fields: MetadataSource | None = None,
) -> str:
    """The API name of ``spec``'s date or datetime field ``name`` (any case); an unknown field, or
    one of another type, raises :class:`AutotaskConfigError` naming the entity's date fields."""
    known = _known(spec)
    info = _lookup(name.strip(), spec, known, _Lazy(tenant_fields))
    dates = sorted(
        (i.name for i in known.values() if value_kind(i.data_type) in ("datetime", "date")),
        key=str.lower,
    )
    choices = f"; its date fields are {', '.join(dates)}" if dates else f"; {spec.name} has none"
    if info is None:
        hint = _suggest(name, dates) or _suggest(name, [i.name for i in known.values()])
        raise AutotaskConfigError(f"{option}: {spec.name} has no field {name!r}{hint}" + choices)
    if value_kind(info.data_type) not in ("datetime", "date"):
        raise AutotaskConfigError(
            f"{option}: {spec.name}.{info.name} is {_a(info.data_type or 'text')} field, not a date"
            + choices
        )
    return info.name
