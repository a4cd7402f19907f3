"""The tagging pipeline: worker processes and the prefetch loader give the serial results."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from enrichment.images.policy import ImagePolicy
from enrichment.tagging import pipeline
from enrichment.tagging.engine import Tagger
from enrichment.tagging.pipeline import ImageJob, PrefetchLoader, TagPool, tag_serial
from enrichment.tagging.taxonomy import Taxonomy

COLOURS = [(200, 30, 30), (30, 60, 200), (30, 160, 60), (20, 20, 20), (230, 210, 40)]
TITLES = ["Classic tee", "Summer dress", "Chino pants", "Wool jumper", "Linen shirt"]


def _catalogue(root, n: int = 45) -> list[ImageJob]:
    """Product photos (large JPEGs, PNGs), a broken file, a missing one, rows without a photo."""
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(n):
        name = f"p{i}.jpg" if i % 3 else f"p{i}.png"
        img = Image.new("RGB", (900 + 37 * (i % 5), 1100), (236, 236, 236))
        block = Image.new("RGB", (500, 700), COLOURS[i % len(COLOURS)])
        noise = rng.integers(-12, 12, (700, 500, 3))
        block = Image.fromarray(np.clip(np.asarray(block) + noise, 0, 255).astype("uint8"))
        img.paste(block, (200, 200))
        img.save(root / name)
        jobs.append(ImageJob(f"S{i}", name, TITLES[i % len(TITLES)], "soft cotton"))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    jobs += [
        ImageJob("BROKEN", "broken.jpg", "Red tee"),
        ImageJob("MISSING", "nowhere.jpg", "Blue dress"),
        ImageJob("NOPHOTO", "", "Black wool hat"),
    ]
    return jobs


def _outcome(items) -> list[tuple]:
    return [
        (
            t.sku,
            [x.to_dict() for x in t.tags],
            t.rejection.reason if t.rejection else None,
            t.tagging_error,
            t.image_hash,
            t.image_loaded,
        )
        for t in items
    ]


@pytest.fixture
def setup(tmp_path):
    jobs = _catalogue(tmp_path)
    return Tagger(Taxonomy.load()), ImagePolicy(base_dir=tmp_path), jobs


def test_worker_processes_give_the_serial_results_in_order(setup):
    tagger, policy, jobs = setup
    serial = _outcome(tag_serial(tagger, jobs, policy, batch_size=16))
    with TagPool(tagger, policy, workers=2) as pool:
        pooled = _outcome(pool.tag(jobs, chunk=7))
    assert pooled == serial
    assert [row[0] for row in pooled] == [j.sku for j in jobs]
    by_sku = {row[0]: row for row in serial}
    assert by_sku["BROKEN"][2] == "decode_error" and by_sku["MISSING"][2] == "not_found"
    assert by_sku["NOPHOTO"][2] is None and not by_sku["NOPHOTO"][5]
    # the photos were used: the pixel signal named the block's colour
    red = [t for t in by_sku["S0"][1] if t["attribute"] == "color"]
    assert red and red[0]["value"] == "red" and "pixels" in red[0]["sources"]


def test_a_fork_server_started_early_serves_the_pool_that_follows(setup):
    from multiprocessing import forkserver

    tagger, policy, jobs = setup
    pipeline.start_worker_server()
    pid = forkserver._forkserver._forkserver_pid
    pipeline.start_worker_server()  # already running: the same server
    assert pid is not None and forkserver._forkserver._forkserver_pid == pid
    with TagPool(tagger, policy, workers=2) as pool:
        pooled = _outcome(pool.tag(jobs, chunk=7))
    assert forkserver._forkserver._forkserver_pid == pid  # the pool forked from it
    assert pooled == _outcome(tag_serial(tagger, jobs, policy, batch_size=16))


def test_pixels_only_decodes_large_jpegs_at_a_reduced_scale(setup):
    _, policy, jobs = setup
    loaded = pipeline.load_one(jobs[1], policy, pipeline.decode_sides(False))
    assert max(loaded.image.size) <= pipeline.COLOUR_SIDE
    for_clip = pipeline.load_one(jobs[1], policy, pipeline.decode_sides(True))
    assert min(for_clip.image.size) == pipeline.CLIP_SIDE


def test_prefetch_loader_yields_batches_in_order_and_rejects_what_it_cannot_prepare(setup):
    _, policy, jobs = setup

    def prepare(images):
        if any(im.getpixel((0, 0)) == (1, 2, 3) for im in images):
            raise ValueError("cannot prepare this one")
        return [np.asarray(im).shape for im in images]

    odd = Image.new("RGB", (300, 300), (1, 2, 3))
    odd.save(policy.base_dir / "odd.png")
    jobs = jobs[:10] + [ImageJob("ODD", "odd.png", "Red tee")] + jobs[10:20]
    loader = PrefetchLoader(jobs, policy, pipeline.decode_sides(False), 4, prepare=prepare)
    batches = list(loader)
    assert [j.sku for batch, _, _ in batches for j in batch] == [j.sku for j in jobs]
    assert [len(b) for b, _, _ in batches] == [4, 4, 4, 4, 4, 1]
    items = {i.sku: (i, r) for _, inputs, rej in batches for i, r in zip(inputs, rej, strict=True)}
    odd_item, odd_rejection = items["ODD"]
    assert odd_rejection.reason == "decode_error" and "cannot prepare" in odd_rejection.detail
    assert odd_item.image is None and odd_item.title == "Red tee"  # tagged from its text
    assert items["S1"][0].pixels is not None and items["S1"][1] is None


def test_a_failing_loader_raises_in_the_consumer_instead_of_hanging(setup, monkeypatch):
    _, policy, jobs = setup
    calls = []

    def broken_load(batch, pool):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("loader bug")
        return batch, [], []

    loader = PrefetchLoader(jobs, policy, {}, 8)
    monkeypatch.setattr(loader, "_load", broken_load)
    seen = []
    with pytest.raises(RuntimeError, match="loader bug"):
        for batch, _, _ in loader:
            seen.append(len(batch))
    assert seen == [8]


def test_stopping_early_stops_the_loader(setup):
    _, policy, jobs = setup
    loader = PrefetchLoader(jobs, policy, pipeline.decode_sides(False), 2)
    for _ in loader:
        break
    assert loader.batches_loaded <= 1 + pipeline.PREFETCH_BATCHES + 1


@pytest.mark.parametrize("count", [0, 1, 3, 31, 64, 372, 1000])
def test_chunks_keep_every_item_once_in_order_and_shrink_towards_the_end(count):
    items = list(range(count))
    chunks = pipeline.shrinking_chunks(items, largest=32, workers=2)
    assert [i for chunk in chunks for i in chunk] == items
    sizes = [len(c) for c in chunks]
    assert all(1 <= s <= 32 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)  # never grows again
    if count >= 256:  # a long list starts at the largest size and ends small
        assert sizes[0] == 32 and sizes[-2] == 4


def test_a_chunk_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        pipeline.shrinking_chunks([1, 2], largest=0, workers=2)
