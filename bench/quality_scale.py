"""Benchmark the source-side quality checks (freshness, orphans) on a large catalogue.

    python bench/quality_scale.py [--products 200000] [--changes 10000] [--sample 20000]

Seeds the synthetic catalogue of ``bench/bench_detect.py``, records every product as
processed (a first detection, committed without tagging), then makes a day of
``--changes`` changes and detects them (the run whose quality is checked). Measured in
the same run, on the same state:

* ``every_document``: freshness and orphans reading every document of the source
  through the mapping (``ENRICHMENT_QUALITY_SOURCE_SAMPLE=0``);
* ``sampled``: the same checks on the run's own SKUs plus a random ``--sample`` of the
  source's and of the platform's (the default on catalogues larger than the sample),
  the drawing of the sample included.

Prints one JSON line: seconds per variant and check, SKUs judged, stale SKUs found (the
day's changes are detected but not committed, so they are stale in both variants: the
sampled check must find every one of them that it judges; it judges all of the run's).
Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_detect  # noqa: E402


def checks(conn, settings, upper, keys) -> dict:
    from enrichment.quality import data as qd

    started = time.perf_counter()
    rows, population = qd.freshness_rows(conn, settings, upper, keys)
    freshness = time.perf_counter() - started
    started = time.perf_counter()
    frame = qd.orphan_rows(conn, settings, [], keys)
    orphans = time.perf_counter() - started
    return {
        "freshness_seconds": round(freshness, 2),
        "orphans_seconds": round(orphans, 2),
        "documents_judged": population,
        "stale": sum(1 for r in rows if not r["fresh"]),
        "store_entries": len(frame),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=20_000)
    args = parser.parse_args()
    from scratch import scratch_database

    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.quality import data as qd
    from enrichment.quality import plan as qp

    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
        with scratch_database("quality") as url:
            settings = load_settings()
            bench_detect.first_and_daily(settings, args.products, args.changes / args.products)
            with db.connect(url) as conn:
                day = qp.get_run(conn.cursor(), settings.state_schema, bench_detect.DAILY_RUN)
                full = checks(conn, settings, day["upper_ts"], None)
                started = time.perf_counter()
                judged = qd.judged_keys(conn, settings, day["run_id"], args.sample)
                drawn = time.perf_counter() - started
                sampled = checks(conn, settings, day["upper_ts"], judged.keys if judged else None)
    sampled["draw_seconds"] = round(drawn, 2)
    sampled["skus_judged"] = len(judged.keys) if judged else None
    total_full = full["freshness_seconds"] + full["orphans_seconds"]
    total_sampled = sampled["freshness_seconds"] + sampled["orphans_seconds"] + drawn
    result = {
        "products": args.products,
        "changes": args.changes,
        "sample": args.sample,
        "every_document": full,
        "sampled": sampled,
        "speedup": round(total_full / total_sampled, 1) if total_sampled else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
