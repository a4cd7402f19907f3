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
import shutil
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_detect  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--daily-changes", type=int, default=10_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-cdc-")
    os.chmod(tmp, 0o755)  # the embedded server may run as its own system user
    os.environ.setdefault("ENRICHMENT_DATA_DIR", os.path.join(tmp, "data"))
    os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.db import schema

    name = f"bench_cdc_{uuid.uuid4().hex[:8]}"
    admin = db.server_url(load_settings())
    db.ensure_database(admin, name)
    os.environ["ENRICHMENT_DATABASE_URL"] = db.with_database(admin, name)
    settings = load_settings()
    url = settings.database_url
    try:
        schema.upgrade(url, settings.state_schema)
        bench_detect.seed(url, args.products)
        run, first_seconds, peak = bench_detect.detect(settings, "bench-first")
        bench_detect.commit_without_processing(settings, run)
        expected = bench_detect.mutate(url, args.daily_changes / args.products)
        run, daily_seconds, _ = bench_detect.detect(settings, "bench-daily")
        found = dict(run["counts"])
        exact = (
            found.get("metadata_only") == expected["metadata_only"]
            and found.get("text_changed") == expected["text_changed"]
            and found.get("image_changed") == expected["image_changed"]
            and found.get("deleted") == expected["deleted_soft"] + expected["deleted_hard"]
        )
        result = {
            "products": args.products,
            "first_run": {"seconds": round(first_seconds, 2), "peak_rss_mb": round(peak / 2**20)},
            "daily_run": {
                "changes": sum(expected.values()),
                "seconds": round(daily_seconds, 2),
                "exact": exact,
            },
        }
        print(json.dumps(result))
    finally:
        with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
