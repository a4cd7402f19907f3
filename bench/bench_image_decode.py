"""Benchmark image decoding through ``fetch_image``: full decode vs reduced decode.

The tagging engine works on ~224-256 px images, so decoding a 1300x1600 product photo
at full size wastes most of the work. ``fetch_image(ref, max_side=N)`` asks the JPEG
decoder for a reduced DCT scale (``Image.draft``) and shrinks the rest. This prints
one JSON object comparing, in the same run over the same files:

* ``full``: ``fetch_image(path)`` (full decode, RGB, EXIF orientation);
* ``full_then_thumbnail``: full decode then ``thumbnail(max_side)``, what a caller
  would do without the option;
* ``draft``: ``fetch_image(path, max_side=max_side)``.

Images: the Magento sample catalogue (``../shared/datasets/magento-sample/images``
relative to the project root) when present, otherwise JPEGs generated here.

    python bench/bench_image_decode.py [--limit 200] [--max-side 256] [--repeat 2]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from enrichment.images.intake import ImagePolicy, fetch_image

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT_ROOT / ".." / "shared" / "datasets" / "magento-sample" / "images"


def generated_images(directory: Path, count: int) -> list[Path]:
    """Photo-like JPEGs (smooth gradients plus noise) at catalogue size."""
    rng = random.Random(0)
    paths = []
    for index in range(count):
        base = Image.linear_gradient("L").resize((1274, 1580)).convert("RGB")
        noise = Image.frombytes("RGB", (320, 400), rng.randbytes(320 * 400 * 3)).resize(
            (1274, 1580)
        )
        image = Image.blend(base, noise, 0.35)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        path = directory / f"gen-{index:03d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def timed(paths: list[Path], variant: str, max_side: int) -> float:
    policy = ImagePolicy(base_dir=paths[0].parent)  # local files stay under their folder
    started = time.perf_counter()
    for path in paths:
        if variant == "full":
            fetch_image(str(path), policy)
        elif variant == "full_then_thumbnail":
            image = fetch_image(str(path), policy).image
            image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        else:
            fetch_image(str(path), policy, max_side=max_side)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--max-side", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        if SAMPLE.is_dir():
            paths = sorted(SAMPLE.glob("*.jpg"))[: args.limit]
            source = "magento-sample"
        else:
            paths = generated_images(Path(scratch), min(args.limit, 40))
            source = "generated"
        for path in paths:  # warm the page cache so we time decoding, not the disk
            path.read_bytes()
        variants = ("full", "full_then_thumbnail", "draft")
        seconds: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(args.repeat):
            for variant in variants:  # interleaved, so drifting machine load hits all
                seconds[variant].append(timed(paths, variant, args.max_side))
        best = {v: min(s) for v, s in seconds.items()}
        sizes = [Image.open(p).size for p in paths[:20]]
        reduced = fetch_image(
            str(paths[0]), ImagePolicy(base_dir=paths[0].parent), max_side=args.max_side
        )
        result = {
            "source": source,
            "images": len(paths),
            "typical_size": max(set(sizes), key=sizes.count),
            "max_side": args.max_side,
            "reduced_size_example": [reduced.width, reduced.height],
            "repeat": args.repeat,
            "images_per_second": {v: round(len(paths) / best[v], 1) for v in variants},
            "median_seconds": {v: round(statistics.median(s), 3) for v, s in seconds.items()},
            "speedup_draft_vs_full": round(best["full"] / best["draft"], 2),
            "speedup_draft_vs_full_then_thumbnail": round(
                best["full_then_thumbnail"] / best["draft"], 2
            ),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
