"""``health``: the client's health checks for cron, Kubernetes probes and CI.

Prints every check (``-o table`` or ``-o json``) and exits 0 when the overall status is ok (or
degraded, unless ``--fail-on degraded``), 7 (:attr:`~py_autotask._exitcodes.ExitCode.UNHEALTHY`)
otherwise. Missing credentials exit 3, bad options 2, as everywhere.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import Annotated

import typer

from .._exitcodes import ExitCode
from ._shared import Credentials, errors, fail, with_credentials, write_records

__all__ = ["health"]


class HealthFormat(str, enum.Enum):
    table = "table"
    json = "json"


class FailOn(str, enum.Enum):
    unhealthy = "unhealthy"
    degraded = "degraded"


@with_credentials
def health(
    output: Annotated[
        HealthFormat, typer.Option("--output-format", "-o", help="table | json")
    ] = HealthFormat.table,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Exit 7 when the overall status is this or worse: unhealthy (default) or "
            "degraded.",
        ),
    ] = FailOn.unhealthy,
    budget_degraded_at: Annotated[
        float,
        typer.Option(
            "--budget-degraded-at",
            help="Fraction of the hourly request budget used above which the budget check is "
            "degraded (0-1].",
        ),
    ] = 0.8,
    webhooks: Annotated[
        bool,
        typer.Option(
            "--webhooks", help="Also list deactivated webhooks (one query per webhook entity)."
        ),
    ] = False,
    *,
    credentials: Credentials,
) -> None:
    """Check the API (reachable, authenticated), zone, hourly budget, requests in flight,
    circuit breakers, cache and limiter backends. Exit 0 ok, 7 unhealthy (or degraded with
    --fail-on degraded), 2 bad option, 3 missing credentials. Costs one ThresholdInformation
    request (plus one zoneInformation lookup without --api-url)."""
    if not 0 < budget_degraded_at <= 1:
        fail(
            f"--budget-degraded-at must be a fraction above 0 and at most 1, not "
            f"{budget_degraded_at!r}",
            ExitCode.USAGE,
        )
    with errors():
        from ..monitoring import HealthMonitor

        client = credentials.client()
        with client:
            status = HealthMonitor(
                client, budget_degraded_at=budget_degraded_at, webhooks=webhooks
            ).check()
    if output is HealthFormat.json:
        sys.stdout.write(json.dumps(status.to_dict(), indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        rows = [
            {
                "check": c.name,
                "status": c.status,
                "latency_ms": None if c.latency is None else round(c.latency * 1000, 1),
                "detail": c.detail,
            }
            for c in status.checks
        ]
        write_records(rows, "table", title=f"health: {status.status}")
    failing = ("unhealthy", "degraded") if fail_on is FailOn.degraded else ("unhealthy",)
    if status.status in failing:
        raise typer.Exit(ExitCode.UNHEALTHY)
