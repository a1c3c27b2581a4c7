"""``estimate``: what reading a collection costs, before running it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._shared import (
    Credentials,
    FilterOpt,
    OutputFormat,
    OutputOpt,
    check_against_metadata,
    entity_spec,
    errors,
    with_credentials,
    write_records,
)

__all__ = ["estimate"]


@with_credentials
def estimate(
    entity: Annotated[str, typer.Argument(help="Collection, e.g. Tickets.")],
    filter: FilterOpt = None,
    output: OutputOpt = OutputFormat.table,
    *,
    credentials: Credentials,
) -> None:
    """What reading every matching record costs before running it: records, pages, requests,
    time one page at a time (query/sync) and with 3 partitions (export), and the tenant's hourly
    usage before and after (two requests are made: ThresholdInformation and the count)."""
    from ._filterlang import parse_expression

    with errors():
        spec = entity_spec(entity, "count")
        parsed = parse_expression(filter)
        client = credentials.client()
        with client:
            check_against_metadata(client, [spec], parsed)
            # the tenant's usage now (one ThresholdInformation request): the estimate's usage
            # figures and the latency steps at 50%/75% depend on it
            client.health()
            seq = client.estimate(spec, filter=parsed.items)
            # the same read as an export does it (3 id-range partitions), from the same count
            par = client.estimate(
                spec,
                filter=parsed.items,
                records=seq.records,
                latency=seq.latency_per_request,
                concurrency=3,
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
