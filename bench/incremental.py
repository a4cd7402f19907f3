"""Benchmark a full run against a small day: the same catalogue, the real run path.

    python bench/incremental.py --products N --changed-percent 1

Seeds ``N`` demo products (rendered photos), then, in this process, times:

* ``full_seconds``: the first run over the whole catalogue (everything is new);
* ``incremental_seconds``: the next run after one simulated day that changed
  ``--changed-percent`` of the products, with the demo's mix of change kinds (price and
  stock, text, photo, new, soft and hard deletes, in :data:`DEFAULT_RATES` proportions).

Each run is what the daily DAG does: detect, process every shard with a fresh shard
worker (models are loaded when a shard needs them, as in a new task process), commit. CLIP
is off; text vectors use the bundled MiniLM. Prints one JSON line on stdout, the
contract ``{"products", "changed", "full_seconds", "incremental_seconds"}``, and the
per-step seconds and models loaded of both runs on stderr.
Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime


def timed_run(settings, run_id: str) -> dict:
    """Detect, process every shard with a fresh worker, commit; seconds and step totals."""
    from enrichment.runs import lifecycle as runs
    from enrichment.runs.worker import ShardWorker

    started = time.perf_counter()
    run = runs.detect(run_id, datetime.now(UTC), settings=settings)
    detect_seconds = time.perf_counter() - started
    worker = ShardWorker(settings, use_clip=False)
    steps: Counter = Counter()
    for shard in range(run["shards"]):
        steps.update(worker.process(run_id, shard)["step_seconds"])
    worker.close()
    runs.commit(run_id, settings=settings)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "detect_seconds": round(detect_seconds, 2),
        "shards": run["shards"],
        "changes": run["counts"],
        "step_seconds": {k: round(v, 2) for k, v in steps.items()},
        "models_loaded": dict(worker.models_loaded),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.pop("ENRICHMENT_CLIP_MODEL", None)
    from scratch import scratch_database

    from enrichment.cdc import install as cdc
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.demo import catalog as demo_catalog

    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        os.chmod(tmp, 0o755)  # the embedded server may run as its own system user
        os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
        os.environ["ENRICHMENT_IMAGE_ROOT"] = os.path.join(tmp, "images")
        with scratch_database("incremental") as url:
            settings = load_settings()
            with db.connect(url) as conn:
                demo_catalog.seed(
                    conn, products=args.products, image_root=settings.image_root, workers=2
                )
                conn.commit()
            cdc.install(settings)
            full = timed_run(settings, "full")
            share = args.changed_percent / 100 / sum(demo_catalog.DEFAULT_RATES.values())
            rates = {k: v * share for k, v in demo_catalog.DEFAULT_RATES.items()}
            with db.connect(url) as conn:
                day = demo_catalog.mutate(
                    conn, image_root=settings.image_root, seed=args.seed, rates=rates
                )
            incremental = timed_run(settings, "day1")
    print(json.dumps({"full": full, "incremental": incremental}), file=sys.stderr)
    print(
        json.dumps(
            {
                "products": args.products,
                "changed": sum(day["counts"].values()),
                "full_seconds": full["seconds"],
                "incremental_seconds": incremental["seconds"],
            }
        )
    )


if __name__ == "__main__":
    main()
