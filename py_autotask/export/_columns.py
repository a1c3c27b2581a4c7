"""Output columns of an export and the I/O-free decoding of API pages into Arrow record batches.

Columns come from metadata, never from the data: the entity's :class:`~py_autotask._spec.FieldSpec`
data types, the tenant's UDF definitions (``udf_<name>`` columns) and, when asked, picklist label
columns (``<field>_label``) built from ``entityInformation/fields`` picklist values. A page is decoded
with orjson and turned column by column into one :class:`pyarrow.RecordBatch` (no pydantic, no
pandas), so an all-null first page cannot change a column's type.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .._spec import EntitySpec
from .._values import parse_datetime

__all__ = [
    "Column",
    "PageDecoder",
    "arrow_schema",
    "build_columns",
    "columns_from_json",
    "columns_to_json",
    "kind_of",
    "page_to_batch",
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
    """

    name: str
    source: str
    kind: str
    udf: bool = False
    picklist: bool = False
    reference: str | None = None
    label_of: str | None = None
    labels: Mapping[str, str] | None = field(default=None, compare=False)

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


def table_name(collection: str) -> str:
    """SQL table name of a collection: snake case (``ConfigurationItems`` -> ``configuration_items``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", collection).lower()


def stable_hash(value: Any) -> str:
    """Short hash of a JSON-able value (sorted keys), for filter/option fingerprints."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# --- value conversion -----------------------------------------------------------------------------

_TRUE: Final = frozenset({"true", "1", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f"})


def _to_int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    return int(float(v))


def _to_float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    return float(v)


def _to_bool(v: Any) -> bool | None:
    if v is None or v == "":
        return None
    if isinstance(v, str):
        low = v.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"not a boolean: {v!r}")
    return bool(v)


def _to_date(v: Any) -> _dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
        return v
    return _dt.date.fromisoformat(str(v).strip()[:10])


def _to_str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_SLOW: Final[Mapping[str, Any]] = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "datetime": parse_datetime,
    "date": _to_date,
    "string": _to_str,
}

_Z_SUFFIX: Final = re.compile(r"[Zz]$")


def to_arrow(values: list[Any], kind: str) -> pa.Array:
    """Arrow array of ``kind`` from JSON values; a fast vectorised path, then a per-value one that
    accepts numbers sent as text, ``Z``/offset datetimes and the like. Unconvertible values raise
    ``ValueError`` naming the value (never silently become null)."""
    typ = ARROW_TYPES[kind]
    try:
        if kind == "datetime":
            text = pa.array(values, pa.string())
            stripped = pc.replace_substring_regex(text, _Z_SUFFIX.pattern, "")
            return pc.cast(stripped, pa.timestamp("us")).cast(typ)
        if kind == "date":
            text = pa.array(values, pa.string())
            return pc.cast(pc.utf8_slice_codeunits(text, 0, 10), typ)
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        pass
    convert = _SLOW[kind]
    out = []
    for v in values:
        try:
            out.append(convert(v))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"cannot read {v!r} as {kind}: {exc}") from exc
    return pa.array(out, typ)


#: Arrow type a JSON value arrives as, per kind (datetimes and dates are parsed from text after).
_WIRE: Final[Mapping[str, pa.DataType]] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.string(),
    "date": pa.string(),
    "string": pa.string(),
}
_CONVERT_ERRORS: Final = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
)


#: Fractional seconds beyond microseconds (.NET sends up to 7 digits): truncated, as Python's
#: ``datetime.fromisoformat`` does.
_EXTRA_DIGITS: Final = r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{6})\d+$"


def _finish(array: pa.Array, kind: str) -> pa.Array:
    """Wire-typed array -> the column's type (parses datetime/date text)."""
    if kind == "datetime":
        stripped = pc.replace_substring_regex(array, _Z_SUFFIX.pattern, "")
        try:
            parsed = pc.cast(stripped, pa.timestamp("us"))
        except pa.ArrowInvalid:
            trimmed = pc.replace_substring_regex(stripped, _EXTRA_DIGITS, r"\1")
            parsed = pc.cast(trimmed, pa.timestamp("us"))
        return parsed.cast(ARROW_TYPES["datetime"])
    if kind == "date":
        return pc.cast(pc.utf8_slice_codeunits(array, 0, 10), ARROW_TYPES["date"])
    return array


def _plain_arrays(items: Sequence[Mapping[str, Any]], plain: Sequence[Column]) -> list[pa.Array]:
    """The non-UDF columns: one C++ pass over the dicts (a struct array of the wire types), then
    per-column parsing; any column the fast path cannot take goes value by value."""
    struct_type = pa.struct([pa.field(c.source, _WIRE[c.kind]) for c in plain])
    try:
        struct = pa.array(items, type=struct_type)
    except _CONVERT_ERRORS:
        return [to_arrow([item.get(c.source) for item in items], c.kind) for c in plain]
    out = []
    for i, c in enumerate(plain):
        field = struct.field(i)
        try:
            out.append(_finish(field, c.kind))
        except _CONVERT_ERRORS:
            out.append(to_arrow(field.to_pylist(), c.kind))
    return out


_UDF_LIST: Final = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))


def _udf_arrays(
    items: Sequence[Mapping[str, Any]], udf_columns: Sequence[Column]
) -> dict[str, pa.Array] | None:
    """UDF columns without a Python loop per value, when every item lists the same UDFs in the
    same order with text values (what Autotask sends); ``None`` when the slow path is needed."""
    if not items:
        return {c.name: pa.nulls(0, c.arrow_type) for c in udf_columns}
    try:
        lists = pa.array([item.get("userDefinedFields") for item in items], type=_UDF_LIST)
    except _CONVERT_ERRORS:
        return None
    return _udf_list_arrays(lists, udf_columns)


def _udf_list_arrays(lists: pa.Array, udf_columns: Sequence[Column]) -> dict[str, pa.Array] | None:
    """The UDF columns from a ``list<struct<name, value>>`` array (see :func:`_udf_arrays`)."""
    n = len(lists)
    if n == 0:
        return {c.name: pa.nulls(0, c.arrow_type) for c in udf_columns}
    lengths = pc.list_value_length(lists)
    k = lengths[0].as_py()
    if (
        not k
        or lists.null_count
        or pc.min_max(lengths)["max"].as_py() != k
        or pc.min_max(lengths)["min"].as_py() != k
    ):
        return None
    flat = pc.list_flatten(lists)
    names = flat.field("name")
    first = names.slice(0, k).to_pylist()
    if not pc.all(pc.equal(names, pa.array(first * n, pa.string()))).as_py():
        return None
    values = flat.field("value")
    position = {name: j for j, name in enumerate(first)}
    out: dict[str, pa.Array] = {}
    for c in udf_columns:
        j = position.get(c.source)
        if j is None:
            out[c.name] = pa.nulls(n, c.arrow_type)
            continue
        column = values.take(pa.array(range(j, n * k, k), pa.int64()))
        try:
            out[c.name] = (
                _finish(column, c.kind)
                if c.kind in ("datetime", "date", "string")
                else pc.cast(column, c.arrow_type)
            )
        except _CONVERT_ERRORS:
            out[c.name] = to_arrow(column.to_pylist(), c.kind)
    return out


def page_to_batch(
    items: Sequence[Mapping[str, Any]], columns: Sequence[Column], schema: pa.Schema | None = None
) -> pa.RecordBatch:
    """One RecordBatch with exactly ``columns`` from the page's decoded ``items``. Fields absent
    from an item are null; fields not in ``columns`` are ignored."""
    plain = [c for c in columns if not c.udf and c.label_of is None]
    by_name = dict(zip((c.name for c in plain), _plain_arrays(items, plain), strict=True))
    udf_columns = [c for c in columns if c.udf and c.label_of is None]
    raw: dict[str, list[Any]] = {}
    if udf_columns:
        fast = _udf_arrays(items, udf_columns)
        if fast is not None:
            by_name.update(fast)
        else:
            udf_rows = []
            for item in items:
                udfs = item.get("userDefinedFields") or ()
                udf_rows.append(
                    {str(u.get("name")): u.get("value") for u in udfs if type(u) is dict}
                )
            for col in udf_columns:
                values = [row.get(col.source) for row in udf_rows]
                raw[col.name] = values
                by_name[col.name] = to_arrow(values, col.kind)
    arrays: list[pa.Array] = []
    for col in columns:
        if col.label_of is None:
            arrays.append(by_name[col.name])
            continue
        source = raw.get(col.label_of)
        if source is None:
            source = by_name[col.label_of].to_pylist()
        arrays.append(_label_array(col, source))
    return pa.RecordBatch.from_arrays(arrays, schema=schema or arrow_schema(columns))


def _label_array(col: Column, source: Sequence[Any]) -> pa.Array:
    labels = col.labels or {}
    return pa.array([None if v is None else labels.get(_label_key(v)) for v in source], pa.string())


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


class PageDecoder:
    """Query page bodies -> ``(RecordBatch, nextPageUrl)`` with exactly ``columns``.

    The fast path parses the body with Arrow's JSON reader straight into a struct array of the
    wire types (C++, the GIL released, no Python object per value), then finishes the columns
    exactly as :func:`page_to_batch` does. Any body it cannot take as-is (a number sent as text, a
    UDF value that is not text, a duplicate key, an unexpected shape) is decoded again by the
    general path (orjson + :func:`page_to_batch`), so both give the same batch; the fast path only
    saves time and memory."""

    def __init__(self, columns: Sequence[Column], schema: pa.Schema | None = None) -> None:
        self.columns = list(columns)
        self.schema = schema if schema is not None else arrow_schema(self.columns)
        self._plain = [c for c in self.columns if not c.udf and c.label_of is None]
        self._udf = [c for c in self.columns if c.udf and c.label_of is None]
        fields = [pa.field(c.source, _WIRE[c.kind]) for c in self._plain]
        if self._udf:
            fields.append(pa.field("userDefinedFields", _UDF_LIST))
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

    def decode(self, content: bytes) -> tuple[pa.RecordBatch, str | None]:
        fast = self._fast(content)
        if fast is not None:
            return fast
        self.fallbacks += 1
        items, next_url = decode_page(content)
        return page_to_batch(items, self.columns, self.schema), next_url

    def _fast(self, content: bytes) -> tuple[pa.RecordBatch, str | None] | None:
        try:
            table = pa_json.read_json(
                pa.py_buffer(content),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(content) + 64),
                parse_options=self._parse_options,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != 1:
            return None
        items_column = table.column("items").combine_chunks()
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
                arrays[c.name] = _finish(structs.field(i), c.kind)
        except _CONVERT_ERRORS:
            return None
        if self._udf:
            udfs = _udf_list_arrays(structs.field(len(self._plain)), self._udf)
            if udfs is None:
                return None
            arrays.update(udfs)
        out = [
            arrays[c.name]
            if c.label_of is None
            else _label_array(c, arrays[c.label_of].to_pylist())
            for c in self.columns
        ]
        batch = pa.RecordBatch.from_arrays(out, schema=self.schema)
        return batch, next_url or None
