"""Read the ``schemas/`` metadata snapshot: entities, fields, UDFs and routes.

Everything the simulator knows about an entity comes from here; nothing is hard-coded. The three
API-shaped files are kept as raw bytes so the metadata endpoints serve them verbatim.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from .._values import storage_kind

__all__ = [
    "EntityMeta",
    "FieldInfo",
    "ParentRoute",
    "Schema",
    "SchemasNotFoundError",
    "default_schemas_dir",
    "field_kind",
]

#: Operation names used in derived.json.
OPERATIONS = frozenset({"query", "count", "get", "create", "update", "replace", "delete", "list"})


_T = TypeVar("_T")


class SchemasNotFoundError(FileNotFoundError):
    """The metadata snapshot directory could not be found."""


def field_kind(data_type: str | None) -> str:
    """Map an Autotask ``dataType`` / UDF ``type`` to one of
    int, float, bool, datetime, str (:func:`py_autotask._values.storage_kind`)."""
    return storage_kind(data_type)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field (or UDF) with the facts the query engine and validators need."""

    name: str
    data_type: str
    kind: str  # int | float | bool | datetime | str
    length: int
    required: bool
    read_only: bool
    queryable: bool
    reference_entity: str | None  # singular name, e.g. "Company"
    is_picklist: bool
    picklist_values: frozenset[str]  # value strings (all, including inactive)
    is_udf: bool = False
    default_value: Any = None

    @property
    def column(self) -> str:
        """SQLite column (table alias ``e``) holding this field; ``id`` is the row key."""
        if self.name.lower() == "id":
            return "e.id"
        return 'e."c_' + self.name.lower() + '"'


def _field_from_json(obj: dict[str, Any], *, udf: bool) -> FieldInfo:
    dtype = str(obj.get("type") if udf else obj.get("dataType") or "string")
    picklist = obj.get("picklistValues") or []
    ref = obj.get("referenceEntityType") or None
    return FieldInfo(
        name=str(obj["name"]),
        data_type=dtype,
        kind=field_kind(dtype),
        length=int(obj.get("length") or 0),
        required=bool(obj.get("isRequired")),
        read_only=bool(obj.get("isReadOnly")),
        queryable=bool(obj.get("isQueryable", True)),
        reference_entity=str(ref) if ref and obj.get("isReference") else None,
        is_picklist=bool(obj.get("isPickList")),
        picklist_values=frozenset(str(p.get("value")) for p in picklist if isinstance(p, dict)),
        is_udf=udf,
        default_value=obj.get("defaultValue") if udf else None,
    )


@dataclass(frozen=True, slots=True)
class ParentRoute:
    """``/V1.0/{parent}/{parentId}/{child}`` where the owning entity is the child."""

    parent: str
    child: str
    parent_id_field: str | None
    operations: frozenset[str]


@dataclass
class EntityMeta:
    """One REST collection. Field files are loaded lazily on first use."""

    name: str
    directory: Path
    singular: str
    root_operations: frozenset[str] | None
    parent_routes: list[ParentRoute]
    has_udfs: bool
    change_tracking_field: str | None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _fields: dict[str, FieldInfo] | None = field(default=None, repr=False)
    _field_order: list[FieldInfo] | None = field(default=None, repr=False)
    _udfs: dict[str, FieldInfo] | None = field(default=None, repr=False)
    _udf_order: list[FieldInfo] | None = field(default=None, repr=False)
    _raw: dict[str, bytes] = field(default_factory=dict, repr=False)

    def raw(self, which: str) -> bytes:
        """Raw bytes of entityInformation / fields / userDefinedFields (served verbatim)."""
        with self._lock:
            data = self._raw.get(which)
            if data is None:
                path = self.directory / f"{which}.json"
                if path.exists():
                    data = path.read_bytes()
                elif which == "userDefinedFields" or which == "fields":
                    data = b'{"fields": []}\n'
                else:
                    data = orjson.dumps({"info": {"name": self.singular}})
                self._raw[which] = data
            return data

    def _load(self) -> None:
        if self._fields is not None:
            return
        fields_doc = orjson.loads(self.raw("fields"))
        udf_doc = orjson.loads(self.raw("userDefinedFields"))
        order = [_field_from_json(f, udf=False) for f in fields_doc.get("fields") or []]
        udfs = [_field_from_json(f, udf=True) for f in udf_doc.get("fields") or []]
        self._field_order = order
        self._udf_order = udfs
        self._udfs = {u.name.lower(): u for u in udfs}
        self._fields = {f.name.lower(): f for f in order}

    def _loaded(self, value: _T | None) -> _T:
        assert value is not None
        return value

    @property
    def fields(self) -> dict[str, FieldInfo]:
        """Fields keyed by lower-cased name."""
        self._load()
        return self._loaded(self._fields)

    @property
    def field_order(self) -> list[FieldInfo]:
        self._load()
        return self._loaded(self._field_order)

    @property
    def udfs(self) -> dict[str, FieldInfo]:
        """UDF definitions keyed by lower-cased name."""
        self._load()
        return self._loaded(self._udfs)

    @property
    def udf_order(self) -> list[FieldInfo]:
        self._load()
        return self._loaded(self._udf_order)

    @property
    def udf_capable(self) -> bool:
        return self.has_udfs or bool(self.udf_order)

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name.lower())

    def serve_picklist(self, name: str, values: list[dict[str, Any]]) -> None:
        """Serve field ``name`` with the picklist ``values`` (``{value, label, isActive, ...}``)
        in the ``fields`` document (for catalogs the snapshot lacks). Validation is unchanged."""
        doc = orjson.loads(self.raw("fields"))
        for obj in doc.get("fields") or []:
            if str(obj.get("name", "")).lower() == name.lower():
                obj["isPickList"] = True
                obj["picklistValues"] = values
                with self._lock:
                    self._raw["fields"] = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
                return


SCHEMAS_ENV = "AUTOTASK_SIMULATOR_SCHEMAS"


def default_schemas_dir() -> Path:
    """Where the metadata snapshot is: ``$AUTOTASK_SIMULATOR_SCHEMAS``, the repository's
    ``schemas/`` (py_autotask/../schemas, for checkouts and editable installs), schemas shipped
    inside the package (``py_autotask/_schemas``), or ``./schemas``."""
    package = Path(__file__).resolve().parent.parent
    candidates = [package.parent / "schemas", package / "_schemas", Path.cwd() / "schemas"]
    env = os.environ.get(SCHEMAS_ENV)
    if env:
        candidates.insert(0, Path(env))
    for candidate in candidates:
        if (candidate / "entities").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise SchemasNotFoundError(
        f"Autotask metadata snapshot not found (looked for entities/ in {looked}). Pass the "
        "directory explicitly: Simulator(schemas_dir='path/to/schemas'), `python -m "
        f"py_autotask.simulator serve --schemas-dir path/to/schemas`, or set {SCHEMAS_ENV}."
    )


class Schema:
    """All entities of a snapshot with case-insensitive lookups."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_schemas_dir()
        ent_dir = self.directory / "entities"
        if not ent_dir.is_dir():
            raise SchemasNotFoundError(
                f"{ent_dir} is not a directory; pass schemas_dir pointing at a folder that holds "
                "entities/<Name>/{entityInformation,fields,userDefinedFields,derived}.json"
            )
        names: list[str]
        index = self.directory / "index.json"
        if index.exists():
            names = [str(n) for n in orjson.loads(index.read_bytes()).get("entities") or []]
        else:
            names = sorted(p.name for p in ent_dir.iterdir() if (p / "derived.json").exists())
        self.entities: dict[str, EntityMeta] = {}
        self.by_singular: dict[str, EntityMeta] = {}
        self.children: dict[tuple[str, str], tuple[EntityMeta, ParentRoute]] = {}
        for name in names:
            d = ent_dir / name
            derived_path = d / "derived.json"
            if not derived_path.exists():
                continue
            derived: dict[str, Any] = orjson.loads(derived_path.read_bytes())
            root = derived.get("root")
            root_ops = (
                frozenset(str(o) for o in root.get("operations") or [])
                if isinstance(root, dict)
                else None
            )
            routes = [
                ParentRoute(
                    parent=str(r["parent"]),
                    child=str(r["child"]),
                    parent_id_field=r.get("parentIdField") or None,
                    operations=frozenset(str(o) for o in r.get("operations") or []),
                )
                for r in derived.get("parentRoutes") or []
            ]
            meta = EntityMeta(
                name=str(derived.get("name") or name),
                directory=d,
                singular=str(derived.get("singular") or name),
                root_operations=root_ops,
                parent_routes=routes,
                has_udfs=bool(derived.get("hasUserDefinedFields")),
                change_tracking_field=derived.get("changeTrackingField") or None,
            )
            self.entities[meta.name.lower()] = meta
            self.by_singular.setdefault(meta.singular.lower(), meta)
        for meta in self.entities.values():
            for r in meta.parent_routes:
                self.children[(r.parent.lower(), r.child.lower())] = (meta, r)

    def entity(self, name: str) -> EntityMeta | None:
        return self.entities.get(name.lower())

    def collection_for_singular(self, singular: str) -> EntityMeta | None:
        """Collection for a ``referenceEntityType`` (singular) name."""
        return self.by_singular.get(singular.lower()) or self.entities.get(singular.lower())

    def child(self, parent: str, child: str) -> tuple[EntityMeta, ParentRoute] | None:
        return self.children.get((parent.lower(), child.lower()))

    def __iter__(self) -> Any:
        return iter(self.entities.values())
