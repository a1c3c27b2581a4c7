"""Command line for the codegen pipeline:
``python -m codegen {import-sources,bootstrap,pull,render,check-drift,diff}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_import = sub.add_parser(
        "import-sources",
        help="copy the raw inputs codegen is built from into schemas/source/ (with a manifest)",
    )
    p_import.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        required=True,
        help="folder holding the reference data files (each file's origin is in codegen/sources.py)",
    )
    p_import.add_argument("--out", type=Path, default=ROOT / "schemas" / "source")

    p_boot = sub.add_parser("bootstrap", help="build schemas/ from schemas/source/")
    p_boot.add_argument("--data", type=Path, default=ROOT / "schemas" / "source")
    p_boot.add_argument("--swagger", default="autotask-swagger-v1-2026-06.json")
    p_boot.add_argument("--out", type=Path, default=ROOT / "schemas")

    p_pull = sub.add_parser(
        "pull", help="fetch metadata from a live API or a base URL into schemas/"
    )
    p_pull.add_argument(
        "--base-url", default=None, help="API root, e.g. http://127.0.0.1:8080/ATServicesRest/V1.0/"
    )
    p_pull.add_argument("--out", type=Path, default=ROOT / "schemas")
    p_pull.add_argument("--entities", nargs="*", default=None, help="limit to these collections")
    p_pull.add_argument("--concurrency", type=int, default=3)
    p_pull.add_argument(
        "--keep-tenant-labels",
        action="store_true",
        help="keep the tenant's own picklist labels (default: neutral labels)",
    )

    p_render = sub.add_parser("render", help="render generated/ from schemas/ and templates/")
    p_render.add_argument("--schemas", type=Path, default=ROOT / "schemas")
    p_render.add_argument("--out", type=Path, default=ROOT / "generated")

    p_drift = sub.add_parser(
        "check-drift", help="fail when generated/ does not match schemas/ + templates/"
    )
    p_drift.add_argument("--schemas", type=Path, default=ROOT / "schemas")
    p_drift.add_argument("--generated", type=Path, default=ROOT / "generated")

    p_diff = sub.add_parser(
        "diff", help="print the drift report between two schemas/ trees or Swagger files"
    )
    p_diff.add_argument("old", type=Path)
    p_diff.add_argument("new", type=Path)
    p_diff.add_argument("--json", action="store_true", help="print the report as JSON")

    args = parser.parse_args(argv)
    if args.command == "import-sources":
        from codegen.sources import import_sources

        changed = import_sources(args.from_dir, args.out)
        print(f"schemas/source: {len(changed)} file(s) changed under {args.out}")
        return 0
    if args.command == "bootstrap":
        from codegen.bootstrap import bootstrap

        changed = bootstrap(args.data, args.out, args.swagger)
        print(f"schemas: {len(changed)} file(s) changed under {args.out}")
        return 0
    if args.command == "pull":
        from codegen.pull import run_pull

        return run_pull(args)
    if args.command == "render":
        from codegen.render import render

        changed = render(args.schemas, args.out)
        print(f"generated: {len(changed)} file(s) changed under {args.out}")
        return 0
    if args.command == "check-drift":
        from codegen.render import check_drift

        return check_drift(args.schemas, args.generated)
    if args.command == "diff":
        from codegen.drift import run_diff

        return run_diff(args.old, args.new, as_json=args.json)
    return 2


if __name__ == "__main__":
    sys.exit(main())
