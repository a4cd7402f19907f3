"""Benchmark CLIP image scoring throughput: batch sizes, and the image-embedding cache.

The image tower is ViT-B/32's (the model production uses), with random weights: the
compute is real, the scores are meaningless (no pretrained weights can be downloaded
here). The model is loaded through the platform's own loader
(:class:`enrichment.tagging.signals.clip.ClipModel`). Prints JSON comparing, in one run:

* ``images_per_s`` of :meth:`ClipModel.similarities` (image tower + prompt bank) at
  several batch sizes on the CPU (or GPU when present);
* the same images again through the keyed cache (what a re-tag after a text-only change,
  or a second SKU with the same photo, costs).

Images: ``../shared/datasets/magento-sample`` when present, else generated.

    python bench/bench_clip.py [--images 64] [--batch-sizes 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "magento-sample" / "images"
sys.path.insert(0, str(ROOT))


def load_images(n: int) -> list[Image.Image]:
    files = sorted(DATASET.glob("*.jpg"))[:n] if DATASET.is_dir() else []
    if files:
        images = []
        for f in files:
            im = Image.open(f)
            im.draft("RGB", (448, 448))
            images.append(im.convert("RGB"))
        return images
    return [Image.new("RGB", (400, 500), (40 * (i % 6), 90, 160)) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-sizes", default="1,8,32")
    args = parser.parse_args()

    from enrichment.tagging.signals.clip import ClipModel
    from enrichment.tagging.taxonomy import Taxonomy
    from tests.fakes.tiny_clip import build_tiny_clip

    images = load_images(args.images)
    taxonomy = Taxonomy.load(None)
    out: dict = {
        "images": len(images),
        "source": "magento-sample" if DATASET.is_dir() else "generated",
        "architecture": "ViT-B/32 image tower, random weights",
    }
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_clip(Path(tmp) / "clip", full_vision=True)
        clip = ClipModel.load(str(model_dir))
        out["device"] = clip.device
        started = time.perf_counter()
        clip.prompt_bank(taxonomy)
        out["prompt_bank_seconds"] = round(time.perf_counter() - started, 2)
        clip.similarities(images[:2], taxonomy)  # warm-up
        rates = {}
        for size in [int(b) for b in args.batch_sizes.split(",")]:
            clip.batch_size = size
            started = time.perf_counter()
            clip.similarities(images, taxonomy)
            rates[str(size)] = round(len(images) / (time.perf_counter() - started), 1)
        out["images_per_s_by_batch_size"] = rates
        keys = [f"img-{i}" for i in range(len(images))]
        clip.similarities(images, taxonomy, keys=keys)  # fills the cache
        encoded = clip.images_encoded
        started = time.perf_counter()
        clip.similarities(images, taxonomy, keys=keys)
        cached = len(images) / (time.perf_counter() - started)
        out["cached_images_per_s"] = round(cached)
        out["cache_ratio_vs_best_batch"] = round(cached / max(rates.values()))
        out["image_tower_runs_on_cache_pass"] = clip.images_encoded - encoded
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
