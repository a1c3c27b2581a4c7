"""Base classes for response models and the page / item envelopes.

Generated response models subclass :class:`AutotaskModel`: tolerant (unknown fields kept, real nulls
accepted), camelCase aliases, and item access by API or Python field name for 2.x compatibility
(``ticket["title"]``). Whole pages are validated in ONE ``model_validate_json`` call on the raw bytes.

Reading is tolerant: when that call fails because a value does not match its declared type (a ZIP
code sent as an int, ``""`` for a datetime, ``{}`` for the UDF list), the page is read again record
by record; each off-type value is converted where nothing is lost (:func:`py_autotask._values.from_wire`)
or kept as received, and the record says so in :attr:`AutotaskModel.off_type_fields`. No record is
dropped. :class:`ReadStats` counts such values per (entity, field) for ``client.stats``.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._tally import RequestTally
from ._values import from_wire

__all__ = [
    "AutotaskModel",
    "CountResult",
    "ItemEnvelope",
    "OffTypeValue",
    "OperationResult",
    "Page",
    "PageDetails",
    "ReadStats",
    "item_type",
    "page_type",
    "parse_item",
    "parse_page",
    "read_item",
    "read_page",
]

M = TypeVar("M", bound="AutotaskModel")

_MISSING: Any = object()
#: Key of the off-type report in a record's ``__pydantic_private__`` (set only on records that had
#: one, so clean records cost nothing: a declared private attribute would slow every validation).
_OFF_TYPE = "__off_type__"
_EMPTY: Mapping[str, OffTypeValue] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class OffTypeValue:
    """A value Autotask sent that did not match its field's declared type.

    ``field`` is the API name, ``expected`` the declared type (``integer``, ``string``,
    ``datetime``, ... ``udfs`` for the ``userDefinedFields`` list), ``received`` the value exactly
    as sent and ``value`` what the record holds: a lossless conversion when ``converted``
    (``"90210"`` for ``90210``, ``None`` for ``""``), else the value as received.
    """

    field: str
    expected: str
    received: Any
    value: Any
    converted: bool


class AutotaskModel(BaseModel):
    """Base of every Autotask response model."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)

    # Per-class lookup: any spelling (python name, alias, lower-cased alias) -> attribute name.
    _key_index: ClassVar[dict[str, str] | None] = None

    @classmethod
    def _keys(cls) -> dict[str, str]:
        index = cls.__dict__.get("_key_index")
        if index is None:
            index = {}
            for name, info in cls.model_fields.items():
                index[name] = name
                if info.alias:
                    index.setdefault(info.alias, name)
            for spelling, name in list(index.items()):
                index.setdefault(spelling.lower(), name)
            cls._key_index = index
        return index

    def _resolve(self, key: str) -> Any:
        name = self._keys().get(key) or self._keys().get(key.lower())
        if name is not None:
            return getattr(self, name)
        extra = self.__pydantic_extra__ or {}
        if key in extra:
            return extra[key]
        lowered = key.lower()
        for extra_key, value in extra.items():
            if extra_key.lower() == lowered:
                return value
        return _MISSING

    def __getitem__(self, key: str) -> Any:
        """Field value by API (camelCase) or Python name; unknown keys raise ``KeyError``."""
        value = self._resolve(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._resolve(key) is not _MISSING

    def get(self, key: str, default: Any = None) -> Any:
        """Like ``dict.get``: the field value by API or Python name, else ``default``."""
        value = self._resolve(key)
        return default if value is _MISSING else value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Show only what the API sent (IncludeFields queries would otherwise print every field as
        # None), plus unknown extra fields.
        fields_set = self.model_fields_set
        declared = type(self).model_fields
        for name, value in super().__repr_args__():
            if name is None or name in fields_set or name not in declared:
                yield name, value

    def udf(self, name: str, default: Any = None) -> Any:
        """The value of the user-defined field ``name`` (case-insensitive), else ``default``.

        ``ticket.udf("Customer Ranking")`` reads ``userDefinedFields``; write UDFs by name with
        :func:`py_autotask.validation.udf_values` (or a ``{name: value}`` dict when the client has
        a ``validation_config``).
        """
        items = self.get("userDefinedFields")
        if not isinstance(items, list):
            return default
        lowered = name.lower()
        for item in items:
            item_name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
            if isinstance(item_name, str) and item_name.lower() == lowered:
                value = (
                    item.get("value") if isinstance(item, dict) else getattr(item, "value", None)
                )
                return default if value is None else value
        return default

    def to_api_dict(self) -> dict[str, Any]:
        """The record as Autotask spells it (camelCase keys), only fields that were set, JSON-ready.
        Off-type values kept as received are given back as received."""
        kept = any(not v.converted for v in self.off_type_fields.values())
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json", warnings=not kept)

    @property
    def off_type_fields(self) -> Mapping[str, OffTypeValue]:
        """The fields (API names) whose value did not match the declared type when the record was
        read; empty for a record that matched. See :class:`OffTypeValue`."""
        private = self.__pydantic_private__
        if not private:
            return _EMPTY
        found: Mapping[str, OffTypeValue] = private.get(_OFF_TYPE, _EMPTY)
        return found


class PageDetails(BaseModel):
    """``pageDetails`` of a query/list response."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    count: int | None = None
    request_count: int | None = Field(default=None, alias="requestCount")
    prev_page_url: str | None = Field(default=None, alias="prevPageUrl")
    next_page_url: str | None = Field(default=None, alias="nextPageUrl")


class Page(BaseModel, Generic[M]):
    """One page of results: ``items`` plus ``page_details`` (``pageDetails`` on the wire)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    items: list[M] = Field(default_factory=list)
    page_details: PageDetails = Field(default_factory=PageDetails, alias="pageDetails")

    @property
    def next_page_url(self) -> str | None:
        """Absolute URL of the next page, or ``None`` on the last page."""
        return self.page_details.next_page_url or None

    # A page behaves like the sequence of its records: ``for t in page``, ``page[0]``,
    # ``page[-3:]``, ``len(page)``, ``bool(page)`` (False when empty).

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[M]:  # type: ignore[override]
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> list[M]: ...

    def __getitem__(self, index: int | slice) -> M | list[M]:
        return self.items[index]

    def __bool__(self) -> bool:
        return bool(self.items)


class ItemEnvelope(BaseModel, Generic[M]):
    """``{"item": {...} | null}`` of a get-by-id response."""

    model_config = ConfigDict(extra="allow")

    item: M | None = None


class CountResult(BaseModel):
    """``{"queryCount": n}``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    query_count: int = Field(alias="queryCount")


class OperationResult(BaseModel):
    """``{"itemId": n}`` of create/update/replace/delete."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    item_id: int | None = Field(default=None, alias="itemId")


@cache
def page_type(model: type[M]) -> type[Page[M]]:
    """``Page[model]``, parametrised once per model."""
    return Page[model]  # type: ignore[valid-type]


@cache
def item_type(model: type[M]) -> type[ItemEnvelope[M]]:
    """``ItemEnvelope[model]``, parametrised once per model."""
    return ItemEnvelope[model]  # type: ignore[valid-type]


def parse_page(model: type[M], raw: bytes | str) -> Page[M]:
    """Validate a whole query/list response body in one ``model_validate_json`` call (tolerant of
    off-type values: see :func:`read_page`)."""
    return read_page(model, raw)[0]


def parse_item(model: type[M], raw: bytes | str) -> M | None:
    """Validate a get-by-id body; ``{"item": null}`` gives ``None`` (tolerant: see
    :func:`read_item`)."""
    return read_item(model, raw)[0]


# --- tolerant reading -----------------------------------------------------------------------------


def _declared_type(annotation: Any, alias: str) -> str:
    """The ``dataType`` a model field's annotation declares (what :func:`from_wire` reads)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return "object"
            annotation = args[0]
        else:
            break
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "double"
    if annotation is str:
        return "string"
    if annotation is _dt.datetime:
        return "datetime"
    if annotation is _dt.date:
        return "date"
    if get_origin(annotation) is list and alias == "userDefinedFields":
        return "udfs"
    return "object"


@cache
def _declared(model: type[AutotaskModel]) -> dict[str, tuple[str, str]]:
    """API name (and Python name) -> (attribute name, declared data type), per model."""
    table: dict[str, tuple[str, str]] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        entry = (name, _declared_type(info.annotation, alias))
        table[alias] = entry
        table.setdefault(name, entry)
    return table


def _tolerant_record(model: type[M], item: Any) -> M:
    """One record of a page whose whole-page validation failed: validated alone, and each
    off-type value converted losslessly or kept as received (marked in ``off_type_fields``)."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        if not isinstance(item, Mapping):
            raise
        error = exc
    declared = _declared(model)
    data = dict(item)
    found: dict[str, OffTypeValue] = {}
    kept: dict[str, Any] = {}
    while True:
        bad = {e["loc"][0] for e in error.errors() if e["loc"] and e["loc"][0] in data}
        bad -= kept.keys()
        if not bad:
            raise error
        for key in [k for k in item if k in bad]:  # in the order received
            received = item[key]
            expected = declared[key][1] if key in declared else "object"
            value, lossless = from_wire(expected, received)
            if lossless and key not in found:
                data[key] = value
            else:
                del data[key]
                kept[key] = received
                lossless = False
            found[key] = OffTypeValue(
                key, expected, received, value if lossless else received, lossless
            )
        try:
            record = model.model_validate(data)
            break
        except ValidationError as exc:
            error = exc
    found = {key: found[key] for key in item if key in found}
    for key, received in kept.items():
        name = declared[key][0] if key in declared else key
        record.__dict__[name] = received
        record.__pydantic_fields_set__.add(name)
    private = record.__pydantic_private__
    if private is None:
        object.__setattr__(record, "__pydantic_private__", {_OFF_TYPE: found})
    else:
        private[_OFF_TYPE] = found
    return record


def read_page(model: type[M], raw: bytes | str) -> tuple[Page[M], list[M]]:
    """A query/list page and its records that had off-type values (empty on the fast path: one
    ``model_validate_json`` for the whole page). Only when that fails is the page read record by
    record; what is not a page (not JSON, ``items`` not a list of objects, a bad ``pageDetails``)
    still raises the first validation error."""
    try:
        return page_type(model).model_validate_json(raw), []
    except ValidationError as exc:
        error = exc
    try:
        body = json.loads(raw)
    except ValueError:
        raise error from None
    if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
        raise error
    try:
        items = [_tolerant_record(model, item) for item in body.get("items", [])]
        page = page_type(model).model_validate({**body, "items": []})
    except ValidationError:
        raise error from None
    page.items = items
    return page, [r for r in items if r.off_type_fields]


def read_item(model: type[M], raw: bytes | str) -> tuple[M | None, bool]:
    """A get-by-id record (``None`` for ``{"item": null}``) and whether it had off-type values."""
    try:
        return item_type(model).model_validate_json(raw).item, False
    except ValidationError as exc:
        error = exc
    try:
        body = json.loads(raw)
    except ValueError:
        raise error from None
    if not isinstance(body, dict) or not isinstance(body.get("item"), Mapping):
        raise error
    try:
        record = _tolerant_record(model, body["item"])
    except ValidationError:
        raise error from None
    return record, bool(record.off_type_fields)


class ReadStats:
    """What reading met that did not match the metadata: off-type values per (entity, field).

    ``client.stats.off_type`` -> ``{("Companies", "postalCode"): 3, ...}``; ``examples`` keeps the
    first value met per (entity, field). Thread-safe; one per client.

    ``client.stats.requests`` is the client's :class:`~py_autotask._tally.RequestTally`: requests
    sent (retries and rejected attempts included) and rate-limit rejections and waits per kind.
    """

    def __init__(self) -> None:
        self.requests = RequestTally()
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._examples: dict[tuple[str, str], OffTypeValue] = {}

    def record(self, entity: str, value: OffTypeValue) -> bool:
        """Count one off-type value; ``True`` when it is the first of its (entity, field)."""
        key = (entity, value.field)
        with self._lock:
            count = self._counts.get(key, 0)
            self._counts[key] = count + 1
            if count == 0:
                self._examples[key] = value
        return count == 0

    @property
    def off_type(self) -> dict[tuple[str, str], int]:
        """``{(entity, field): how many off-type values were read}``, a snapshot."""
        with self._lock:
            return dict(self._counts)

    @property
    def examples(self) -> dict[tuple[str, str], OffTypeValue]:
        """The first off-type value read per (entity, field), a snapshot."""
        with self._lock:
            return dict(self._examples)

    @property
    def off_type_total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._examples.clear()

    def __repr__(self) -> str:
        return f"ReadStats(off_type={self.off_type!r}, requests={self.requests!r})"
