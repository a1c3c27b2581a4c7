"""The generated SDL (``py_autotask_generated/schema.graphql``) built into a graphql-core schema
once per process, with what the executor needs read from its directives: per type its collection
(``@entity``), and per field whether it is a reference, a reverse reference, a picklist label, an
alias or the ``udf`` lookup. The naming rules live with the generator (``codegen/graphql.py``)."""

from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..exceptions import AutotaskConfigError

if TYPE_CHECKING:
    from graphql import GraphQLSchema

__all__ = ["Relation", "TypeInfo", "graphql_module", "schema", "sdl", "type_infos"]

INSTALL = "pip install 'py-autotask[graphql]'"


def graphql_module() -> Any:
    """graphql-core, or an error naming the extra that installs it."""
    try:
        import graphql
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise AutotaskConfigError(f"GraphQL queries need graphql-core: {INSTALL}") from exc
    return graphql


def sdl() -> str:
    """The schema's SDL text, as generated."""
    return (resources.files("py_autotask_generated") / "schema.graphql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Relation:
    kind: str  # "reference" (one record) or "reverse" (a list)
    field: str  # the referencing API field: on this type (reference) or on `entity` (reverse)
    entity: str  # the collection the related records come from
    type_name: str  # their GraphQL type


@dataclass
class TypeInfo:
    name: str
    entity: str
    scalars: set[str] = field(default_factory=set)
    relations: dict[str, Relation] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # fooLabel -> foo
    aliases: dict[str, str] = field(default_factory=dict)  # name -> companyName
    udf_fields: set[str] = field(default_factory=set)  # userDefinedFields, udf


def _directive(node: Any, name: str) -> dict[str, str] | None:
    for d in getattr(node, "directives", None) or ():
        if d.name.value == name:
            return {a.name.value: a.value.value for a in d.arguments}
    return None


def _serialize_datetime(value: Any) -> str:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


def _parse_picklist_literal(node: Any, _variables: Any = None) -> Any:
    graphql = graphql_module()
    if isinstance(node, graphql.IntValueNode):
        return int(node.value)
    if isinstance(node, graphql.StringValueNode):
        return node.value
    raise graphql.GraphQLError('a picklist argument takes a value (1) or a label ("High")')


def _parse_picklist_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('a picklist argument takes a value (1) or a label ("High")')
    return value


def _hook(scalar: Any, names: tuple[str, ...], fn: Any) -> None:
    for name in names:
        if hasattr(scalar, name):
            setattr(scalar, name, fn)


@functools.lru_cache(maxsize=1)
def _built() -> tuple[GraphQLSchema, dict[str, TypeInfo]]:
    graphql = graphql_module()
    schema = graphql.build_schema(sdl())
    # graphql-core 3.2 names a scalar's hooks serialize/parse_value/parse_literal; 3.3 calls
    # coerce_output_value/coerce_input_value/coerce_input_literal: set whichever it has
    for name in ("DateTime", "Date"):
        _hook(schema.type_map[name], ("serialize", "coerce_output_value"), _serialize_datetime)
    picklist = schema.type_map["PicklistValue"]
    _hook(picklist, ("parse_value", "coerce_input_value"), _parse_picklist_value)
    _hook(picklist, ("parse_literal", "coerce_input_literal"), _parse_picklist_literal)
    infos: dict[str, TypeInfo] = {}
    for type_name, gtype in schema.type_map.items():
        entity = _directive(getattr(gtype, "ast_node", None), "entity")
        if entity is None:
            continue
        info = TypeInfo(type_name, entity["name"])
        for fname, fdef in gtype.fields.items():
            node = fdef.ast_node
            target = graphql.get_named_type(fdef.type).name
            if (d := _directive(node, "reference")) is not None:
                info.relations[fname] = Relation("reference", d["field"], d["entity"], target)
            elif (d := _directive(node, "reverse")) is not None:
                info.relations[fname] = Relation("reverse", d["field"], d["entity"], target)
            elif (d := _directive(node, "label")) is not None:
                info.labels[fname] = d["field"]
            elif (d := _directive(node, "alias")) is not None:
                info.aliases[fname] = d["of"]
            elif fname in ("userDefinedFields", "udf"):
                info.udf_fields.add(fname)
            else:
                info.scalars.add(fname)
        infos[type_name] = info
    return schema, infos


def schema() -> GraphQLSchema:
    """The graphql-core schema (built once per process)."""
    return _built()[0]


def type_infos() -> dict[str, TypeInfo]:
    """GraphQL type name -> what the executor needs to know about it."""
    return _built()[1]
