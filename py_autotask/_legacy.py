"""Compatibility with py-autotask 2.x that the core itself needs (no entity list, no client).

- :func:`warn_deprecated`: DeprecationWarnings pointed at the caller's line.
- :class:`CreatedId`: what ``create()`` returns (an ``int`` that still answers 2.x's ``.item_id``).
- :func:`convert_legacy_filter`: 2.x filter forms converted to Autotask's grammar (below).
- :func:`entity_attribute_error`: the error for a name a collection object does not have.

The rest of the 2.x compatibility (client attribute names, ``RequestConfig``) needs the generated
entity list and lives in :mod:`py_autotask.compat`.

2.x filter forms:
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
from typing import Any, Final

from ._spec import EntitySpec
from ._warn import warn_deprecated
from .query import Filter, FilterArg

__all__ = [
    "REMOVED_ENTITY_METHODS_2X",
    "CreatedId",
    "convert_legacy_filter",
    "entity_attribute_error",
    "warn_deprecated",
]


class CreatedId(int):
    """The id ``create()`` returns: a plain ``int`` to the new API. 2.x returned a
    ``CreateResponse``; its ``.item_id`` (and ``["itemId"]``) still work, with a warning."""

    __slots__ = ()

    @property
    def item_id(self) -> int:
        warn_deprecated(
            "create() returns the new record's id as an int (py-autotask 2.x returned a "
            "CreateResponse); use the value itself instead of .item_id"
        )
        return int(self)

    def __getitem__(self, key: str) -> int:
        if key != "itemId":
            raise KeyError(key)
        warn_deprecated(
            "create() returns the new record's id as an int (py-autotask 2.x returned a "
            "CreateResponse); use the value itself instead of ['itemId']"
        )
        return int(self)


REMOVED_ENTITY_METHODS_2X: Final[Mapping[str, str]] = {
    "update_by_id": "use update({'id': id, ...}) (a PATCH on the collection)",
    "batch_create": "Autotask has no batch endpoint; use client.create_bulk_manager() or one "
    "create() per record",
    "batch_update": "Autotask has no batch endpoint; use client.create_bulk_manager() or one "
    "update() per record",
    "batch_delete": "Autotask has no batch endpoint; use one delete() per record",
    "batch_get": "use query_all(F('id').in_(ids))",
    "get_field_info": "use client.raw_request('GET', '<Collection>/entityInformation/fields') or "
    "client.metadata",
    "get_entity_info": "use client.raw_request('GET', '<Collection>/entityInformation') or "
    "client.metadata",
    "get_children": "use the child collection methods, e.g. client.tickets.notes(ticket_id)",
    "get_parent": "read the parent by its id field, e.g. client.companies.get(ticket.company_id)",
    "query_builder": "use py_autotask.F: query_all(F('status').eq(1) & F('priority').lte(2))",
}


def entity_attribute_error(entity: Any, name: str) -> AttributeError:
    """The error for a name a collection object does not have: a py-autotask 2.x method (with its
    replacement) or an operation Autotask does not support for this collection (with the ones it
    does)."""
    spec = getattr(type(entity), "_spec", None)
    collection = spec.name if spec is not None else type(entity).__name__
    if name.startswith("_") or spec is None:
        return AttributeError(f"{type(entity).__name__!r} object has no attribute {name!r}")
    public = sorted(
        n for n in dir(type(entity)) if not n.startswith("_") and callable(getattr(type(entity), n))
    )
    if name in REMOVED_ENTITY_METHODS_2X:
        text = (
            f"{collection}.{name} was a py-autotask 2.x method; {REMOVED_ENTITY_METHODS_2X[name]}."
        )
    elif name in (
        "get",
        "query",
        "query_all",
        "query_all_iter",
        "count",
        "create",
        "update",
        "replace",
        "delete",
    ):
        text = (
            f"Autotask's REST API does not support {name} on {collection}; "
            f"this collection has: {', '.join(public)}."
        )
    else:
        text = f"{collection} has no attribute {name!r}; it has: {', '.join(public)}."
    error = AttributeError(text)
    error.name = name
    error.obj = entity
    return error


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
