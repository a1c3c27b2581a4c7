"""Output columns of an export and the I/O-free decoding of API pages into Arrow record batches.

Columns come from metadata, never from the data: the entity's :class:`~py_autotask._spec.FieldSpec`
data types, the tenant's UDF definitions (``udf_<name>`` columns) and, when asked, picklist label
columns (``<field>_label``) built from ``entityInformation/fields`` picklist values. A page is decoded
by Arrow's JSON reader or with orjson, column by column, into one :class:`pyarrow.RecordBatch` (no
pydantic, no pandas), so an all-null first page cannot change a column's type; only a value the
column's type cannot hold without loss can, and then it becomes text (:mod:`._tolerance`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .._registry import table_name
from .._spec import EntitySpec
from . import _arrow, _tolerance
from ._arrow import POOL
from ._tolerance import (
    CLEAN,
    CONVERTED,
    DROPPED,
    KEPT,
    OffTypeCount,
    OffTypeReport,
    count_off_type,
)

__all__ = [
    "Column",
    "PageDecoder",
    "PageRead",
    "arrow_schema",
    "build_columns",
    "columns_from_json",
    "columns_to_json",
    "conform",
    "kind_of",
    "off_type_reports",
    "page_to_batch",
    "promote",
    "stable_hash",
    "table_name",
]

#: Arrow type per column kind.
ARROW_TYPES: Final[Mapping[str, pa.DataType]] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "string": pa.string(),
}

_KINDS: Final[Mapping[str, str]] = {
    "integer": "int",
    "int": "int",
    "short": "int",
    "long": "int",
    "byte": "int",
    "decimal": "float",
    "double": "float",
    "float": "float",
    "number": "float",
    "currency": "float",
    "boolean": "bool",
    "bool": "bool",
    "datetime": "datetime",
    "date": "date",
}


def kind_of(data_type: str | None) -> str:
    """Column kind (``int | float | bool | datetime | date | string``) of an Autotask data type."""
    return _KINDS.get((data_type or "").strip().lower(), "string")


@dataclass(frozen=True)
class Column:
    """One output column.

    ``source`` is the API field name (or the UDF name when ``udf``); a label column has
    ``label_of`` set to the value column's name and ``labels`` mapping ``str(value) -> label``.
    ``reference`` is the referenced collection name of an ``isReference`` field.
    ``promoted_from`` is the declared kind of a column that holds text (``kind`` ``"string"``)
    because some value could not be held by that kind without loss (see :mod:`._tolerance`).
    """

    name: str
    source: str
    kind: str
    udf: bool = False
    picklist: bool = False
    reference: str | None = None
    label_of: str | None = None
    labels: Mapping[str, str] | None = field(default=None, compare=False)
    promoted_from: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


def columns_to_json(columns: Sequence[Column]) -> list[dict[str, Any]]:
    return [asdict(c) for c in columns]


def columns_from_json(data: Iterable[Mapping[str, Any]]) -> list[Column]:
    return [
        Column(
            name=str(d["name"]),
            source=str(d["source"]),
            kind=str(d["kind"]),
            udf=bool(d.get("udf")),
            picklist=bool(d.get("picklist")),
            reference=d.get("reference"),
            label_of=d.get("label_of"),
            labels=dict(d["labels"]) if d.get("labels") is not None else None,
            promoted_from=d.get("promoted_from"),
        )
        for d in data
    ]


def _udf_column_name(name: str, taken: set[str]) -> str:
    base = "udf_" + (re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "field")
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def _labels(picklist_values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for pv in picklist_values or ():
        if isinstance(pv, Mapping) and pv.get("value") is not None:
            out[str(pv["value"])] = str(pv.get("label") or "")
    return out


def build_columns(
    spec: EntitySpec,
    *,
    resolve_reference: Any = None,
    udf_definitions: Sequence[Mapping[str, Any]] = (),
    field_metadata: Sequence[Mapping[str, Any]] | None = None,
    picklist_labels: bool = False,
) -> list[Column]:
    """The columns of ``spec``: ``id`` first, then the spec's fields sorted by API name, then one
    ``udf_<name>`` column per UDF definition (in definition order). With ``picklist_labels`` (and
    ``field_metadata``, the ``entityInformation/fields`` list) every picklist column is followed by a
    ``<name>_label`` string column. ``resolve_reference`` maps a singular entity name to a
    collection name (``resolve_name`` of the generated layer)."""
    meta_by_name = {str(f.get("name")): f for f in (field_metadata or ()) if isinstance(f, Mapping)}
    columns: list[Column] = []
    names = sorted(spec.fields, key=lambda n: (n != "id", n))
    taken: set[str] = {n.lower() for n in names}
    for name in names:
        fs = spec.fields[name]
        reference = None
        if fs.reference_entity and resolve_reference is not None:
            reference = resolve_reference(fs.reference_entity)
        col = Column(
            name, name, kind_of(fs.data_type), picklist=fs.is_picklist, reference=reference
        )
        columns.append(col)
        if picklist_labels and fs.is_picklist:
            labels = _labels((meta_by_name.get(name) or {}).get("picklistValues"))
            label_name = f"{name}_label"
            taken.add(label_name.lower())
            columns.append(Column(label_name, name, "string", label_of=name, labels=labels))
    for udf in udf_definitions:
        udf_name = str(udf.get("name") or "")
        if not udf_name:
            continue
        col_name = _udf_column_name(udf_name, taken)
        taken.add(col_name.lower())
        is_pick = bool(udf.get("isPickList"))
        columns.append(
            Column(col_name, udf_name, kind_of(str(udf.get("type"))), udf=True, picklist=is_pick)
        )
        if picklist_labels and is_pick:
            label_name = f"{col_name}_label"
            taken.add(label_name.lower())
            columns.append(
                Column(
                    label_name,
                    udf_name,
                    "string",
                    udf=True,
                    label_of=col_name,
                    labels=_labels(udf.get("picklistValues")),
                )
            )
    return columns


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=True) for c in columns])


def stable_hash(value: Any) -> str:
    """Short hash of a JSON-able value (sorted keys), for filter/option fingerprints."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# --- value conversion -----------------------------------------------------------------------------
#
# Clean pages (every value of its declared JSON type) take the fast paths: Arrow's JSON reader, or
# one ``pa.array`` per column. A column with any other value is read value by value with the one
# rule of :mod:`._tolerance` (convert without loss, else keep the text as received and turn the
# column into text), so an off-type value costs nothing on pages that have none.

_Z_SUFFIX: Final = re.compile(r"[Zz]$")

#: Arrow type a JSON value arrives as, per kind (datetimes and dates are parsed from text after).
_WIRE: Final[Mapping[str, pa.DataType]] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.string(),
    "date": pa.string(),
    "string": pa.string(),
}
#: Python types of the values a column of each kind takes as they are (``bool`` is not ``int``)
_CLEAN_TYPES: Final[Mapping[str, frozenset[type]]] = {
    "int": frozenset({int}),
    "float": frozenset({float, int}),
    "bool": frozenset({bool}),
    "datetime": frozenset({str}),
    "date": frozenset({str}),
    "string": frozenset({str}),
}
_NONE_TYPE: Final = type(None)
_TEXT: Final = frozenset({str})
_CONVERT_ERRORS: Final = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    OverflowError,  # an integer beyond int64
)


#: Fractional seconds beyond microseconds (.NET sends up to 7 digits): truncated, as Python's
#: ``datetime.fromisoformat`` does.
_EXTRA_DIGITS: Final = r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{6})\d+$"


def _finish(array: pa.Array, kind: str) -> pa.Array:
    """Wire-typed array -> the column's type (parses datetime/date text)."""
    if kind == "datetime":
        stripped = pc.replace_substring_regex(array, _Z_SUFFIX.pattern, "", memory_pool=POOL)
        try:
            parsed = pc.cast(stripped, pa.timestamp("us"), memory_pool=POOL)
        except pa.ArrowInvalid:
            trimmed = pc.replace_substring_regex(stripped, _EXTRA_DIGITS, r"\1", memory_pool=POOL)
            parsed = pc.cast(trimmed, pa.timestamp("us"), memory_pool=POOL)
        return parsed.cast(ARROW_TYPES["datetime"], memory_pool=POOL)
    if kind == "date":
        # a time of day would be dropped: such text is not a clean date
        timed = pc.match_substring_regex(array, r"^.{10}[T ](?:0*[1-9]|.*[1-9])", memory_pool=POOL)
        if pc.any(timed).as_py():
            raise pa.ArrowInvalid("a date with a time of day")
        day = pc.utf8_slice_codeunits(array, 0, 10, memory_pool=POOL)
        return pc.cast(day, ARROW_TYPES["date"], memory_pool=POOL)
    return array


_UDF_LIST: Final = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))
_UDF_FIELD: Final = "userDefinedFields"


def _label_array(col: Column, source: Sequence[Any]) -> pa.Array:
    labels = col.labels or {}
    return _arrow.strings([None if v is None else labels.get(_label_key(v)) for v in source])


def _label_key(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def decode_page(content: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """``(items, nextPageUrl)`` of a query page body."""
    data = orjson.loads(content)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("a query page must be an object with an 'items' list")
    details = data.get("pageDetails") or {}
    next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
    return data["items"], next_url or None


def promote(column: Column) -> Column:
    """``column`` holding text from now on (``promoted_from`` keeps its declared kind)."""
    if column.promoted_from is not None or column.kind == "string":
        return column
    return replace(column, kind="string", promoted_from=column.kind)


def conform(batch: pa.RecordBatch, columns: Sequence[Column]) -> pa.RecordBatch:
    """``batch`` with the types of ``columns`` (a column promoted to text after ``batch`` was
    made becomes the text of its typed values, :func:`~._tolerance.typed_text`)."""
    by_name = {c.name: c for c in columns}
    arrays: list[pa.Array] | None = None
    for i, field_ in enumerate(batch.schema):
        col = by_name.get(field_.name)
        if col is None or field_.type == col.arrow_type:
            continue
        if arrays is None:
            arrays = list(batch.columns)
        arrays[i] = _tolerance.typed_text(arrays[i], col.promoted_from or "")
    if arrays is None:
        return batch
    fields = [
        pa.field(f.name, by_name[f.name].arrow_type if f.name in by_name else f.type)
        for f in batch.schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


@dataclass(frozen=True)
class PageRead:
    """One decoded page: the batch, the next page's URL and the off-type values it held per
    output column (empty for a clean page)."""

    batch: pa.RecordBatch
    next_url: str | None
    off_type: dict[str, OffTypeCount]


class PageDecoder:
    """Query page bodies -> ``(RecordBatch, nextPageUrl)`` with exactly ``columns``.

    The fast path parses the body with Arrow's JSON reader straight into a struct array of the
    wire types (C++, the GIL released, no Python object per value), then finishes the columns.
    Any body it cannot take as-is (a number sent as text, a UDF value that is not text, a
    duplicate key, an unexpected shape) is decoded again by the general path (orjson, one
    ``pa.array`` per clean column, the values of any other column one by one with the rule of
    :mod:`._tolerance`), so both give the same batch; the fast path only saves time and memory.

    One decoder serves every partition of an entity (thread-safe). A value that cannot be held
    without loss by its column's type turns the column into text (:func:`promote`) from then on:
    ``on_promote(column)`` is called first (the stage records it before the page is written),
    and :attr:`columns` / :attr:`schema` are the promoted ones; batches made before keep their
    types (:func:`conform` aligns them). ``strict=True`` raises
    :class:`~._tolerance.OffTypeValueError` at the first off-type value instead."""

    def __init__(
        self,
        columns: Sequence[Column],
        schema: pa.Schema | None = None,
        *,
        entity: str = "",
        strict: bool = False,
        on_promote: Callable[[Column], None] | None = None,
    ) -> None:
        self.columns = list(columns)
        self.schema = schema if schema is not None else arrow_schema(self.columns)
        self.entity = entity
        self.strict = strict
        self.on_promote = on_promote
        self._lock = threading.Lock()
        self._plain = [c for c in self.columns if not c.udf and c.label_of is None]
        self._udf = [c for c in self.columns if c.udf and c.label_of is None]
        fields = [pa.field(c.source, _WIRE[_declared(c)]) for c in self._plain]
        if self._udf:
            fields.append(pa.field(_UDF_FIELD, _UDF_LIST))
        doc = pa.schema(
            [
                pa.field("items", pa.list_(pa.struct(fields))),
                pa.field("pageDetails", pa.struct([pa.field("nextPageUrl", pa.string())])),
            ]
        )
        self._parse_options = pa_json.ParseOptions(
            explicit_schema=doc, unexpected_field_behavior="ignore", newlines_in_values=True
        )
        #: pages decoded by the general path (for tests and diagnostics)
        self.fallbacks = 0

    @property
    def promoted(self) -> list[str]:
        """Names of the columns that hold text because of off-type values."""
        return [c.name for c in self.columns if c.promoted_from is not None]

    def decode(self, content: bytes) -> tuple[pa.RecordBatch, str | None]:
        page = self.read(content)
        return page.batch, page.next_url

    def read(self, content: bytes) -> PageRead:
        """One page body -> :class:`PageRead` (batch, next URL, off-type counts)."""
        fast = self._fast(content)
        if fast is not None:
            return fast
        with self._lock:
            self.fallbacks += 1
        items, next_url = decode_page(content)
        return self.read_items(items, next_url)

    def read_items(self, items: Sequence[Any], next_url: str | None = None) -> PageRead:
        """Decoded items (the general path) -> :class:`PageRead`."""
        for item in items:
            if not isinstance(item, dict):
                raise ValueError(f"a query page item must be an object, not {item!r:.80}")
        counts: dict[str, OffTypeCount] = {}
        ids_cache: list[Any] = []

        def ids() -> list[Any]:
            if not ids_cache:
                ids_cache.extend(item.get("id") for item in items)
            return ids_cache

        arrays: dict[str, pa.Array] = {}
        for c in self._plain:
            values = [item.get(c.source) for item in items]
            arrays[c.name] = self._column(c, values, ids, counts, udf=False)
        if self._udf:
            udf_rows = [self._udf_row(item, counts, ids, n) for n, item in enumerate(items)]
            for c in self._udf:
                values = [row.get(c.source) for row in udf_rows]
                arrays[c.name] = self._column(c, values, ids, counts, udf=True)
        return PageRead(self._batch(arrays), next_url, counts)

    # -- internals ---------------------------------------------------------------------------------
    def _batch(self, arrays: dict[str, pa.Array]) -> pa.RecordBatch:
        with self._lock:
            columns = self.columns
        out = []
        fields = []
        for c in columns:
            if c.label_of is not None:
                out.append(_label_array(c, arrays[c.label_of].to_pylist()))
                fields.append(pa.field(c.name, pa.string()))
                continue
            array = arrays[c.name]
            if c.promoted_from is not None and not pa.types.is_string(array.type):
                array = _tolerance.typed_text(array, c.promoted_from)
            out.append(array)
            fields.append(pa.field(c.name, array.type))
        return pa.RecordBatch.from_arrays(out, schema=pa.schema(fields))

    def _udf_row(
        self,
        item: Mapping[str, Any],
        counts: dict[str, OffTypeCount],
        ids: Callable[[], list[Any]],
        n: int,
    ) -> dict[str, Any]:
        raw = item.get(_UDF_FIELD)
        if raw is None:
            return {}
        if isinstance(raw, list):
            row: dict[str, Any] = {}
            for entry in raw:
                if type(entry) is dict and isinstance(entry.get("name"), str):
                    row.setdefault(entry["name"], entry.get("value"))
                else:
                    self._off(counts, _UDF_FIELD, DROPPED, entry, ids()[n], "udf")
            return row
        if isinstance(raw, dict):
            # {} on a get by id (issue 13); a non-empty object is read as name -> value
            self._off(counts, _UDF_FIELD, CONVERTED, raw, ids()[n], "udf")
            return {str(k): v for k, v in raw.items()}
        self._off(counts, _UDF_FIELD, DROPPED, raw, ids()[n], "udf")
        return {}

    def _off(
        self,
        counts: dict[str, OffTypeCount],
        key: str,
        status: int,
        value: Any,
        record_id: Any,
        kind: str,
    ) -> None:
        expected = "list of {name, value} objects" if key == _UDF_FIELD else kind
        count_off_type(
            counts,
            key,
            status,
            value,
            strict=self.strict,
            entity=self.entity,
            record_id=record_id,
            expected=expected,
        )

    def _column(
        self,
        c: Column,
        values: list[Any],
        ids: Callable[[], list[Any]],
        counts: dict[str, OffTypeCount],
        *,
        udf: bool,
    ) -> pa.Array:
        kind = _declared(c)
        types = set(map(type, values))
        types.discard(_NONE_TYPE)
        if types <= (_TEXT if udf else _CLEAN_TYPES[kind]):
            try:
                if udf:
                    return _udf_cast(_arrow.strings(values), kind)
                return _finish(_arrow.column(values, _WIRE[kind]), kind)
            except _CONVERT_ERRORS:
                pass
        typed: list[Any] = []
        kept: dict[int, str] = {}
        for i, v in enumerate(values):
            if v is None:
                typed.append(None)
                continue
            value, status = _tolerance.read_value(kind, v)
            if udf and status != KEPT:
                # UDF values are text on the wire: text that reads as the UDF's type is clean,
                # any other JSON type is off-type (and "" is off-type unless the UDF is text)
                if isinstance(v, str):
                    status = CONVERTED if (kind != "string" and not v.strip()) else CLEAN
                else:
                    status = CONVERTED
            if status != CLEAN:
                if c.name == "id" and status == KEPT:
                    raise ValueError(f"{self.entity}: a record's id is not an integer: {v!r:.80}")
                self._off(counts, c.name, status, v, ids()[i], kind)
                if status == KEPT:
                    kept[i] = _tolerance.received_text(v)
            typed.append(value)
        array = pa.array(typed, ARROW_TYPES[kind])
        if not kept:
            return array
        self._promote(c)
        texts = _tolerance.typed_text(array, kind).to_pylist()
        for i, text in kept.items():
            texts[i] = text
        return _arrow.strings(texts)

    def _promote(self, c: Column) -> None:
        with self._lock:
            current = next(x for x in self.columns if x.name == c.name)
            if current.promoted_from is not None:
                return
            promoted = promote(current)
            if self.on_promote is not None:
                self.on_promote(promoted)
            self.columns = [promoted if x.name == c.name else x for x in self.columns]
            self.schema = arrow_schema(self.columns)

    def _fast(self, content: bytes) -> PageRead | None:
        try:
            table = pa_json.read_json(
                pa.py_buffer(content),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(content) + 64),
                parse_options=self._parse_options,
                memory_pool=POOL,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != 1:
            return None
        items_column = table.column("items").combine_chunks(memory_pool=POOL)
        if items_column.null_count:
            return None
        structs = items_column.flatten()
        if structs.null_count:
            return None
        details = table.column("pageDetails")[0]
        next_url = details["nextPageUrl"].as_py() if details.is_valid else None
        arrays: dict[str, pa.Array] = {}
        try:
            for i, c in enumerate(self._plain):
                arrays[c.name] = _finish(structs.field(i), _declared(c))
        except _CONVERT_ERRORS:
            return None
        if self._udf:
            udfs = _udf_list_arrays(structs.field(len(self._plain)), self._udf)
            if udfs is None:
                return None
            arrays.update(udfs)
        return PageRead(self._batch(arrays), next_url or None, {})


def _declared(c: Column) -> str:
    """The kind a column's metadata declares (before any promotion to text)."""
    return c.promoted_from or c.kind


def _udf_list_arrays(lists: pa.Array, udf_columns: Sequence[Column]) -> dict[str, pa.Array] | None:
    """UDF columns without a Python loop per value, when every item lists the same UDFs in the
    same order with text values that read as each UDF's type (what Autotask sends); ``None``
    when the general path is needed."""
    n = len(lists)
    if n == 0:
        return {c.name: pa.nulls(0, ARROW_TYPES[_declared(c)]) for c in udf_columns}
    lengths = pc.list_value_length(lists, memory_pool=POOL)
    k = lengths[0].as_py()
    if (
        not k
        or lists.null_count
        or pc.min_max(lengths)["max"].as_py() != k
        or pc.min_max(lengths)["min"].as_py() != k
    ):
        return None
    flat = pc.list_flatten(lists, memory_pool=POOL)
    names = flat.field("name")
    first = names.slice(0, k).to_pylist()
    if not pc.all(pc.equal(names, _arrow.strings(first * n), memory_pool=POOL)).as_py():
        return None
    values = flat.field("value")
    position = {name: j for j, name in enumerate(first)}
    out: dict[str, pa.Array] = {}
    for c in udf_columns:
        kind = _declared(c)
        j = position.get(c.source)
        if j is None:
            out[c.name] = pa.nulls(n, ARROW_TYPES[kind])
            continue
        column = pc.take(values, _arrow.indices(j, n * k, k), memory_pool=POOL)
        try:
            out[c.name] = _udf_cast(column, kind)
        except _CONVERT_ERRORS:
            return None
    return out


def _udf_cast(column: pa.Array, kind: str) -> pa.Array:
    """UDF values (text on the wire) -> the UDF's type; raises when some text does not read."""
    if kind in ("datetime", "date", "string"):
        return _finish(column, kind)
    return pc.cast(column, ARROW_TYPES[kind], memory_pool=POOL)


def off_type_reports(
    entity: str, columns: Sequence[Column], counts: Mapping[str, OffTypeCount]
) -> list[OffTypeReport]:
    """One :class:`~._tolerance.OffTypeReport` per column of ``entity`` with off-type values
    (``counts`` per column name, as :class:`PageRead` gives them), in column order, then the
    UDF list itself when it came in another shape (``{}``)."""
    reports = [
        OffTypeReport(
            entity,
            c.source,
            c.name,
            _tolerance.expected_name(_declared(c)),
            counts[c.name].converted,
            counts[c.name].kept,
            counts[c.name].dropped,
            counts[c.name].example,
            c.promoted_from is not None,
        )
        for c in columns
        if c.name in counts and c.label_of is None
    ]
    udf_list = counts.get(_UDF_FIELD)
    if udf_list is not None:
        reports.append(
            OffTypeReport(
                entity,
                _UDF_FIELD,
                "udf_*",
                "list of {name, value}",
                udf_list.converted,
                udf_list.kept,
                udf_list.dropped,
                udf_list.example,
            )
        )
    return reports


def page_to_batch(
    items: Sequence[Mapping[str, Any]], columns: Sequence[Column], schema: pa.Schema | None = None
) -> pa.RecordBatch:
    """One RecordBatch with ``columns`` from the page's decoded ``items`` (the general path of
    :class:`PageDecoder`). Fields absent from an item are null; fields not in ``columns`` are
    ignored; a column that meets a value it cannot hold without loss is text in this batch."""
    return PageDecoder(columns, schema).read_items(list(items)).batch
