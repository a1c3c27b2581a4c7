"""Build ``schemas/`` from the reference data (no live tenant needed).

The inputs are read from ``schemas/source/`` (kept there by ``python -m codegen import-sources``;
``--data DIR`` reads another folder of the same files). Sources, in order of authority for each field fact:

1. ``rest-entity-fields-live-tenant-*.json``: real ``entityInformation/fields`` and
   ``userDefinedFields`` responses from a live tenant (5 entities);
2. ``soap-v1.6-field-info-*.json`` through ``soap-to-rest-mapping-derived.json``: SOAP v1.6
   ``getFieldInfo`` facts (required, read-only, length, reference, picklist flags);
3. the Swagger model alone (type and the ``readOnly`` flag).

Routes and operations always come from the 2026-06 Swagger document; the parent id field of each
child route from the metadata or, where it cannot settle it, the reviewed ``overrides.json`` beside
this module. Each entity records the provenance of its facts in ``derived.json``. Tenant-specific picklist labels (``isSystem: false``)
are replaced by neutral labels; values, order, parents and flags are kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen import swagger as sw
from codegen._jsonio import read_json, write_json
from codegen._normalize import neutral_picklist
from codegen.sources import (
    CATALOG,
    LIVE_TENANT,
    SOAP_FIELD_INFO,
    SOAP_TO_REST,
    SWAGGER_2026,
    read_manifest,
)

FIELD_KEYS = (
    "name",
    "dataType",
    "length",
    "isRequired",
    "isReadOnly",
    "isQueryable",
    "isReference",
    "referenceEntityType",
    "isPickList",
    "picklistValues",
    "picklistParentValueField",
    "isSupportedWebhookField",
)

#: The change-tracking field incremental sync filters on, by preference.
CHANGE_TRACKING_CANDIDATES = (
    "lastActivityDate",
    "lastModifiedDateTime",
    "lastActivityDateTime",
    "lastModifiedDate",
    "lastModifiedTime",
)


@dataclass
class Sources:
    swagger: dict[str, Any]
    live: dict[str, Any]
    soap: dict[str, Any]
    mapping: dict[str, Any]
    catalog: dict[str, Any]
    hashes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path, swagger_name: str = SWAGGER_2026) -> Sources:
        """Read the inputs from ``data_dir``. ``hashes`` are the sha256 of the originals: a file
        that ``manifest.json`` lists as a derived copy (the neutralised live-tenant capture) must
        match the manifest, and the original's hash is recorded."""
        names = {
            "swagger": swagger_name,
            "live": LIVE_TENANT,
            "soap": SOAP_FIELD_INFO,
            "mapping": SOAP_TO_REST,
            "catalog": CATALOG,
        }
        manifest = read_manifest(data_dir)
        loaded: dict[str, Any] = {}
        hashes: dict[str, str] = {}
        for key, name in names.items():
            path = data_dir / name
            if not path.exists():
                raise SystemExit(
                    f"codegen bootstrap: reference file {path} is missing; pass --data DIR "
                    "pointing at a folder of the reference files (default: schemas/source, "
                    "filled by `python -m codegen import-sources --from DIR`)"
                )
            raw = path.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            entry = manifest.get(name)
            if entry is not None:
                if entry["storedSha256"] != digest:
                    raise SystemExit(
                        f"codegen bootstrap: {path} is not the copy manifest.json records "
                        f"(sha256 {digest}, expected {entry['storedSha256']}); rerun "
                        "`python -m codegen import-sources --from DIR` instead of editing it"
                    )
                digest = entry["sha256"]
            hashes[name] = digest
            loaded[key] = json.loads(raw)
        return cls(hashes=hashes, **loaded)


@dataclass
class EntityDraft:
    name: str
    root: sw.Collection | None
    routes: list[sw.Collection] = field(default_factory=list)  # where this entity is the child

    @property
    def model(self) -> str | None:
        if self.root and self.root.model:
            return self.root.model
        for route in self.routes:
            if route.model:
                return route.model
        return None

    @property
    def soap_entity(self) -> str | None:
        for coll in [self.root, *self.routes]:
            if coll is not None and coll.soap_entity:
                return coll.soap_entity
        return None


def _singular(model: str | None, name: str) -> str:
    if model and model.endswith("Model"):
        return model[: -len("Model")]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s"):
        return name[:-1]
    return name


def group_entities(collections: dict[str, sw.Collection]) -> dict[str, EntityDraft]:
    """One entity per root collection, plus child-only entities; attach child routes."""
    entities: dict[str, EntityDraft] = {}
    by_model: dict[str, str] = {}
    for key in sorted(collections):
        coll = collections[key]
        if not coll.is_child:
            entities[key] = EntityDraft(name=key, root=coll)
            if coll.model:
                by_model.setdefault(coll.model, key)
    for key in sorted(collections):
        coll = collections[key]
        if not coll.is_child:
            continue
        tag_name = coll.tag[: -len("Child")] if coll.tag.endswith("Child") else coll.tag
        target = by_model.get(coll.model or "") if coll.model else None
        if target is None and tag_name in entities:
            target = tag_name
        if target is None:
            target = tag_name
            entities.setdefault(target, EntityDraft(name=target, root=None))
        entities[target].routes.append(coll)
    return entities


def _parent_id_field(
    props: dict[str, Any],
    parent_singular: str,
    parent_soap: str | None,
    fields: list[dict[str, Any]],
) -> str | None:
    """The child's field holding the parent id, when the metadata names it; the rules in order:

    1. a field ``<ParentSingular>ID`` (``ticketID`` under ``Tickets``);
    2. the one field whose ``referenceEntityType`` is the parent's singular;
    3. a field ``parentID``;
    4. the longest ``...ID`` field that ends ``<ParentSingular>ID`` (``webhookID`` under
       ``TicketWebhooks``, ``articleID`` under ``KnowledgeBaseArticles``);
    5. a field ``<ParentSoapEntity>ID`` (``installedProductID`` under ``ConfigurationItems``,
       SOAP ``InstalledProduct``).
    """
    lowered = {name.lower(): name for name in props}
    wanted = f"{parent_singular}ID".lower()
    if wanted in lowered:
        return lowered[wanted]
    refs = [f["name"] for f in fields if f.get("referenceEntityType") == parent_singular]
    if len(refs) == 1:
        return str(refs[0])
    for candidate in ("parentID", "parentId"):
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    suffixes = [
        name
        for low, name in lowered.items()
        if low.endswith("id") and len(low) > 2 and low != "id" and wanted.endswith(low)
    ]
    if suffixes:
        return max(suffixes, key=len)
    if parent_soap and f"{parent_soap}ID".lower() in lowered:
        return lowered[f"{parent_soap}ID".lower()]
    return None


#: Reviewed facts the metadata cannot settle (see its ``_about``).
OVERRIDES = Path(__file__).with_name("overrides.json")


def load_overrides(path: Path = OVERRIDES) -> dict[str, dict[str, Any]]:
    """``{child route URL: {"field": name or None, "reason": text}}`` from ``overrides.json``."""
    entries: dict[str, dict[str, Any]] = read_json(path)["parentIdField"]
    for url, entry in entries.items():
        if set(entry) != {"field", "reason"} or not str(entry["reason"]).strip():
            raise SystemExit(f"codegen: {path.name}: {url} needs exactly a field and a reason")
    return entries


class Builder:
    def __init__(self, sources: Sources) -> None:
        self.src = sources
        self.collections = sw.read_collections(sources.swagger)
        self.entities = group_entities(self.collections)
        self.singulars = {name: _singular(ent.model, name) for name, ent in self.entities.items()}
        mapping = sources.mapping["entities"]
        # SOAP entity name -> REST singular (e.g. Account -> Company)
        self.soap_to_rest = {
            soap: info["restModel"][: -len("Model")]
            for soap, info in mapping.items()
            if info.get("restModel")
        }
        self.live = sources.live["entities"]
        self.overrides = load_overrides()
        self.unsettled: list[str] = []  # child routes with no parent id field and no override
        self.soap = sources.soap["entities"]
        self.webhook_entities = {
            name
            for name, row in sources.catalog["collections"].items()
            if row.get("supportsWebhookCallouts_docs") and "{parentId}" not in name
        }

    # ----------------------------------------------------------------- fields
    def _soap_fields(
        self, soap_entity: str | None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """SOAP fields keyed by REST name (lower-cased), and the SOAP->REST rename map."""
        if not soap_entity or soap_entity not in self.soap:
            return {}, {}
        renamed: dict[str, str] = dict(
            self.src.mapping["entities"].get(soap_entity, {}).get("renamed", {})
        )
        out: dict[str, dict[str, Any]] = {}
        for fld in self.soap[soap_entity]["fields"]:
            rest_name = renamed.get(fld["Name"], fld["Name"])
            out[rest_name.lower()] = fld
        return out, renamed

    def _soap_reference(self, ref: str) -> str:
        if not ref:
            return ""
        return str(self.soap_to_rest.get(ref, ref))

    def build_fields(
        self, ent: EntityDraft, props: dict[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, str], list[dict[str, Any]]]:
        """Return (fields, per-field provenance, soap aliases, udfs)."""
        live = self.live.get(ent.name)
        soap_by_rest, renamed = self._soap_fields(ent.soap_entity)
        aliases = {soap: rest for soap, rest in renamed.items() if soap != rest}
        provenance: dict[str, str] = {}
        fields: list[dict[str, Any]] = []
        seen: set[str] = set()
        if live is not None:
            for raw in live["fields"]:
                fields.append(self._neutral_field(raw))
                provenance[raw["name"]] = "live-tenant"
                seen.add(raw["name"].lower())
        for name, prop in sorted(props.items()):
            data_type = sw.swagger_data_type(prop)
            if data_type is None or name.lower() in seen:
                continue
            seen.add(name.lower())
            soap = soap_by_rest.get(name.lower())
            if soap is not None:
                fields.append(self._field_from_soap(name, soap, prop, data_type))
                provenance[name] = "soap-v1.6"
            else:
                fields.append(self._field_from_swagger(name, prop, data_type))
                provenance[name] = "swagger"
        fields.sort(key=lambda f: str(f["name"]).lower())
        udfs = [self._neutral_udf(u) for u in (live or {}).get("userDefinedFields", [])]
        udfs.sort(key=lambda f: str(f["name"]).lower())
        return fields, provenance, aliases, udfs

    def _neutral_field(self, raw: dict[str, Any]) -> dict[str, Any]:
        item = {key: raw.get(key) for key in FIELD_KEYS}
        item["picklistValues"] = neutral_picklist(raw.get("picklistValues"), raw["name"])
        return item

    def _neutral_udf(self, raw: dict[str, Any]) -> dict[str, Any]:
        item = dict(raw)
        item["picklistValues"] = neutral_picklist(raw.get("picklistValues"), raw["name"])
        return item

    def _field_from_soap(
        self, name: str, soap: dict[str, Any], prop: dict[str, Any], swagger_type: str
    ) -> dict[str, Any]:
        soap_type = str(soap.get("Type") or "").lower()
        family = {
            "integer": "int",
            "long": "int",
            "short": "int",
            "double": "num",
            "decimal": "num",
            "float": "num",
            "string": "str",
            "datetime": "dt",
            "boolean": "bool",
        }
        data_type = soap_type if family.get(soap_type) == family.get(swagger_type) else swagger_type
        if data_type in ("short",):
            data_type = "integer"
        if data_type == "float":
            data_type = "double"
        is_picklist = bool(soap.get("IsPickList"))
        return {
            "name": name,
            "dataType": data_type,
            "length": int(soap.get("Length") or 0) if data_type == "string" else 0,
            "isRequired": bool(soap.get("IsRequired")),
            "isReadOnly": bool(soap.get("IsReadOnly")) or bool(prop.get("readOnly")),
            "isQueryable": bool(soap.get("IsQueryable", True)),
            "isReference": bool(soap.get("IsReference")),
            "referenceEntityType": self._soap_reference(str(soap.get("ReferenceEntityType") or "")),
            "isPickList": is_picklist,
            # SOAP metadata was cached without picklist values: the tenant supplies them at runtime.
            "picklistValues": [] if is_picklist else None,
            "picklistParentValueField": str(soap.get("PicklistParentValueField") or ""),
            "isSupportedWebhookField": bool(soap.get("IsSupportedWebhookField")),
        }

    @staticmethod
    def _field_from_swagger(name: str, prop: dict[str, Any], data_type: str) -> dict[str, Any]:
        is_id = name == "id"
        return {
            "name": name,
            "dataType": data_type,
            "length": 0,
            "isRequired": is_id,
            "isReadOnly": is_id or bool(prop.get("readOnly")),
            "isQueryable": True,
            "isReference": False,
            "referenceEntityType": "",
            "isPickList": False,
            "picklistValues": None,
            "picklistParentValueField": "",
            "isSupportedWebhookField": False,
        }

    def _parent_id(
        self, route: sw.Collection, parent: str, props: dict[str, Any], fields: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``parentIdField`` of a child route from the metadata, else from ``overrides.json``
        (then with its ``parentIdFieldReason``)."""
        parent_ent = self.entities.get(parent)
        found = _parent_id_field(
            props,
            self.singulars.get(parent, _singular(None, parent)),
            parent_ent.soap_entity if parent_ent else None,
            fields,
        )
        override = self.overrides.get(route.url)
        if found is not None:
            if override is not None:
                raise SystemExit(
                    f"codegen bootstrap: the metadata now gives {route.url} the parent id field "
                    f"{found!r}; remove its entry from codegen/{OVERRIDES.name}"
                )
            return {"parentIdField": found}
        if override is None:
            self.unsettled.append(route.url)
            return {"parentIdField": None}
        name = override["field"]
        if name is not None and name.lower() not in {p.lower() for p in props}:
            raise SystemExit(
                f"codegen bootstrap: codegen/{OVERRIDES.name} gives {route.url} the parent id "
                f"field {name!r}, which its model does not have"
            )
        return {"parentIdField": name, "parentIdFieldReason": override["reason"]}

    # ------------------------------------------------------------------ build
    def build(self) -> dict[str, dict[str, Any]]:
        """Return ``{entity: {file name: json}}`` for every entity.

        Fails when a child route's parent id field is neither in the metadata nor in
        ``overrides.json`` (naming every such route)."""
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(self.entities):
            out[name] = self.build_entity(self.entities[name])
        if self.unsettled:
            raise SystemExit(
                "codegen bootstrap: the metadata names no parent id field for "
                + ", ".join(self.unsettled)
                + f"; add each to codegen/{OVERRIDES.name} with the field (or null) and the reason"
            )
        return out

    def build_entity(self, ent: EntityDraft) -> dict[str, Any]:
        props = sw.model_properties(self.src.swagger, ent.model)
        fields, provenance, aliases, udfs = self.build_fields(ent, props)
        singular = self.singulars[ent.name]
        root_ops = sorted(ent.root.operations) if ent.root else []
        all_ops: set[str] = set(root_ops)
        parent_routes = []
        for route in sorted(ent.routes, key=lambda r: r.url):
            all_ops |= route.operations
            parent = route.parent or ""
            parent_routes.append(
                {
                    "parent": parent,
                    "child": route.child,
                    "url": route.url,
                    **self._parent_id(route, parent, props, fields),
                    "operations": sorted(route.operations),
                    **({"extras": sorted(route.extras)} if route.extras else {}),
                }
            )
        child_routes = []
        for other in sorted(self.entities.values(), key=lambda e: e.name):
            for route in other.routes:
                if route.parent == ent.name:
                    child_routes.append(
                        {"entity": other.name, "child": route.child, "url": route.url}
                    )
        child_routes.sort(key=lambda r: str(r["url"]))

        soap_info = self.soap.get(ent.soap_entity or "", {}).get("info", {})
        can = {
            "canCreate": "create" in all_ops,
            "canUpdate": bool({"update", "replace"} & all_ops),
            "canDelete": "delete" in all_ops,
            "canQuery": bool({"query", "get", "list"} & all_ops),
        }
        access = {}
        for verb, flag in (
            ("Create", "canCreate"),
            ("Delete", "canDelete"),
            ("Query", "canQuery"),
            ("Update", "canUpdate"),
        ):
            soap_value = soap_info.get(f"UserAccessFor{verb}")
            access[f"userAccessFor{verb}"] = (
                "None"
                if not can[flag]
                else (soap_value if soap_value in ("All", "Restricted") else "All")
            )
        has_udfs = "userDefinedFields" in props
        info = {
            "name": ent.name,
            **can,
            **access,
            "hasUserDefinedFields": has_udfs,
            "supportsWebhookCallouts": ent.name in self.webhook_entities,
        }
        field_names = {f["name"] for f in fields}
        change = next((c for c in CHANGE_TRACKING_CANDIDATES if c in field_names), None)
        counts: dict[str, int] = {}
        for source in provenance.values():
            counts[source] = counts.get(source, 0) + 1
        derived = {
            "name": ent.name,
            "singular": singular,
            "model": ent.model,
            "soapEntity": ent.soap_entity,
            "root": {"url": ent.root.url, "operations": root_ops} if ent.root else None,
            "parentRoutes": parent_routes,
            "childRoutes": child_routes,
            "swaggerFields": props,
            "hasUserDefinedFields": has_udfs,
            "changeTrackingField": change,
            "soapFieldAliases": dict(sorted(aliases.items())),
            "provenance": {
                "entityInformation": "swagger-operations+soap-v1.6"
                if soap_info
                else "swagger-operations",
                "fields": counts,
                "perField": dict(sorted(provenance.items())),
                "userDefinedFields": "live-tenant" if ent.name in self.live else "none-known",
            },
        }
        return {
            "entityInformation.json": {"info": info},
            "fields.json": {"fields": fields},
            "userDefinedFields.json": {"fields": udfs},
            "derived.json": derived,
        }


def write_schemas(
    built: dict[str, dict[str, Any]], out_dir: Path, hashes: dict[str, str]
) -> list[Path]:
    """Write the snapshot; remove entity folders that no longer exist. Returns changed files."""
    changed: list[Path] = []
    ent_dir = out_dir / "entities"
    ent_dir.mkdir(parents=True, exist_ok=True)
    for name, files in built.items():
        for fname, data in files.items():
            path = ent_dir / name / fname
            if write_json(path, data):
                changed.append(path)
    for stale in sorted(p for p in ent_dir.iterdir() if p.is_dir() and p.name not in built):
        for child in stale.iterdir():
            child.unlink()
        stale.rmdir()
        changed.append(stale)
    index = {
        "format": 1,
        "apiVersion": "1.0",
        "entities": sorted(built),
        "sources": dict(sorted(hashes.items())),
    }
    if write_json(out_dir / "index.json", index):
        changed.append(out_dir / "index.json")
    return changed


def bootstrap(data_dir: Path, out_dir: Path, swagger_name: str = SWAGGER_2026) -> list[Path]:
    sources = Sources.load(data_dir, swagger_name)
    built = Builder(sources).build()
    return write_schemas(built, out_dir, sources.hashes)
