"""Fusion of signals into tags, and the Tagger without CLIP."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image, ImageDraw

from enrichment.tagging.engine import Tag, Tagger, TagInput
from enrichment.tagging.fusion import fuse_attribute
from enrichment.tagging.signals.colour import ColourNamer
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.load()


def test_agreement_raises_confidence(tax):
    color = tax.attribute("color")
    pixels_only = fuse_attribute(color, {"pixels": {"red": 0.8, "pink": 0.2}})
    both = fuse_attribute(color, {"pixels": {"red": 0.8, "pink": 0.2}, "text": {"red": 1.0}})
    assert both.best.value == pixels_only.best.value == "red"
    assert both.best.confidence > pixels_only.best.confidence
    assert both.emitted[0].sources == ("pixels", "text")


def test_conflict_lowers_confidence_and_abstains(tax):
    color = tax.attribute("color")
    alone = fuse_attribute(color, {"pixels": {"purple": 0.9, "navy": 0.1}})
    assert [v.value for v in alone.emitted] == ["purple"]
    conflict = fuse_attribute(
        color, {"pixels": {"purple": 0.9, "navy": 0.1}, "text": {"black": 1.0}}
    )
    assert conflict.emitted == []  # abstain
    assert conflict.best is not None  # but the best guess is still known for evaluation
    assert conflict.best.confidence < alone.best.confidence


def test_single_valued_emits_one_multi_valued_several(tax):
    cat = fuse_attribute(
        tax.attribute("category"), {"text": {"hoodie": 1.0}, "catalog": {"jacket": 1.0}}
    )
    assert len(cat.emitted) <= 1
    material = fuse_attribute(tax.attribute("material"), {"text": {"cotton": 1.0, "spandex": 1.0}})
    assert {v.value for v in material.emitted} == {"cotton", "spandex"}


def test_threshold_and_negation(tax):
    color = tax.attribute("color")
    weak = fuse_attribute(color, {"text": {"red": 0.5}})  # description-only mention
    assert weak.emitted == [] and weak.best.value == "red"
    negated = fuse_attribute(color, {"pixels": {"red": 1.0}}, negated={"red"})
    assert negated.emitted == []


def test_allowed_values_restrict_candidates(tax):
    material = tax.attribute("material")
    fused = fuse_attribute(material, {"text": {"leather": 1.0}}, allowed={"cotton", "wool"})
    assert fused.best is None and fused.emitted == []
    with pytest.raises(ValueError, match="unknown signals"):
        fuse_attribute(material, {"vibes": {"cotton": 1.0}})


def red_tshirt() -> Image.Image:
    img = Image.new("RGB", (300, 360), (255, 255, 255))
    ImageDraw.Draw(img).polygon(
        [(90, 60), (210, 60), (270, 110), (230, 140), (215, 125), (215, 300), (85, 300), (85, 125),
         (70, 140), (30, 110)],
        fill=(205, 25, 35),
    )  # fmt: skip
    return img


def test_tagger_fuses_text_and_pixels(tax):
    tagger = Tagger(tax)
    assert tagger.model_id == "none" and not tagger.clip_enabled and tagger.clip is None
    [tags] = tagger.tag([TagInput("sku-1", title="Áo thun màu đỏ nữ", image=red_tshirt())])
    by_attr = {t.attribute: t for t in tags}
    assert by_attr["category"].value == "t-shirt"
    assert by_attr["color"].value == "red"
    assert set(by_attr["color"].sources) == {"pixels", "text"}
    assert by_attr["gender"].value == "women"
    assert tags[0].to_dict().keys() == {"attribute", "value", "confidence", "sources"}
    assert isinstance(tags[0], Tag)


def test_tagger_pixels_overrule_a_wrong_description(tax):
    [tags] = Tagger(tax).tag(
        [TagInput("s", title="Crew tee", description="Also in black.", image=red_tshirt())]
    )
    colours = [t.value for t in tags if t.attribute == "color"]
    assert colours in ([], ["red"])  # conflict may abstain, never emits black


def test_tagger_respects_applies_to(tax):
    [tags] = Tagger(tax).tag([TagInput("s", title="Striped running shoes")])
    assert ("category", "shoes") in {(t.attribute, t.value) for t in tags}
    assert not any(t.attribute == "pattern" for t in tags)
    [tags] = Tagger(tax).tag([TagInput("s", title="Striped cotton shirt")])
    assert ("pattern", "striped") in {(t.attribute, t.value) for t in tags}


def test_catalog_category_is_a_signal(tax):
    [tags] = Tagger(tax).tag([TagInput("s", title="Zoe", category="Women > Tops > Tanks")])
    by_attr = {t.attribute: t for t in tags}
    assert by_attr["category"].value == "tank-top" and by_attr["category"].sources == ["catalog"]
    assert by_attr["gender"].value == "women"
    # a category naming two classes is ambiguous on its own: no category tag
    [tags] = Tagger(tax).tag([TagInput("s", title="Chaz", category="Hoodies & Sweatshirts")])
    assert not any(t.attribute == "category" for t in tags)


def test_identical_image_bytes_are_scored_once(tax, monkeypatch):
    calls = []
    original = ColourNamer.analyse

    def counting(self, image, region=None):
        calls.append(region)
        return original(self, image, region)

    monkeypatch.setattr(ColourNamer, "analyse", counting)
    tagger = Tagger(tax)
    digest = hashlib.sha256(b"same bytes").hexdigest()
    items = [
        TagInput(f"s{i}", title="tee", image=red_tshirt(), image_hash=digest) for i in range(4)
    ]
    results = tagger.tag(items)
    assert len(calls) == 1
    assert all(r == results[0] for r in results)
    tagger.tag([TagInput("s9", title="tee", image=red_tshirt(), image_hash=digest)])
    assert len(calls) == 1
