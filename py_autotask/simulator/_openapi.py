"""OpenAPI 3.0 description of the simulator, built from the ``schemas/`` metadata snapshot.

:func:`build_openapi` emits one document covering every route the simulator serves:

* per collection with a root route (``derived.json`` ``root.operations``): ``query`` (``GET
  /query?search=`` and ``POST /query``, plus the ``/query/next`` paging follow-ups), ``count``
  (``GET|POST /query/count``), ``get`` (``GET /{id}``), ``create`` (``POST``), ``update``
  (``PATCH``), ``replace`` (``PUT``), ``delete`` (``DELETE /{id}``);
* per child route (``parentRoutes``): ``list`` (``GET /{Parent}/{parentId}/{Child}``), ``create`` /
  ``update`` / ``replace`` on the same URL, ``get`` / ``delete`` on ``.../{id}``;
* ``entityInformation``, ``entityInformation/fields`` and ``entityInformation/userDefinedFields`` for
  every collection (root and child URLs);
* the global endpoints ``ZoneInformation`` (no credentials), ``ThresholdInformation``, ``Version``,
  ``EntityInformation`` and ``/VersionInformation`` (outside ``/V1.0``, no credentials).

``server_url`` is the API root *including* ``/ATServicesRest`` (for example
``http://127.0.0.1:8080/ATServicesRest``); every path starts with ``/V1.0/`` like the Swagger
document Autotask publishes.

Schemas per collection (``<Singular>`` = ``derived.json`` ``singular``):

* ``<Singular>`` - a record as returned (every field, all nullable, ``id`` int64);
* ``<Singular>Create`` - POST body: ``required`` = ``isRequired`` and not ``isReadOnly``, read-only
  fields marked ``readOnly``, strings with ``maxLength`` = ``length``, picklists as ``enum`` of the
  active values (converted to the field type; ``null`` included when optional);
* ``<Singular>ChildCreate`` - the same for child URLs, where the parent id field comes from the URL
  and is therefore not required (only emitted when it differs);
* ``<Singular>Update`` (PATCH: only ``id`` required) and ``<Singular>Replace`` (PUT: ``id`` plus the
  create-required fields).

Autotask returns datetimes without an offset (``2024-03-30T13:10:35.563``), which is not RFC 3339, so
response schemas use a ``pattern`` instead of ``format: date-time``; request schemas use
``format: date-time`` (the simulator accepts both forms). Errors are ``{"errors": [string]}`` for every
4xx/5xx status. Credentials are the three header API keys ``ApiIntegrationCode``, ``UserName`` and
``Secret`` (all required together); ``ImpersonationResourceId`` is an optional header parameter.

Command line: ``python -m py_autotask.simulator._openapi [--server URL] [--schemas DIR] [-o FILE]``.
The ``/_sim/`` control plane is deliberately not described (a fuzzer must not reset the tenant or
inject faults).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

__all__ = ["build_openapi"]

_INT32 = frozenset({"integer", "short", "int", "int32", "byte"})
_INT64 = frozenset({"long", "int64"})
_FLOAT = frozenset({"decimal", "double", "float", "number", "currency"})
_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$"

_SECURITY: list[dict[str, list[str]]] = [{"ApiIntegrationCode": [], "UserName": [], "Secret": []}]
_ERROR_RESPONSES = {
    "4XX": {"$ref": "#/components/responses/Error"},
    "5XX": {"$ref": "#/components/responses/Error"},
}


def _read(path: Path) -> Any:
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def _ok(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "200": {"description": description, "content": _json_content(_ref(schema_name))},
        **_ERROR_RESPONSES,
    }


def _convert(value: str, data_type: str) -> Any:
    if data_type in _INT32 or data_type in _INT64:
        return int(value)
    if data_type in _FLOAT:
        return float(value)
    if data_type == "boolean":
        return value.lower() in ("1", "true", "yes")
    return value


def _base_type(data_type: str, *, request: bool) -> dict[str, Any]:
    dt = data_type.lower()
    if dt in _INT32:
        return {"type": "integer", "format": "int32"}
    if dt in _INT64:
        return {"type": "integer", "format": "int64"}
    if dt in _FLOAT:
        return {"type": "number", "format": "double"}
    if dt == "boolean":
        return {"type": "boolean"}
    if dt in ("datetime", "date"):
        if request:
            return {"type": "string", "format": "date-time"}
        return {"type": "string", "pattern": _DATETIME_PATTERN}
    return {"type": "string"}


def _field_schema(f: Mapping[str, Any], *, request: bool, nullable: bool) -> dict[str, Any]:
    dt = str(f.get("dataType") or f.get("type") or "string").lower()
    schema = _base_type(dt, request=request)
    length = int(f.get("length") or 0)
    if schema["type"] == "string" and length > 0 and not {"format", "pattern"} & set(schema):
        schema["maxLength"] = length
    if request and f.get("isPickList") and f.get("picklistValues"):
        values: list[Any] = []
        for pv in f["picklistValues"]:
            if not pv.get("isActive", True) or pv.get("value") is None:
                continue
            try:
                converted = _convert(str(pv["value"]), dt)
            except ValueError:
                continue
            if converted not in values:
                values.append(converted)
        if values:
            if schema["type"] == "string" and length > 0:
                values = [v for v in values if len(str(v)) <= length] or values
            schema.pop("maxLength", None)
            schema["enum"] = [*values, None] if nullable else values
    if nullable:
        schema["nullable"] = True
    if f.get("isReadOnly") and request:
        schema["readOnly"] = True
    description = []
    if f.get("isReference") and f.get("referenceEntityType"):
        description.append(f"Reference to {f['referenceEntityType']}.")
    if f.get("picklistParentValueField"):
        description.append(f"Dependent picklist of {f['picklistParentValueField']}.")
    if description:
        schema["description"] = " ".join(description)
    return schema


def _udf_schema(udfs: list[Mapping[str, Any]], *, request: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {"type": "string", "nullable": True},
        },
        "required": ["name"] if request else ["name", "value"],
    }
    if request:
        names = [str(u.get("name")) for u in udfs if u.get("name") and not u.get("isReadOnly")]
        if names:
            item["properties"]["name"] = {"type": "string", "enum": names}
    return {"type": "array", "items": item}


def _entity_schemas(
    name: str,
    singular: str,
    fields: list[Mapping[str, Any]],
    udfs: list[Mapping[str, Any]],
    parent_id_fields: set[str],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    model: dict[str, Any] = {"type": "object", "properties": {}}
    for f in fields:
        fname = str(f["name"])
        if fname == "id":
            model["properties"]["id"] = {"type": "integer", "format": "int64"}
        else:
            model["properties"][fname] = _field_schema(f, request=False, nullable=True)
    if udfs:
        model["properties"]["userDefinedFields"] = _udf_schema(udfs, request=False)
    model["description"] = f"A {singular} record as /V1.0/{name} returns it."
    out["model"] = model

    writable_required = [
        str(f["name"])
        for f in fields
        if f.get("isRequired") and not f.get("isReadOnly") and f["name"] != "id"
    ]

    def body(required: list[str], with_id: bool) -> dict[str, Any]:
        props: dict[str, Any] = {}
        if with_id:
            props["id"] = {"type": "integer", "format": "int64", "minimum": 0}
        for f in fields:
            fname = str(f["name"])
            if fname == "id":
                continue
            props[fname] = _field_schema(f, request=True, nullable=fname not in required)
        if udfs:
            props["userDefinedFields"] = _udf_schema(udfs, request=True)
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        return schema

    out["create"] = body(writable_required, with_id=False)
    child_required = [n for n in writable_required if n not in parent_id_fields]
    if child_required != writable_required:
        out["childCreate"] = body(child_required, with_id=False)
    out["update"] = body(["id"], with_id=True)
    out["replace"] = body(["id", *writable_required], with_id=True)
    return out


def _common_schemas() -> dict[str, Any]:
    filter_schema: dict[str, Any] = {
        "type": "object",
        "description": "One condition or an and/or group (items). Names are case-insensitive.",
        "properties": {
            "op": {
                "type": "string",
                "enum": [
                    "eq",
                    "noteq",
                    "gt",
                    "gte",
                    "lt",
                    "lte",
                    "beginsWith",
                    "endsWith",
                    "contains",
                    "exist",
                    "notExist",
                    "in",
                    "notIn",
                    "and",
                    "or",
                ],
            },
            "field": {"type": "string"},
            "value": {
                "nullable": True,
                "description": "Integer, string, boolean, or an array of integers or strings.",
            },
            "udf": {"type": "boolean"},
            "items": {"type": "array", "items": _ref("Filter")},
        },
        "required": ["op"],
    }
    page_details = {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "requestCount": {"type": "integer"},
            "prevPageUrl": {"type": "string", "nullable": True},
            "nextPageUrl": {"type": "string", "nullable": True},
        },
        "required": ["count", "requestCount", "prevPageUrl", "nextPageUrl"],
    }
    picklist_value = {
        "type": "object",
        "properties": {
            "value": {"type": "string"},
            "label": {"type": "string", "nullable": True},
            "isDefaultValue": {"type": "boolean"},
            "sortOrder": {"type": "integer", "nullable": True},
            "parentValue": {"type": "string", "nullable": True},
            "isActive": {"type": "boolean"},
            "isSystem": {"type": "boolean"},
        },
    }
    field_info: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "dataType": {"type": "string"},
            "length": {"type": "integer"},
            "isRequired": {"type": "boolean"},
            "isReadOnly": {"type": "boolean"},
            "isQueryable": {"type": "boolean"},
            "isReference": {"type": "boolean"},
            "referenceEntityType": {"type": "string", "nullable": True},
            "isPickList": {"type": "boolean"},
            "picklistValues": {
                "type": "array",
                "items": _ref("PicklistValue"),
                "nullable": True,
            },
            "picklistParentValueField": {"type": "string", "nullable": True},
            "isSupportedWebhookField": {"nullable": True},
        },
        "required": ["name"],
    }
    field_props: dict[str, Any] = field_info["properties"]
    udf_info = {
        "type": "object",
        "properties": {
            **{k: v for k, v in field_props.items() if k != "dataType"},
            "label": {"type": "string", "nullable": True},
            "type": {"type": "string"},
            "description": {"type": "string", "nullable": True},
            "defaultValue": {"type": "string", "nullable": True},
        },
        "required": ["name"],
    }
    entity_info = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "canCreate": {"type": "boolean"},
            "canDelete": {"type": "boolean"},
            "canQuery": {"type": "boolean"},
            "canUpdate": {"type": "boolean"},
            "hasUserDefinedFields": {"type": "boolean"},
            "supportsWebhookCallouts": {"type": "boolean"},
            "userAccessForCreate": {"type": "string"},
            "userAccessForDelete": {"type": "string"},
            "userAccessForQuery": {"type": "string"},
            "userAccessForUpdate": {"type": "string"},
        },
    }
    return {
        "Error": {
            "type": "object",
            "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
            "required": ["errors"],
        },
        "Filter": filter_schema,
        "QueryModel": {
            "type": "object",
            "description": (
                "Query body. Property names are case-insensitive (MaxRecords, IncludeFields, "
                "Filter are accepted too); maxRecords 1-500 (default 500)."
            ),
            "properties": {
                "maxRecords": {"type": "integer", "minimum": 1, "maximum": 500},
                "includeFields": {"type": "array", "items": {"type": "string"}},
                "filter": {"type": "array", "items": _ref("Filter")},
            },
        },
        "PageDetails": page_details,
        "ItemIdResult": {
            "type": "object",
            "properties": {"itemId": {"type": "integer", "format": "int64", "nullable": True}},
            "required": ["itemId"],
        },
        "QueryCountResult": {
            "type": "object",
            "properties": {"queryCount": {"type": "integer", "format": "int64"}},
            "required": ["queryCount"],
        },
        "PicklistValue": picklist_value,
        "FieldInformation": field_info,
        "UserDefinedFieldInformation": udf_info,
        "EntityInformation": entity_info,
        "EntityInformationResult": {
            "type": "object",
            "properties": {"info": _ref("EntityInformation")},
            "required": ["info"],
        },
        "FieldInformationResult": {
            "type": "object",
            "properties": {"fields": {"type": "array", "items": _ref("FieldInformation")}},
            "required": ["fields"],
        },
        "UserDefinedFieldInformationResult": {
            "type": "object",
            "properties": {
                "fields": {"type": "array", "items": _ref("UserDefinedFieldInformation")}
            },
            "required": ["fields"],
        },
        "EntityDescriptionsResult": {
            "type": "object",
            "properties": {
                "entityDescriptions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"info": _ref("EntityInformation")},
                    },
                }
            },
            "required": ["entityDescriptions"],
        },
        "ZoneInformationResult": {
            "type": "object",
            "properties": {
                "zoneName": {"type": "string"},
                "url": {"type": "string"},
                "webUrl": {"type": "string"},
                "ci": {"type": "integer"},
            },
            "required": ["url"],
        },
        "ThresholdInformationResult": {
            "type": "object",
            "properties": {
                "externalRequestThreshold": {"type": "integer"},
                "requestThresholdTimeframe": {"type": "integer"},
                "currentTimeframeRequestCount": {"type": "integer"},
            },
            "required": [
                "externalRequestThreshold",
                "requestThresholdTimeframe",
                "currentTimeframeRequestCount",
            ],
        },
        "VersionResult": {
            "type": "object",
            "properties": {
                "majorVersion": {"type": "string"},
                "minorVersion": {"type": "string"},
                "build": {"type": "string"},
                "customerType": {"type": "string"},
            },
        },
        "ApiVersionResult": {
            "type": "object",
            "properties": {"apiVersions": {"type": "array", "items": {"type": "string"}}},
            "required": ["apiVersions"],
        },
    }


def _page_schema(singular: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(singular)},
            "pageDetails": _ref("PageDetails"),
        },
        "required": ["items", "pageDetails"],
    }


def _item_schema(singular: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"item": {**_ref(singular), "nullable": True}},
        "required": ["item"],
    }


def _op(
    op_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {"required": True, "content": _json_content(_ref(body))}
    out["responses"] = responses
    if security is not None:
        out["security"] = security
    return out


_P_ID = {"$ref": "#/components/parameters/id"}
_P_PARENT = {"$ref": "#/components/parameters/parentId"}
_P_SEARCH = {"$ref": "#/components/parameters/search"}
_P_PAGING = {"$ref": "#/components/parameters/paging"}
_P_SEARCH_OPT = {"$ref": "#/components/parameters/searchOptional"}
_P_PAGING_OPT = {"$ref": "#/components/parameters/pagingOptional"}
_P_IMPERSONATE = {"$ref": "#/components/parameters/ImpersonationResourceId"}


def _meta_paths(paths: dict[str, Any], prefix: str, name: str, op_prefix: str, tag: str) -> None:
    params = [_P_PARENT] if "{parentId}" in prefix else []
    for suffix, schema, what in (
        ("", "EntityInformationResult", "entityInformation"),
        ("/fields", "FieldInformationResult", "fields"),
        ("/userDefinedFields", "UserDefinedFieldInformationResult", "userDefinedFields"),
    ):
        paths[f"{prefix}/entityInformation{suffix}"] = {
            "parameters": [*params, _P_IMPERSONATE],
            "get": _op(
                f"{op_prefix}_{what}",
                tag,
                f"{name} metadata: {what}",
                _ok(schema, f"{what} of {name}"),
            ),
        }


#: (operation, HTTP method, verb, past participle) of the writes on a collection URL.
_WRITES = (
    ("create", "post", "Create", "created"),
    ("update", "patch", "Update", "updated"),
    ("replace", "put", "Replace", "replaced"),
)
_ROOT_NOTES = {
    "update": " (sparse, id in the body)",
    "replace": " (omitted writable fields become null)",
}


def _write_ops(
    ops: set[str],
    prefix: str,
    tag: str,
    singular: str,
    where: str,
    notes: dict[str, str],
    bodies: dict[str, str],
) -> dict[str, Any]:
    """The POST/PATCH/PUT operations of a collection URL (root or ``Parent/{parentId}/Child``)."""
    out: dict[str, Any] = {}
    for op, method, verb, done in _WRITES:
        if op in ops:
            out[method] = _op(
                f"{prefix}_{op}",
                tag,
                f"{verb} a {singular}{where}{notes.get(op, '')}",
                _ok("ItemIdResult", f"id of the {done} record"),
                body=bodies[op],
            )
    return out


_PAGING_TEXT: Final = "Opaque paging token JSON copied from nextPageUrl/prevPageUrl."


def _query_text(name: str, required: bool, description: str) -> dict[str, Any]:
    """A text query parameter of the document's components."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def _get_and_post(
    prefix: str,
    tag: str,
    parameters: list[Any],
    summaries: tuple[str, str],
    ok: dict[str, Any],
    extras: tuple[dict[str, Any], dict[str, Any]],
) -> dict[str, Any]:
    """A path answering GET (``?search=``) and POST (a QueryModel body) alike."""
    return {
        "parameters": parameters,
        "get": _op(f"{prefix}Get", tag, summaries[0], ok, **extras[0]),
        "post": _op(f"{prefix}Post", tag, summaries[1], ok, **extras[1]),
    }


def _item_ops(
    ops: set[str], prefix: str, tag: str, singular: str, get_where: str, where: str, sn: Any
) -> dict[str, Any]:
    """The GET/DELETE operations of a ``.../{id}`` URL."""
    out: dict[str, Any] = {}
    if "get" in ops:
        out["get"] = _op(
            f"{prefix}_get",
            tag,
            f"Get a {singular}{get_where}",
            _ok(sn["item"], "the record or null"),
        )
    if "delete" in ops:
        out["delete"] = _op(
            f"{prefix}_delete",
            tag,
            f"Delete a {singular}{where}",
            _ok("ItemIdResult", "id of the deleted record"),
        )
    return out


def build_openapi(schemas_dir: Path, server_url: str) -> dict[str, Any]:
    """Build the OpenAPI 3.0.3 document for the simulator from ``schemas_dir``."""
    root = Path(schemas_dir) / "entities"
    index = _read(Path(schemas_dir) / "index.json")
    if isinstance(index, dict) and isinstance(index.get("entities"), list):
        names = sorted(str(n) for n in index["entities"] if (root / str(n)).is_dir())
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    schemas: dict[str, Any] = _common_schemas()
    paths: dict[str, Any] = {}
    tags: list[dict[str, str]] = []
    singulars: dict[str, str] = {}
    loaded: dict[str, tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], dict[str, Any]]] = {}

    raw: dict[str, tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], dict[str, Any]]] = {}
    for name in names:
        d = root / name
        fields = list((_read(d / "fields.json") or {}).get("fields") or [])
        udfs = list((_read(d / "userDefinedFields.json") or {}).get("fields") or [])
        derived = _read(d / "derived.json") or {}
        raw[name] = (fields, udfs, derived)
    # Schema names: <Singular> for the record, <Singular><Suffix> for bodies and wrappers; a
    # clash (two collections sharing a singular, or QuoteItem vs Quote+Item) gets a _<Collection>
    # suffix so no schema is ever overwritten.
    taken: set[str] = set(schemas)
    models: dict[str, str] = {}
    for name in names:
        singular = str(raw[name][2].get("singular") or name)
        model_name = singular if singular not in taken else f"{singular}_{name}"
        taken.add(model_name)
        models[name] = model_name
    suffixes = {
        "create": "Create",
        "childCreate": "ChildCreate",
        "update": "Update",
        "replace": "Replace",
        "page": "QueryResult",
        "item": "ItemResult",
    }
    schema_names: dict[str, dict[str, str]] = {}
    for name in names:
        fields, udfs, derived = raw[name]
        singular = models[name]
        roles = {"model": singular}
        for role, suffix in suffixes.items():
            candidate = f"{singular}{suffix}"
            if candidate in taken:
                candidate = f"{singular}{suffix}_{name}"
            taken.add(candidate)
            roles[role] = candidate
        schema_names[name] = roles
        singulars[name] = singular
        loaded[name] = (fields, udfs, derived)
        parent_ids = {
            str(pr["parentIdField"])
            for pr in derived.get("parentRoutes") or []
            if pr.get("parentIdField")
        }
        lower = {str(f["name"]).lower(): str(f["name"]) for f in fields}
        parent_ids = {lower.get(p.lower(), p) for p in parent_ids}
        built = _entity_schemas(name, singular, fields, udfs, parent_ids)
        if "childCreate" not in built:
            roles["childCreate"] = roles["create"]
        for role, schema in built.items():
            schemas[roles[role]] = schema
        schemas[roles["page"]] = _page_schema(singular)
        schemas[roles["item"]] = _item_schema(singular)
        tags.append({"name": name, "description": f"/V1.0/{name} ({singular})"})

    for name in names:
        fields, udfs, derived = loaded[name]
        singular = singulars[name]
        sn = schema_names[name]
        base = f"/V1.0/{name}"
        _meta_paths(paths, base, name, name, name)
        root_info = derived.get("root") or {}
        ops = set(root_info.get("operations") or []) if derived.get("root") else set()
        bodies = {"create": sn["create"], "update": sn["update"], "replace": sn["replace"]}
        collection = _write_ops(ops, name, name, singular, "", _ROOT_NOTES, bodies)
        if collection:
            paths[base] = {"parameters": [_P_IMPERSONATE], **collection}
        item = _item_ops(ops, name, name, singular, " by id (item is null when absent)", "", sn)
        if item:
            paths[f"{base}/{{id}}"] = {"parameters": [_P_ID, _P_IMPERSONATE], **item}
        page = _ok(sn["page"], "one page of records, ascending id")
        counted = _ok("QueryCountResult", "number of matching records")
        if "query" in ops:
            paths[f"{base}/query"] = _get_and_post(
                f"{name}_query",
                name,
                [_P_IMPERSONATE],
                (f"Query {name} (search = URL-encoded QueryModel JSON)", f"Query {name}"),
                page,
                ({"parameters": [_P_SEARCH]}, {"body": "QueryModel"}),
            )
            paths[f"{base}/query/next"] = _get_and_post(
                f"{name}_next",
                name,
                [_P_PAGING, _P_IMPERSONATE],
                (
                    f"Next page of a {name} query (pageDetails.nextPageUrl)",
                    f"Next page of a POST {name} query (pageDetails.nextPageUrl)",
                ),
                _ok(sn["page"], "the following page"),
                ({"parameters": [_P_SEARCH_OPT]}, {"parameters": [_P_SEARCH_OPT]}),
            )
        if "count" in ops:
            paths[f"{base}/query/count"] = _get_and_post(
                f"{name}_count",
                name,
                [_P_IMPERSONATE],
                (f"Count {name} matching search", f"Count {name} matching the query"),
                counted,
                ({"parameters": [_P_SEARCH]}, {"body": "QueryModel"}),
            )

        for pr in derived.get("parentRoutes") or []:
            parent = str(pr.get("parent") or "")
            child = str(pr.get("child") or "")
            if not parent or not child:
                continue
            cops = set(pr.get("operations") or [])
            url = f"/V1.0/{parent}/{{parentId}}/{child}"
            op_prefix = f"{parent}_{child}"
            tag = name
            coll: dict[str, Any] = {}
            if "list" in cops:
                coll["get"] = _op(
                    f"{op_prefix}_list",
                    tag,
                    f"List the {child} of one {parent} record",
                    _ok(sn["page"], "one page of child records"),
                    parameters=[_P_PAGING_OPT],
                )
            bodies = {"create": sn["childCreate"], "update": sn["update"], "replace": sn["replace"]}
            where = f" under {parent}"
            coll.update(_write_ops(cops, op_prefix, tag, singular, where, {}, bodies))
            if coll and url not in paths:
                paths[url] = {"parameters": [_P_PARENT, _P_IMPERSONATE], **coll}
            citem = _item_ops(cops, op_prefix, tag, singular, where, where, sn)
            if citem and f"{url}/{{id}}" not in paths:
                paths[f"{url}/{{id}}"] = {"parameters": [_P_PARENT, _P_ID, _P_IMPERSONATE], **citem}
            if f"{url}/entityInformation" not in paths:
                _meta_paths(paths, url, name, op_prefix, tag)

    paths["/V1.0/ZoneInformation"] = {
        "get": _op(
            "ZoneInformation_get",
            "Global",
            "Zone (API base URL) of an API user; needs no credentials",
            _ok("ZoneInformationResult", "zone of the user"),
            parameters=[
                {"name": "user", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
            security=[],
        )
    }
    paths["/V1.0/ThresholdInformation"] = {
        "get": _op(
            "ThresholdInformation_get",
            "Global",
            "Hourly request threshold and current usage",
            _ok("ThresholdInformationResult", "threshold and usage"),
        )
    }
    paths["/V1.0/Version"] = {
        "get": _op("Version_get", "Global", "Application version", _ok("VersionResult", "version"))
    }
    paths["/V1.0/EntityInformation"] = {
        "get": _op(
            "EntityInformation_get",
            "Global",
            "entityInformation of every collection",
            _ok("EntityDescriptionsResult", "all entity descriptions"),
        )
    }
    paths["/VersionInformation"] = {
        "get": _op(
            "VersionInformation_get",
            "Global",
            "Supported REST API versions; needs no credentials",
            _ok("ApiVersionResult", "api versions"),
            security=[],
        )
    }
    tags.append({"name": "Global", "description": "Endpoints outside any collection"})

    header_key = {
        "ApiIntegrationCode": "API tracking identifier (integration code)",
        "UserName": "API user name (e-mail form)",
        "Secret": "API user secret",
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Autotask PSA REST API (py-autotask simulator)",
            "version": "1.0",
            "description": (
                "Generated from the schemas/ metadata snapshot by "
                "py_autotask.simulator._openapi.build_openapi. Every 4xx/5xx answer is "
                '{"errors": [string]} (an unknown route may answer with an HTML 404 when the '
                "simulator is configured to mimic IIS)."
            ),
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "security": _SECURITY,
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                key: {"type": "apiKey", "in": "header", "name": key, "description": text}
                for key, text in header_key.items()
            },
            "parameters": {
                "id": {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "format": "int64"},
                },
                "parentId": {
                    "name": "parentId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "format": "int64"},
                },
                "search": _query_text(
                    "search",
                    True,
                    'QueryModel as JSON, e.g. {"filter":[{"op":"gte","field":"id","value":0}]}',
                ),
                "searchOptional": _query_text(
                    "search", False, "The original QueryModel JSON (as in nextPageUrl)."
                ),
                "paging": _query_text("paging", True, _PAGING_TEXT),
                "pagingOptional": _query_text("paging", False, _PAGING_TEXT),
                "ImpersonationResourceId": {
                    "name": "ImpersonationResourceId",
                    "in": "header",
                    "required": False,
                    "description": "Resource id to act as",
                    "schema": {"type": "integer", "format": "int32"},
                },
            },
            "responses": {
                "Error": {
                    "description": "Autotask error body",
                    "content": _json_content(_ref("Error")),
                }
            },
            "schemas": schemas,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m py_autotask.simulator._openapi [--server URL] [--schemas DIR] [-o FILE]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Write the simulator's OpenAPI 3.0 document")
    parser.add_argument("--server", default="http://127.0.0.1:8080/ATServicesRest")
    parser.add_argument(
        "--schemas", type=Path, default=Path(__file__).resolve().parents[2] / "schemas"
    )
    parser.add_argument("-o", "--output", type=Path, default=None, help="file (default stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(build_openapi(args.schemas, args.server), indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
