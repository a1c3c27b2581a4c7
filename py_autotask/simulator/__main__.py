"""``python -m py_autotask.simulator serve --port 8080 --seed 42 --profile tiny [--messy 0.05]``."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Sequence

import uvicorn

from ._app import create_app
from ._config import SimulatorConfig
from ._faults import FaultRule
from ._state import SimulatorState

__all__ = ["main", "parse_latency"]


def parse_latency(spec: str) -> dict[str, object]:
    """``200ms`` | ``0.2`` (fixed) | ``uniform:100ms,300ms`` | ``lognormal:250ms,0.3`` -> latency effect."""

    def seconds(text: str) -> float:
        t = text.strip().lower()
        if t.endswith("ms"):
            return float(t[:-2]) / 1000.0
        if t.endswith("s"):
            return float(t[:-1])
        return float(t)

    kind, _, rest = spec.partition(":")
    if not rest:
        return {"type": "latency", "dist": "fixed", "seconds": seconds(kind)}
    args = [a for a in rest.split(",") if a]
    if kind == "uniform" and len(args) == 2:
        return {
            "type": "latency",
            "dist": "uniform",
            "low": seconds(args[0]),
            "high": seconds(args[1]),
        }
    if kind == "lognormal" and len(args) in (1, 2):
        sigma = float(args[1]) if len(args) == 2 else 0.3
        return {"type": "latency", "dist": "lognormal", "median": seconds(args[0]), "sigma": sigma}
    if kind == "fixed" and len(args) == 1:
        return {"type": "latency", "dist": "fixed", "seconds": seconds(args[0])}
    raise ValueError(f"invalid --latency {spec!r}")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m py_autotask.simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--profile", default="tiny", help="tiny | demo | bench | none")
    serve.add_argument("--schemas-dir", default=None)
    serve.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="ENTITY=N",
        help="override a seed count, e.g. --count Tickets=1000000 (repeatable)",
    )
    serve.add_argument("--db", default=None, help="SQLite file (default: a temporary file)")
    serve.add_argument(
        "--latency", default=None, help="200ms | uniform:100ms,300ms | lognormal:250ms,0.3"
    )
    serve.add_argument("--thread-limit", type=int, default=3)
    serve.add_argument("--hourly-limit", type=int, default=10_000)
    serve.add_argument("--time-scale", type=float, default=1.0)
    serve.add_argument("--next-page-method", choices=["same", "any"], default="same")
    serve.add_argument(
        "--messy",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="fraction of seeded records (0..1) that carry off-type values as real tenants send "
        "them (e.g. 0.05; docs/simulator.md 'Messy data')",
    )
    hooks = serve.add_argument_group("webhook callouts (docs/simulator.md)")
    hooks.add_argument(
        "--webhook-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="virtual seconds added before each event's first delivery attempt",
    )
    for flag, what in (
        ("--webhook-duplicate", "delivered events sent a second time"),
        ("--webhook-out-of-order", "events sent after their successor"),
        ("--webhook-drop", "events lost without any attempt"),
    ):
        hooks.add_argument(flag, type=_fraction, default=0.0, metavar="FRACTION", help=what)
    hooks.add_argument(
        "--webhook-sign",
        choices=["dotnet", "raw"],
        default="dotnet",
        help="X-Hook-Signature over the body in .NET's escaping (as Autotask) or as sent",
    )
    hooks.add_argument(
        "--webhook-ci-entity-type",
        choices=["ConfigurationItem", "InstalledProduct"],
        default="ConfigurationItem",
        help="EntityType of configuration item callouts",
    )
    hooks.add_argument(
        "--no-webhook-delivery",
        action="store_true",
        help="compute and journal callouts without sending them",
    )
    serve.add_argument("--log-level", default="warning")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    config = SimulatorConfig(
        thread_limit=args.thread_limit,
        hourly_threshold=args.hourly_limit,
        time_scale=args.time_scale,
        next_page_method=args.next_page_method,
        db_path=args.db,
        messy=args.messy,
        webhook_delay_seconds=args.webhook_delay,
        webhook_duplicate=args.webhook_duplicate,
        webhook_out_of_order=args.webhook_out_of_order,
        webhook_drop=args.webhook_drop,
        webhook_sign=args.webhook_sign,
        webhook_ci_entity_type=args.webhook_ci_entity_type,
        webhook_delivery=not args.no_webhook_delivery,
    )
    profile = None if str(args.profile).lower() == "none" else args.profile
    counts: dict[str, int] = {}
    for item in args.count:
        name, _, number = str(item).partition("=")
        counts[name.strip()] = int(number)
    state = SimulatorState(
        args.schemas_dir, config, seed=args.seed, profile=profile, counts=counts or None
    )
    if args.latency:
        state.faults.add(
            FaultRule.from_dict({"effect": parse_latency(args.latency), "id": "cli-latency"})
        )
    messy = f" messy={args.messy}" if args.messy else ""
    print(f"seeding profile={profile} seed={args.seed}{messy} ...", file=sys.stderr, flush=True)
    state.initial_load()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    # listen before the URL is printed: a client that reads it and connects at once is queued
    # until uvicorn accepts, instead of refused (uvicorn listens again on this socket: harmless)
    sock.listen(2048)
    port = sock.getsockname()[1]
    user = config.users[0]
    print(f"Autotask simulator: http://{args.host}:{port}/ATServicesRest/V1.0/", flush=True)
    print(f"  UserName: {user.username}", flush=True)
    print(f"  Secret: {user.secret}", flush=True)
    print(f"  ApiIntegrationCode: {config.integration_codes[0]}", flush=True)
    print(f"  control plane: http://{args.host}:{port}/_sim/state", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state), log_level=args.log_level, lifespan="off", access_log=False
        )
    )
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        state.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
