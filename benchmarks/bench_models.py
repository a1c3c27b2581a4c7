"""Page validation speed of the generated Ticket model vs a bare pydantic model.

Target (issue 2): a 500-record Ticket page validates at >= 60,000 records/s on the 2-core machine
and within 1.5x of bare pydantic ``model_validate_json`` on an equivalent hand-written model
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime
from typing import Annotated, Any

from py_autotask_generated.entities._tickets import FIELDS
from py_autotask_generated.models import Ticket
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from benchmarks._util import best_of, report
from py_autotask._model import parse_page
from py_autotask._types import as_utc

_PLAIN = {"UtcDateTime": datetime}


def make_page(n: int = 500, seed: int = 7) -> bytes:
    """A real-shaped Tickets page: nulls everywhere, offset-less datetimes, UDFs, unknown fields."""
    rnd = random.Random(seed)
    items = []
    for i in range(n):
        rec: dict[str, Any] = {}
        for api, spec in FIELDS.items():
            if rnd.random() < 0.3 and api != "id":
                rec[api] = None
            elif spec.data_type in ("integer", "long", "short"):
                rec[api] = rnd.randint(1, 100_000)
            elif spec.data_type in ("double", "decimal", "float"):
                rec[api] = round(rnd.random() * 100, 2)
            elif spec.data_type == "boolean":
                rec[api] = rnd.random() < 0.5
            elif spec.data_type == "datetime":
                rec[api] = (
                    f"2024-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T13:10:35.{rnd.randint(100, 999)}"
                )
            else:
                size = rnd.randint(50, 800) if api == "description" else rnd.randint(3, 30)
                rec[api] = "".join(rnd.choice("abcdefghij klmnop") for _ in range(size))
        rec["id"] = i + 1
        rec["userDefinedFields"] = [
            {"name": f"UDF {k}", "value": str(rnd.randint(0, 9))} for k in range(3)
        ]
        rec["someFieldAddedLater"] = "tolerated"
        items.append(rec)
    body = {
        "items": items,
        "pageDetails": {"count": n, "requestCount": 500, "prevPageUrl": None, "nextPageUrl": None},
    }
    return json.dumps(body).encode()


def bare_equivalent(*, utc: bool) -> type[BaseModel]:
    """The same fields and aliases as the generated Ticket, hand-built on plain pydantic.

    ``utc=True`` gives it the same semantics (offset-less datetimes become aware UTC, through the
    same AfterValidator); ``utc=False`` is the naive-datetime floor, shown for transparency.
    """

    class Udf(BaseModel):
        name: str | None = None
        value: str | None = None

    fields: dict[str, Any] = {}
    for name, info in Ticket.model_fields.items():
        ann = info.annotation
        text = repr(ann)
        if "datetime" in text:
            ann = (Annotated[datetime, AfterValidator(as_utc)] if utc else datetime) | None
        elif "UserDefinedField" in text:
            ann = list[Udf] | None
        fields[name] = (ann, Field(None, alias=info.alias))
    record = create_model(  # type: ignore[call-overload]
        "BareTicket", __config__=ConfigDict(extra="allow", populate_by_name=True), **fields
    )
    return create_model("BarePage", items=(list[record], ...), pageDetails=(dict[str, Any], ...))  # type: ignore[call-overload,no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    raw = make_page()
    repeat = 3 if args.smoke else 15
    page = parse_page(Ticket, raw)
    assert (len(page.items) == 500 and page.items[0].create_date is None) or page.items[
        0
    ].create_date.tzinfo
    bare = bare_equivalent(utc=True)
    naive = bare_equivalent(utc=False)
    t_gen = best_of(lambda: parse_page(Ticket, raw), repeat)
    t_bare = best_of(lambda: bare.model_validate_json(raw), repeat)
    t_naive = best_of(lambda: naive.model_validate_json(raw), repeat)
    print(
        f"== bench_models: 500-record Tickets page ({len(raw) / 500:,.0f} bytes/record, {len(FIELDS)} fields), whole-page model_validate_json"
    )
    report("generated Ticket page", 500 / t_gen, "records/s", ">= 60,000", 500 / t_gen >= 60_000)
    report("hand-built pydantic, same UTC semantics (same run)", 500 / t_bare, "records/s")
    report("hand-built pydantic, naive datetimes (same run)", 500 / t_naive, "records/s")
    report(
        "generated / hand-built (same semantics) time",
        t_gen / t_bare,
        "x",
        "<= 1.5",
        t_gen / t_bare <= 1.5,
    )
    report("generated / hand-built (naive datetimes) time", t_gen / t_naive, "x")


if __name__ == "__main__":
    main()
