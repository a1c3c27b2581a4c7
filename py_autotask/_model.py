"""Base classes for response models and the page / item envelopes.

Generated response models subclass :class:`AutotaskModel`: tolerant (unknown fields kept, real nulls
accepted), camelCase aliases, and item access by API or Python field name for 2.x compatibility
(``ticket["title"]``). Whole pages are validated in ONE ``model_validate_json`` call on the raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AutotaskModel",
    "CountResult",
    "ItemEnvelope",
    "OperationResult",
    "Page",
    "PageDetails",
    "item_type",
    "page_type",
    "parse_item",
    "parse_page",
]

M = TypeVar("M", bound="AutotaskModel")

_MISSING: Any = object()


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
        """The record as Autotask spells it (camelCase keys), only fields that were set, JSON-ready."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


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
    """Validate a whole query/list response body in one ``model_validate_json`` call."""
    return page_type(model).model_validate_json(raw)


def parse_item(model: type[M], raw: bytes | str) -> M | None:
    """Validate a get-by-id body; ``{"item": null}`` gives ``None``."""
    return item_type(model).model_validate_json(raw).item
