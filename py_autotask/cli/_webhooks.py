"""``webhooks``: register, list, test and delete Autotask webhooks; show the deactivated ones and
the receiver's parked events.

The secret key is read from an environment variable (``--secret-from-env VAR``), never taken as
an argument (arguments show in ``ps`` output and shell history), and never printed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import (
    _SECRETS,
    Credentials,
    OutputFormat,
    OutputOpt,
    errors,
    fail,
    field_list,
    with_credentials,
    write_records,
)

if TYPE_CHECKING:
    from ..webhooks._register import WebhookRegistry

__all__ = ["webhooks_app"]

webhooks_app = typer.Typer(
    help="Autotask webhooks: register, list, test, delete; what Autotask deactivated; the "
    "receiver's parked events.",
    no_args_is_help=True,
)

EntityArg = Annotated[str, typer.Argument(help="Entity, e.g. Tickets, Companies, Contacts.")]
IdArg = Annotated[int, typer.Argument(help="The webhook's id (see `webhooks list`).")]


def _secret(var: str | None, *, required: bool) -> str | None:
    """The secret key held by environment variable ``var``."""
    if var is None:
        if required:
            fail(
                "--secret-from-env VAR is required: the webhook's secret key is read from "
                "that environment variable",
                ExitCode.USAGE,
            )
        return None
    value = os.environ.get(var, "")
    if not value.strip():
        fail(
            f"--secret-from-env {var}: the environment variable {var} is not set or empty",
            ExitCode.USAGE,
            f"export {var}=<a secret of 10 to 64 characters> and run the command again",
        )
    _SECRETS.append(value)
    return value


def _registry(credentials: Credentials) -> tuple[Any, WebhookRegistry]:
    from ..webhooks._register import WebhookRegistry

    client = credentials.client()
    return client, WebhookRegistry(client)


@webhooks_app.command("register")
@with_credentials
def register(
    entity: EntityArg,
    url: Annotated[str, typer.Option("--url", help="Where Autotask posts the events.")],
    fields: Annotated[
        str | None,
        typer.Option("--fields", help="Fields whose changes send an event: status,priority,..."),
    ] = None,
    udf: Annotated[
        list[str] | None, typer.Option("--udf", help="A UDF to subscribe to (repeatable).")
    ] = None,
    display_always: Annotated[
        str | None,
        typer.Option("--display-always", help="Fields sent with every event: title,..."),
    ] = None,
    exclude_resource: Annotated[
        list[int] | None,
        typer.Option(
            "--exclude-resource",
            help="A resource whose changes send no event (repeatable). Default: the API user's "
            "own resource, so the integration's own writes do not echo back.",
        ),
    ] = None,
    no_exclude_self: Annotated[
        bool,
        typer.Option("--no-exclude-self", help="Exclude no resource by default."),
    ] = False,
    secret_from_env: Annotated[
        str | None,
        typer.Option(
            "--secret-from-env",
            metavar="VAR",
            help="Environment variable holding the secret key that signs the events.",
        ),
    ] = None,
    deactivation_url: Annotated[
        str | None,
        typer.Option("--deactivation-url", help="Called when Autotask deactivates it (--url)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The webhook's name.")] = None,
    events: Annotated[
        str, typer.Option("--events", help="Which of create,update,delete send events.")
    ] = "create,update,delete",
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Create a webhook with its field, UDF and excluded-resource rows, one request at a time
    through the client's limits. Every field and UDF is checked against the tenant's metadata
    first (a bad one: exit 2, nothing created); a failure half way deletes what was created."""
    secret = _secret(secret_from_env, required=True)
    with errors():
        chosen = field_list(fields) or []
        shown = field_list(display_always) or []
        wanted = field_list(events) or []
        excluded: list[int] | None = list(exclude_resource or [])
        if not excluded and not no_exclude_self:
            excluded = None  # the API user's own resource
        client, registry = _registry(credentials)
        with client:
            hook = registry.register(
                entity,
                url=url,
                secret_key=secret or "",
                fields=chosen,
                udfs=list(udf or []),
                display_always=shown,
                exclude_resources=excluded,
                deactivation_url=deactivation_url,
                name=name,
                events=wanted,
            )
        write_records([hook.as_row()], output, title=f"registered: {hook.entity} webhook")


@webhooks_app.command("list")
@with_credentials
def list_webhooks(
    entity: Annotated[
        str | None, typer.Argument(help="Entity (default: every entity with webhooks).")
    ] = None,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """Every webhook: entity, id, guid, url, active, ready and the subscribed fields."""
    with errors():
        client, registry = _registry(credentials)
        with client:
            rows = [h.as_row() for h in registry.list(entity)]
        write_records(rows, output, title="webhooks")


@webhooks_app.command("delete")
@with_credentials
def delete(entity: EntityArg, webhook_id: IdArg, *, credentials: Credentials) -> None:
    """Delete a webhook with its field, UDF and excluded-resource rows."""
    with errors():
        client, registry = _registry(credentials)
        with client:
            registry.delete(entity, webhook_id)
    typer.echo(f"deleted {entity} webhook {webhook_id}", err=True)


@webhooks_app.command("deactivated")
@with_credentials
def deactivated(output: OutputOpt = OutputFormat.table, *, credentials: Credentials) -> None:
    """Inactive webhooks and why: the WebhookEventErrorLogs rows of each (where the API links
    them to that kind of webhook: companies and contacts), latest error first."""
    with errors():
        client, registry = _registry(credentials)
        with client:
            found = registry.deactivated()
        rows = []
        for item in found:
            logs = sorted(item.errors, key=lambda r: str(r.get("createDateTime") or ""))
            last = logs[-1] if logs else {}
            rows.append(
                {
                    "entity": item.webhook.entity,
                    "id": item.webhook.id,
                    "name": item.webhook.name,
                    "url": item.webhook.url,
                    "errors": len(logs) if item.errors_linked else None,
                    "last_error_at": last.get("createDateTime"),
                    "last_error": last.get("errorMessage")
                    if item.errors_linked
                    else "(the API's error log does not link this kind of webhook)",
                    "last_sequence": last.get("sequenceNumber"),
                }
            )
        write_records(rows, output, title="deactivated webhooks")


@webhooks_app.command("test")
@with_credentials
def test(
    entity: EntityArg,
    webhook_id: IdArg,
    secret_from_env: Annotated[
        str | None,
        typer.Option(
            "--secret-from-env",
            metavar="VAR",
            help="Sign with the secret in this environment variable (default: the webhook's "
            "secret key as the API returns it).",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """POST a signed sample event (an Update of record 0 with the subscribed fields) to the
    webhook's URL and show the answer. Autotask's REST API has no "send a test callout"
    endpoint, so this does not go through Autotask: it checks that the receiver is reachable
    and accepts the signature. Exit 1 when the receiver answers with a non-2xx status."""
    secret = _secret(secret_from_env, required=False)
    with errors():
        client, registry = _registry(credentials)
        with client:
            delivery = registry.test(entity, webhook_id, secret_key=secret)
        write_records(
            [
                {
                    "url": delivery.url,
                    "status": delivery.status,
                    "ok": delivery.ok,
                    "seconds": round(delivery.seconds, 3),
                }
            ],
            output,
            title="test delivery",
        )
    if not delivery.ok:
        fail(f"{delivery.url} answered HTTP {delivery.status}", ExitCode.ERROR)


@webhooks_app.command("queue")
def queue(
    path: Annotated[
        str | None,
        typer.Option(
            "--queue",
            help="The receiver's queue file (default: $XDG_STATE_HOME/py-autotask/webhooks.db).",
        ),
    ] = None,
    retry: Annotated[
        list[int] | None,
        typer.Option("--retry", help="Put this parked event back in the queue (repeatable)."),
    ] = None,
    retry_all: Annotated[
        bool, typer.Option("--retry-all", help="Put every parked event back in the queue.")
    ] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """The events a receiver parked (its handlers failed every attempt): id, topic, entity,
    record id, attempts, last error. With --retry ID / --retry-all they go back in the queue
    and the running receiver runs them again. Counts per state go to stderr."""
    from pathlib import Path

    with errors():
        from ..webhooks._queue import EventQueue, default_queue_path

        where = Path(path) if path else default_queue_path()
        if not where.is_file():
            fail(
                f"no webhook queue at {where}",
                ExitCode.USAGE,
                "give the receiver's queue file with --queue PATH (WebhookServer(queue=...))",
            )
        events = EventQueue(where)
        try:
            parked = events.parked()
            if retry or retry_all:
                ids = [e.id for e in parked] if retry_all else list(dict.fromkeys(retry or []))
                unknown = sorted(set(ids) - {e.id for e in parked})
                if unknown:
                    fail(
                        f"--retry {', '.join(map(str, unknown))}: not a parked event in {where} "
                        f"(parked: {', '.join(str(e.id) for e in parked) or 'none'})",
                        ExitCode.USAGE,
                    )
                n = events.retry(ids)
                typer.echo(f"{n} parked event(s) put back in the queue", err=True)
                parked = events.parked()
            counts = events.counts()
        finally:
            events.close()
        typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()), err=True)
        write_records(
            [
                {
                    "id": e.id,
                    "topic": e.topic,
                    "entity": e.entity,
                    "record_id": e.record_id,
                    "attempts": e.attempts,
                    "last_error": e.last_error,
                }
                for e in parked
            ],
            output,
            title=f"parked events: {where}",
        )
