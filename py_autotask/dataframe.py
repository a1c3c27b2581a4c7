"""pandas integration: DataFrames from Autotask collections, and plain records from DataFrames.

::

    import py_autotask as at

    df = at.to_dataframe("tickets", filters={"status": "New"}, date_range="2024-01-01,2024-12-31")
    df = client.tickets.to_dataframe(F("priority").eq(1), picklist_labels=True, categorical=True)
    df.resample("ME", on="createDate")["id"].count()       # works as is: UTC datetime column
    for record in at.from_dataframe(df).records(): ...    # dicts of plain Python values

``to_dataframe(entity, filters=None, *, date_range=None, date_field=None, client=None,
picklist_labels=False, categorical=False, workers=3, strict=False)``:

- rows are read like the exporter reads them (:mod:`py_autotask.export`): id-keyset pages over
  parallel id ranges (at most ``workers`` requests in flight), decoded straight into Arrow and
  converted once at the end (``self_destruct``), so a DataFrame costs about its own size;
- column names are API names (``createDate``, ``companyID``), then ``udf_<name>`` per UDF, then
  ``<field>_label`` with ``picklist_labels``; dtypes come from metadata: integers ``Int64``,
  booleans ``boolean``, decimals ``float64``, datetimes ``datetime64[us, UTC]``, text ``str``;
  ``categorical=True`` makes picklist columns (their label columns when labels are asked)
  ``category``;
- values off their declared type (a real tenant's ``"m"`` in an integer picklist, a ZIP code as a
  number, ``""`` for a datetime) never fail the read or lose a row: they are converted when nothing
  is lost, else kept as received and the whole column is text (``object``/``str``, every other
  value as the text of its typed value); each field is logged once and listed in
  ``df.attrs["off_type"]``. ``strict=True`` raises
  :class:`~py_autotask.export.OffTypeValueError` instead;
- ``filters``: anything ``query()`` accepts, or a plain ``{"field": value}`` mapping (equality;
  a list means ``in``; text for a picklist field is matched against the picklist labels);
- ``date_range``: ``"2024-01-01,2024-12-31"`` or a ``(start, end)`` pair (either may be empty/None);
  a date-only end includes that whole day. It filters ``date_field``, by default the entity's
  generated ``default_date_field``: its creation date field (``createDate``, ``createDateTime``...)
  or else its change-tracking field;
- ``client``: an :class:`~py_autotask.AutotaskClient`; ``py_autotask.to_dataframe`` builds one
  from the ``AUTOTASK_*`` environment variables when none is given (closed afterwards).

``from_dataframe(df, entity=None)`` returns :class:`DataFrameRecords`, the input of the bulk layer:
``.records()`` yields one dict per row with NaN/NaT/``pd.NA`` as ``None`` and numpy/pandas scalars
as Python ``int``/``float``/``bool``/``datetime``.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict

from ._registry import spec_for
from ._sender import Sender
from ._spec import EntitySpec
from ._values import (
    is_date_text,
    looks_like_label,
    parse_date,
    parse_datetime,
    plain_value,
    resolve_label,
    to_wire,
)
from .exceptions import AutotaskConfigError
from .query import FilterArg, build_query_body

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["DataFrameOptions", "DataFrameRecords", "from_dataframe", "to_dataframe"]

logger = logging.getLogger("py_autotask.dataframe")


def _require() -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise AutotaskConfigError(
            "DataFrames need pandas and pyarrow: pip install 'py-autotask[pandas]'"
        ) from exc


def date_field_of(spec: EntitySpec) -> str:
    """The field ``date_range`` filters on by default: the generated ``default_date_field`` (the
    creation date, else the change-tracking field; the rule is codegen's)."""
    if spec.default_date_field:
        return spec.default_date_field
    raise AutotaskConfigError(
        f"{spec.name} has no creation or change-tracking date; pass date_field="
    )


def _bound(value: Any, *, end: bool) -> tuple[str, Any] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = parse_date(text) if is_date_text(text) else parse_datetime(text)
        except ValueError as exc:
            raise AutotaskConfigError(
                f"date_range bound {text!r} is not an ISO date or datetime"
            ) from exc
    if isinstance(value, _dt.datetime):
        return ("lte" if end else "gte", value)
    if isinstance(value, _dt.date):
        if end:
            return (
                "lt",
                _dt.datetime.combine(value + _dt.timedelta(days=1), _dt.time(), _dt.timezone.utc),
            )
        return ("gte", _dt.datetime.combine(value, _dt.time(), _dt.timezone.utc))
    raise AutotaskConfigError(
        f"date_range bounds are dates, datetimes or ISO strings, not {value!r}"
    )


def date_range_filter(
    spec: EntitySpec, date_range: Any, date_field: str | None = None
) -> list[dict[str, Any]]:
    """Filter items for ``date_range`` (see the module docstring)."""
    if date_range is None:
        return []
    if isinstance(date_range, str):
        if date_range.count(",") != 1:
            raise AutotaskConfigError("date_range is 'start,end' (either side may be empty)")
        start, end = date_range.split(",")
    elif isinstance(date_range, Sequence) and len(date_range) == 2:
        start, end = date_range
    else:
        raise AutotaskConfigError("date_range is 'start,end' or a (start, end) pair")
    field = date_field or date_field_of(spec)
    from .query import Condition

    items = []
    for bound in (_bound(start, end=False), _bound(end, end=True)):
        if bound is not None:
            items.append(Condition(bound[0], field, bound[1]).to_dict())
    return items


def filter_items(
    spec: EntitySpec, filters: FilterArg | Mapping[str, Any] | None, labels: Any = None
) -> list[dict[str, Any]]:
    """Filter items of ``filters``; a ``{field: value}`` mapping means equality (list: ``in``).
    ``labels`` is a callable returning the ``entityInformation/fields`` list, used to turn text
    given for a picklist field into its value."""
    if filters is None:
        return []
    if isinstance(filters, Mapping) and not any(
        str(k).lower() in ("op", "filter") for k in filters
    ):
        fields_meta: list[dict[str, Any]] | None = None
        items: list[dict[str, Any]] = []
        for key, value in filters.items():
            name = next((n for n in spec.fields if n.lower() == str(key).lower()), str(key))
            fs = spec.fields.get(name)
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            if (
                fs is not None
                and fs.is_picklist
                and any(looks_like_label(fs.data_type, v) for v in values)
            ):
                if fields_meta is None:
                    fields_meta = labels() if labels is not None else []
                meta = next(
                    (f for f in fields_meta or () if str(f.get("name")).lower() == name.lower()),
                    None,
                )
                choices = list((meta or {}).get("picklistValues") or ())
                converted = []
                for v in values:
                    if looks_like_label(fs.data_type, v):
                        v, problem = resolve_label(fs.data_type, v, choices)
                        if problem:
                            raise AutotaskConfigError(f"{spec.name}.{name}: {problem}")
                    elif isinstance(v, str):
                        v, _problem = to_wire(fs.data_type, v)
                    converted.append(v)
                values = converted
            if value is None:
                items.append({"op": "notExist", "field": name})
            elif isinstance(value, (list, tuple, set, frozenset)):
                items.append({"op": "in", "field": name, "value": values})
            else:
                items.append({"op": "eq", "field": name, "value": values[0]})
        return [dict(i) for i in build_query_body(items)["filter"]]
    body = build_query_body(filters)
    return [dict(i) for i in body["filter"]]


def _to_pandas(table: pa.Table, columns: Sequence[Any], categorical: bool) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    df = table.to_pandas(types_mapper=mapping.get, self_destruct=True, split_blocks=True)
    if categorical:
        labelled = {c.label_of for c in columns if c.label_of}
        for c in columns:
            if (c.label_of is not None) or (c.picklist and c.name not in labelled):
                df[c.name] = df[c.name].astype("category")
    return df


def _frame(spec: EntitySpec, sink: Any, columns: Sequence[Any], categorical: bool) -> pd.DataFrame:
    """The DataFrame of what ``read_entity`` put in ``sink``: a column that met values its
    declared type cannot hold is text (``object``/``str`` dtype) in every row; the off-type
    values are logged once per field and listed in ``df.attrs["off_type"]``."""
    import pyarrow as pa

    from .export._columns import arrow_schema, off_type_reports

    table = pa.Table.from_batches(sink.batches(columns), schema=arrow_schema(columns))
    reports = off_type_reports(spec.name, columns, sink.off_type)
    for report in reports:
        logger.warning("%s", report)
    df = _to_pandas(table, columns, categorical)
    df.attrs["off_type"] = [r.to_dict() for r in reports]
    return df


class DataFrameOptions(TypedDict, total=False):
    """The options of ``to_dataframe`` (all optional; see the module docstring)."""

    date_range: Any  #: ``"2024-01-01,2024-12-31"`` or a ``(start, end)`` pair
    date_field: str | None  #: the field ``date_range`` filters (default: the spec's)
    picklist_labels: bool  #: add a ``<field>_label`` column per picklist field
    categorical: bool  #: picklist (or label) columns as ``category``
    workers: int  #: requests in flight (at most 3 per endpoint)
    strict: bool | None  #: raise on a value off its declared type (default: the client's)


def entity_to_dataframe(
    sender: Sender,
    spec: EntitySpec,
    filters: Any = None,
    *,
    date_range: Any = None,
    date_field: str | None = None,
    picklist_labels: bool = False,
    categorical: bool = False,
    workers: int = 3,
    strict: bool | None = False,
) -> pd.DataFrame:
    """The DataFrame of ``spec``'s rows read through ``sender`` (what ``client.to_dataframe`` and
    ``client.<entity>.to_dataframe`` run; async clients run it on a worker thread)."""
    _require()
    from .export._fetch import EntityReader, MemorySink, read_entity

    probe = EntityReader(sender, spec)
    items = filter_items(spec, filters, probe.field_metadata) + date_range_filter(
        spec, date_range, date_field
    )
    sink = MemorySink()
    columns, _count = read_entity(
        EntityReader(sender, spec, items),
        sink,
        workers=workers,
        picklist_labels=picklist_labels,
        strict=bool(strict),
    )
    return _frame(spec, sink, columns, categorical)


def to_dataframe(
    entity: str,
    filters: Any = None,
    *,
    client: Any,
    date_range: Any = None,
    date_field: str | None = None,
    picklist_labels: bool = False,
    categorical: bool = False,
    workers: int = 3,
    strict: bool = False,
) -> pd.DataFrame:
    """Every row of ``entity`` matching ``filters`` and ``date_range`` as a DataFrame, read with
    ``client`` (see the module docstring). ``py_autotask.to_dataframe`` is the same with a client
    built from the environment when none is given."""
    return entity_to_dataframe(
        client.sender,
        spec_for(entity),
        filters,
        date_range=date_range,
        date_field=date_field,
        picklist_labels=picklist_labels,
        categorical=categorical,
        workers=workers,
        strict=strict,
    )


class DataFrameRecords:
    """Rows of a DataFrame as plain records, for the bulk layer. ``entity`` is an optional
    collection name the records belong to."""

    def __init__(self, df: pd.DataFrame, entity: str | None = None) -> None:
        _require()
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise AutotaskConfigError(
                f"from_dataframe() needs a pandas DataFrame, not {type(df).__name__}"
            )
        self.df = df
        self.entity = spec_for(entity).name if entity is not None else None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.df.columns]

    def __len__(self) -> int:
        return len(self.df)

    def records(self) -> Iterator[dict[str, Any]]:
        """One dict per row: NaN/NaT/NA -> ``None``, numpy/pandas scalars -> Python values."""
        names = self.columns
        for row in self.df.itertuples(index=False, name=None):
            yield {k: plain_value(v) for k, v in zip(names, row, strict=True)}

    def __repr__(self) -> str:
        return f"<DataFrameRecords {len(self)} rows{' of ' + self.entity if self.entity else ''}>"


def from_dataframe(df: pd.DataFrame, entity: str | None = None) -> DataFrameRecords:
    """Wrap ``df`` for the bulk layer (see :class:`DataFrameRecords`)."""
    return DataFrameRecords(df, entity)
