"""The tagging engine: product text + photo in, fused taxonomy tags out.

Signals per item: ``text`` (title, description), ``catalog`` (the source category
string), ``pixels`` (colour of the photo's foreground) and, when a CLIP model is
configured, ``clip`` (zero-shot over the taxonomy prompts). The category is fused
first; it decides which attributes and values apply and where the garment sits in the
photo (for the pixel signal). See :mod:`enrichment.tagging.fusion` for the calibration.

Image signals are cached in-process by ``image_hash``: identical bytes are scored
once, however many SKUs share them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from enrichment.config import ConfigError, Settings
from enrichment.tagging.budget import Deadline, TimeBudgetExceeded
from enrichment.tagging.calibrated import apply_fusion, apply_head
from enrichment.tagging.calibration_types import Calibration, lineage_version, load_calibration
from enrichment.tagging.fusion import FusedAttribute, fuse_attribute
from enrichment.tagging.signals.colour import ColourNamer, ColourResult
from enrichment.tagging.signals.text import MAX_FIELD_CHARS, TextEvidence, TextMatcher
from enrichment.tagging.taxonomy import Taxonomy

if TYPE_CHECKING:
    from PIL import Image

    from enrichment.tagging.signals.clip import ClipModel

log = logging.getLogger(__name__)
TITLE_STRENGTH = 1.0
DESCRIPTION_STRENGTH = 0.5  # descriptions also mention trims, other variants, care text
IMAGE_CACHE_SIZE = 20_000


@dataclass
class TagInput:
    """One product to tag."""

    sku: str
    title: str = ""
    description: str = ""
    category: str | None = None  # source catalogue category (free text), a signal
    image: Image.Image | None = None  # RGB, already validated by images.py
    image_hash: str | None = None  # sha256 of image bytes; cache key for image signals
    pixels: Any = None  # the CLIP input tensor, when a loader prepared it ahead


@dataclass
class Tag:
    """One emitted tag: a taxonomy value with its confidence and backing signals."""

    attribute: str
    value: str
    confidence: float
    sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "value": self.value,
            "confidence": round(float(self.confidence), 4),
            "sources": list(self.sources),
        }


@dataclass
class ItemAnalysis:
    """Everything fusion decided for one item, including below-threshold best guesses."""

    sku: str
    fused: dict[str, FusedAttribute] = field(default_factory=dict)
    colour: ColourResult | None = None
    evidence: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    negated: dict[str, set[str]] = field(default_factory=dict)
    embedding: np.ndarray | None = None  # CLIP image embedding, when kept (calibration)
    category: str | None = None  # the emitted category the other attributes were scored for
    over_budget: str | None = None  # why the item was stopped (no tags then)

    def tags(self) -> list[Tag]:
        return [
            Tag(f.attribute, v.value, v.confidence, list(v.sources))
            for f in self.fused.values()
            for v in f.emitted
        ]


class _LRU(OrderedDict):
    def __init__(self, size: int = IMAGE_CACHE_SIZE) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Tagger:
    """Tags batches of products; build with :meth:`from_settings` and reuse."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        clip: ClipModel | None = None,
        *,
        clip_temperature: float = 0.01,
        colour_size: int | None = 128,
        cache_dir: Any = None,
        calibration: Calibration | None = None,
        text_max_chars: int | None = MAX_FIELD_CHARS,
        item_budget_seconds: float | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.calibration = calibration
        if calibration is not None:
            _check_calibration(calibration, taxonomy, clip)
        self.taxonomy_version = lineage_version(
            taxonomy.version, calibration.id if calibration else None
        )
        # keep CLIP image embeddings on each analysis (calibrate; heads that read them)
        self.keep_embeddings = calibration is not None and any(
            "clip" in a.features for a in calibration.attributes.values()
        )
        self.clip = clip
        self.clip_enabled = clip is not None
        self.model_id = clip.model_id if clip is not None else "none"
        self.clip_temperature = clip_temperature
        self.cache_dir = cache_dir
        self._matcher = TextMatcher(taxonomy, max_chars=text_max_chars)
        self.item_budget_seconds = item_budget_seconds  # None: no per-item budget
        self._colour = ColourNamer(taxonomy, size=colour_size) if "color" in taxonomy else None
        self._sims: _LRU = _LRU(IMAGE_CACHE_SIZE)
        self._colours: _LRU = _LRU(IMAGE_CACHE_SIZE)
        self.image_scorings = 0  # images actually run through CLIP (cache misses)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for worker processes) without its caches of image signals."""
        state = dict(self.__dict__)
        state["_sims"], state["_colours"] = _LRU(IMAGE_CACHE_SIZE), _LRU(IMAGE_CACHE_SIZE)
        return state

    @classmethod
    def from_settings(
        cls, settings: Settings, *, use_clip: bool | None = None, calibration: Any = None
    ) -> Tagger:
        """Tagger for these settings; ``use_clip`` None: CLIP on iff a model is configured.

        ``calibration``: a calibration directory (default: ENRICHMENT_CALIBRATION, if set).
        """
        taxonomy = Taxonomy.load(getattr(settings, "taxonomy_path", None))
        cal_dir = calibration or getattr(settings, "calibration_path", None)
        setting = "--calibration" if calibration else "ENRICHMENT_CALIBRATION"
        loaded = load_calibration(cal_dir, setting) if cal_dir else None
        want_clip = bool(settings.clip_model) if use_clip is None else use_clip
        clip = None
        if want_clip:
            if not settings.clip_model:
                raise ConfigError(
                    "CLIP was requested but ENRICHMENT_CLIP_MODEL is not set; set it to a "
                    "Hugging Face id or a local model directory, or run with --no-clip"
                )
            from enrichment.tagging.signals.clip import ClipModel

            try:
                clip = ClipModel.load(
                    settings.clip_model, batch_size=getattr(settings, "clip_batch_size", 32)
                )
            except ConfigError:
                if settings.clip_required or use_clip:
                    raise
                log.warning("CLIP model could not be loaded; tagging without CLIP", exc_info=True)
        return cls(
            taxonomy,
            clip,
            clip_temperature=getattr(settings, "clip_temperature", 0.01),
            cache_dir=settings.data_dir / "cache" / "clip",
            calibration=loaded,
            text_max_chars=getattr(settings, "text_max_chars", MAX_FIELD_CHARS),
        )

    # -- public API ------------------------------------------------------------------------
    def tag(self, items: list[TagInput]) -> list[list[Tag]]:
        """Tags for each item, in input order."""
        return [a.tags() for a in self.analyse(items)]

    def analyse(self, items: list[TagInput]) -> list[ItemAnalysis]:
        """Full fusion results per item (used by :meth:`tag` and by evaluation)."""
        sims = self._clip_similarities(items)
        out = []
        for item in items:
            deadline = Deadline(self.item_budget_seconds)
            try:
                out.append(self._analyse_one(item, sims.get(self._image_key(item)), deadline))
            except TimeBudgetExceeded as exc:
                log.warning("item %s stopped: %s", item.sku, exc)
                out.append(ItemAnalysis(item.sku, over_budget=str(exc)))
        if self.keep_embeddings and self.clip is not None:
            with_image = [(a, i) for a, i in zip(out, items, strict=True) if i.image is not None]
            if with_image:
                embs = self.clip.embed_images_keyed(
                    [i.image for _, i in with_image], [i.image_hash for _, i in with_image]
                )
                for (analysis, _), emb in zip(with_image, embs, strict=True):
                    analysis.embedding = emb
        if self.calibration is not None:
            for analysis in out:
                self._apply_calibration(analysis)
        return out

    # -- internals ---------------------------------------------------------------------------
    @staticmethod
    def _image_key(item: TagInput) -> Any:
        if item.image is None:
            return None
        return item.image_hash or ("object", id(item.image))

    def _clip_similarities(self, items: list[TagInput]) -> dict[Any, np.ndarray]:
        if self.clip is None:
            return {}
        found: dict[Any, np.ndarray] = {}
        todo: dict[Any, TagInput] = {}
        for item in items:
            key = self._image_key(item)
            if key is None or key in found or key in todo:
                continue
            if item.image_hash and item.image_hash in self._sims:
                found[key] = self._sims[item.image_hash]
            else:
                todo[key] = item
        if todo:
            keys = list(todo)
            matrix = self.clip.similarities(
                [todo[k].image for k in keys],
                self.taxonomy,
                self.cache_dir,
                keys=[k if isinstance(k, str) else None for k in keys],
                pixels=[todo[k].pixels for k in keys],
            )
            self.image_scorings += len(keys)
            for key, row in zip(keys, matrix, strict=True):
                found[key] = row
                if isinstance(key, str):
                    self._sims.put(key, row)
        return found

    def _colour_of(self, item: TagInput, region: str | None) -> ColourResult | None:
        if self._colour is None or item.image is None:
            return None
        key = (item.image_hash, region) if item.image_hash else None
        if key is not None and key in self._colours:
            return self._colours[key]
        result = self._colour.analyse(item.image, region)
        if key is not None:
            self._colours.put(key, result)
        return result

    def _analyse_one(
        self, item: TagInput, sims: np.ndarray | None, deadline: Deadline | None = None
    ) -> ItemAnalysis:
        text = self._matcher.evidence(
            [(item.title, TITLE_STRENGTH), (item.description, DESCRIPTION_STRENGTH)], deadline
        )
        catalog = (
            self._matcher.evidence([(item.category, 1.0)], deadline)
            if item.category
            else TextEvidence()
        )
        out = ItemAnalysis(item.sku)
        category_attr = self.taxonomy.attribute("category")
        out.fused["category"] = self._fuse(category_attr, None, text, catalog, sims, None, out)
        cat_emitted = out.fused["category"].emitted
        category = cat_emitted[0].value if cat_emitted else None
        out.category = category
        region = category_attr.value(category).region if category else None
        for attr in self.taxonomy.attributes:
            if attr.id == "category" or not attr.applies(category):
                continue
            pixels = None
            if attr.id == "color":
                out.colour = self._colour_of(item, region)
                pixels = out.colour.distribution() if out.colour else None
                if deadline is not None:
                    deadline.check("colour analysis")
            out.fused[attr.id] = self._fuse(attr, category, text, catalog, sims, pixels, out)
        return out

    def _apply_calibration(self, out: ItemAnalysis) -> None:
        """Replace fused decisions by the calibrated ones (category first: it scopes the rest)."""
        cal = self.calibration
        order = ["category"] + [a for a in out.evidence if a != "category"]
        for attr_id in order:
            ac = cal.attributes.get(attr_id)
            if ac is None or ac.kind == "taxonomy" or attr_id not in out.evidence:
                continue
            attr = self.taxonomy.attribute(attr_id)
            category = None if attr_id == "category" else out.category
            allowed = [v.id for v in attr.applicable_values(category)]
            evidence = out.evidence[attr_id]
            if ac.kind == "head":
                fused = apply_head(
                    cal, ac, attr, category, evidence, out.colour, out.embedding, allowed
                )
            else:
                negated = out.negated.get(attr_id, set())
                fused = apply_fusion(cal, ac, attr, category, evidence, negated, allowed)
            out.fused[attr_id] = fused
            if attr_id == "category":
                out.category = fused.emitted[0].value if fused.emitted else None
                for other in list(out.fused):
                    if other != "category" and not self.taxonomy.attribute(other).applies(
                        out.category
                    ):
                        del out.fused[other]

    def _fuse(self, attr, category, text, catalog, sims, pixels, out=None) -> FusedAttribute:
        allowed = {v.id for v in attr.applicable_values(category)}
        evidence: dict[str, dict[str, float]] = {}
        if sims is not None and self.clip is not None:
            from enrichment.tagging.signals.clip import zero_shot

            bank = self.clip.prompt_bank(self.taxonomy, self.cache_dir)
            evidence["clip"] = zero_shot(sims, bank, attr.id, allowed, self.clip_temperature)
        if pixels:
            evidence["pixels"] = pixels
        if attr.id in text.scores:
            evidence["text"] = text.scores[attr.id]
        if attr.id in catalog.scores:
            evidence["catalog"] = catalog.scores[attr.id]
        negated = text.negated.get(attr.id, set()) | catalog.negated.get(attr.id, set())
        if out is not None:
            out.evidence[attr.id], out.negated[attr.id] = evidence, negated
        return fuse_attribute(attr, evidence, negated=negated, allowed=allowed)


def _check_calibration(calibration: Calibration, taxonomy: Taxonomy, clip: Any) -> None:
    if calibration.taxonomy_version != taxonomy.version:
        raise ConfigError(
            f"calibration {calibration.id} was learnt for taxonomy {calibration.taxonomy_version}"
            f", but the taxonomy in use is {taxonomy.version}; run calibrate again"
        )
    model = clip.model_id if clip is not None else None
    if calibration.clip_model and calibration.clip_model != model:
        raise ConfigError(
            f"calibration {calibration.id} reads CLIP model {calibration.clip_model!r} "
            f"(ENRICHMENT_CLIP_MODEL), but the tagger has {model or 'no CLIP model'}; "
            "set that model or calibrate again with --no-clip"
        )


SYSTEMIC_FAILURE_SHARE = 0.5  # more failing items than this in a batch: not the items' fault
SYSTEMIC_MIN_BATCH = 4  # (judged on batches of at least this size; the quality checks see the rest)


def tag_isolating_failures(
    tagger: Tagger, items: list[TagInput]
) -> tuple[list[list[Tag]], dict[int, tuple[str, str]]]:
    """Tag a batch; an item whose image breaks the engine is tagged from its text alone.

    Returns the tags per item and ``{index: (reason, detail)}`` for the items the caller
    quarantines: ``tagging_error`` (the image could not be analysed; text tags kept) and
    ``time_budget`` (the item went over ``tagger.item_budget_seconds``; no tags). When
    most of a batch fails the problem is the engine or the model, not the data: the
    error is raised.
    """
    try:
        return _with_budget_failures(tagger.analyse(items))
    except Exception:  # noqa: BLE001 - narrowed down item by item below
        log.warning(
            "tagging a batch of %d failed; retrying item by item", len(items), exc_info=True
        )
    analyses: list[ItemAnalysis] = []
    errors: dict[int, tuple[str, str]] = {}
    first_error: Exception | None = None
    for n, item in enumerate(items):
        try:
            analyses.append(tagger.analyse([item])[0])
            continue
        except Exception as exc:  # noqa: BLE001 - recorded per item
            first_error = first_error or exc
            errors[n] = ("tagging_error", f"{type(exc).__name__}: {exc}"[:500])
        if item.image is None:
            raise first_error
        analyses.append(
            tagger.analyse([replace(item, image=None, image_hash=None, pixels=None)])[0]
        )
    if len(items) >= SYSTEMIC_MIN_BATCH and len(errors) > SYSTEMIC_FAILURE_SHARE * len(items):
        raise RuntimeError(
            f"tagging failed for {len(errors)} of {len(items)} items "
            f"(first: {errors[min(errors)][1]}); this looks like an engine or model problem, "
            "not bad images"
        ) from first_error
    results, over = _with_budget_failures(analyses)
    return results, {**errors, **over}


def _with_budget_failures(
    analyses: list[ItemAnalysis],
) -> tuple[list[list[Tag]], dict[int, tuple[str, str]]]:
    over = {n: ("time_budget", a.over_budget) for n, a in enumerate(analyses) if a.over_budget}
    return [a.tags() for a in analyses], over
