"""Benchmark ``tag-images`` end to end, without and with CLIP, against its floors.

    python bench/tagging.py --manifest M.csv [--clip-limit 96] [--workers N]

``M.csv`` is a ``tag-images`` input (``sku,image,title,description``; relative image paths
resolve against its folder). Prints one JSON line on stdout, the contract:

* ``images``: rows of the manifest tagged without CLIP;
* ``e2e_images_per_s``: the ``tag-images`` pipeline without CLIP (worker processes, one
  per core unless ``--workers``), from CSV rows to tags, the workers' fork server started
  where ``tag-images`` starts it (before building the tagger, which is not timed);
  ``cpu_per_wall``: CPU seconds of this process, the forkserver and the worker processes
  (their start-up included) per wall second of that run;
* ``clip_e2e_images_per_s``: the same pipeline with CLIP on the first ``--clip-limit``
  rows (the next batch decoded and prepared while the model runs this one);
* ``clip_model_only_images_per_s``: the image tower alone on the same photos, already
  decoded and turned into tensors (the ceiling the pipeline is held against).

CLIP is the ViT-B/32 architecture of transformers' ``CLIPConfig`` defaults with random
weights (no pretrained weights can be downloaded here), written to a temporary directory
and loaded through the platform's loader: the compute is real, the tags are not.

One JSON line on stderr gives the variants measured in the same run (the serial pipeline
in one process; the floor: reduced-scale JPEG decode + 128-px resize + a numpy colour
histogram in as many processes) and the ratios between them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    """CPU seconds of this process (worker processes report theirs per task)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _helper_cpu() -> tuple[float, float]:
    """CPU seconds of this process's live child processes (the forkserver the workers fork
    from: its own imports) and of the children they have reaped (the finished workers,
    start-up included)."""
    import psutil

    own = reaped = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.Error:
            continue
        own += t.user + t.system
        reaped += t.children_user + t.children_system
    return own, reaped


def timed_pipeline(rows, tagger, policy, batch_size, workers) -> dict:
    """Images/s and CPU/wall of the tag-images pipeline over ``rows``: CPU of this
    process, the forkserver and the worker processes (start-up included)."""
    from enrichment.cli.tagging import tag_rows_pipelined

    stats: dict = {}
    helpers = _helper_cpu()
    cpu, started = _cpu(), time.perf_counter()
    tagged = list(tag_rows_pipelined(rows, tagger, policy, batch_size, workers, stats))
    wall = time.perf_counter() - started
    time.sleep(0.2)  # let the forkserver reap the finished workers
    own, reaped = (after - before for after, before in zip(_helper_cpu(), helpers, strict=True))
    workers_cpu = max(reaped, stats.get("worker_cpu_seconds", 0.0))
    cpu = _cpu() - cpu + own + workers_cpu
    errors = sum(1 for t in tagged if t.rejection is not None or t.tagging_error)
    return {
        "images_per_s": round(len(rows) / wall, 1),
        "cpu_per_wall": round(cpu / wall, 2),
        "seconds": round(wall, 2),
        "errors": errors,
    }


def _floor_one(path: str):
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (128, 128))
        small = im.convert("RGB").resize((128, 128), Image.Resampling.BILINEAR)
    q = np.asarray(small, dtype=np.uint8) >> 4
    return np.bincount((q[..., 0].astype(np.int32) << 8 | q[..., 1] << 4 | q[..., 2]).ravel())


def floor(paths: list[str], workers: int) -> float:
    """Images/s of decode at 1/8 scale + 128-px resize + a colour histogram."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_floor_one, paths[:8]))  # start the processes
        started = time.perf_counter()
        list(pool.map(_floor_one, paths, chunksize=16))
        return round(len(paths) / (time.perf_counter() - started), 1)


def clip_variants(rows, policy, batch_size: int, repeats: int) -> dict:
    """CLIP end to end vs model only, interleaved ``repeats`` times (best of each)."""
    from enrichment.images.intake import fetch_image
    from enrichment.tagging.engine import Tagger
    from enrichment.tagging.pipeline import decode_sides
    from enrichment.tagging.signals.clip import ClipModel
    from enrichment.tagging.taxonomy import Taxonomy
    from tests.fakes.tiny_clip import build_tiny_clip

    taxonomy = Taxonomy.load()
    with tempfile.TemporaryDirectory() as tmp:
        clip = ClipModel.load(
            str(build_tiny_clip(Path(tmp) / "clip", full_vision=True)), batch_size=batch_size
        )
    clip.prompt_bank(taxonomy)
    images = [fetch_image(r["image"], policy, **decode_sides(True)).image for r in rows]
    pixels = clip.preprocess(images)
    clip.embed_pixels(pixels[:batch_size])  # warm-up
    e2e, model_only = [], []
    for _ in range(repeats):
        clip._embeddings.clear()
        tagger = Tagger(taxonomy, clip)
        e2e.append(timed_pipeline(rows, tagger, policy, batch_size, 1)["images_per_s"])
        started = time.perf_counter()
        clip.embed_pixels(pixels)
        model_only.append(round(len(pixels) / (time.perf_counter() - started), 1))
    return {"e2e": e2e, "model_only": model_only, "device": clip.device}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--clip-limit", type=int, default=96, help="rows tagged with CLIP")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved CLIP repeats")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from enrichment.cli.tagging import _read_csv
    from enrichment.images.policy import ImagePolicy
    from enrichment.tagging.engine import Tagger
    from enrichment.tagging.pipeline import default_workers, start_worker_server
    from enrichment.tagging.taxonomy import Taxonomy

    rows = _read_csv(args.manifest, ("sku", "image"))
    base = args.manifest.resolve().parent
    policy = ImagePolicy(base_dir=base)
    workers = args.workers or default_workers()
    if workers > 1:  # where tag-images starts it: its imports overlap building the tagger
        start_worker_server()
    tagger = Tagger(Taxonomy.load())
    pooled = timed_pipeline(rows, tagger, policy, args.batch_size, workers)
    serial = timed_pipeline(rows, Tagger(Taxonomy.load()), policy, args.batch_size, 1)
    paths = [str(base / r["image"]) for r in rows if r.get("image")]
    floors = {"one_process": floor(paths, 1), f"{workers}_processes": floor(paths, workers)}
    clip = {"e2e": [], "model_only": []}  # --clip-limit 0: CLIP not measured (null)
    if args.clip_limit > 0:
        clip = clip_variants(rows[: args.clip_limit], policy, args.batch_size, args.repeats)
    best_e2e = max(clip["e2e"], default=None)
    best_model = max(clip["model_only"], default=None)
    result = {
        "images": len(rows),
        "e2e_images_per_s": pooled["images_per_s"],
        "cpu_per_wall": pooled["cpu_per_wall"],
        "clip_e2e_images_per_s": best_e2e,
        "clip_model_only_images_per_s": best_model,
    }
    details = {
        "workers": workers,
        "cpus": os.cpu_count(),
        "no_clip": {"pool": pooled, "serial_one_process": serial},
        "pool_vs_serial": round(pooled["images_per_s"] / serial["images_per_s"], 2),
        "floor_images_per_s": floors,
        "e2e_vs_floor": round(pooled["images_per_s"] / floors[f"{workers}_processes"], 3),
        "clip": {**clip, "images": min(len(rows), args.clip_limit)},
        "clip_e2e_vs_model_only": round(best_e2e / best_model, 3) if best_model else None,
    }
    print(json.dumps(details), file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
