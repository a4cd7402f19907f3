"""Benchmark the shard worker without CLIP: products/s per step on the demo catalogue.

Seeds ``--products`` demo products (rendered photos, 1274-px-class JPEG decode is not
involved: the demo renders 320 px PNG/JPEG), detects them as one run, and processes the
shards in this process, reporting the worker's own per-step seconds. Variants compared in
the same run on the same change set (``--force`` re-processing):

* ``cold_reduced_decode``: a fresh worker; JPEGs decoded at a reduced DCT scale (longer
  side 512, the default);
* ``cold_full_decode``: a fresh worker decoding every image at full size (text vectors
  exist by then, so compare the ``tag`` step);
* ``rerun_same_content``: the same shard again in a warm worker: image signals come from
  the in-process cache and text vectors are skipped by content hash.

Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.

    python bench/bench_worker.py [--products 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime


def run_variant(worker, run_id: str, shards: int) -> dict:
    started = time.perf_counter()
    steps: Counter = Counter()
    items = 0
    for shard in range(shards):
        result = worker.process(run_id, shard, force=True)
        steps.update(result["step_seconds"])
        items += result["counts"]["items"]
    seconds = time.perf_counter() - started
    return {
        "products_per_s": round(items / seconds, 1),
        "seconds": round(seconds, 2),
        "step_seconds": {k: round(v, 2) for k, v in steps.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=500)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-worker-")
    os.chmod(tmp, 0o755)  # the embedded server may run as its own system user
    os.environ.setdefault("ENRICHMENT_DATA_DIR", os.path.join(tmp, "data"))
    os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
    os.environ["ENRICHMENT_IMAGE_ROOT"] = os.path.join(tmp, "images")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from enrichment.cdc import install as cdc
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.db import schema
    from enrichment.demo import catalog as demo_catalog
    from enrichment.runs import lifecycle as runs
    from enrichment.runs import worker

    name = f"bench_worker_{uuid.uuid4().hex[:8]}"
    admin = db.server_url(load_settings())
    db.ensure_database(admin, name)
    os.environ["ENRICHMENT_DATABASE_URL"] = db.with_database(admin, name)
    settings = load_settings()
    try:
        schema.upgrade(settings.database_url, settings.state_schema)
        with db.connect(settings.database_url) as conn:
            demo_catalog.seed(conn, products=args.products, image_root=settings.image_root)
        cdc.install(settings)
        run = runs.detect("bench", datetime.now(UTC), settings=settings)
        out = {"products": args.products, "shards": run["shards"], "clip": False}

        def fresh_worker():
            fresh = worker.ShardWorker(settings, use_clip=False)
            fresh.embedder.embed([fresh.tagger.taxonomy_version])  # load models before timing
            return fresh

        out["cold_reduced_decode"] = run_variant(fresh_worker(), "bench", run["shards"])
        reduced = worker.DECODE_MAX_SIDE
        worker.DECODE_MAX_SIDE = None
        try:  # text vectors now exist: this variant's difference is the tag step
            full = fresh_worker()
            out["cold_full_decode"] = run_variant(full, "bench", run["shards"])
        finally:
            worker.DECODE_MAX_SIDE = reduced
        out["rerun_same_content"] = run_variant(full, "bench", run["shards"])
        out["tag_step_ratio_full_vs_reduced"] = round(
            out["cold_full_decode"]["step_seconds"]["tag"]
            / out["cold_reduced_decode"]["step_seconds"]["tag"],
            2,
        )
        print(json.dumps(out, indent=1))
    finally:
        with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
