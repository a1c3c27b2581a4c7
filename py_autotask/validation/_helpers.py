"""Read-side helpers: picklist labels, UDFs by name, local time zones, dry-run checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from .._model import AutotaskModel
from .._spec import EntitySpec
from .._types import UdfValue
from .._validation import Problem
from ..exceptions import AutotaskConfigError, AutotaskInputError
from ._config import ValidationConfig
from ._convert import _resolve_label, prepare_write, resolve_field

if TYPE_CHECKING:
    from ..caching._metadata import AsyncTenantMetadataProvider, TenantMetadataProvider

__all__ = ["AsyncPicklists", "Picklists", "localize", "udf_values"]

M = TypeVar("M", bound=AutotaskModel)


def udf_values(values: Mapping[str, Any]) -> list[UdfValue]:
    """``{"Customer Ranking": "Golden"}`` -> ``[{"name": "Customer Ranking", "value": "Golden"}]``
    (the ``userDefinedFields`` of a write; values become text, ``None`` clears a UDF)."""
    out: list[UdfValue] = []
    for name, value in values.items():
        if value is not None and not isinstance(value, str):
            if isinstance(value, datetime):
                from ._convert import format_wire_datetime

                value = format_wire_datetime(value)
            else:
                value = str(value)
        out.append({"name": str(name), "value": value})
    return out


def localize(record: M, tz: tzinfo) -> M:
    """A copy of ``record`` with every datetime field converted from UTC to ``tz``."""
    updates: dict[str, Any] = {}
    for name in record.model_fields_set:
        value = getattr(record, name, None)
        if isinstance(value, datetime):
            updates[name] = value.astimezone(tz)
    return record.model_copy(update=updates)


def _spec(entity: str) -> EntitySpec:
    from .._registry import spec_for

    return spec_for(entity)


def _field(spec: EntitySpec, field: str) -> str:
    fld, _soap = resolve_field(spec, field)
    if fld is None:
        raise AutotaskConfigError(f"{spec.name} has no field {field!r}")
    if not fld.is_picklist:
        raise AutotaskConfigError(f"{spec.name}.{fld.api_name} is not a picklist field")
    return fld.api_name


def _label_of(values: list[dict[str, Any]], value: Any) -> str | None:
    for item in values:
        if str(item.get("value")) == str(value):
            return str(item.get("label"))
    return None


def _value_of(
    spec: EntitySpec, field: str, label: str, info: dict[str, Any] | None, parent: Any
) -> Any:
    fld = spec.fields[field]
    value, problem = _resolve_label(spec, fld, label, info, parent)
    if problem:
        raise AutotaskInputError(
            f"cannot resolve a {spec.name}.{field} label", [Problem(spec.name, field, problem)]
        )
    return value


class Picklists:
    """Tenant picklist labels (``client.picklists``), from cached tenant metadata.

    >>> client.picklists.label("Tickets", "status", 5)  # doctest: +SKIP
    'Complete'
    """

    def __init__(self, provider: TenantMetadataProvider) -> None:
        self._provider = provider

    def choices(self, entity: str, field: str, *, include_inactive: bool = False) -> dict[str, str]:
        """``{value: label}`` of a picklist field (values are text, as the API reports them)."""
        spec = _spec(entity)
        values = self._provider.picklist(spec.name, _field(spec, field), include_inactive=True)
        return {
            str(v["value"]): str(v.get("label"))
            for v in values
            if include_inactive or v.get("isActive", True)
        }

    def label(self, entity: str, field: str, value: Any) -> str | None:
        """The tenant's label of ``value`` (None for a value the picklist does not have)."""
        if value is None:
            return None
        spec = _spec(entity)
        values = self._provider.picklist(spec.name, _field(spec, field), include_inactive=True)
        return _label_of(values, value)

    def value(self, entity: str, field: str, label: str, *, parent_value: Any = None) -> Any:
        """The value of an active label; :class:`AutotaskInputError` naming the choices when the
        label is unknown or ambiguous (pass ``parent_value`` for dependent picklists)."""
        spec = _spec(entity)
        name = _field(spec, field)
        return _value_of(spec, name, label, self._provider.field(spec.name, name), parent_value)

    def labels(self, entity: str, record: AutotaskModel | Mapping[str, Any]) -> dict[str, str]:
        """``{api field name: label}`` for every picklist field set on ``record``."""
        spec = _spec(entity)
        data = record.to_api_dict() if isinstance(record, AutotaskModel) else dict(record)
        out: dict[str, str] = {}
        for key, value in data.items():
            fld, _soap = resolve_field(spec, key)
            if fld is None or not fld.is_picklist or value is None:
                continue
            values = self._provider.picklist(spec.name, fld.api_name, include_inactive=True)
            label = _label_of(values, value)
            if label is not None:
                out[fld.api_name] = label
        return out


class AsyncPicklists:
    """Async twin of :class:`Picklists`."""

    def __init__(self, provider: AsyncTenantMetadataProvider) -> None:
        self._provider = provider

    async def choices(
        self, entity: str, field: str, *, include_inactive: bool = False
    ) -> dict[str, str]:
        spec = _spec(entity)
        values = await self._provider.picklist(
            spec.name, _field(spec, field), include_inactive=True
        )
        return {
            str(v["value"]): str(v.get("label"))
            for v in values
            if include_inactive or v.get("isActive", True)
        }

    async def label(self, entity: str, field: str, value: Any) -> str | None:
        if value is None:
            return None
        spec = _spec(entity)
        values = await self._provider.picklist(
            spec.name, _field(spec, field), include_inactive=True
        )
        return _label_of(values, value)

    async def value(self, entity: str, field: str, label: str, *, parent_value: Any = None) -> Any:
        spec = _spec(entity)
        name = _field(spec, field)
        info = await self._provider.field(spec.name, name)
        return _value_of(spec, name, label, info, parent_value)

    async def labels(
        self, entity: str, record: AutotaskModel | Mapping[str, Any]
    ) -> dict[str, str]:
        spec = _spec(entity)
        data = record.to_api_dict() if isinstance(record, AutotaskModel) else dict(record)
        out: dict[str, str] = {}
        for key, value in data.items():
            fld, _soap = resolve_field(spec, key)
            if fld is None or not fld.is_picklist or value is None:
                continue
            values = await self._provider.picklist(spec.name, fld.api_name, include_inactive=True)
            label = _label_of(values, value)
            if label is not None:
                out[fld.api_name] = label
        return out


class Validator:
    """``client.validation``: dry-run checks and read-side conversion with the client's config."""

    def __init__(self, config: ValidationConfig | None, provider: TenantMetadataProvider) -> None:
        self.config = config or ValidationConfig()
        self._provider = provider

    def check(
        self, entity: str, data: Mapping[str, Any], operation: str = "create"
    ) -> dict[str, Any]:
        """The body a write would send (converted, labels resolved) without sending it, or
        :class:`AutotaskInputError` listing every problem."""
        if operation not in ("create", "update", "replace"):
            raise AutotaskConfigError("operation must be 'create', 'update' or 'replace'")
        from ..query import to_api_value

        body = to_api_value(dict(data))
        return prepare_write(_spec(entity), body, operation, self.config, self._provider)  # type: ignore[arg-type]

    def localize(self, record: M, tz: tzinfo | str | None = None) -> M:
        """``record`` with datetimes in ``tz`` (default: the config's ``local_timezone``)."""
        zone = (
            ValidationConfig(local_timezone=tz).timezone if tz is not None else self.config.timezone
        )
        if zone is None:
            raise AutotaskConfigError(
                "no time zone: pass tz= or ValidationConfig(local_timezone='Europe/Berlin')"
            )
        return localize(record, zone)


class AsyncValidator:
    """Async twin of :class:`Validator`."""

    def __init__(
        self, config: ValidationConfig | None, provider: AsyncTenantMetadataProvider
    ) -> None:
        self.config = config or ValidationConfig()
        self._provider = provider

    async def check(
        self, entity: str, data: Mapping[str, Any], operation: str = "create"
    ) -> dict[str, Any]:
        if operation not in ("create", "update", "replace"):
            raise AutotaskConfigError("operation must be 'create', 'update' or 'replace'")
        from ..query import to_api_value
        from ._convert import metadata_needs

        spec = _spec(entity)
        body = to_api_value(dict(data))
        for kind in metadata_needs(spec, body, self.config):
            await self._provider.load(spec.name, kind)  # type: ignore[arg-type]
        return prepare_write(spec, body, operation, self.config, self._provider)  # type: ignore[arg-type]

    def localize(self, record: M, tz: tzinfo | str | None = None) -> M:
        zone = (
            ValidationConfig(local_timezone=tz).timezone if tz is not None else self.config.timezone
        )
        if zone is None:
            raise AutotaskConfigError(
                "no time zone: pass tz= or ValidationConfig(local_timezone='Europe/Berlin')"
            )
        return localize(record, zone)
