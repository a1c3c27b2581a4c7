"""Entity operations (query, count, get, create, update, replace, delete, list) on the store.

I/O-free and synchronous: the ASGI layer in ``_app`` parses the request, calls one of these and
sends the bytes. Errors are raised as :class:`ApiError` carrying Autotask's ``errors[]`` texts.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from .._values import datetime_or_none
from ._filters import RANGE_OPS, Condition, Group, ParsedQuery, QueryError, compile_sql, parse_query
from ._messy import udf_object_on_get
from ._metadata import EntityMeta, FieldInfo, ParentRoute
from ._values import format_datetime

if TYPE_CHECKING:
    from ._state import SimulatorState

__all__ = ["ApiError", "Caller", "Ops", "Reply"]

_CREATE_NAMES = frozenset({"createdate", "createdatetime", "createddatetime", "createdon"})
_TRACKING_NAMES = frozenset({"lastactivitydate", "lastmodifieddatetime", "lastmodifieddate"})
_INDEXABLE_OPS = frozenset({"eq", "in", "gt", "gte", "lt", "lte"})


class ApiError(Exception):
    """An error response: ``status`` plus ``{"errors": [...]}`` (or a raw ``body``)."""

    def __init__(
        self,
        status: int,
        *errors: str,
        body: bytes | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        outcome: str = "error",
    ) -> None:
        super().__init__("; ".join(errors) or f"HTTP {status}")
        self.status = status
        self.errors = list(errors)
        self.body = body if body is not None else orjson.dumps({"errors": self.errors})
        self.headers = headers or []
        self.outcome = outcome


@dataclass
class Reply:
    body: bytes
    status: int = 200
    item_ids: list[int] = field(default_factory=list)
    records: int | None = None
    content_type: bytes = b"application/json; charset=utf-8"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API user's resource and an optional impersonated resource."""

    resource_id: int | None
    impersonated_id: int | None = None

    @property
    def acting_resource(self) -> int | None:
        return self.impersonated_id if self.impersonated_id is not None else self.resource_id


def _lower_hex(text: str) -> str:
    """Lower-case the %XX escapes, as .NET HttpUtility.UrlEncode writes them."""
    chunks = text.split("%")
    return chunks[0] + "".join("%" + c[:2].lower() + c[2:] for c in chunks[1:])


class Ops:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    # -- helpers ---------------------------------------------------------------------------------
    def _verr(self, *messages: str) -> ApiError:
        return ApiError(self.state.config.validation_status, *messages)

    def parse(self, entity: EntityMeta, body: Any) -> ParsedQuery:
        cfg = self.state.config
        try:
            return parse_query(
                entity, body, max_or=cfg.max_or_conditions, max_records=cfg.max_records
            )
        except QueryError as exc:
            raise self._verr(*exc.messages) from None

    # -- reads -----------------------------------------------------------------------------------
    def query(
        self,
        entity: EntityMeta,
        query_body: Any,
        *,
        method: str,
        base_url: str,
        paging: dict[str, Any] | None = None,
        parent: tuple[ParentRoute, int] | None = None,
        list_url: str | None = None,
    ) -> Reply:
        """One page of a query (or of a child list when ``parent`` is given)."""
        store = self.state.store
        if parent is not None:
            route, pid = parent
            pfield = entity.field(route.parent_id_field) if route.parent_id_field else None
            if pfield is not None and pfield.queryable:
                where, params = f"({pfield.column} = ?)", [pid]
            else:
                where, params = "0", []
            parsed: ParsedQuery | None = None
            index_plan: tuple[str, str, list[Any]] | None = None
        else:
            parsed = self.parse(entity, query_body)
            where, params, index_plan = self._plan(entity, parsed)
        size = (parsed.max_records if parsed else None) or self.state.config.max_records
        after_id: int | None = None
        before_id: int | None = None
        if paging:
            size = _int_or(paging.get("pageSize"), size)
            after_id = _int_or(paging.get("afterId"), None)
            before_id = _int_or(paging.get("beforeId"), None)
            size = max(1, min(size, self.state.config.max_records))
        rows = store.select_page(
            entity,
            where,
            params,
            limit=size + 1 if before_id is None else size,
            after_id=after_id,
            before_id=before_id,
            index_plan=index_plan,
        )
        if before_id is None:
            more_after = len(rows) > size
            rows = rows[:size]
        else:
            more_after = True
        docs = [d for _, d in rows]
        if parsed is not None and parsed.include_fields is not None:
            docs = [_project(d, parsed, entity) for d in docs]
        first = rows[0][0] if rows else None
        last = rows[-1][0] if rows else None
        # A forward cursor always has rows before it (its previous page); only backward pages
        # need a lookup.
        more_before = first is not None and (
            after_id is not None
            or (
                before_id is not None and store.exists_where(entity, where, params, before_id=first)
            )
        )
        search_text = orjson.dumps(query_body if query_body is not None else {}).decode()

        def url(token: dict[str, Any]) -> str:
            token_text = orjson.dumps(token).decode()
            if list_url is not None:
                return f"{list_url}?paging={_lower_hex(quote(token_text, safe=''))}"
            return (
                f"{base_url}V1.0/{entity.name}/query/next?paging="
                f"{_lower_hex(quote(token_text, safe=''))}&search={_lower_hex(quote(search_text, safe=''))}"
            )

        next_url = (
            url({"pageSize": size, "afterId": last, "method": method})
            if more_after and last is not None
            else None
        )
        prev_url = (
            url({"pageSize": size, "beforeId": first, "method": method}) if more_before else None
        )
        details = {
            "count": len(docs),
            "requestCount": size,
            "prevPageUrl": prev_url,
            "nextPageUrl": next_url,
        }
        body = b'{"items":[' + b",".join(docs) + b'],"pageDetails":' + orjson.dumps(details) + b"}"
        return Reply(body, records=len(docs))

    def _plan(
        self, entity: EntityMeta, parsed: ParsedQuery
    ) -> tuple[str, list[Any], tuple[str, str, list[Any]] | None]:
        """Compile the filter and pick how SQLite should find one page of it.

        - A range on an indexed column matching few rows: let the index drive.
        - A wide range: walk the table in id order (stops after one page).
        - A filter on one indexed column only: an id-order walk with a time budget, falling back
          to an index-only scan when matches are sparse at low ids (``lastActivityDate gt X``).
        """
        store = self.state.store
        where, params = compile_sql(parsed.filter)
        # the first top-level condition an index can serve drives the index fallback
        driver = next(
            (
                c
                for c in parsed.filter.items
                if isinstance(c, Condition)
                and c.op in _INDEXABLE_OPS
                and not c.field.is_udf
                and c.field.name.lower() != "id"
                and store.is_indexed(entity, c.field.name)
            ),
            None,
        )
        ranges = [
            c
            for c in parsed.filter.items
            if isinstance(c, Condition)
            and c.op in RANGE_OPS
            and not c.field.is_udf
            and c.field.name.lower() != "id"
            and store.is_indexed(entity, c.field.name)
        ]
        for cond in ranges:
            sub_where, sub_params = compile_sql(Group("and", (cond,)))
            if (
                store.count_upto(entity, sub_where, sub_params, store.selective_rows)
                < store.selective_rows
            ):
                return where, params, None  # a narrow range: let the index drive
        # only when the filter uses the driver's column alone (index-only; lookups cost more)
        index_plan = (
            (driver.field.name, where, params)
            if driver is not None and _columns(parsed.filter) == {driver.field.name.lower()}
            else None
        )
        if ranges or index_plan is not None:
            scan_where, scan_params = compile_sql(parsed.filter, scan_ranges=True)
            return scan_where, scan_params, index_plan
        return where, params, None

    def count(self, entity: EntityMeta, query_body: Any) -> Reply:
        parsed = self.parse(entity, query_body)
        where, params = compile_sql(parsed.filter)
        n = self.state.store.count(entity, where, params)
        return Reply(orjson.dumps({"queryCount": n}), records=0)

    def get(
        self, entity: EntityMeta, item_id: int, parent: tuple[ParentRoute, int] | None = None
    ) -> Reply:
        doc = self.state.store.get_doc(entity, item_id)
        if doc is not None and parent is not None and not _belongs(entity, doc, parent):
            doc = None
        if doc is None:
            if self.state.config.missing_item_status != 200:
                raise ApiError(
                    self.state.config.missing_item_status, f"{entity.singular} {item_id} not found."
                )
            return Reply(b'{"item":null}', records=0)
        if self.state.config.messy > 0 and entity.udf_capable:
            doc = udf_object_on_get(doc)
        return Reply(b'{"item":' + doc + b"}", records=1)

    # -- writes ----------------------------------------------------------------------------------
    def _coerce(self, f: FieldInfo, value: Any) -> Any:
        out = self._coerce_value(f, value)
        if isinstance(out, int) and not isinstance(out, bool) and not -(2**63) <= out < 2**63:
            raise self._verr(f"Value {value} for field {f.name} is too large or too small.")
        return out

    def _coerce_value(self, f: FieldInfo, value: Any) -> Any:
        if value is None:
            return None
        kind = f.kind
        bad = self._verr(
            f"Error converting value {_json_repr(value)} to type '{_clr(kind)}'. Path '{f.name}'."
        )
        if isinstance(value, (dict, list)):
            raise bad
        if kind == "int":
            if isinstance(value, bool):
                raise bad
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                if math.isfinite(value) and value.is_integer():
                    return int(value)
                raise bad
            try:
                return int(str(value).strip())
            except ValueError:
                raise bad from None
        if kind == "float":
            if isinstance(value, bool):
                raise bad
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise bad from None
            if not math.isfinite(number):
                raise bad
            return number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise bad
        if kind == "datetime":
            parsed = datetime_or_none(value, naive=True) if isinstance(value, str) else None
            if parsed is None:
                raise self._verr(f"Could not convert string to DateTime: {value}. Path '{f.name}'.")
            return format_datetime(parsed)
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def _validate_value(self, entity: EntityMeta, f: FieldInfo, value: Any) -> list[str]:
        errors: list[str] = []
        if value is None:
            return errors
        if f.kind == "str" and f.length > 0 and isinstance(value, str) and len(value) > f.length:
            errors.append(
                f"The value for field {f.name} exceeds the maximum length of {f.length} characters."
            )
        if f.is_picklist and f.picklist_values:
            key = (
                str(int(value))
                if isinstance(value, (int, float))
                and not isinstance(value, bool)
                and float(value).is_integer()
                else str(value)
            )
            if key not in f.picklist_values:
                errors.append(
                    f"Invalid value {key} for picklist field {f.name} on the {entity.singular} entity."
                )
        if f.reference_entity:
            target = self.state.schema.collection_for_singular(f.reference_entity)
            if target is not None:
                try:
                    ok = self.state.store.exists(target, int(value))
                except (TypeError, ValueError):
                    ok = False
                if not ok:
                    errors.append(
                        f"Reference value on field: {f.name} of type: {f.reference_entity} "
                        "does not exist or is invalid."
                    )
        return errors

    def _apply_body(
        self, entity: EntityMeta, body: Any, record: dict[str, Any], *, replace: bool
    ) -> tuple[set[str], list[str]]:
        """Apply writable fields of ``body`` to ``record``. Returns (touched fields, errors)."""
        if not isinstance(body, dict):
            raise self._verr("The request body must be a JSON object.")
        touched: set[str] = set()
        errors: list[str] = []
        supplied: dict[str, Any] = {}
        udf_items: Any = None
        for key, value in body.items():
            low = str(key).lower()
            if low == "userdefinedfields":
                udf_items = value
                continue
            f = entity.fields.get(low)
            if f is None or f.read_only or low == "id":
                continue  # unknown properties are ignored by the model binder; read-only ignored
            supplied[f.name] = self._coerce(f, value)
        if replace:
            for f in entity.field_order:
                if not f.read_only and f.name.lower() != "id" and f.name not in supplied:
                    supplied[f.name] = None
        for name, value in supplied.items():
            if record.get(name) != value or name not in record:
                touched.add(name)
            record[name] = value
            f = entity.fields[name.lower()]
            if value is not None and name in touched:
                errors.extend(self._validate_value(entity, f, value))
        if udf_items is not None:
            errors.extend(self._apply_udfs(entity, udf_items, record, touched))
        return touched, errors

    def _apply_udfs(
        self, entity: EntityMeta, items: Any, record: dict[str, Any], touched: set[str]
    ) -> list[str]:
        if not entity.udf_capable:
            return []
        if not isinstance(items, list):
            return ["userDefinedFields must be an array of {name, value} objects."]
        current = {str(u.get("name", "")).lower(): u for u in record.get("userDefinedFields") or []}
        errors: list[str] = []
        for item in items:
            if not isinstance(item, dict):
                errors.append("userDefinedFields must be an array of {name, value} objects.")
                continue
            low = {str(k).lower(): v for k, v in item.items()}
            name = str(low.get("name", ""))
            d = entity.udfs.get(name.lower())
            if d is None:
                errors.append(
                    f"Unable to find {name} in the {entity.singular} Entity user defined fields."
                )
                continue
            value = low.get("value")
            if value is not None and not isinstance(value, str):
                value = str(value).lower() if isinstance(value, bool) else str(value)
            if value is not None:
                if d.kind in ("int", "float"):
                    try:
                        float(value)
                    except ValueError:
                        errors.append(f"Invalid value {value} for user defined field {d.name}.")
                elif d.kind == "datetime" and value and datetime_or_none(value, naive=True) is None:
                    errors.append(f"Invalid value {value} for user defined field {d.name}.")
                if d.is_picklist and d.picklist_values and value not in d.picklist_values:
                    errors.append(f"Invalid value {value} for user defined field {d.name}.")
                if d.length > 0 and len(value) > d.length:
                    errors.append(
                        f"The value for user defined field {d.name} exceeds the maximum length of {d.length} characters."
                    )
            entry = current.get(d.name.lower())
            if entry is None or entry.get("value") != value:
                touched.add("userDefinedFields")
            current[d.name.lower()] = {"name": d.name, "value": value}
        record["userDefinedFields"] = [
            current.get(d.name.lower(), {"name": d.name, "value": None}) for d in entity.udf_order
        ] + [v for k, v in current.items() if k not in entity.udfs]
        return errors

    def _server_fields(
        self, entity: EntityMeta, record: dict[str, Any], caller: Caller, *, created: bool
    ) -> None:
        now = format_datetime(self.state.clock.now())
        tracking = (entity.change_tracking_field or "").lower()
        for f in entity.field_order:
            low = f.name.lower()
            if (f.kind == "datetime" and (low in _TRACKING_NAMES or low == tracking)) or (
                created and f.kind == "datetime" and low in _CREATE_NAMES
            ):
                record[f.name] = now
            elif created and low == "creatorresourceid":
                record[f.name] = caller.acting_resource
            elif (created and low == "impersonatorcreatorresourceid") or (
                not created and low == "impersonatorupdaterresourceid"
            ):
                record[f.name] = caller.resource_id if caller.impersonated_id is not None else None

    def _check_required(self, entity: EntityMeta, record: dict[str, Any]) -> list[str]:
        missing = []
        for f in entity.field_order:
            if f.required and not f.read_only and f.name.lower() != "id":
                v = record.get(f.name)
                if v is None or (isinstance(v, str) and not v.strip()):
                    missing.append(f"Missing Required Field: {f.name}.")
        return missing

    def _attachment_checks(self, entity: EntityMeta, record: dict[str, Any]) -> list[str]:
        if not entity.name.lower().endswith("attachments"):
            return []
        data = record.get("data")
        if not isinstance(data, str) or not data:
            return []
        try:
            size = len(base64.b64decode(data, validate=False))
        except (binascii.Error, ValueError):
            return ["The attachment data is not valid base64."]
        cfg = self.state.config
        if cfg.attachment_max_file_bytes and size > cfg.attachment_max_file_bytes:
            return [
                f"The attachment exceeds the maximum file size of {cfg.attachment_max_file_bytes} bytes."
            ]
        if not self.state.attachments.try_add(size):
            return [
                "Attachment upload limit exceeded: no more than "
                f"{cfg.attachment_window_bytes} bytes of attachments may be added in "
                f"{int(cfg.attachment_window_seconds // 60)} minutes. Try again later."
            ]
        if "fileSize" in record and record.get("fileSize") is None:
            record["fileSize"] = size
        return []

    def _parent_check(
        self, entity: EntityMeta, parent: tuple[ParentRoute, int] | None, record: dict[str, Any]
    ) -> list[str]:
        if parent is None:
            return []
        route, pid = parent
        pmeta = self.state.schema.entity(route.parent)
        if pmeta is not None and not self.state.store.exists(pmeta, pid):
            return [
                f"Reference value on field: {route.parent_id_field or 'parentId'} of type: "
                f"{pmeta.singular} does not exist or is invalid."
            ]
        if route.parent_id_field:
            f = entity.field(route.parent_id_field)
            record[f.name if f else route.parent_id_field] = pid
        return []

    def create(
        self,
        entity: EntityMeta,
        body: Any,
        caller: Caller,
        parent: tuple[ParentRoute, int] | None = None,
    ) -> Reply:
        record: dict[str, Any] = {f.name: None for f in entity.field_order}
        if entity.udf_capable:
            record["userDefinedFields"] = [
                {
                    "name": d.name,
                    "value": (str(d.default_value) if d.default_value not in (None, "") else None),
                }
                for d in entity.udf_order
            ]
        errors = self._parent_check(entity, parent, record)
        _, more = self._apply_body(entity, body, record, replace=False)
        errors.extend(more)
        errors.extend(self._parent_check(entity, parent, record) if not errors else [])
        errors = self._check_required(entity, record) + errors
        if not errors:
            errors.extend(self._attachment_checks(entity, record))
        if errors:
            raise self._verr(*_dedupe(errors))
        new_id = self.state.store.next_id(entity, self.state.config.first_id)
        id_field = entity.field("id")
        record[id_field.name if id_field else "id"] = new_id
        self._server_fields(entity, record, caller, created=True)
        self.state.webhooks.prepare(entity, record, caller, created=True, body=body)
        self.state.store.put(entity, record)
        self.state.changes.emit(
            action="created",
            entity=entity.name,
            id=new_id,
            time=format_datetime(self.state.clock.now()),
            fields=sorted(
                k for k, v in record.items() if v is not None and k != "userDefinedFields"
            ),
            resource_id=caller.acting_resource,
        )
        return Reply(orjson.dumps({"itemId": new_id}), item_ids=[new_id])

    def update(
        self,
        entity: EntityMeta,
        body: Any,
        caller: Caller,
        parent: tuple[ParentRoute, int] | None = None,
        *,
        replace: bool = False,
    ) -> Reply:
        if not isinstance(body, dict):
            raise self._verr("The request body must be a JSON object.")
        raw_id = next((v for k, v in body.items() if str(k).lower() == "id"), None)
        try:
            item_id = int(raw_id) if raw_id is not None and not isinstance(raw_id, bool) else None
        except (TypeError, ValueError):
            item_id = None
        if item_id is None:
            raise self._verr(f"An id is required to update a {entity.singular}.")
        record = self.state.store.get(entity, item_id)
        if record is None or (parent is not None and not _belongs_record(entity, record, parent)):
            raise self._verr(
                f"The {entity.singular} with id {item_id} does not exist or is invalid."
            )
        touched, errors = self._apply_body(entity, body, record, replace=replace)
        if parent is not None and parent[0].parent_id_field:
            f = entity.field(parent[0].parent_id_field)
            if f is not None:
                record[f.name] = parent[1]
        errors = self._check_required(entity, record) + errors
        if errors:
            raise self._verr(*_dedupe(errors))
        self._server_fields(entity, record, caller, created=False)
        self.state.webhooks.prepare(entity, record, caller, created=False)
        self.state.store.put(entity, record)
        self.state.changes.emit(
            action="updated",
            entity=entity.name,
            id=item_id,
            time=format_datetime(self.state.clock.now()),
            fields=sorted(touched),
            resource_id=caller.acting_resource,
        )
        return Reply(orjson.dumps({"itemId": item_id}), item_ids=[item_id])

    def delete(
        self,
        entity: EntityMeta,
        item_id: int,
        caller: Caller,
        parent: tuple[ParentRoute, int] | None = None,
    ) -> Reply:
        record = self.state.store.get(entity, item_id)
        if record is None or (parent is not None and not _belongs_record(entity, record, parent)):
            raise self._verr(
                f"The {entity.singular} with id {item_id} does not exist or is invalid."
            )
        self.state.store.delete(entity, item_id)
        now = self.state.clock.now()
        self._log_deletion(entity, record, caller, now)
        self.state.changes.emit(
            action="deleted",
            entity=entity.name,
            id=item_id,
            time=format_datetime(now),
            fields=[],
            resource_id=caller.acting_resource,
        )
        return Reply(orjson.dumps({"itemId": item_id}), item_ids=[item_id])

    def _log_deletion(
        self, entity: EntityMeta, record: dict[str, Any], caller: Caller, now: Any
    ) -> None:
        log = self.state.schema.entity(f"Deleted{entity.singular}Logs")
        if log is None:
            return
        low_singular = entity.singular[:1].lower() + entity.singular[1:]
        entry: dict[str, Any] = {f.name: None for f in log.field_order}
        lowered = {k.lower(): v for k, v in record.items()}
        for f in log.field_order:
            low = f.name.lower()
            if low == "id":
                continue
            if low == f"{low_singular.lower()}id":
                entry[f.name] = record.get("id")
            elif low.startswith("deletedby") and low.endswith("resourceid"):
                entry[f.name] = caller.acting_resource
            elif low.startswith("deleted") and f.kind == "datetime":
                entry[f.name] = format_datetime(now)
            elif low in lowered:
                entry[f.name] = lowered[low]
            elif low.startswith(low_singular.lower()) and low[len(low_singular) :] in lowered:
                entry[f.name] = lowered[low[len(low_singular) :]]
        entry["id"] = self.state.store.next_id(log, self.state.config.first_id)
        self.state.store.put(log, entry)


def _columns(node: Condition | Group) -> set[str]:
    if isinstance(node, Condition):
        return {("udf:" if node.field.is_udf else "") + node.field.name.lower()}
    out: set[str] = set()
    for child in node.items:
        out |= _columns(child)
    return out


def _int_or(value: Any, default: Any) -> Any:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError):
        return default


def _belongs(entity: EntityMeta, doc: bytes, parent: tuple[ParentRoute, int]) -> bool:
    return _belongs_record(entity, orjson.loads(doc), parent)


def _belongs_record(
    entity: EntityMeta, record: dict[str, Any], parent: tuple[ParentRoute, int]
) -> bool:
    route, pid = parent
    if not route.parent_id_field:
        return True
    low = route.parent_id_field.lower()
    for k, v in record.items():
        if k.lower() == low:
            return bool(v == pid)
    return True


def _project(doc: bytes, parsed: ParsedQuery, entity: EntityMeta) -> bytes:
    record = orjson.loads(doc)
    out = {name: record.get(name) for name in parsed.include_fields or ()}
    if entity.udf_capable:
        out["userDefinedFields"] = (
            record.get("userDefinedFields") or [] if parsed.include_udfs else []
        )
    return orjson.dumps(out)


def _json_repr(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else f'"{value}"'


def _clr(kind: str) -> str:
    return {
        "int": "System.Int32",
        "float": "System.Decimal",
        "bool": "System.Boolean",
        "datetime": "System.DateTime",
        "str": "System.String",
    }[kind]


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
