"""``graphql``: run a GraphQL query (over the API, or a sync mirror with ``--db``), print the
schema (``--schema``) or what a query will cost (``--estimate``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import Credentials, OutputFormat, errors, fail, with_credentials, write_records

__all__ = ["graphql"]


def _rows(data: Any) -> tuple[str, list[dict[str, Any]]]:
    """The table of a result: the first root field's records (nested values as JSON cells)."""
    name, value = next(iter(data.items()), ("result", []))
    records = value if isinstance(value, list) else [value] if value else []
    rows = [
        {k: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for k, v in r.items()}
        for r in records
    ]
    return name, rows


@with_credentials
def graphql(
    query: Annotated[
        str | None, typer.Argument(help="The query, e.g. '{ tickets(first: 5) { id title } }'.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the query from this file.")
    ] = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the schema (SDL).")] = False,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="Print what the query will cost in requests.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Query a sync mirror (sqlite:///autotask.db, a PostgreSQL URL)."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output-format", "-o", help="json (default) | table")
    ] = OutputFormat.json,
    *,
    credentials: Credentials,
) -> None:
    """Run a GraphQL query over Autotask's relationships (see docs/graphql.md)."""
    with errors():
        if schema:
            if query is not None or file is not None:
                fail("--schema prints the schema; give no query with it", ExitCode.USAGE)
            from ..graph import sdl

            sys.stdout.write(sdl())
            return
        if output not in (OutputFormat.json, OutputFormat.table):
            fail(f"-o {output.value}: graphql prints json or table", ExitCode.USAGE)
        if (query is None) == (file is None):
            fail(
                "give the query as an argument or with --file (one of them)",
                ExitCode.USAGE,
                "e.g. py-autotask graphql '{ tickets(first: 5) { id title } }'",
            )
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"--file {file}: cannot read it ({exc.__class__.__name__})", ExitCode.USAGE)
        else:
            text = str(query)
        from ..graph import GraphQLQuery

        if db is not None:
            runner = GraphQLQuery(db=db)
            _run(runner, text, estimate, output)
        else:
            client = credentials.client()
            with client:
                _run(GraphQLQuery(client), text, estimate, output)


def _run(runner: Any, text: str, estimate: bool, output: OutputFormat) -> None:
    if estimate:
        sys.stdout.write(f"{runner.estimate_sync(text)}\n")
        return
    data = runner.execute_sync(text).to_dict()
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
        return
    title, rows = _rows(data)
    write_records(rows, output, title=title)
