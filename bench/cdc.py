"""Benchmark change detection: a first run over the catalogue, then a day of changes.

    python bench/cdc.py --products N [--daily-changes 10000]

A thin wrapper over ``bench/bench_detect.py`` (same synthetic catalogue, same mix of
changes) printing one JSON line, the contract::

    {"products", "first_run": {"seconds", "peak_rss_mb"},
     "daily_run": {"changes", "seconds", "exact"}}

``first_run``: ``runs.detect`` when everything is new, and this process's peak resident
memory afterwards; ``daily_run``: the next detection after ``--daily-changes`` changes
and whether it found exactly them, class by class. It measures whatever change capture
the platform is configured with. Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a
throw-away embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_detect  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--daily-changes", type=int, default=10_000)
    args = parser.parse_args()
    from scratch import scratch_database

    from enrichment.config import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-cdc-") as tmp:
        os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
        with scratch_database("cdc"):
            first, daily = bench_detect.first_and_daily(
                load_settings(), args.products, args.daily_changes / args.products
            )
    print(json.dumps({"first_run": first, "daily_run": daily}, default=str), file=sys.stderr)
    result = {
        "products": args.products,
        "first_run": {"seconds": first["seconds"], "peak_rss_mb": first["process_peak_rss_mb"]},
        "daily_run": {
            "changes": daily["changed"],
            "seconds": daily["seconds"],
            "exact": daily["exact"],
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
