"""Read the Autotask Swagger 2.0 document into collections, routes and models.

Autotask's Swagger groups every operation under one tag per collection: root collections are tagged
with their URL name (``Tickets``), ``Parent/{parentId}/Child`` collections with a ``...Child`` tag
(``TicketNotesChild``). The operations each collection supports are read from the paths, never
assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Tags that are not entity collections (non-CRUD endpoints).
SPECIAL_TAGS = frozenset(
    {
        "AccountInvoiceSettings",
        "ApiVersion",
        "AuthenticateApiIntegration",
        "AutotaskVersionApiIntegration",
        "InvoiceMarkupApiIntegration",
        "ModuleAccessApiIntegration",
        "ThresholdApiIntegration",
        "ZoneInformationApiIntegration",
    }
)

_GENERIC = re.compile(r"^(?:QueryActionResult|ItemQueryResultModel)\[(\w+),(\w+)\]$")
_META = ("entityInformation", "entityInformation/fields", "entityInformation/userDefinedFields")

#: Model properties that are artefacts of the .NET implementation, not API fields.
DROPPED_PROPERTIES = frozenset({"soapParentPropertyId"})


@dataclass
class Collection:
    """One collection URL with the operations Swagger declares for it."""

    tag: str
    url: str  # "/V1.0/Tickets" or "/V1.0/Tickets/{parentId}/Notes"
    parent: str | None = None
    child: str | None = None
    operations: set[str] = field(default_factory=set)
    extras: set[str] = field(default_factory=set)  # non-standard sub-paths, "GET {year}"
    model: str | None = None
    soap_entity: str | None = None

    @property
    def is_child(self) -> bool:
        return self.parent is not None


def _ref_name(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    return None


def _collection_url(path: str) -> tuple[str, str | None, str | None, str]:
    """Split a path into (collection url, parent, child, remainder)."""
    parts = path.split("/")  # ['', 'V1.0', 'Tickets', ...]
    if len(parts) >= 5 and parts[3] == "{parentId}":
        url = "/".join(parts[:5])
        return url, parts[2], parts[4], "/".join(parts[5:])
    return "/".join(parts[:3]), None, None, "/".join(parts[3:])


def read_collections(swagger: dict[str, Any]) -> dict[str, Collection]:
    """Return collections keyed by URL (without the ``/V1.0/`` prefix)."""
    out: dict[str, Collection] = {}
    for path, methods in swagger["paths"].items():
        if not path.startswith("/V1.0/"):
            continue
        for method, op in methods.items():
            tag = op["tags"][0]
            if tag in SPECIAL_TAGS or tag == "EntityInformation":
                continue
            url, parent, child, rest = _collection_url(path)
            key = url[len("/V1.0/") :]
            if tag == "GlobalEntityInformation" or key == "EntityInformation":
                continue
            coll = out.get(key)
            if coll is None:
                coll = out[key] = Collection(tag=tag, url=url, parent=parent, child=child)
            verb = method.upper()
            op_name = _operation(verb, rest, is_child=parent is not None)
            if op_name is None:
                coll.extras.add(f"{verb} {rest}")
            elif op_name != "meta":
                coll.operations.add(op_name)
            _note_model(coll, op, swagger)
    return out


def _operation(verb: str, rest: str, *, is_child: bool) -> str | None:
    if rest in _META:
        return "meta"
    if rest == "":
        if verb == "GET":
            return "list" if is_child else None
        return {"POST": "create", "PATCH": "update", "PUT": "replace"}.get(verb)
    if rest == "query" and not is_child:
        return "query"
    if rest == "query/count" and not is_child:
        return "count"
    if rest == "{id}":
        return {"GET": "get", "DELETE": "delete"}.get(verb)
    return None


def _note_model(coll: Collection, op: dict[str, Any], swagger: dict[str, Any]) -> None:
    if coll.model:
        return
    names: list[str] = []
    resp = op.get("responses", {}).get("200", {})
    name = _ref_name(resp.get("schema"))
    if name:
        names.append(name)
    for param in op.get("parameters", []):
        if param.get("in") == "body" and param.get("name") == "restModelInput":
            pname = _ref_name(param.get("schema"))
            if pname:
                names.append(pname)
    for name in names:
        match = _GENERIC.match(name)
        if match:
            coll.model, coll.soap_entity = match.group(1), match.group(2)
            return
        if name.endswith("Model") and name in swagger["definitions"] and "Result" not in name:
            coll.model = name
            return


def model_properties(swagger: dict[str, Any], model: str | None) -> dict[str, dict[str, Any]]:
    """The model's properties as Swagger declares them, minus implementation artefacts."""
    if not model:
        return {}
    props = swagger["definitions"].get(model, {}).get("properties", {})
    result: dict[str, dict[str, Any]] = {}
    for name, schema in props.items():
        if name in DROPPED_PROPERTIES:
            continue
        entry: dict[str, Any] = {}
        if "$ref" in schema:
            entry["type"] = "object"
            entry["ref"] = _ref_name(schema)
        else:
            entry["type"] = schema.get("type", "object")
            if "format" in schema:
                entry["format"] = schema["format"]
            if schema.get("type") == "array":
                items = schema.get("items", {})
                entry["items"] = _ref_name(items) or items.get("type", "object")
        if schema.get("readOnly"):
            entry["readOnly"] = True
        result[name] = entry
    return result


def swagger_data_type(prop: dict[str, Any]) -> str | None:
    """Map a Swagger property to the dataType spelling entityInformation/fields uses."""
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "integer":
        return "long" if fmt == "int64" else "integer"
    if kind == "number":
        return "double" if fmt == "double" else "decimal"
    if kind == "boolean":
        return "boolean"
    if kind == "string":
        if fmt == "date-time":
            return "datetime"
        return "string"
    return None  # arrays and nested objects are not scalar fields
