"""The GraphQL schema (SDL) of every queryable collection, rendered into the generated package.

One type per collection with a root query (``Tickets`` -> ``type Ticket``, the model's name), its
fields typed from the metadata, and these derived fields, each named by one rule:

- **reference** (``isReference`` with a ``referenceEntityType`` that has a queryable collection):
  an object field named by dropping a trailing ``ID``/``Id`` from the field (``companyID`` ->
  ``company``, ``problemTicketId`` -> ``problemTicket``); a field without that suffix, or whose
  short name collides with a field already on the type, gets ``<field>Record``
  (``createdBy`` -> ``createdByRecord``).
- **reverse reference**: on the referenced type, a list of the referencing records named by the
  referencing collection in lower camel case (``Company.tickets`` from ``Tickets.companyID``,
  ``Ticket.timeEntries`` from ``TimeEntries.ticketID``). When a collection references the type
  more than once, the reference whose object field is the type's own name (``companyID`` ->
  ``company`` for ``Company``) keeps the plain name and every other is
  ``<collection>By<ObjectField>`` (``Resource.ticketsByAssignedResource``); a collision with a
  field already on the type appends ``List``. Child collections (parent routes) are reached this
  way through their parent id field (``Ticket.ticketNotes`` from ``TicketNotes.ticketID``).
- **picklist label**: every picklist field ``f`` also has ``fLabel: String``, the tenant's label
  resolved at run time (labels are per tenant, never in the schema); skipped when the type
  already has a field of that name.
- **UDFs**: ``userDefinedFields: [UserDefinedField!]`` and ``udf(name: String!): String``.
- **aliases** (``codegen/graphql_aliases.json``): the seed plan's spellings of a few fields
  (``Company.name`` for ``companyName``), each marked ``@alias(of: ...)``.

Root fields: ``<collection in lower camel>(filter: String, first: Int, <queryable field>: [T!])``
(``tickets(status: "open", priority: [1, 2])``; GraphQL coerces a single value to a one-item list)
and ``<model in lower camel>(id: Int!)`` (``ticket(id: 1)``; ``<...>ById`` when both names are the
same). Picklist arguments take the ``PicklistValue`` scalar: a value or a label.

Directives carry what the executor needs (``@entity``, ``@reference``, ``@reverse``, ``@label``,
``@alias``, ``@udf``), so the SDL is the one artifact the runtime reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ALIASES_FILE = Path(__file__).with_name("graphql_aliases.json")

GRAPHQL_TYPES = {
    "string": "String",
    "integer": "Int",
    "long": "Int",
    "short": "Int",
    "double": "Float",
    "decimal": "Float",
    "float": "Float",
    "boolean": "Boolean",
    "datetime": "DateTime",
    "date": "Date",
}
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


class _Field(Protocol):
    api_name: str
    data_type: str
    queryable: bool
    reference: str | None
    is_picklist: bool


class _Entity(Protocol):
    name: str
    singular: str
    model: str
    root_ops: list[str]
    has_udfs: bool

    @property
    def fields(self) -> list[_Field]: ...  # pragma: no cover


@dataclass
class GqlField:
    name: str
    type: str
    description: str = ""
    args: str = ""
    directive: str = ""


@dataclass
class GqlType:
    name: str
    entity: str
    description: str
    fields: list[GqlField] = field(default_factory=list)


@dataclass
class GqlRoot:
    name: str
    type: str
    args: str
    entity: str
    description: str


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def object_name(field_name: str, taken: set[str]) -> str:
    """The object field of a reference field (the rule in the module docstring)."""
    short = ""
    if len(field_name) > 2 and field_name[-2:] in ("ID", "Id"):
        short = field_name[:-2]
    if not short or short in taken:
        short = f"{field_name}Record"
    return short


def _arg_type(fld: _Field) -> str:
    if fld.is_picklist:
        return "[PicklistValue!]"
    return f"[{GRAPHQL_TYPES.get(fld.data_type, 'String')}!]"


def load_aliases(path: Path = ALIASES_FILE) -> dict[str, dict[str, str]]:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {k: dict(v) for k, v in raw.items() if not k.startswith("_")}


def build(
    entities: list[Any], aliases: dict[str, dict[str, str]]
) -> tuple[list[GqlType], list[GqlRoot]]:
    """Types and root fields, sorted: the template writes them out."""
    queryable = [e for e in entities if "query" in e.root_ops]
    by_singular: dict[str, Any] = {}
    for ent in queryable:  # two collections with one singular: the one whose model keeps it
        if ent.singular not in by_singular or ent.model == ent.singular:
            by_singular[ent.singular] = ent
    types: dict[str, GqlType] = {}
    taken: dict[str, set[str]] = {}
    refs: dict[str, list[tuple[Any, str, str]]] = {}  # target model -> (source, field, objname)
    for ent in queryable:
        gtype = GqlType(ent.model, ent.name, f"A record of the Autotask {ent.name} collection.")
        names = {f.api_name for f in ent.fields}
        used = set(names)
        for fld in ent.fields:
            if not _NAME.fullmatch(fld.api_name) or fld.api_name.startswith("__"):
                continue
            gtype.fields.append(GqlField(fld.api_name, GRAPHQL_TYPES.get(fld.data_type, "String")))
        for fld in ent.fields:
            target = by_singular.get(fld.reference or "")
            if target is None or not _NAME.fullmatch(fld.api_name):
                continue
            obj = object_name(fld.api_name, used)
            used.add(obj)
            gtype.fields.append(
                GqlField(
                    obj,
                    target.model,
                    f"The {target.singular} that {fld.api_name} references.",
                    directive=f'@reference(field: "{fld.api_name}", entity: "{target.name}")',
                )
            )
            refs.setdefault(target.model, []).append((ent, fld.api_name, obj))
        for fld in ent.fields:
            label = f"{fld.api_name}Label"
            if fld.is_picklist and label not in used and _NAME.fullmatch(fld.api_name):
                used.add(label)
                gtype.fields.append(
                    GqlField(
                        label,
                        "String",
                        f"The tenant's label of {fld.api_name} (resolved at run time).",
                        directive=f'@label(field: "{fld.api_name}")',
                    )
                )
        for alias, real in sorted(aliases.get(ent.name, {}).items()):
            if real not in names:
                raise SystemExit(f"codegen: graphql_aliases.json: {ent.name} has no field {real}")
            if alias in used:
                raise SystemExit(f"codegen: graphql_aliases.json: {ent.name}.{alias} exists")
            used.add(alias)
            real_type = next(f for f in gtype.fields if f.name == real).type
            gtype.fields.append(
                GqlField(
                    alias,
                    real_type,
                    f"Alias of {real} (the seed plan's name for it).",
                    directive=f'@alias(of: "{real}")',
                )
            )
        if ent.has_udfs:
            for name, gql_type, args, description in (
                ("userDefinedFields", "[UserDefinedField!]", "", "The record's UDFs."),
                ("udf", "String", "(name: String!)", "The value of the UDF with this name."),
            ):
                if name not in used:
                    used.add(name)
                    gtype.fields.append(
                        GqlField(name, gql_type, description, args, "@udf" if args else "")
                    )
        types[ent.model] = gtype
        taken[ent.model] = used
    for target_model, sources in refs.items():
        target = types[target_model]
        per_source: dict[str, list[tuple[Any, str, str]]] = {}
        for item in sources:
            per_source.setdefault(item[0].name, []).append(item)
        own = lower_first(target_model)
        for source_name, items in sorted(per_source.items()):
            for source, fld_name, obj in items:
                base = lower_first(source_name)
                name = base if len(items) == 1 or obj == own else f"{base}By{upper_first(obj)}"
                while name in taken[target_model]:
                    name += "List"
                taken[target_model].add(name)
                target.fields.append(
                    GqlField(
                        name,
                        f"[{source.model}!]!",
                        f"The {source_name} whose {fld_name} is this record.",
                        directive=f'@reverse(field: "{fld_name}", entity: "{source_name}")',
                    )
                )
    roots: list[GqlRoot] = []
    root_names: set[str] = set()
    for ent in queryable:
        args = ["filter: String", "first: Int"] + [
            f"{f.api_name}: {_arg_type(f)}"
            for f in ent.fields
            if f.queryable and _NAME.fullmatch(f.api_name) and f.api_name not in ("filter", "first")
        ]
        plural = lower_first(ent.name)
        single = lower_first(ent.model)
        if single == plural:
            single += "ById"
        for name in (plural, single):
            if name in root_names:
                raise SystemExit(f"codegen: two GraphQL root fields are named {name}")
            root_names.add(name)
        roots.append(
            GqlRoot(
                plural,
                f"[{ent.model}!]!",
                ", ".join(args),
                ent.name,
                f"{ent.name} matching every argument (a list means `in`).",
            )
        )
        roots.append(GqlRoot(single, ent.model, "id: Int!", ent.name, f"One {ent.singular} by id."))
    for gtype in types.values():
        gtype.fields.sort(key=lambda f: f.name)
    return sorted(types.values(), key=lambda t: t.name), sorted(roots, key=lambda r: r.name)
