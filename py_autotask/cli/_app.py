"""The ``py-autotask`` application: the root command and the registration of every command group.

One module per command group (``_query``: query/get/count/entities/describe, ``_estimate``,
``_export``, ``_sync``, ``_bulk``, ``_simulator``, ``_profile``, ``_demo``, ``_webhooks``), all
on the shared options/output/exit-code module ``_shared``. Importing them is cheap: each command imports the
client and its feature (export, sync, bulk, the simulator) when it runs, so ``py-autotask --help``
loads typer and nothing else of weight.

Data goes to stdout (``-o table|json|jsonl|csv``), progress bars, logs and errors to stderr.
Credentials: flag > ``AUTOTASK_*`` environment variables > profile (``--profile NAME``).
Exit codes (:class:`~py_autotask._exitcodes.ExitCode`): 0 ok, 1 error, 2 usage, 3 auth, 4 rate
limit/budget, 5 partial failure, 6 database locked by another sync.
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
from ._plugins import plugins_app
from ._profile import profile_app
from ._query import count, describe, entities, get, query
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


app.add_typer(profile_app, name="profile")
app.add_typer(simulator_app, name="simulator")
app.add_typer(bulk_app, name="bulk")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(plugins_app, name="plugins")
app.command("bulk-create")(bulk_create_command)
app.command("bulk-update")(bulk_update_command)
app.command("bulk-delete")(bulk_delete_command)
for _command in (query, get, count, entities, describe, estimate, sync, export, demo):
    app.command()(_command)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (``py-autotask``)."""
    try:
        app(args=argv, prog_name="py-autotask", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.ERROR)
    return ExitCode.OK
