"""The CLIP signal through the real loading code, with a tiny random model on disk."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from enrichment.cli.main import main
from enrichment.config import ConfigError, load_settings
from enrichment.tagging.engine import Tagger, TagInput
from enrichment.tagging.signals.clip import ClipModel, zero_shot
from enrichment.tagging.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.fakes.tiny_clip import PROJECTION_DIM, build_tiny_clip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def clip_env(monkeypatch, model_dir, tmp_path):
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(model_dir))
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENRICHMENT_CLIP_BATCH_SIZE", "2")
    return model_dir


def images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (40 + i, 30, 3), dtype=np.uint8)) for i in range(n)
    ]


def test_loads_through_auto_classes_and_embeds_in_batches(model_dir):
    clip = ClipModel.load(str(model_dir), batch_size=2)
    assert clip.dim == PROJECTION_DIM
    assert clip.model_id.startswith(model_dir.name + "@")
    imgs = images(5)
    batched = clip.embed_images(imgs)  # 3 batches of at most 2
    assert batched.shape == (5, PROJECTION_DIM) and batched.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([clip.embed_images([im]) for im in imgs])
    assert np.allclose(batched, one_by_one, atol=1e-5)
    assert not np.allclose(batched[0], batched[1])


def test_prompt_cache_keyed_by_taxonomy_version(model_dir, tmp_path):
    tax = Taxonomy.load()
    clip = ClipModel.load(str(model_dir))
    bank = clip.prompt_bank(tax, tmp_path)
    clip.prompt_bank(tax, tmp_path)
    assert clip.prompt_computations == 1
    n_values = sum(len(a.values) for a in tax.attributes)
    assert bank.matrix.shape == (n_values, PROJECTION_DIM)

    raw = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))
    changed = copy.deepcopy(raw)
    changed["attributes"][1]["templates"] = ["a {label} shirt."]
    tax2 = Taxonomy.from_dict(changed)
    bank2 = clip.prompt_bank(tax2, tmp_path)
    assert clip.prompt_computations == 2
    assert bank2.taxonomy_version != bank.taxonomy_version
    red = bank.keys.index(("color", "red"))
    assert not np.allclose(bank.matrix[red], bank2.matrix[red])

    # a fresh process reads both from the disk cache instead of recomputing
    fresh = ClipModel.load(str(model_dir))
    again = fresh.prompt_bank(tax, tmp_path)
    assert fresh.prompt_computations == 0
    assert np.allclose(again.matrix, bank.matrix)


def test_zero_shot_softmax_over_applicable_values(model_dir):
    tax = Taxonomy.load()
    clip = ClipModel.load(str(model_dir))
    sims = clip.similarities(images(1), tax)[0]
    bank = clip.prompt_bank(tax)
    probs = zero_shot(sims, bank, "material", allowed={"cotton", "wool", "silk"})
    assert set(probs) == {"cotton", "wool", "silk"}
    assert sum(probs.values()) == pytest.approx(1.0)
    sharp = zero_shot(sims, bank, "material", temperature=0.001)
    flat = zero_shot(sims, bank, "material", temperature=10.0)
    assert max(sharp.values()) > max(flat.values())


def test_tagger_with_clip_records_model_and_fuses(clip_env):
    tagger = Tagger.from_settings(load_settings())
    assert tagger.clip_enabled and tagger.clip is not None
    assert tagger.model_id == tagger.clip.model_id != "none"
    assert tagger.clip.batch_size == 2
    img = images(1)[0]
    digest = hashlib.sha256(img.tobytes()).hexdigest()
    items = [
        TagInput(f"s{i}", title="Áo thun màu đỏ", image=img, image_hash=digest) for i in range(3)
    ]
    items.append(TagInput("no-image", title="Black hoodie"))
    analyses = tagger.analyse(items)
    assert tagger.image_scorings == 1  # identical bytes scored once
    category = analyses[0].fused["category"]
    assert category.best.value == "t-shirt"
    # CLIP spoke for the image items (its top value is always among the backers)
    backers = {
        s for a in analyses[:3] for f in a.fused.values() for v in [f.best] if v for s in v.sources
    }
    assert "clip" in backers
    assert "clip" not in {s for f in analyses[3].fused.values() if f.best for s in f.best.sources}
    tags = tagger.tag(items)
    assert ("category", "hoodie") in {(t.attribute, t.value) for t in tags[3]}
    assert tagger.clip.prompt_computations == 1


def test_use_clip_false_runs_without_model(clip_env):
    tagger = Tagger.from_settings(load_settings(), use_clip=False)
    assert not tagger.clip_enabled and tagger.model_id == "none" and tagger.clip is None


def test_unloadable_model_names_the_setting(monkeypatch, tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(broken))
    with pytest.raises(ConfigError, match="ENRICHMENT_CLIP_MODEL"):
        Tagger.from_settings(load_settings())
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", "no-such-org/no-such-clip")
    with pytest.raises(ConfigError, match="ENRICHMENT_CLIP_MODEL"):
        ClipModel.load("no-such-org/no-such-clip")


def test_tag_images_cli_with_clip(clip_env, tmp_path, capsys):
    Image.new("RGB", (60, 80), (200, 20, 30)).save(tmp_path / "a.png")
    (tmp_path / "in.csv").write_text(
        "sku,image,title,description\nA,a.png,Red tee,\n", encoding="utf-8"
    )
    assert (
        main(
            [
                "tag-images",
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "o.jsonl"),
            ]
        )
        == 0
    )
    [line] = (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["sku"] == "A" and record["error"] is None
    assert ("color", "red") in {(t["attribute"], t["value"]) for t in record["tags"]}
    assert clip_env.name in capsys.readouterr().err  # the model id is reported


def test_pipelined_clip_tagging_equals_tagging_the_decoded_images(clip_env, tmp_path):
    """The loader prepares tensors ahead; the tags are those of the plain path."""
    from enrichment.config import load_settings
    from enrichment.images.intake import fetch_image
    from enrichment.images.policy import ImagePolicy
    from enrichment.tagging.engine import Tagger, TagInput
    from enrichment.tagging.pipeline import ImageJob, decode_sides, tag_serial

    jobs = []
    for n, im in enumerate(images(7)):
        im.resize((300, 420)).save(tmp_path / f"{n}.jpg")
        jobs.append(ImageJob(f"S{n}", f"{n}.jpg", "Classic cotton tee"))
    policy = ImagePolicy(base_dir=tmp_path)
    pipelined = Tagger.from_settings(load_settings(), use_clip=True)
    got = [t.tags for t in tag_serial(pipelined, jobs, policy, batch_size=3)]
    assert pipelined.clip.images_encoded == 7

    plain = Tagger.from_settings(load_settings(), use_clip=True)
    inputs = []
    for job in jobs:
        loaded = fetch_image(job.ref, policy, **decode_sides(True))
        inputs.append(TagInput(job.sku, job.title, image=loaded.image, image_hash=loaded.sha256))
    expected = plain.tag(inputs)
    assert [[t.to_dict() for t in tags] for tags in got] == [
        [t.to_dict() for t in tags] for tags in expected
    ]
    assert any("clip" in t.sources for tags in got for t in tags)
