"""Benchmark the pixel colour signal: downscaled (default 128 px) vs full-size analysis.

Prints JSON with images/s for each variant, measured in the same run on the same
decoded images, and the ratio. Uses ``../shared/datasets/magento-sample`` (relative to
the project root) when present, else generated product-like images.

    python bench/bench_tagging.py [--limit 60] [--sizes 128,256]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from enrichment.tagging.signals.colour import ColourNamer
from enrichment.tagging.taxonomy import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "magento-sample"


def dataset_images(limit: int) -> list[Image.Image]:
    files = sorted((DATASET / "images").glob("*.jpg"))[:limit]
    return [Image.open(f).convert("RGB") for f in files]


def generated_images(limit: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(limit):
        img = Image.new("RGB", (1274, 1580), (255, 255, 255))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        ImageDraw.Draw(img).rectangle([350, 300, 920, 1200], fill=colour)
        out.append(img)
    return out


def timed(namer: ColourNamer, images: list[Image.Image]) -> tuple[float, list[str | None]]:
    started = time.perf_counter()
    primaries = [namer.analyse(im, "upper").primary for im in images]
    return time.perf_counter() - started, primaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60, help="images to time")
    parser.add_argument(
        "--sizes", default="128,256", help="downscale sizes to compare with full size"
    )
    parser.add_argument(
        "--full-limit", type=int, default=8, help="images for the (slow) full-size variant"
    )
    args = parser.parse_args()
    source = "magento-sample" if (DATASET / "images").is_dir() else "generated"
    images = (
        dataset_images(args.limit) if source == "magento-sample" else generated_images(args.limit)
    )
    taxonomy = Taxonomy.load()
    variants: dict[str, dict] = {}
    reference: list[str | None] | None = None
    full_images = images[: args.full_limit]
    seconds, full_primary = timed(ColourNamer(taxonomy, size=None), full_images)
    variants["full"] = {
        "images": len(full_images),
        "images_per_s": round(len(full_images) / seconds, 2),
    }
    reference = full_primary
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        seconds, primary = timed(ColourNamer(taxonomy, size=size), images)
        agree = sum(a == b for a, b in zip(primary, reference, strict=False)) / len(reference)
        variants[f"{size}px"] = {
            "images": len(images),
            "images_per_s": round(len(images) / seconds, 2),
            "speedup_vs_full": round(len(images) / seconds / variants["full"]["images_per_s"], 1),
            "primary_agrees_with_full": round(agree, 3),
        }
    w, h = images[0].size
    print(
        json.dumps(
            {
                "benchmark": "colour_signal",
                "source": source,
                "image_size": [w, h],
                "variants": variants,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
