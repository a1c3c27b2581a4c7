"""``query``, ``get``, ``count``, ``entities`` and ``describe``: reading records and metadata."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import (
    Credentials,
    FieldsOpt,
    FilterOpt,
    OutputFormat,
    OutputOpt,
    cell,
    check_against_metadata,
    entity_spec,
    errors,
    fail,
    field_list,
    with_credentials,
    write_records,
)

if TYPE_CHECKING:
    from .._core import ApiResponse
    from .._sender import Sender
    from .._spec import EntitySpec

__all__ = ["count", "describe", "entities", "get", "query"]

#: most records Autotask returns per page
_PAGE_SIZE = 500


def _strict_check(sender: Sender, spec: EntitySpec) -> Callable[[ApiResponse], None]:
    """With ``--strict``, a check that reads each response through the entity's typed model too
    (raising at the first value off its declared type); without it, nothing: records are printed
    as the API sent them."""
    if not sender.reader.strict:
        return lambda response: None
    from .._registry import model_for

    model = model_for(spec)

    def check(response: ApiResponse) -> None:
        if response.request.method == "GET" and "/query" not in response.request.url:
            sender.reader.read_item(model, response)
        else:
            sender.reader.read_page(model, response)

    return check


def _records(
    sender: Sender,
    spec: EntitySpec,
    filter_items: list[dict[str, Any]],
    include_fields: list[str] | None,
    limit: int | None,
) -> Iterator[dict[str, Any]]:
    """Matching records as the API sent them, page after page (the library's one page loop),
    stopping after ``limit``."""
    from .._core import query_request
    from .._sender import iter_pages

    body: dict[str, Any] = {"filter": filter_items}
    api_fields = [f for f in include_fields or [] if not f.lower().startswith("udf.")]
    if api_fields:
        if not any(f.lower() == "id" for f in api_fields):
            api_fields.append("id")
        if any(f.lower().startswith("udf.") for f in include_fields or []):
            api_fields.append("userDefinedFields")
        body["IncludeFields"] = api_fields
    if limit is not None and limit < _PAGE_SIZE:
        body["MaxRecords"] = max(1, limit)
    read_json = sender.reader.read_json
    check = _strict_check(sender, spec)

    def read(response: ApiResponse) -> tuple[list[dict[str, Any]], str | None]:
        check(response)
        data = read_json(response) or {}
        return data.get("items") or [], (data.get("pageDetails") or {}).get("nextPageUrl")

    produced = 0
    for items in iter_pages(sender, query_request(spec, body), read):
        for item in items:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield item
        if limit is not None and produced >= limit:
            return


@with_credentials
def query(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets or tickets.")],
    filter: FilterOpt = None,
    fields: FieldsOpt = None,
    max: Annotated[
        int | None, typer.Option("--max", "-n", min=1, help="Stop after N rows.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Query records with a filter expression and print them."""
    from ._filterlang import parse_expression

    with errors():
        spec = entity_spec(entity, "query")
        parsed = parse_expression(filter)
        chosen = field_list(fields)
        client = credentials.client()
        with client:
            check_against_metadata(client, [spec], parsed, chosen)
            records = _records(client.sender, spec, parsed.items, chosen, max)
            write_records(records, output, fields=chosen, title=spec.name)


@with_credentials
def get(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    id: Annotated[int, typer.Argument(help="Record id.")],
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Get one record by id."""
    from .._core import get_request

    with errors():
        spec = entity_spec(entity, "get")
        client = credentials.client()
        with client:
            sender = client.sender
            response = sender.send(get_request(spec, id))
            _strict_check(sender, spec)(response)
            data = sender.reader.read_json(response)
        item = (data or {}).get("item")
        if not item:
            fail(f"{spec.name} {id} not found", ExitCode.ERROR)
        if output is OutputFormat.table:
            rows = [{"field": k, "value": cell(v)} for k, v in item.items()]
            write_records(rows, output, fields=["field", "value"], title=f"{spec.name} {id}")
        elif output is OutputFormat.json:
            sys.stdout.write(json.dumps(item, indent=2, default=str, ensure_ascii=False) + "\n")
        else:
            write_records([item], output)


@with_credentials
def count(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    filter: FilterOpt = None,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Count records matching a filter expression."""
    from .._core import count_request
    from ._filterlang import parse_expression

    with errors():
        spec = entity_spec(entity, "count")
        parsed = parse_expression(filter)
        client = credentials.client()
        with client:
            check_against_metadata(client, [spec], parsed)
            sender = client.sender
            n = sender.reader.read_count(sender.send(count_request(spec, {"filter": parsed.items})))
        if output is OutputFormat.table:
            sys.stdout.write(f"{n}\n")
        else:
            write_records([{"entity": spec.name, "count": n}], output)


def entities(
    search: Annotated[
        str | None, typer.Argument(help="Only collections whose name contains this text.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """List the Autotask collections and their operations (no credentials needed)."""
    from py_autotask_generated.entities import ATTRIBUTES

    from .._registry import entity_names, spec_for

    with errors():
        attrs = {collection: attr for attr, collection in ATTRIBUTES.items()}
        rows = []
        for name in entity_names():
            if search and search.lower() not in name.lower():
                continue
            spec = spec_for(name)
            via = sorted({f"{r.parent}/{{id}}/{r.child}" for r in spec.parent_routes})
            rows.append(
                {
                    "name": name,
                    "attribute": attrs.get(name, ""),
                    "operations": ", ".join(sorted(spec.root_operations)),
                    "child_routes": ", ".join(via),
                    "change_tracking_field": spec.change_tracking_field or "",
                }
            )
        write_records(rows, output, title=f"{len(rows)} Autotask collections")


@with_credentials
def describe(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Use the bundled metadata (no tenant picklists or UDFs)."),
    ] = False,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Fields, types, required/read-only flags and the tenant's picklist values of an entity."""
    with errors():
        spec = entity_spec(entity)
        rows: list[dict[str, Any]] = []
        if offline:
            for f in sorted(spec.fields.values(), key=lambda f: f.api_name.lower()):
                rows.append(
                    {
                        "name": f.api_name,
                        "type": f.data_type,
                        "required": f.required,
                        "read_only": f.read_only,
                        "queryable": f.queryable,
                        "reference": f.reference_entity or "",
                        "picklist": "yes" if f.is_picklist else "",
                    }
                )
        else:
            client = credentials.client()
            with client:
                fields = client.metadata.fields(spec.name)
                udfs = client.metadata.udfs(spec.name) if spec.has_udfs else []
            table = output is OutputFormat.table
            rows += [_describe_row(f, False, table=table) for f in fields]
            rows += [_describe_row(u, True, table=table) for u in udfs]
        write_records(
            rows,
            output,
            title=f"{spec.name}: {', '.join(sorted(spec.root_operations)) or 'child only'}",
            max_table_columns=20,
        )


def _describe_row(f: dict[str, Any], is_udf: bool, *, table: bool) -> dict[str, Any]:
    """One field (or UDF) of the tenant's metadata as a ``describe`` row."""
    picklist = [p for p in f.get("picklistValues") or [] if isinstance(p, dict)]
    row: dict[str, Any] = {
        "name": f"udf.{f.get('name')}" if is_udf else str(f.get("name")),
        "type": f.get("type") if is_udf else f.get("dataType"),
        "required": bool(f.get("isRequired")),
        "read_only": bool(f.get("isReadOnly")),
        "queryable": bool(f.get("isQueryable", True)),
        "reference": f.get("referenceEntityType") or "",
    }
    if table:
        values = [
            f"{p.get('value')}={p.get('label')}"
            + ("" if p.get("isActive", True) else " (inactive)")
            for p in picklist
        ]
        row["picklist"] = ", ".join(values[:8]) + (
            f", … (+{len(values) - 8})" if len(values) > 8 else ""
        )
    else:
        row["picklist"] = [
            {k: p.get(k) for k in ("value", "label", "isActive", "isDefaultValue")}
            for p in picklist
        ]
    return row
