"""``simulator serve``: the local Autotask simulator in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from .._exitcodes import ExitCode
from ._shared import fail

__all__ = ["simulator_app"]

simulator_app = typer.Typer(help="The local Autotask simulator.")


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
    messy: Annotated[
        float,
        typer.Option(
            "--messy",
            help="Fraction (0-1) of seeded records carrying off-type values as real tenants "
            "send them (docs/simulator.md, Messy data).",
        ),
    ] = 0.0,
    webhook_delay: Annotated[
        float,
        typer.Option(
            "--webhook-delay", help="Virtual seconds before each callout's first attempt."
        ),
    ] = 0.0,
    webhook_duplicate: Annotated[
        float,
        typer.Option("--webhook-duplicate", help="Fraction of callouts sent twice."),
    ] = 0.0,
    webhook_out_of_order: Annotated[
        float,
        typer.Option(
            "--webhook-out-of-order", help="Fraction of callouts sent after their successor."
        ),
    ] = 0.0,
    webhook_drop: Annotated[
        float, typer.Option("--webhook-drop", help="Fraction of callouts lost.")
    ] = 0.0,
    webhook_sign: Annotated[
        str,
        typer.Option(
            "--webhook-sign", help="dotnet (as Autotask) | raw: what X-Hook-Signature signs."
        ),
    ] = "dotnet",
    webhook_ci_entity_type: Annotated[
        str,
        typer.Option(
            "--webhook-ci-entity-type",
            help="ConfigurationItem | InstalledProduct: EntityType of CI callouts.",
        ),
    ] = "ConfigurationItem",
    no_webhook_delivery: Annotated[
        bool,
        typer.Option("--no-webhook-delivery", help="Journal callouts without sending them."),
    ] = False,
) -> None:
    """Run the Autotask simulator in the foreground (Ctrl-C stops it)."""
    try:
        from ..simulator.__main__ import main as serve_main
    except ImportError as exc:
        fail(str(exc), ExitCode.ERROR)
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
    if messy:
        argv += ["--messy", str(messy)]
    argv += [
        *("--webhook-delay", str(webhook_delay)),
        *("--webhook-duplicate", str(webhook_duplicate)),
        *("--webhook-out-of-order", str(webhook_out_of_order)),
        *("--webhook-drop", str(webhook_drop)),
        *("--webhook-sign", webhook_sign),
        *("--webhook-ci-entity-type", webhook_ci_entity_type),
    ]
    if no_webhook_delivery:
        argv.append("--no-webhook-delivery")
    if latency:
        argv += ["--latency", latency]
    if db:
        argv += ["--db", db]
    for item in count or []:
        argv += ["--count", item]
    try:
        code = serve_main(argv)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    raise typer.Exit(code)
