"""The ``py-autotask`` command line (typer + rich).

Data goes to stdout (``-o table|json|jsonl|csv``), progress bars, logs and errors to stderr.
Credentials: flag > ``AUTOTASK_*`` environment variables > profile (``--profile NAME``).

Exit codes: 0 ok, 1 error, 2 usage (bad arguments or filter expression), 3 authentication /
permission / missing credentials, 4 rate limit or request budget exhausted, 5 partial failure
(some entities failed or a mass-deletion guard held), 6 the database is locked by another sync.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from py_autotask_generated.entities import ATTRIBUTES, MODULES, resolve_name
from py_autotask_generated.entities import spec as entity_spec
from rich.console import Console
from rich.markup import escape

from .. import _core
from .._spec import EntitySpec
from ..exceptions import (
    AutotaskAuthError,
    AutotaskConfigError,
    AutotaskError,
    AutotaskPermissionError,
    AutotaskRateLimitError,
)
from ..query import MAX_PAGE_SIZE
from ._filterlang import FilterSyntaxError, check_field_names, check_filter, compile_filter
from ._output import OutputFormat, cell, write_records
from ._profiles import ProfileStore, resolve_credentials

if TYPE_CHECKING:
    from .._client import AutotaskClient

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_RATE",
    "EXIT_USAGE",
    "app",
    "main",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_RATE = 4
EXIT_PARTIAL = 5
EXIT_LOCKED = 6  # sync: another syncer holds the database's sync lock

app = typer.Typer(
    name="py-autotask",
    help=(
        "Query, export and sync Autotask PSA data; run a local Autotask simulator.\n\n"
        "Credentials: flag > AUTOTASK_USERNAME/AUTOTASK_SECRET/AUTOTASK_INTEGRATION_CODE/"
        "AUTOTASK_API_URL > profile (--profile NAME). Exit codes: 0 ok, 1 error, 2 usage, "
        "3 auth, 4 rate limit/budget, 5 partial failure, 6 database locked by another sync."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        sys.stdout.write(f"py-autotask {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Query, export and sync Autotask PSA data; run a local Autotask simulator."""


profile_app = typer.Typer(help="Credential profiles (stored with mode 0600, secrets never shown).")
simulator_app = typer.Typer(help="The local Autotask simulator.")
app.add_typer(profile_app, name="profile")
app.add_typer(simulator_app, name="simulator")


def _register_bulk_commands() -> None:
    """``bulk ...``, ``bulk-create``, ``bulk-update``, ``bulk-delete`` from py_autotask.bulk."""
    from py_autotask.bulk.cli import (
        bulk_app,
        bulk_create_command,
        bulk_delete_command,
        bulk_update_command,
    )

    app.add_typer(bulk_app, name="bulk")
    app.command("bulk-create")(bulk_create_command)
    app.command("bulk-update")(bulk_update_command)
    app.command("bulk-delete")(bulk_delete_command)


_register_bulk_commands()


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    console = _err_console()
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
    if hint:
        console.print(f"[yellow]hint:[/yellow] {escape(hint)}")
    raise typer.Exit(code)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception."""
    from ..sync import MassDeletionError, SyncLockedError

    if isinstance(exc, SyncLockedError):
        return EXIT_LOCKED
    if isinstance(exc, (FilterSyntaxError, AutotaskConfigError)):
        return EXIT_USAGE
    if isinstance(exc, (AutotaskAuthError, AutotaskPermissionError)):
        return EXIT_AUTH
    if isinstance(exc, AutotaskRateLimitError):
        return EXIT_RATE
    if isinstance(exc, MassDeletionError):
        return EXIT_PARTIAL
    with contextlib.suppress(ImportError):
        from ..export import ExportIncompleteError

        if isinstance(exc, ExportIncompleteError):
            return EXIT_PARTIAL
    return EXIT_ERROR


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn py-autotask errors into a red message on stderr and the documented exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except FilterSyntaxError as exc:
        console = _err_console()
        console.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    except AutotaskError as exc:
        text = str(exc)
        hint = getattr(exc, "hint", None)
        _fail(text, exit_code_for(exc), hint if hint and hint not in text else None)
    except FileExistsError as exc:
        # the message names the Python options; say the CLI's
        text = str(exc).replace("resume=True", "--resume").replace("overwrite=True", "--overwrite")
        _fail(text, EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_ERROR)
    except Exception as exc:
        # database drivers, files, missing extras: one line, no traceback, secrets scrubbed
        from ..exceptions import scrub_secrets

        _fail(scrub_secrets(f"{type(exc).__name__}: {exc}", _SECRETS), EXIT_ERROR)


# --- shared options -------------------------------------------------------------------------------

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="Credential profile (see `py-autotask profile`).")
]
UsernameOpt = Annotated[str | None, typer.Option("--username", help="API user name.")]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--secret", help="API secret (prefer AUTOTASK_SECRET or a profile).", show_default=False
    ),
]
CodeOpt = Annotated[str | None, typer.Option("--integration-code", help="API tracking identifier.")]
UrlOpt = Annotated[
    str | None, typer.Option("--api-url", help="REST base URL (skips zone discovery).")
]
OutputOpt = Annotated[
    OutputFormat, typer.Option("--output-format", "-o", help="table | json | jsonl | csv")
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help='Filter expression, e.g. "status = 5 and (priority <= 2 or title contains VIP)".',
    ),
]


#: secrets resolved by this process, scrubbed from unexpected error messages
_SECRETS: list[str] = []


def _client(
    profile: str | None,
    username: str | None,
    secret: str | None,
    integration_code: str | None,
    api_url: str | None,
) -> AutotaskClient:
    from .._client import AutotaskClient

    creds = resolve_credentials(
        profile=profile,
        username=username,
        secret=secret,
        integration_code=integration_code,
        api_url=api_url,
    )
    missing = [
        label
        for label, value in (
            ("username", creds.username),
            ("secret", creds.secret),
            ("integration code", creds.integration_code),
        )
        if not value
    ]
    if missing:
        _fail(
            "no Autotask credentials: missing " + ", ".join(missing),
            EXIT_AUTH,
            "pass --username/--secret/--integration-code, set AUTOTASK_USERNAME, AUTOTASK_SECRET "
            "and AUTOTASK_INTEGRATION_CODE, or add a profile: py-autotask profile add NAME "
            "--username ... (try `py-autotask demo` for a credential-free run)",
        )
    _SECRETS.extend(v for v in (creds.secret, creds.integration_code) if v)
    return AutotaskClient(**creds.kwargs())


def _spec(name: str) -> EntitySpec:
    resolved = resolve_name(name.strip())
    if resolved is None:
        close = difflib.get_close_matches(name, list(MODULES) + list(ATTRIBUTES), n=3)
        _fail(
            f"unknown Autotask entity {name!r}",
            EXIT_USAGE,
            ("did you mean: " + ", ".join(close) + "?")
            if close
            else "list them with `py-autotask entities`",
        )
    return entity_spec(resolved)


def _require(spec: EntitySpec, op: str) -> None:
    if op not in spec.root_operations:
        ops = ", ".join(sorted(spec.root_operations)) or "none at its root"
        _fail(
            f"{spec.name} does not support {op!r} at its root (supports: {ops})",
            EXIT_USAGE,
        )


def _field_list(fields: str | None) -> list[str] | None:
    if not fields:
        return None
    out = [f.strip() for f in fields.split(",") if f.strip()]
    return out or None


def _check_against_metadata(
    client: AutotaskClient,
    specs: list[EntitySpec],
    filter: str | None,
    fields: list[str] | None = None,
) -> None:
    """Unknown fields, unfilterable fields and wrongly typed values in ``--filter`` / ``--fields``
    are usage errors pointing at the mistake, before any data request (the API would answer an
    opaque HTTP 500). The tenant's metadata is read only for names the bundled metadata lacks
    (newer fields) and for UDFs, once per entity (cached by the client)."""
    meta = client.metadata
    for spec in specs:

        def fields_of(name: str = spec.name) -> list[dict[str, Any]]:
            return meta.fields(name)

        def udfs_of(name: str = spec.name, has_udfs: bool = spec.has_udfs) -> list[dict[str, Any]]:
            return meta.udfs(name) if has_udfs else []

        if filter:
            check_filter(filter, spec, tenant_fields=fields_of, tenant_udfs=udfs_of)
        if fields:
            check_field_names(fields, spec, tenant_fields=fields_of, tenant_udfs=udfs_of)


def _iter_records(
    client: AutotaskClient,
    spec: EntitySpec,
    filter_items: list[dict[str, Any]],
    include_fields: list[str] | None,
    limit: int | None,
) -> Iterator[dict[str, Any]]:
    body: dict[str, Any] = {"filter": filter_items}
    api_fields = [f for f in include_fields or [] if not f.lower().startswith("udf.")]
    if api_fields:
        if not any(f.lower() == "id" for f in api_fields):
            api_fields.append("id")
        if any(f.lower().startswith("udf.") for f in include_fields or []):
            api_fields.append("userDefinedFields")
        body["IncludeFields"] = api_fields
    if limit is not None and limit < MAX_PAGE_SIZE:
        body["MaxRecords"] = max(1, limit)
    request: _core.ApiRequest | None = _core.query_request(spec, body)
    produced = 0
    while request is not None:
        data = client._core.read_json(client._send(request))
        for item in (data or {}).get("items") or []:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield item
        url = ((data or {}).get("pageDetails") or {}).get("nextPageUrl")
        if not url or (limit is not None and produced >= limit):
            return
        request = _core.next_page_request(spec.name, url, body, client._core.next_page_method)


# --- commands ---------------------------------------------------------------------------------------


@app.command()
def query(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets or tickets.")],
    filter: FilterOpt = None,
    fields: Annotated[
        str | None, typer.Option("--fields", help="Comma-separated fields (udf.Name for UDFs).")
    ] = None,
    max: Annotated[
        int | None, typer.Option("--max", "-n", min=1, help="Stop after N rows.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Query records with a filter expression and print them."""
    with _errors():
        spec = _spec(entity)
        _require(spec, "query")
        items = compile_filter(filter)
        field_list = _field_list(fields)
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            _check_against_metadata(client, [spec], filter, field_list)
            records = _iter_records(client, spec, items, field_list, max)
            write_records(records, output, fields=field_list, title=spec.name)


@app.command()
def get(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    id: Annotated[int, typer.Argument(help="Record id.")],
    output: OutputOpt = OutputFormat.table,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Get one record by id."""
    with _errors():
        spec = _spec(entity)
        _require(spec, "get")
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            data = client._core.read_json(client._send(_core.get_request(spec, id)))
        item = (data or {}).get("item")
        if not item:
            _fail(f"{spec.name} {id} not found", EXIT_ERROR)
        if output is OutputFormat.table:
            rows = [{"field": k, "value": cell(v)} for k, v in item.items()]
            write_records(rows, output, fields=["field", "value"], title=f"{spec.name} {id}")
        elif output is OutputFormat.json:
            import json

            sys.stdout.write(json.dumps(item, indent=2, default=str, ensure_ascii=False) + "\n")
        else:
            write_records([item], output)


@app.command()
def count(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    filter: FilterOpt = None,
    output: OutputOpt = OutputFormat.table,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Count records matching a filter expression."""
    with _errors():
        spec = _spec(entity)
        _require(spec, "count")
        items = compile_filter(filter)
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            _check_against_metadata(client, [spec], filter)
            data = client._core.read_json(
                client._send(_core.count_request(spec, {"filter": items}))
            )
        n = int((data or {}).get("queryCount") or 0)
        if output is OutputFormat.table:
            sys.stdout.write(f"{n}\n")
        else:
            write_records([{"entity": spec.name, "count": n}], output)


@app.command()
def entities(
    search: Annotated[
        str | None, typer.Argument(help="Only collections whose name contains this text.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """List the Autotask collections and their operations (no credentials needed)."""
    with _errors():
        attrs = {collection: attr for attr, collection in ATTRIBUTES.items()}
        rows = []
        for name in sorted(MODULES):
            if search and search.lower() not in name.lower():
                continue
            spec = entity_spec(name)
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


@app.command()
def describe(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Use the bundled metadata (no tenant picklists or UDFs)."),
    ] = False,
    output: OutputOpt = OutputFormat.table,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Fields, types, required/read-only flags and the tenant's picklist values of an entity."""
    with _errors():
        spec = _spec(entity)
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
            client = _client(profile, username, secret, integration_code, api_url)
            with client:
                fields = client._core.read_json(client._send(_meta_request(spec, "fields"))) or {}
                udfs: dict[str, Any] = {}
                if spec.has_udfs:
                    udfs = (
                        client._core.read_json(
                            client._send(_meta_request(spec, "userDefinedFields"))
                        )
                        or {}
                    )
            for f, is_udf in [(f, False) for f in fields.get("fields") or []] + [
                (u, True) for u in udfs.get("fields") or []
            ]:
                values = [
                    f"{p.get('value')}={p.get('label')}"
                    + ("" if p.get("isActive", True) else " (inactive)")
                    for p in f.get("picklistValues") or []
                    if isinstance(p, dict)
                ]
                name = f"udf.{f.get('name')}" if is_udf else str(f.get("name"))
                row: dict[str, Any] = {
                    "name": name,
                    "type": f.get("type") if is_udf else f.get("dataType"),
                    "required": bool(f.get("isRequired")),
                    "read_only": bool(f.get("isReadOnly")),
                    "queryable": bool(f.get("isQueryable", True)),
                    "reference": f.get("referenceEntityType") or "",
                }
                if output is OutputFormat.table:
                    shown = ", ".join(values[:8]) + (
                        f", … (+{len(values) - 8})" if len(values) > 8 else ""
                    )
                    row["picklist"] = shown
                else:
                    row["picklist"] = [
                        {k: p.get(k) for k in ("value", "label", "isActive", "isDefaultValue")}
                        for p in f.get("picklistValues") or []
                        if isinstance(p, dict)
                    ]
                rows.append(row)
        write_records(
            rows,
            output,
            title=f"{spec.name}: {', '.join(sorted(spec.root_operations)) or 'child only'}",
            max_table_columns=20,
        )


def _meta_request(spec: EntitySpec, what: str) -> _core.ApiRequest:
    return _core.ApiRequest(
        "GET", f"{spec.name}/entityInformation/{what}", entity=spec.name, operation="meta"
    )


@app.command()
def estimate(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    filter: FilterOpt = None,
    output: OutputOpt = OutputFormat.table,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """What reading every matching record costs before running it: records, pages, requests,
    time one page at a time (query/sync) and with 3 partitions (export), and the tenant's hourly
    usage before and after (two requests are made: ThresholdInformation and the count)."""
    with _errors():
        spec = _spec(entity)
        _require(spec, "count")
        items = compile_filter(filter)
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            _check_against_metadata(client, [spec], filter)
            # the tenant's usage now (one ThresholdInformation request): the estimate's usage
            # figures and the latency steps at 50%/75% depend on it
            client.health()
            seq = client.estimate(spec.name, filter=items)
            par = client._resilience.engine.estimate(
                spec.name, seq.records, MAX_PAGE_SIZE, seq.latency_per_request, 3
            )
        row: dict[str, Any] = {
            "entity": seq.entity,
            "records": seq.records,
            "pages": seq.pages,
            "requests": seq.requests,  # the count and one per page
            "query_seconds": seq.seconds,  # one page at a time (query, query_all, sync)
            "export_seconds": par.seconds,  # 3 id-range partitions in flight (export)
            "usage_before": seq.usage_before,
            "usage_after": seq.usage_after,
            "budget_share_used": seq.budget_share_used,
            "exceeds_budget": seq.exceeds_budget,
            "latency_per_request": seq.latency_per_request,
        }
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        write_records([row], output, title=f"estimate: {spec.name}")


@app.command()
def sync(
    entities: Annotated[
        list[str] | None, typer.Argument(help="Collections to mirror, e.g. Tickets Companies.")
    ] = None,
    database: Annotated[
        str,
        typer.Option(
            "--database",
            "--db",
            help="sqlite:///file.db | postgresql://... | duckdb:///file.duckdb | a file path.",
        ),
    ] = "autotask.db",
    every: Annotated[
        float | None,
        typer.Option("--every", help="Daemon mode: run every N minutes until SIGINT/SIGTERM."),
    ] = None,
    overlap: Annotated[
        float, typer.Option("--overlap", help="Overlap window in minutes for incremental runs.")
    ] = 10.0,
    reconcile: Annotated[
        bool | None,
        typer.Option(
            "--reconcile/--no-reconcile", help="Force/skip the id reconciliation (default: daily)."
        ),
    ] = None,
    max_delete: Annotated[
        float,
        typer.Option(
            "--max-delete-fraction", help="Refuse to delete more than this fraction of a table."
        ),
    ] = 0.5,
    force: Annotated[
        bool, typer.Option("--force", help="Allow deletions beyond --max-delete-fraction.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Restart with a full load.")] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            help="Seconds to wait when another sync holds the database (default 0: exit 6 at once).",
        ),
    ] = 0.0,
    status: Annotated[
        bool,
        typer.Option("--status", help="Show the sync state stored in the database and exit."),
    ] = False,
    output: OutputOpt = OutputFormat.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    source: Annotated[
        str,
        typer.Option("--from", help="autotask (mirror into --db) | sql (push rows into Autotask)."),
    ] = "autotask",
    target: Annotated[
        str, typer.Option("--to", help="db (with --from autotask) | autotask (with --from sql).")
    ] = "db",
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="--from sql: SQLAlchemy URL of the source database."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="--from sql: table to read (default: entity).")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="--from sql: a SELECT to read instead of a table.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="--from sql: validate every row, write nothing.")
    ] = False,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Mirror collections into a database: full load first, then incremental runs (changes,
    deletions, periodic reconciliation). Resumable after a crash.

    With ``--from sql --to autotask --connection URL``, push rows of a SQL table (or ``--query``)
    into one collection through the bulk path instead: rows with an id are merged, the rest
    created, exactly once."""
    if (source, target) == ("sql", "autotask"):
        if not entities or len(entities) != 1 or not connection:
            _fail(
                "usage: py-autotask sync ENTITY --from sql --to autotask --connection URL "
                "[--table T | --query SELECT]",
                EXIT_USAGE,
            )
        from py_autotask.bulk.cli import sync_push_command

        sync_push_command(
            entity=entities[0],
            connection=connection,
            table=table,
            query=query,
            dry_run=dry_run,
            profile=profile,
            username=username,
            secret=secret,
            integration_code=integration_code,
            api_url=api_url,
        )
        return
    if (source, target) != ("autotask", "db"):
        _fail(
            f"--from {source} --to {target} is not a sync direction: use --from autotask --to db "
            "(the default) or --from sql --to autotask",
            EXIT_USAGE,
        )
    with _errors():
        if status:
            _print_sync_state(database, output)
            return
        if not entities:
            _fail(
                "name the collections to sync, e.g. py-autotask sync Tickets Companies", EXIT_USAGE
            )
        if every is not None and every <= 0:
            _fail("--every must be a positive number of minutes", EXIT_USAGE)
        if not lock_timeout >= 0:
            _fail("--lock-timeout must be a number of seconds >= 0", EXIT_USAGE)
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            result = run_sync(
                client,
                list(entities),
                database,
                every=every,
                overlap=overlap,
                reconcile=reconcile,
                max_delete=max_delete,
                force=force,
                full=full,
                output=output,
                quiet=quiet,
                lock_timeout=lock_timeout,
            )
        if not result:
            raise typer.Exit(EXIT_PARTIAL)


def _print_sync_state(database: str, output: OutputFormat) -> None:
    from pathlib import Path

    from ..sync import STATE_TABLE, open_database, sync_lock_status
    from ..sync._db import database_target
    from ..sync._lock import FileLock, sync_lock_for

    lock = sync_lock_for(database)
    if isinstance(lock, FileLock) and not Path(lock.db_path).exists():
        # reading the state must not create an empty database
        _fail(f"no database at {lock.db_path}: nothing has been synced there yet", EXIT_USAGE)
    held, holder = sync_lock_status(database)
    if held:
        who = holder.describe() if holder is not None else "another process (details unavailable)"
        _err_console().print(f"sync lock: held by {escape(who)}")
    else:
        _err_console().print("sync lock: free (no sync is running on this database)")
    try:
        db = open_database(database)
    except Exception as exc:
        if held and "lock" in str(exc).lower() and database_target(database)[0] == "duckdb":
            _fail(
                "the sync state cannot be read while that sync run has the DuckDB file open "
                "(DuckDB admits one process per file); try again when the run is over (a daemon "
                "closes the file between runs)",
                EXIT_ERROR,
            )
        raise
    try:
        if not db.columns(STATE_TABLE):
            _fail(
                f"{lock.database} has no sync state (no {STATE_TABLE} table): py-autotask sync "
                "has not written to it",
                EXIT_ERROR,
            )
        states = db.all_states()
    finally:
        db.close()
    rows = [
        {
            "entity": st.entity,
            "table": st.table_name,
            "status": st.status,
            "phase": st.phase,
            "rows": st.rows,
            "watermark": st.watermark,
            "id_watermark": st.id_watermark,
            "last_full_load": st.last_full_load,
            "last_reconciliation": st.last_reconciliation,
            "run_id": st.run_id,
            "message": st.message,
        }
        for st in states
    ]
    write_records(rows, output, title=f"sync state in {database}", max_table_columns=20)


def run_sync(
    client: AutotaskClient,
    entities: list[str],
    database: str,
    *,
    every: float | None = None,
    overlap: float = 10.0,
    reconcile: bool | None = None,
    max_delete: float = 0.5,
    force: bool = False,
    full: bool = False,
    output: OutputFormat = OutputFormat.table,
    quiet: bool = False,
    summary: bool = True,
    lock_timeout: float = 0.0,
) -> bool:
    """Run the syncer with progress bars on stderr and a per-entity summary on stdout; returns
    whether every entity succeeded."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..sync import SyncResult

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=_err_console(),
        disable=quiet,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def on_page(entity: str, phase: str, done: int, total: int | None) -> None:
        task = tasks.get(entity)
        if task is None:
            task = progress.add_task(f"{entity} ({phase})", total=total)
            tasks[entity] = task
        if phase == "done":
            progress.update(task, completed=done, total=max(done, 1))
            if not done:
                progress.update(task, completed=1)
        else:
            progress.update(task, completed=done, total=total)

    all_ok = True

    def on_run(result: SyncResult) -> None:
        nonlocal all_ok
        for task in tasks.values():
            progress.update(task, total=progress.tasks[task].completed or 1)
        tasks.clear()
        if summary:
            _print_sync_summary(result, output)
        all_ok = all_ok and all(e.status in ("ok", "stopped") for e in result.entities)

    syncer = client.create_syncer(progress=on_page)
    with progress:
        result = syncer.sync_to_database(
            database,
            entities,
            _dt.timedelta(minutes=every) if every else None,
            overlap=_dt.timedelta(minutes=overlap),
            reconcile=reconcile,
            max_delete_fraction=max_delete,
            force=force,
            full=full,
            on_run=on_run,
            lock_timeout=lock_timeout,
        )
    if result.stopped:
        _err_console().print("[yellow]stopped by signal after committing the current page[/yellow]")
    for e in result.entities:
        if e.status not in ("ok", "stopped"):
            _err_console().print(f"[bold red]error:[/bold red] {escape(e.message or e.status)}")
    return all_ok


def _print_sync_summary(result: Any, output: OutputFormat) -> None:
    rows = [
        {
            "entity": e.entity,
            "mode": e.mode,
            "created": e.created,
            "updated": e.updated,
            "deleted": e.deleted,
            "rows": e.rows,
            "requests": e.requests,
            "status": e.status,
        }
        for e in result.entities
    ]
    for row, e in zip(rows, result.entities, strict=True):
        if e.added_columns:
            row["new_columns"] = ", ".join(e.added_columns)
    if output is OutputFormat.json:
        import json

        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        sys.stdout.flush()
        return
    write_records(
        rows,
        output,
        title=f"sync run {result.run_id}: {result.seconds:.1f}s, {result.requests} requests",
        max_table_columns=20,
    )


# --- export ---------------------------------------------------------------------------------------------

_FOLDER_FORMATS = ("csv", "json", "jsonl", "parquet")
_FILE_SUFFIX = {"excel": ".xlsx", "sqlite": ".db", "duckdb": ".duckdb"}


def _date_range_items(spec: EntitySpec, text: str, field: str | None) -> list[dict[str, Any]]:
    """``START,END`` (dates or datetimes; END inclusive for dates) -> two conditions on ``field``
    (default: ``createDate`` when the entity has it, else its change-tracking field)."""
    start, sep, end = text.partition(",")
    if not sep:
        _fail(f"--date-range needs START,END, got {text!r}", EXIT_USAGE)
    name = field
    if name is None:
        lowered = {f.lower(): f for f in spec.fields}
        name = lowered.get("createdate") or lowered.get("createdatetime")
        name = name or spec.change_tracking_field
    if not name:
        _fail(f"{spec.name} has no createDate field; name one with --date-field", EXIT_USAGE)
    items: list[dict[str, Any]] = []
    if start.strip():
        items.append({"op": "gte", "field": name, "value": start.strip()})
    if end.strip():
        value = end.strip()
        if len(value) == 10:  # a date: include the whole day
            try:
                day = _dt.date.fromisoformat(value) + _dt.timedelta(days=1)
            except ValueError:
                _fail(f"--date-range end {value!r} is not a date (YYYY-MM-DD)", EXIT_USAGE)
            items.append({"op": "lt", "field": name, "value": day.isoformat()})
        else:
            items.append({"op": "lte", "field": name, "value": value})
    return items


@app.command()
def export(
    entities: Annotated[list[str], typer.Argument(help="Collections to export, e.g. Tickets.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-F",
            help="csv | json | jsonl | parquet | excel | sqlite | duckdb | postgresql "
            "(default: from --output).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-O",
            help="Folder (csv/json/jsonl/parquet), file (excel/sqlite/duckdb) or postgresql:// URL.",
        ),
    ] = None,
    filter: FilterOpt = None,
    date_range: Annotated[
        str | None,
        typer.Option("--date-range", help="START,END on --date-field, e.g. 2024-01-01,2024-12-31."),
    ] = None,
    date_field: Annotated[
        str | None,
        typer.Option("--date-field", help="Field for --date-range (default createDate)."),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option("--fields", help="Only these fields (csv/json/jsonl of one entity)."),
    ] = None,
    include_relationships: Annotated[
        str | None,
        typer.Option(
            "--include-relationships",
            help="Comma-separated, e.g. tickets.company,tickets.contactID; 'all' for every reference.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted export.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output.")
    ] = False,
    compress: Annotated[bool, typer.Option("--compress", help="Zip folder outputs.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=3,
            help="Id-range partitions read in parallel (Autotask allows 3 requests in flight per "
            "endpoint). With 1, a killed export re-reads at most one page on --resume; with N, "
            "at most N+1.",
        ),
    ] = 3,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    profile: ProfileOpt = None,
    username: UsernameOpt = None,
    secret: SecretOpt = None,
    integration_code: CodeOpt = None,
    api_url: UrlOpt = None,
) -> None:
    """Export collections (with the rows they reference) to files or a database; resumable."""
    from ..sync import table_name

    with _errors():
        specs = [_spec(e) for e in entities]
        for spec in specs:
            _require(spec, "query")
        fmt = format.strip().lower() if format else None
        if output is None:
            fmt = fmt or "csv"
            base = table_name(specs[0].name) if len(specs) == 1 else "autotask"
            if fmt in ("postgresql", "postgres"):
                _fail(
                    "--format postgresql needs --output postgresql://user@host/database",
                    EXIT_USAGE,
                )
            # a folder per format (tickets-parquet/, tickets-json/) so exporting one entity in
            # two formats with the defaults does not collide
            output = base + (f"-{fmt}" if fmt in _FOLDER_FORMATS else _FILE_SUFFIX.get(fmt, ""))
        items = compile_filter(filter) if filter else []
        field_list = _field_list(fields)
        if field_list and len(specs) != 1:
            _fail("--fields works with one entity at a time", EXIT_USAGE)
        client = _client(profile, username, secret, integration_code, api_url)
        with client:
            _check_against_metadata(client, specs, filter, field_list)
            if field_list:
                _export_fields(
                    client, specs, output, fmt, items, date_range, date_field, field_list
                )
                return
            exporter = client.create_exporter(workers=workers)
            for spec in specs:
                spec_items = list(items)
                if date_range:
                    spec_items += _date_range_items(spec, date_range, date_field)
                exporter.add_entities(spec.name, filter=spec_items or None)
            if include_relationships:
                rels: list[str] = []
                for part in include_relationships.split(","):
                    part = part.strip()
                    if part.lower() == "all":
                        for spec in specs:
                            for f in spec.fields.values():
                                target = resolve_name(f.reference_entity or "")
                                if target and "query" in entity_spec(target).root_operations:
                                    rels.append(f"{spec.name}.{f.api_name}")
                    elif part:
                        rels.append(part)
                if rels:
                    exporter.include_relationships(rels)
            with _export_progress(quiet) as on_progress:
                exporter.progress = on_progress
                result = exporter.export(
                    output, fmt, compress=compress, resume=resume, overwrite=overwrite
                )
        rows = [
            {
                "entity": e.entity,
                "rows": e.rows,
                "expected": e.expected,
                "verified": e.verified,
                "related_rows": e.related_rows,
                "location": e.location,
            }
            for e in result.entities.values()
        ]
        write_records(
            rows,
            OutputFormat.table,
            title=f"{result.format} export -> {result.path} ({result.requests} requests"
            + (", resumed" if result.resumed else "")
            + ")",
            out=sys.stdout,
            max_table_columns=20,
        )
        for warning in result.warnings:
            _err_console().print(f"[yellow]warning:[/yellow] {escape(warning)}")


_PHASES: Final = {"fetch": "read", "related": "read (referenced)", "write": "write"}


@contextlib.contextmanager
def _export_progress(quiet: bool) -> Iterator[Callable[[str, str, int, int | None], None]]:
    """Progress bars on stderr, one per entity and phase (rows read, referenced rows read, rows
    written), fed by the exporter's callback from its worker threads (rich is thread-safe)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_err_console(),
        disable=quiet,
    )
    tasks: dict[tuple[str, str], TaskID] = {}
    lock = threading.Lock()

    def on_progress(entity: str, phase: str, done: int, total: int | None) -> None:
        with lock:
            task = tasks.get((entity, phase))
            if task is None:
                label = f"{entity}: {_PHASES.get(phase, phase)}"
                task = tasks[entity, phase] = progress.add_task(label, total=total)
        progress.update(task, completed=done, total=total)

    with progress:
        yield on_progress


def _export_fields(
    client: AutotaskClient,
    specs: list[EntitySpec],
    output: str,
    fmt: str | None,
    items: list[dict[str, Any]],
    date_range: str | None,
    date_field: str | None,
    field_list: list[str],
) -> None:
    """``--fields``: stream the chosen fields of one entity to a csv/json/jsonl file."""
    from pathlib import Path

    if len(specs) != 1:
        _fail("--fields works with one entity at a time", EXIT_USAGE)
    target = Path(output)
    kind = fmt or target.suffix.lower().lstrip(".") or "csv"
    if kind not in ("csv", "json", "jsonl"):
        _fail("--fields supports csv, json and jsonl outputs", EXIT_USAGE)
    if target.suffix == "":
        target = target.with_suffix("." + kind)
    spec = specs[0]
    conditions = list(items) or compile_filter(None)
    if date_range:
        conditions = [c for c in conditions if c != {"op": "gte", "field": "id", "value": 0}]
        conditions += _date_range_items(spec, date_range, date_field)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as fh:
        n = write_records(
            _iter_records(client, spec, conditions, field_list, None),
            kind,
            fields=field_list,
            out=fh,
        )
    partial.replace(target)
    _err_console().print(f"{spec.name}: {n:,} rows -> {target}")


# --- profiles -----------------------------------------------------------------------------------------


@profile_app.command("add")
def profile_add(
    name: Annotated[str, typer.Argument(help="Profile name.")],
    username: Annotated[str, typer.Option("--username", help="API user name.")],
    integration_code: Annotated[
        str | None, typer.Option("--integration-code", help="API tracking identifier.")
    ] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="REST base URL.")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="API secret; prompted (hidden) when omitted."),
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the secret from standard input.")
    ] = False,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default profile.")
    ] = False,
) -> None:
    """Store credentials under NAME (file mode 0600; the secret is never printed)."""
    with _errors():
        if secret_stdin:
            secret = sys.stdin.readline().strip()
        elif secret is None:
            secret = typer.prompt("Secret", hide_input=True)
        if not integration_code:
            integration_code = typer.prompt("Integration code (API tracking identifier)")
        store = ProfileStore()
        store.add(
            name,
            {
                "username": username,
                "secret": secret,
                "integration_code": integration_code,
                "api_url": api_url,
            },
            make_default=default,
        )
        _err_console().print(f"saved profile [bold]{escape(name)}[/bold] in {store.path}")


@profile_app.command("list")
def profile_list(output: OutputOpt = OutputFormat.table) -> None:
    """List profiles (secrets are shown only as 'set')."""
    with _errors():
        write_records(ProfileStore().public_view(), output, title="profiles")


@profile_app.command("remove")
def profile_remove(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Delete a profile."""
    with _errors():
        ProfileStore().remove(name)
        _err_console().print(f"removed profile {escape(name)}")


@profile_app.command("default")
def profile_default(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Make NAME the profile used when --profile is not given."""
    with _errors():
        ProfileStore().set_default(name)
        _err_console().print(f"default profile: {escape(name)}")


# --- simulator ------------------------------------------------------------------------------------------


@simulator_app.command("serve")
def simulator_serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 8080,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    profile: Annotated[
        str, typer.Option("--profile", help="Seed profile: tiny | demo | bench | none.")
    ] = "tiny",
    latency: Annotated[
        str | None,
        typer.Option("--latency", help="200ms | uniform:100ms,300ms | lognormal:250ms,0.3"),
    ] = None,
    count: Annotated[
        list[str] | None, typer.Option("--count", help="ENTITY=N seed count override (repeatable).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="SQLite file for the simulator's store.")
    ] = None,
    thread_limit: Annotated[int, typer.Option("--thread-limit")] = 3,
    hourly_limit: Annotated[int, typer.Option("--hourly-limit")] = 10_000,
    time_scale: Annotated[float, typer.Option("--time-scale")] = 1.0,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Run the Autotask simulator in the foreground (Ctrl-C stops it)."""
    try:
        from ..simulator.__main__ import main as serve_main
    except ImportError as exc:
        _fail(str(exc), EXIT_ERROR)
    argv = [
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--profile",
        profile,
        "--thread-limit",
        str(thread_limit),
        "--hourly-limit",
        str(hourly_limit),
        "--time-scale",
        str(time_scale),
        "--log-level",
        log_level,
    ]
    if latency:
        argv += ["--latency", latency]
    if db:
        argv += ["--db", db]
    for item in count or []:
        argv += ["--count", item]
    try:
        code = serve_main(argv)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    raise typer.Exit(code)


# --- demo -------------------------------------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[
        str, typer.Option("--out", help="Directory for the SQLite file and Parquet files.")
    ] = "autotask-demo",
    size: Annotated[
        str, typer.Option("--size", help="Simulator seed profile: demo | tiny.")
    ] = "demo",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """No credentials needed: start the embedded simulator with a demo tenant, sync it into a
    SQLite file and export Parquet files, with progress bars and a summary."""
    from ._demo import run_demo

    with _errors():
        code = run_demo(out, size=size, quiet=quiet)
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (``py-autotask``)."""
    try:
        app(args=argv, prog_name="py-autotask", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    return EXIT_OK
