"""``python -m enrichment demo seed|mutate``: the demo source catalogue from the command line.

``demo seed`` creates and fills the source catalogue schema (``ENRICHMENT_SOURCE_SCHEMA``)
with rendered product photos under ``ENRICHMENT_IMAGE_ROOT``; ``demo mutate`` applies
one day of catalogue changes. The platform's own schema is ``db upgrade``'s business.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from enrichment.cli.main import command_group


def register(subparsers) -> None:
    """Add the ``demo`` command group to the CLI."""
    sub = command_group(
        subparsers,
        "demo",
        help="seed or change the demo source catalogue",
        description="The demo source catalogue (products, images, ground truth).",
        dest="demo_command",
        metavar="SUBCOMMAND",
    )
    _register_seed(sub)
    _register_mutate(sub)
    _register_run(sub)


def _register_seed(sub) -> None:
    seed = sub.add_parser(
        "seed",
        help="create and fill the demo catalogue",
        description="Create the source catalogue schema and fill it with products whose "
        "photos are rendered with known ground truth.",
    )
    seed.add_argument("--products", type=int, default=2000, help="products to create")
    seed.add_argument("--seed", type=int, default=42, help="random seed (reproducible)")
    seed.add_argument(
        "--reset",
        action="store_true",
        help="drop an existing catalogue (and its demo images) first",
    )
    seed.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes rendering images (default: up to 2)",
    )
    seed.add_argument("--json", action="store_true", help="print the summary as JSON")
    seed.set_defaults(func=cmd_seed)


def _register_mutate(sub) -> None:
    mutate = sub.add_parser(
        "mutate",
        help="apply one day of catalogue changes",
        description="Price/stock updates, text edits, new photos, new products, soft and "
        "hard deletes, like one day of a real shop.",
    )
    mutate.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    mutate.add_argument(
        "--day-fraction",
        type=float,
        default=1.0,
        help="scale the day's change rates (e.g. 0.25 for six hours)",
    )
    mutate.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON, with the affected SKUs per kind",
    )
    mutate.set_defaults(func=cmd_mutate)


def _register_run(sub) -> None:
    run = sub.add_parser(
        "run",
        help="the whole demo: seed, two Airflow runs around one day of changes",
        description="Reset the platform, seed the catalogue, run catalog_incremental through "
        "Airflow, mutate one day, run it again, print both summaries and status.",
    )
    run.add_argument("--products", type=int, default=2000, help="products to seed")
    run.add_argument("--seed", type=int, default=42, help="random seed (reproducible)")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the demo end to end; exit 1 when one of its promises is not kept."""
    from enrichment.demo.run import run_demo

    result = run_demo(args.products, seed=args.seed)
    return 0 if all(result["checks"].values()) else 1


def cmd_seed(args: argparse.Namespace) -> int:
    """Seed the demo catalogue and print a summary."""
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.demo import catalog as demo_catalog

    settings = load_settings()
    try:
        with db.connect(db.database_url(settings)) as conn:
            result = demo_catalog.seed(
                conn,
                products=args.products,
                image_root=settings.image_root,
                schema=settings.source_schema,
                seed=args.seed,
                reset=args.reset,
                workers=args.workers,
            )
    except demo_catalog.CatalogExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    langs = ", ".join(f"{k}: {v}" for k, v in sorted(result["languages"].items()))
    print(
        f"Seeded {result['products']} products into schema {result['schema']} "
        f"({langs}) in {result['seconds']} s"
    )
    print(
        f"  images: {result['images']} under {settings.image_root / demo_catalog.IMAGE_DIR} "
        f"({result['images_per_second']} images/s)"
    )
    cats = ", ".join(f"{k} {v}" for k, v in sorted(result["categories"].items()))
    print(f"  categories: {cats}")
    broken = result["broken_images"]
    print(
        f"  deliberately broken primary images: {len(broken)}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(broken.items())) + ")" if broken else "")
    )
    return 0


def cmd_mutate(args: argparse.Namespace) -> int:
    """Apply one day of changes and print what changed."""
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.demo import catalog as demo_catalog

    settings = load_settings()
    try:
        with db.connect(db.database_url(settings)) as conn:
            result = demo_catalog.mutate(
                conn,
                image_root=settings.image_root,
                schema=settings.source_schema,
                seed=args.seed,
                day_fraction=args.day_fraction,
            )
    except demo_catalog.CatalogMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(
        f"Applied one day of changes (seed {result['seed']}, day fraction "
        f"{result['day_fraction']}): active products {result['active_before']} -> "
        f"{result['active_after']}"
    )
    for kind in demo_catalog.MUTATION_KINDS:
        sample = result["skus"][kind][:5]
        more = " ..." if len(result["skus"][kind]) > len(sample) else ""
        print(f"  {kind:<12} {result['counts'][kind]:>5}  {' '.join(sample)}{more}")
    print(f"  between {result['started_at']} and {result['finished_at']}")
    return 0
