"""The ``py-autotask`` application: the root command and the registration of every command group.

One module per command group (``_query``: query/get/count/entities/describe, ``_estimate``,
``_export``, ``_sync``, ``_bulk``, ``_simulator``, ``_profile``, ``_demo``, ``_webhooks``,
``_health``), all
on the shared options/output/exit-code module ``_shared``. Importing them is cheap: each command imports the
client and its feature (export, sync, bulk, the simulator) when it runs, so ``py-autotask --help``
loads typer and nothing else of weight.

Data goes to stdout (``-o table|json|jsonl|csv``), progress bars, logs and errors to stderr.
Credentials: flag > ``AUTOTASK_*`` environment variables > profile (``--profile NAME``).
Exit codes (:class:`~py_autotask._exitcodes.ExitCode`): 0 ok, 1 error, 2 usage, 3 auth, 4 rate
limit/budget, 5 partial failure, 6 database locked by another sync, 7 unhealthy (``health``).

Logs go to stderr: ``--log-format json`` makes each line one JSON object (errors and wait notices
included), ``--log-level`` sets what is shown; secrets are scrubbed from both formats.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .._exitcodes import ExitCode
from ._bulk import bulk_app, bulk_create_command, bulk_delete_command, bulk_update_command
from ._demo import demo
from ._estimate import estimate
from ._export import export
from ._graphql import graphql
from ._health import health
from ._plugins import plugins_app
from ._profile import profile_app
from ._query import count, describe, entities, get, query
from ._report import report
from ._shared import LOG_FORMAT, fail, secrets
from ._simulator import simulator_app
from ._sync import sync
from ._webhooks import webhooks_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="py-autotask",
    help=(
        "Query, export and sync Autotask PSA data; run a local Autotask simulator.\n\n"
        "Credentials: flag > AUTOTASK_USERNAME/AUTOTASK_SECRET/AUTOTASK_INTEGRATION_CODE/"
        "AUTOTASK_API_URL > profile (--profile NAME). Exit codes: 0 ok, 1 error, 2 usage, "
        "3 auth, 4 rate limit/budget, 5 partial failure, 6 database locked by another sync, "
        "7 unhealthy (health)."
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


_LOG_FORMATS = ("text", "json")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="Log lines on stderr as text (default) or json (one object per line: time, "
            "level, logger, message and extra fields; errors too). Secrets are scrubbed.",
        ),
    ] = "text",
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug | info | warning (default) | error | critical.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Query, export and sync Autotask PSA data; run a local Autotask simulator."""
    fmt = log_format.strip().lower()
    if fmt not in _LOG_FORMATS:
        fail(f"--log-format must be text or json, not {log_format!r}", ExitCode.USAGE)
    LOG_FORMAT[0] = fmt
    level = (log_level or "warning").strip().lower()
    if level not in _LOG_LEVELS:
        fail(
            f"--log-level must be one of {', '.join(_LOG_LEVELS)}, not {log_level!r}",
            ExitCode.USAGE,
        )
    if fmt == "json" or log_level is not None:
        from ..monitoring._logs import configure_logging

        configure_logging("json" if fmt == "json" else "text", level.upper(), secrets=secrets)


app.add_typer(profile_app, name="profile")
app.add_typer(simulator_app, name="simulator")
app.add_typer(bulk_app, name="bulk")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(plugins_app, name="plugins")
app.command("bulk-create")(bulk_create_command)
app.command("bulk-update")(bulk_update_command)
app.command("bulk-delete")(bulk_delete_command)
for _command in (
    query,
    get,
    count,
    entities,
    describe,
    estimate,
    sync,
    export,
    demo,
    health,
    graphql,
    report,
):
    app.command()(_command)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (``py-autotask``)."""
    try:
        app(args=argv, prog_name="py-autotask", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.ERROR)
    return ExitCode.OK
