"""Execute GraphQL over a :class:`~py_autotask.graph._source.GraphSource` with graphql-core.

Loading is batched by level, not per record (the DataLoader pattern, done ahead of resolution):
a root field fetches its records (``IncludeFields`` = the fields its selection needs), then for
each relationship in the selection the distinct ids of all the parents are loaded in
``{"op": "in", ...}`` queries of at most 500 ids each, run concurrently through the source (the
API source sends them through the client's pipeline, so pacing, thread limits and the budget
apply), and so on down the selection. Resolvers then only read what was loaded. The cost of a
query is the root's pages plus, per relationship level, ceil(distinct ids / 500) requests and
the extra pages their results need, whatever the number of parents.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._filterlang import check_filter, parse_expression
from .._registry import spec_for
from ..exceptions import AutotaskConfigError, AutotaskError
from ._schema import Relation, TypeInfo, graphql_module, schema, type_infos
from ._source import GraphSource

__all__ = ["BATCH", "Estimate", "GraphQLQueryError", "GraphResult", "Record", "execute"]

#: ids per relationship query (Autotask's limit on one ``in`` list)
BATCH = 500
#: the word a ``status`` argument may use for "every status except Complete"
OPEN_ALIAS = "open"
_COMPLETE = "complete"


class GraphQLQueryError(AutotaskConfigError):
    """A GraphQL query was refused: bad syntax, an unknown field or argument, a bad argument
    value (a label the tenant does not have, a bad filter expression). ``errors`` holds every
    GraphQL error message, each naming the field or argument; ``str()`` shows them all."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        if len(self.errors) == 1:
            text = f"GraphQL query refused: {self.errors[0]}"
        else:
            text = "GraphQL query refused:" + "".join(f"\n  - {e}" for e in self.errors)
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errors,))


class Record(Mapping[str, Any]):
    """A result object: ``record.company.name`` and ``record["company"]["name"]`` alike."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = {k: _wrap(v) for k, v in data.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(
                f"{name!r} was not selected in the query (selected: {', '.join(self._data)})"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._data.items()}

    def __repr__(self) -> str:
        return f"Record({self.to_dict()!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class GraphResult(Record):
    """The data of an executed query: ``result.tickets[0].company.name``; ``to_dict()`` gives
    the JSON-ready data; ``requests`` is how many requests it took (query pages over the API;
    for a source that does not count pages, the queries it ran)."""

    __slots__ = ("requests",)

    def __init__(self, data: Mapping[str, Any], requests: int) -> None:
        super().__init__(data)
        object.__setattr__(self, "requests", requests)


# --- selections -----------------------------------------------------------------------------------


def _collect(
    nodes: Iterable[Any], fragments: Mapping[str, Any], variables: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """Field name -> the field nodes selecting it (fragments flattened, @skip/@include honoured)."""
    graphql = graphql_module()
    found: dict[str, list[Any]] = {}

    def included(node: Any) -> bool:
        for d in node.directives or ():
            if d.name.value in ("skip", "include") and d.arguments:
                flag = graphql.value_from_ast(
                    d.arguments[0].value, graphql.GraphQLBoolean, dict(variables)
                )
                if (d.name.value == "skip") == bool(flag):
                    return False
        return True

    def walk(selection_set: Any) -> None:
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if not included(sel):
                continue
            if isinstance(sel, graphql.FieldNode):
                found.setdefault(sel.name.value, []).append(sel)
            elif isinstance(sel, graphql.InlineFragmentNode):
                walk(sel.selection_set)
            elif isinstance(sel, graphql.FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    walk(frag.selection_set)

    for node in nodes:
        walk(node.selection_set)
    return found


def _needed(info: TypeInfo, selected: Mapping[str, list[Any]]) -> list[str] | None:
    """API fields to ask for (IncludeFields); None = every field (UDFs are selected)."""
    if any(name in info.udf_fields for name in selected):
        return None
    wanted = {"id"}
    for name in selected:
        if name in info.scalars:
            wanted.add(name)
        elif name in info.aliases:
            wanted.add(info.aliases[name])
        elif name in info.labels:
            wanted.add(info.labels[name])
        elif name in info.relations and info.relations[name].kind == "reference":
            wanted.add(info.relations[name].field)
    return sorted(wanted)


def _chunks(ids: Sequence[Any]) -> list[list[Any]]:
    return [list(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)]


# --- execution ------------------------------------------------------------------------------------


class _Counting:
    """Counts the source's ``find`` calls (for the result's ``requests``)."""

    def __init__(self, source: GraphSource) -> None:
        self.source = source
        self.calls = 0

    async def find(
        self,
        entity: str,
        filter: list[dict[str, Any]],
        fields: Sequence[str] | None,
        first: int | None,
    ) -> list[dict[str, Any]]:
        self.calls += 1
        return await self.source.find(entity, filter, fields, first)


@dataclass
class _Run:
    source: GraphSource
    finder: _Counting
    picklists: dict[tuple[str, str], list[dict[str, Any]] | None] = field(default_factory=dict)
    infos: dict[str, TypeInfo] = field(default_factory=type_infos)
    variables: Mapping[str, Any] = field(default_factory=dict)

    # -- picklists

    async def picklist(self, entity: str, fld: str) -> list[dict[str, Any]] | None:
        key = (entity, fld)
        if key not in self.picklists:
            self.picklists[key] = await self.source.picklist(entity, fld)
        return self.picklists[key]

    def label(self, entity: str, fld: str, value: Any) -> str | None:
        if value is None:
            return None
        for item in self.picklists.get((entity, fld)) or ():
            if str(item.get("value")) == str(value):
                return str(item.get("label"))
        return None

    # -- arguments

    async def _picklist_values(
        self, entity: str, fld: str, given: list[Any], where: str
    ) -> list[Any]:
        values = await self.picklist(entity, fld)
        out: list[Any] = []
        for item in given:
            if isinstance(item, int) or values is None:
                out.append(item)
                continue
            text = str(item).strip()
            by_value = [v for v in values if str(v.get("value")) == text]
            if by_value:
                out.append(_stored(by_value[0]["value"]))
                continue
            by_label = [v for v in values if str(v.get("label", "")).lower() == text.lower()]
            if by_label:
                out.extend(_stored(v["value"]) for v in by_label)
                continue
            labels = [str(v.get("label")) for v in values]
            if (
                fld == "status"
                and text.lower() == OPEN_ALIAS
                and _COMPLETE in (lab.lower() for lab in labels)
            ):  # the tenant has no "Open": every status but Complete (docs/graphql.md)
                out.extend(
                    _stored(v["value"]) for v in values if str(v.get("label")).lower() != _COMPLETE
                )
                continue
            raise ValueError(
                f"{where}: {text!r} is neither a value nor a label of {entity}.{fld} in this "
                f"tenant; valid labels: {', '.join(labels)}"
            )
        return out

    async def root_filter(
        self, entity: str, field_name: str, args: Mapping[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The Autotask filter of a root field's arguments (None: nothing can match)."""
        spec = spec_for(entity)
        items: list[dict[str, Any]] = []
        for name, value in sorted(args.items()):
            if name in ("filter", "first") or value is None:
                continue
            given = list(value) if isinstance(value, list) else [value]
            fs = spec.fields[name]
            if fs.is_picklist:
                where = f"argument {name} of {field_name}"
                given = await self._picklist_values(entity, name, given, where)
            if not given:
                return None
            unique = list(dict.fromkeys(given))
            if len(unique) == 1:
                items.append({"op": "eq", "field": name, "value": unique[0]})
            else:
                items.append({"op": "in", "field": name, "value": unique})
        text = args.get("filter")
        if text:
            try:
                parsed = parse_expression(text)
                check_filter(parsed, spec)
            except Exception as exc:
                raise ValueError(f"argument filter of {field_name}: {exc}") from exc
            if parsed.node is not None:
                items.extend(parsed.items)
        return items or [{"op": "gte", "field": "id", "value": 0}]

    # -- loading

    async def load_root(self, info: Any, args: Mapping[str, Any], single: bool) -> Any:
        tinfo = self.infos[_named(info.return_type).name]
        selected = _collect(info.field_nodes, info.fragments, self.variables)
        if single:
            flt: list[dict[str, Any]] | None = [{"op": "eq", "field": "id", "value": args["id"]}]
            first: int | None = 1
        else:
            flt = await self.root_filter(tinfo.entity, info.field_name, args)
            first = args.get("first")
            if first is not None and first < 0:
                raise ValueError(f"argument first of {info.field_name} must be >= 0, not {first}")
        records = (
            []
            if flt is None or first == 0
            else await self.finder.find(tinfo.entity, flt, _needed(tinfo, selected), first)
        )
        await self.prefetch(tinfo, records, selected, info)
        if single:
            return records[0] if records else None
        return records

    async def prefetch(
        self,
        tinfo: TypeInfo,
        records: list[dict[str, Any]],
        selected: Mapping[str, list[Any]],
        info: Any,
    ) -> None:
        jobs = []
        for name, nodes in selected.items():
            if name in tinfo.labels:
                jobs.append(self.picklist(tinfo.entity, tinfo.labels[name]))
            rel = tinfo.relations.get(name)
            if rel is not None and records:
                sub = _collect(nodes, info.fragments, self.variables)
                jobs.append(self._relation(name, rel, records, sub, info))
        await asyncio.gather(*jobs)

    async def _relation(
        self,
        name: str,
        rel: Relation,
        parents: list[dict[str, Any]],
        selected: Mapping[str, list[Any]],
        info: Any,
    ) -> None:
        target = self.infos[rel.type_name]
        fields = _needed(target, selected)
        if rel.kind == "reference":
            ids = sorted({p[rel.field] for p in parents if _is_id(p.get(rel.field))})
            batches = await asyncio.gather(
                *(
                    self.finder.find(
                        rel.entity, [{"op": "in", "field": "id", "value": c}], fields, None
                    )
                    for c in _chunks(ids)
                )
            )
            by_id = {r["id"]: r for batch in batches for r in batch}
            for p in parents:
                p[name] = by_id.get(p.get(rel.field))
            children = list(by_id.values())
        else:
            if fields is not None:
                fields = sorted({*fields, rel.field})
            ids = sorted({p["id"] for p in parents if _is_id(p.get("id"))})
            batches = await asyncio.gather(
                *(
                    self.finder.find(
                        rel.entity, [{"op": "in", "field": rel.field, "value": c}], fields, None
                    )
                    for c in _chunks(ids)
                )
            )
            groups: dict[Any, list[dict[str, Any]]] = {}
            children = []
            for batch in batches:
                for r in batch:
                    groups.setdefault(r.get(rel.field), []).append(r)
                    children.append(r)
            for p in parents:
                p[name] = groups.get(p.get("id"), [])
        await self.prefetch(target, children, selected, info)

    # -- the one resolver

    def resolve(self, parent: Any, info: Any, **args: Any) -> Any:
        if info.parent_type is info.schema.query_type:
            return self.load_root(info, args, not _is_list(info.return_type))
        tinfo = self.infos.get(info.parent_type.name)
        name = info.field_name
        if not isinstance(parent, Mapping):
            return getattr(parent, name, None)
        if tinfo is not None:
            if name in tinfo.labels:
                return self.label(tinfo.entity, tinfo.labels[name], parent.get(tinfo.labels[name]))
            if name in tinfo.aliases:
                return parent.get(tinfo.aliases[name])
            if name == "udf":
                for item in parent.get("userDefinedFields") or ():
                    if str(item.get("name", "")).lower() == str(args["name"]).lower():
                        return item.get("value")
                return None
            if name in tinfo.relations and tinfo.relations[name].kind == "reverse":
                return parent.get(name) or []
        return parent.get(name)


def _is_id(value: Any) -> bool:
    """Only whole numbers are looked up (an off-type value a tenant sent, kept as received by
    ``read_wire``, references nothing: its object field is null)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _stored(value: Any) -> Any:
    """A picklist value as the API stores it: whole-number text as an int."""
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else value


def _named(gtype: Any) -> Any:
    return graphql_module().get_named_type(gtype)


def _is_list(gtype: Any) -> bool:
    graphql = graphql_module()
    return isinstance(graphql.get_nullable_type(gtype), graphql.GraphQLList)


def _arguments(fdef: Any, node: Any, variables: Mapping[str, Any]) -> dict[str, Any]:
    """A root field's argument values from the query text (defaults filled in)."""
    graphql = graphql_module()
    given = {a.name.value: a.value for a in node.arguments or ()}
    out: dict[str, Any] = {}
    for name, arg in fdef.args.items():
        if name in given:
            out[name] = graphql.value_from_ast(given[name], arg.type, dict(variables))
        elif arg.default_value is not graphql.Undefined:
            out[name] = arg.default_value
    return out


def _messages(errors: Sequence[Any]) -> list[str]:
    out = []
    for err in errors:
        where = ""
        if err.path:
            where = " (at " + ".".join(str(p) for p in err.path) + ")"
        original = getattr(err, "original_error", None)
        message = str(original) if original is not None and str(original) else err.message
        out.append(message + where)
    return out


async def execute(
    source: GraphSource, text: str, variables: Mapping[str, Any] | None = None
) -> GraphResult:
    """Validate and run ``text`` over ``source``; raise :class:`GraphQLQueryError` on any error."""
    graphql = graphql_module()
    finder = _Counting(source)
    pages_before = getattr(source, "pages", None)
    run = _Run(source, finder, variables=dict(variables or {}))
    result = await graphql.graphql(
        schema(),
        text,
        variable_values=dict(variables) if variables else None,
        context_value=run,
        field_resolver=run.resolve,
    )
    if result.errors:
        for err in result.errors:  # the source's own failures keep their type (and exit code)
            original = getattr(err, "original_error", None)
            if isinstance(original, AutotaskError) and not isinstance(original, ValueError):
                raise original
        raise GraphQLQueryError(_messages(result.errors))
    pages = getattr(source, "pages", None)
    sent = (
        pages - pages_before if isinstance(pages, int) and isinstance(pages_before, int) else None
    )
    return GraphResult(result.data or {}, finder.calls if sent is None else sent)


# --- estimate -------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """What a query will cost in requests, worked out before running it (see :func:`estimate`)."""

    source: str
    lines: list[tuple[str, int, int]]  # (path, upper bound of records, upper bound of requests)
    counted: int  # count requests the estimate itself sent

    @property
    def requests(self) -> int:
        return sum(line[2] for line in self.lines)

    def __str__(self) -> str:
        if self.source != "api":
            return f"{self.source}: 0 API requests (the query reads the local mirror)"
        width = max([len(p) for p, _, _ in self.lines] + [5])
        rows = [f"{'level':<{width}}  {'records<=':>10}  {'requests<=':>10}"]
        rows += [f"{p:<{width}}  {n:>10}  {r:>10}" for p, n, r in self.lines]
        rows.append(f"{'total':<{width}}  {'':>10}  {self.requests:>10}")
        rows.append(f"(worked out with {self.counted} count request(s))")
        return "\n".join(rows)


async def estimate(
    source: GraphSource, text: str, variables: Mapping[str, Any] | None = None
) -> Estimate:
    """Upper bounds, per level, of the records and requests ``text`` will cost.

    The root: one ``query/count`` with the root filter gives its records ``n``; requests =
    ceil(n / 500) pages (at least 1). A reference level under ``p`` parent records: at most
    ``min(p, m)`` records (``m``: the referenced collection's count) in ceil(min(p, m) / 500)
    requests. A reverse level: ceil(p / 500) batches plus the extra pages of at most ``m``
    children (``m``: the child collection's count), ceil(p / 500) + ceil(m / 500) requests.
    Sources other than the API send no requests: 0.
    """
    graphql = graphql_module()
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError as exc:
        raise GraphQLQueryError([exc.message]) from exc
    problems = graphql.validate(schema(), document)
    if problems:
        raise GraphQLQueryError([p.message for p in problems])
    count = getattr(source, "count", None)
    if source.name != "api" or count is None:
        return Estimate(source.name, [], 0)
    infos = type_infos()
    run = _Run(source, _Counting(source))
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, graphql.FragmentDefinitionNode)
    }
    ops = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    lines: list[tuple[str, int, int]] = []
    counted = 0
    totals: dict[str, int] = {}
    qtype = schema().query_type
    assert qtype is not None

    async def total(entity: str) -> int:
        nonlocal counted
        if entity not in totals:
            counted += 1
            totals[entity] = await count(entity, [{"op": "gte", "field": "id", "value": 0}])
        return totals[entity]

    async def walk(
        tinfo: TypeInfo, path: str, parents: int, selected: Mapping[str, list[Any]]
    ) -> None:
        for name, nodes in selected.items():
            rel = tinfo.relations.get(name)
            if rel is None:
                continue
            target = infos[rel.type_name]
            m = await total(rel.entity)
            if rel.kind == "reference":
                n = min(parents, m)
                requests = math.ceil(n / BATCH)
            else:
                n = m if parents else 0
                requests = math.ceil(parents / BATCH) + math.ceil(m / BATCH) if parents else 0
            lines.append((f"{path}.{name}", n, requests))
            await walk(target, f"{path}.{name}", n, _collect(nodes, fragments, variables or {}))

    for op in ops:
        for name, nodes in _collect([op], fragments, variables or {}).items():
            fdef = qtype.fields.get(name)
            if fdef is None or name.startswith("__"):
                continue
            tinfo = infos[_named(fdef.type).name]
            node = nodes[0]
            args = _arguments(fdef, node, variables or {})
            if _is_list(fdef.type):
                flt = await run.root_filter(tinfo.entity, name, args)
                counted += 1
                n = 0 if flt is None else await count(tinfo.entity, flt)
                if args.get("first") is not None:
                    n = min(n, args["first"])
                requests = max(1, math.ceil(n / BATCH))
            else:
                n, requests = 1, 1
            lines.append((name, n, requests))
            await walk(tinfo, name, n, _collect(nodes, fragments, variables or {}))
    return Estimate(source.name, lines, counted)
