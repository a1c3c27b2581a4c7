"""py-autotask 2.x filter forms, converted to Autotask's filter grammar with a DeprecationWarning.

2.x accepted (``BaseEntity.query`` / ``utils.convert_filter_format`` in 2.3.0):

- ``{"status": 1}`` and ``{"id": {"gte": 0}}``: a dict of field -> value (equality) or
  field -> {operator: value};
- its own operator names ``ne``, ``isNull``, ``isNotNull`` and ``between`` (Autotask has ``noteq``,
  ``notExist``, ``exist`` and no ``between``);
- strings for booleans (``"value": "true"``), which Autotask rejects: REST wants JSON booleans.

Everything the new API accepts passes through untouched and without warnings. Picklist labels
(``{"status": "open"}``) are left as they are, for the validation layer to map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._spec import EntitySpec
from ..query import Filter, FilterArg
from ._warn import warn_deprecated

__all__ = ["convert_legacy_filter"]

_OP_ALIASES = {"ne": "noteq", "isnull": "notExist", "isnotnull": "exist"}
_QUERY_MODEL_KEYS = {"filter", "maxrecords", "includefields"}
_BOOL_STRINGS = {"true": True, "false": False}


def _key(mapping: Mapping[str, Any], name: str) -> str | None:
    for key in mapping:
        if isinstance(key, str) and key.lower() == name:
            return key
    return None


def _is_boolean(spec: EntitySpec, field: Any) -> bool:
    if not isinstance(field, str):
        return False
    info = spec.fields.get(field)
    if info is None:
        lowered = field.lower()
        info = next((f for f in spec.fields.values() if f.api_name.lower() == lowered), None)
    return info is not None and info.data_type == "boolean"


def _item(spec: EntitySpec, item: Any) -> Any:
    """One filter item dict, converted where 2.x spelled it differently."""
    if not isinstance(item, Mapping):
        return item
    op_key = _key(item, "op")
    if op_key is None:
        return item
    out = dict(item)
    op = out[op_key]
    items_key = _key(out, "items")
    if items_key is not None and isinstance(out[items_key], list):
        out[items_key] = [_item(spec, child) for child in out[items_key]]
    field_key = _key(out, "field")
    field = out.get(field_key) if field_key else None
    value_key = _key(out, "value")
    lowered = op.lower() if isinstance(op, str) else op
    if lowered in _OP_ALIASES:
        new_op = _OP_ALIASES[lowered]
        method = {"noteq": "noteq(value)", "notExist": "not_exist()", "exist": "exist()"}[new_op]
        warn_deprecated(
            f"filter operator {op!r} is a py-autotask 2.x name; Autotask's is {new_op!r} "
            f"(F({field!r}).{method})"
        )
        out[op_key] = new_op
        if new_op in ("exist", "notExist") and value_key is not None:
            del out[value_key]
    elif lowered == "between":
        value = out.get(value_key) if value_key else None
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            return out  # leave it for Autotask to reject with its own words
        warn_deprecated(
            f"filter operator 'between' is not an Autotask operator; it is sent as "
            f"F({field!r}).gte(low) & F({field!r}).lte(high)"
        )
        return {
            "op": "and",
            "items": [
                _item(spec, {"op": "gte", "field": field, "value": value[0]}),
                _item(spec, {"op": "lte", "field": field, "value": value[1]}),
            ],
        }
    udf_key = _key(out, "udf")
    is_udf = udf_key is not None and out[udf_key] is True
    if value_key is not None and not is_udf and _is_boolean(spec, field):
        value = out[value_key]
        if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
            converted = _BOOL_STRINGS[value.strip().lower()]
            warn_deprecated(
                f"{spec.name}.{field} is a boolean field: the string {value!r} was sent as "
                f"{str(converted).lower()}; pass {converted} (Autotask requires JSON booleans)"
            )
            out[value_key] = converted
    return out


def _simple_dict(spec: EntitySpec, raw: Mapping[str, Any]) -> list[Any]:
    """``{"field": value}`` / ``{"field": {"op": value}}`` (2.x) -> filter items."""
    items: list[Any] = []
    for field, value in raw.items():
        if isinstance(value, Mapping) and len(value) == 1:
            op, operand = next(iter(value.items()))
            items.append(_item(spec, {"op": op, "field": field, "value": operand}))
        elif isinstance(value, (list, tuple)):
            items.append(_item(spec, {"op": "in", "field": field, "value": list(value)}))
        else:
            items.append(_item(spec, {"op": "eq", "field": field, "value": value}))
    shown = " & ".join(
        f"F({i['field']!r}).{i['op']}({i.get('value')!r})" for i in items if "field" in i
    )
    warn_deprecated(
        f"a dict of field -> value filters is a py-autotask 2.x form; pass {shown or 'F(...)'} "
        "or Autotask filter items [{'op': ..., 'field': ..., 'value': ...}]"
    )
    return items


def convert_legacy_filter(spec: EntitySpec, filter: FilterArg | None) -> FilterArg | None:
    """``filter`` with every 2.x form converted (one DeprecationWarning per conversion); new-API
    filters come back as they are."""
    if filter is None or isinstance(filter, Filter):
        return filter
    if isinstance(filter, Mapping):
        if _key(filter, "op") is not None:
            return _item(spec, filter)  # type: ignore[no-any-return]
        keys = {k.lower() for k in filter if isinstance(k, str)}
        if "filter" in keys or (keys and keys <= _QUERY_MODEL_KEYS):
            out = dict(filter)
            filter_key = _key(out, "filter")
            if filter_key is None:
                out["filter"] = []
            else:
                inner = out[filter_key]
                if isinstance(inner, (list, tuple)):
                    out[filter_key] = [
                        i if isinstance(i, Filter) else _item(spec, i) for i in inner
                    ]
                elif isinstance(inner, Mapping):
                    out[filter_key] = convert_legacy_filter(spec, inner)
            return out
        return _simple_dict(spec, filter)
    if isinstance(filter, (list, tuple)):
        return [i if isinstance(i, Filter) else _item(spec, i) for i in filter]
    return filter
