"""The tagging pipeline: image loading overlapped with compute, on every core.

Reader → tagger → writer, as clip-retrieval's runner does it:

* :class:`PrefetchLoader` fetches and decodes the next batch (and, with CLIP, turns its
  photos into model tensors) in a background thread while the current batch is tagged;
  a bounded queue keeps at most ``PREFETCH_BATCHES`` batches in memory. Batches come out
  in input order; a photo that cannot be loaded or prepared is a rejection of that item
  (the caller quarantines it), and a failure of the loader itself is raised in the caller.
* Without CLIP everything is CPU work in Python, so :class:`TagPool` runs the whole
  load + tag step in worker processes (one per core by default), each holding a copy of
  the tagger; results come back in input order and equal the serial ones.
* Photos are decoded at the scale the signals need: about 1/8 of a large JPEG's DCT for
  the pixel colour alone, a 224-px shorter side when CLIP is on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from enrichment.background import run_ahead
from enrichment.images.intake import ImageRejected, fetch_image
from enrichment.images.policy import ImagePolicy
from enrichment.tagging.engine import Tag, Tagger, TagInput, tag_isolating_failures
from enrichment.tagging.signals.colour import DEFAULT_SIZE as COLOUR_SIDE

log = logging.getLogger(__name__)
FETCH_THREADS = 8  # per loader: remote fetches wait on the network, decodes release the GIL
PREFETCH_BATCHES = 2
CLIP_SIDE = 224  # CLIP's input crop: the shorter side must still reach it
POOL_CHUNK = 32  # items per task sent to a worker process


@dataclass
class ImageJob:
    """One product to tag: its text and the reference of its primary photo."""

    sku: str
    ref: str = ""
    title: str = ""
    description: str = ""
    category: str | None = None


@dataclass
class TaggedItem:
    """The outcome for one job: tags, and what went wrong with its photo, if anything."""

    sku: str
    tags: list[Tag] = field(default_factory=list)
    rejection: ImageRejected | None = None  # the photo could not be loaded or prepared
    tagging_error: str | None = None  # the photo broke the engine; tags come from text
    over_budget: str | None = None  # the item went over its time budget; no tags
    input_error: str | None = None  # the row itself was unusable and was not read further
    image_hash: str | None = None
    image_loaded: bool = False


def decode_sides(use_clip: bool) -> dict[str, int]:
    """``fetch_image`` size arguments for the signals in use."""
    return {"min_side": CLIP_SIDE} if use_clip else {"max_side": COLOUR_SIDE}


def default_workers() -> int:
    """Worker processes for CPU work: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def load_one(job: ImageJob, policy: ImagePolicy, sides: dict[str, int]) -> TagInput | Exception:
    """The job's TagInput with its decoded photo, or the ImageRejected explaining why not."""
    image = image_hash = None
    if job.ref:
        try:
            loaded = fetch_image(job.ref, policy, **sides)
        except ImageRejected as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - an unexpected decoder failure is the item's
            return ImageRejected("decode_error", f"{type(exc).__name__}: {exc}")
        image, image_hash = loaded.image, loaded.sha256
    return TagInput(job.sku, job.title, job.description, job.category, image, image_hash)


def _split(jobs: list[ImageJob], loaded: list) -> tuple[list[TagInput], list]:
    """TagInputs (text only where the photo was rejected) and the rejection per job."""
    inputs, rejections = [], []
    for job, got in zip(jobs, loaded, strict=True):
        rejected = isinstance(got, ImageRejected)
        rejections.append(got if rejected else None)
        inputs.append(
            TagInput(job.sku, job.title, job.description, job.category) if rejected else got
        )
    return inputs, rejections


class PrefetchLoader:
    """Iterate ``(jobs, inputs, rejections)`` per batch, loading ahead in a thread.

    ``prepare`` (e.g. :meth:`ClipModel.preprocess`) runs in the loader thread on the
    batch's photos; an item it cannot handle is rejected on its own.
    """

    def __init__(
        self,
        jobs: list[ImageJob],
        policy: ImagePolicy,
        sides: dict[str, int],
        batch_size: int,
        *,
        prepare: Callable[[list], list] | None = None,
        threads: int = FETCH_THREADS,
    ) -> None:
        self.jobs, self.policy, self.sides = jobs, policy, sides
        self.batch_size = max(1, batch_size)
        self.prepare = prepare
        self.threads = threads
        self.batches_loaded = 0

    def __iter__(self) -> Iterator[tuple[list[ImageJob], list[TagInput], list]]:
        return run_ahead(self._batches, PREFETCH_BATCHES, name="image-loader")

    def _batches(self) -> Iterator[tuple[list[ImageJob], list[TagInput], list]]:
        with ThreadPoolExecutor(self.threads) as pool:
            for start in range(0, len(self.jobs), self.batch_size):
                yield self._load(self.jobs[start : start + self.batch_size], pool)
                self.batches_loaded += 1

    def _load(self, batch: list[ImageJob], pool: ThreadPoolExecutor):
        inputs, rejections = _split(
            batch, list(pool.map(lambda j: load_one(j, self.policy, self.sides), batch))
        )
        if self.prepare is not None:
            self._prepare(inputs, rejections)
        return batch, inputs, rejections

    def _prepare(self, inputs: list[TagInput], rejections: list) -> None:
        with_image = [n for n, i in enumerate(inputs) if i.image is not None]
        try:
            tensors = self.prepare([inputs[n].image for n in with_image])
        except Exception:  # noqa: BLE001 - find the item(s) it was, one by one
            tensors = []
            for n in with_image:
                try:
                    tensors.extend(self.prepare([inputs[n].image]))
                except Exception as exc:  # noqa: BLE001 - recorded as the item's rejection
                    tensors.append(None)
                    rejections[n] = ImageRejected(
                        "decode_error",
                        f"preparing the image failed: {type(exc).__name__}: {exc}"[:500],
                        inputs[n].image_hash,
                    )
        for n, tensor in zip(with_image, tensors, strict=True):
            item = inputs[n]
            if tensor is None:
                inputs[n] = TagInput(item.sku, item.title, item.description, item.category)
            else:
                item.pixels = tensor


def tag_rows(
    tagger: Tagger, inputs: list[TagInput]
) -> tuple[list[list[Tag]], dict[int, tuple[str, str]]]:
    """Tag a batch; a row that breaks the engine gets no tags and its error, the rest go on
    (``tag-images``: no row stops the command). Failures as ``{index: (reason, detail)}``
    like :func:`tag_isolating_failures`."""
    try:
        return tagger.tag(inputs), {}
    except Exception:  # noqa: BLE001 - narrowed down row by row below
        pass
    results, failed = [], {}
    for n, item in enumerate(inputs):
        try:
            results.extend(tagger.tag([item]))
        except Exception as exc:  # noqa: BLE001 - recorded per row
            results.append([])
            failed[n] = ("tagging_error", f"{type(exc).__name__}: {exc}"[:500])
    return results, failed


TAG_MODES = {"isolate": tag_isolating_failures, "rows": tag_rows}


def tag_batch(
    tagger: Tagger,
    jobs: list[ImageJob],
    inputs: list[TagInput],
    rejections: list,
    mode: str = "isolate",
) -> list[TaggedItem]:
    """Tag one loaded batch. ``isolate`` (shards): a photo that breaks the engine leaves
    text-only tags, an item over its time budget none, most of a batch failing raises;
    ``rows``: see :func:`tag_rows`."""
    results, failed = TAG_MODES[mode](tagger, inputs)
    out = []
    for n, (job, item, tags, rejected) in enumerate(
        zip(jobs, inputs, results, rejections, strict=True)
    ):
        reason, detail = failed.get(n, (None, None))
        out.append(
            TaggedItem(
                job.sku,
                tags,
                rejection=rejected,
                tagging_error=detail if reason == "tagging_error" else None,
                over_budget=detail if reason == "time_budget" else None,
                image_hash=item.image_hash or (rejected.content_hash if rejected else None),
                image_loaded=item.image is not None,
            )
        )
    return out


def tag_serial(
    tagger: Tagger,
    jobs: list[ImageJob],
    policy: ImagePolicy,
    batch_size: int,
    mode: str = "isolate",
) -> Iterator[TaggedItem]:
    """Tag in this process, loading the next batch while this one is tagged (CLIP too)."""
    clip = tagger.clip
    loader = PrefetchLoader(
        jobs,
        policy,
        decode_sides(clip is not None),
        batch_size,
        prepare=clip.preprocess if clip is not None else None,
    )
    for batch, inputs, rejections in loader:
        yield from tag_batch(tagger, batch, inputs, rejections, mode)


# -- worker processes -----------------------------------------------------------------------
_CHILD: dict[str, Any] = {}


def _init_child(tagger: Tagger, policy: ImagePolicy, mode: str) -> None:
    tune_allocator()
    try:  # one BLAS thread per process: the processes already use every core
        from threadpoolctl import threadpool_limits

        _CHILD["limits"] = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    _CHILD.update(tagger=tagger, policy=policy, mode=mode)


def _tag_chunk(jobs: list[ImageJob]) -> tuple[list[TaggedItem], float]:
    """Tagged items of a chunk and the CPU seconds this process spent on it."""
    cpu = time.process_time()
    tagger, policy = _CHILD["tagger"], _CHILD["policy"]
    sides = decode_sides(False)
    inputs, rejections = _split(jobs, [load_one(j, policy, sides) for j in jobs])
    tagged = tag_batch(tagger, jobs, inputs, rejections, _CHILD["mode"])
    return tagged, time.process_time() - cpu


def worker_context():
    """The multiprocessing context of tagging workers: forkserver, so children do not
    inherit this process's threads, locks or connections; they fork from a server that
    has imported the tagging code once."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["enrichment.tagging.pipeline"])
    return context


def start_worker_server() -> None:
    """Start the workers' fork server now, so its imports (about 0.3 s) run on another
    core while this process builds the tagger; a no-op where it already runs."""
    from multiprocessing import forkserver

    worker_context()
    forkserver.ensure_running()


def shrinking_chunks(items: list, largest: int, workers: int, smallest: int = 4) -> list[list]:
    """``items`` in consecutive chunks of ``largest`` that shrink towards the end (to
    a quarter of what is left per worker, at least ``smallest``), so the workers finish
    together instead of one idling while another tags a whole last chunk."""
    if largest < 1 or smallest < 1:
        raise ValueError(f"chunk sizes must be at least 1, got {largest} and {smallest}")
    chunks, start = [], 0
    while start < len(items):
        left = len(items) - start
        size = min(largest, max(smallest, -(-left // (4 * workers))))
        chunks.append(items[start : start + size])
        start += size
    return chunks


class TagPool:
    """Worker processes tagging without CLIP; each holds a copy of ``tagger``.

    A tagger with CLIP stays in this process (the model uses every core itself): use
    :func:`tag_serial` for it.
    """

    def __init__(
        self,
        tagger: Tagger,
        policy: ImagePolicy,
        workers: int | None = None,
        mode: str = "isolate",
    ) -> None:
        if tagger.clip is not None:
            raise ValueError("TagPool runs taggers without CLIP; tag with CLIP in-process")
        self.workers = workers or default_workers()
        self.cpu_seconds = 0.0  # spent in the worker processes on tagging
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=worker_context(),
            initializer=_init_child,
            initargs=(tagger, policy, mode),
        )

    def tag(self, jobs: list[ImageJob], chunk: int = POOL_CHUNK) -> Iterator[TaggedItem]:
        """Tagged items in input order."""
        for result, cpu in self._pool.map(_tag_chunk, shrinking_chunks(jobs, chunk, self.workers)):
            self.cpu_seconds += cpu
            yield from result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> TagPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tune_allocator() -> None:
    """Keep freed numpy buffers in this process instead of returning them to the OS.

    glibc's default returns large blocks with ``munmap`` on every free, so each image's
    temporaries fault fresh pages in again (a third of the CPU time in system calls).
    No effect outside glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 512 * 1024 * 1024)
