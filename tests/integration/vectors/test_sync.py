"""Incremental runs keep text and image vectors in sync, re-embedding only what changed.

Text: the bundled all-MiniLM-L6-v2; images: the tiny random CLIP through the real loader.
Also ``similar`` and ``embed-text`` from the command line on what the runs stored.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from enrichment.cli.main import main
from enrichment.config import load_settings
from enrichment.db.connection import connect
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status
from enrichment.vectors.records import VectorRecord
from enrichment.vectors.store import PgVectorStore
from tests.catalog_fixture import Catalog
from tests.fakes.tiny_clip import PROJECTION_DIM, build_tiny_clip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def catalog(platform_db, clip_dir, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(clip_dir))
    settings = load_settings()
    assert settings.vector_kinds == ("text", "image")
    cat = Catalog(settings)
    cat.add("A", "Classic cotton tee", "red", description="Soft <b>cotton</b> tee.")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    cat.add("C", "Chino pants", "green", category="Pants")
    cat.add("D", "Áo thun nữ màu đỏ", "red", description="Chất liệu cotton mềm mại.")
    return cat


def run(cat: Catalog, run_id: str) -> dict:
    summary = pipeline.run_all(run_id, cat.now(), settings=cat.settings)
    return summary["step_counts"]


def vectors(cat: Catalog, kind: str, state: str = "active") -> dict[str, tuple]:
    name = cat.sql(
        "SELECT name FROM enrichment.vector_indexes WHERE kind = %s AND state = %s", (kind, state)
    )[0][0]
    return {
        r[0]: (np.asarray(r[1]), r[2], r[3], r[4])
        for r in cat.sql(
            f"SELECT sku, embedding::real[], content_hash, price, updated_at "
            f"FROM enrichment.vec_{name}"
        )
    }


def same(before: dict, after: dict, skus) -> bool:
    return all(
        np.array_equal(before[s][0], after[s][0]) and before[s][1] == after[s][1] for s in skus
    )


def test_only_the_changed_content_is_re_embedded_and_deletes_reach_all_versions(catalog):
    first = run(catalog, "r1")
    assert first["text_vectors_upserted"] == 4 and first["image_vectors_upserted"] == 4
    assert platform_status(catalog.settings)["vectors_active"] == 4
    text0, image0 = vectors(catalog, "text"), vectors(catalog, "image")
    assert len(text0["A"][0]) == 384 and len(image0["A"][0]) == PROJECTION_DIM

    catalog.set_price("A", 12.5)  # metadata only
    counts = run(catalog, "r2")
    assert counts.get("text_vectors_upserted", 0) == counts.get("image_vectors_upserted", 0) == 0
    assert counts.get("text_vectors_embedded", 0) == counts.get("image_vectors_embedded", 0) == 0
    text1, image1 = vectors(catalog, "text"), vectors(catalog, "image")
    assert same(text0, text1, "ABCD") and same(image0, image1, "ABCD")
    assert text1["A"][2] == image1["A"][2] == 12.5  # metadata refreshed in both kinds

    catalog.set_title("B", "Linen summer dress")  # text only
    counts = run(catalog, "r3")
    assert counts["text_vectors_upserted"] == counts["text_vectors_embedded"] == 1
    assert counts.get("image_vectors_upserted", 0) == 0
    text2, image2 = vectors(catalog, "text"), vectors(catalog, "image")
    assert not np.array_equal(text2["B"][0], text1["B"][0]) and text2["B"][1] != text1["B"][1]
    assert same(text1, text2, "ACD") and all(text1[s][3] == text2[s][3] for s in "ACD")
    assert same(image1, image2, "ABCD")

    catalog.set_image("C", "yellow")  # image only
    counts = run(catalog, "r4")
    assert counts["image_vectors_upserted"] == 1
    assert counts.get("text_vectors_upserted", 0) == 0
    text3, image3 = vectors(catalog, "text"), vectors(catalog, "image")
    assert not np.array_equal(image3["C"][0], image2["C"][0])
    assert same(image2, image3, "ABD") and same(text2, text3, "ABCD")

    # equal content across SKUs is embedded once
    for sku in ("E", "F"):
        catalog.add(sku, "Twin tee", "black", description="Same words for both.")
    counts = run(catalog, "r5")
    assert counts["text_vectors_embedded"] == 1 and counts["text_vectors_upserted"] == 2
    text5 = vectors(catalog, "text")
    assert np.array_equal(text5["E"][0], text5["F"][0])

    # deletes remove every kind and every version, including one being built
    store = PgVectorStore(catalog.url, "enrichment")
    building = store.ensure_index("text", "another-model", "p", 8)
    store.upsert(building, [VectorRecord(s, np.ones(8), "h") for s in "ABD"])
    catalog.soft_delete("D")
    catalog.hard_delete("A")
    counts = run(catalog, "r6")
    assert counts["vectors_deleted"] == 6  # A and D: text, image, building
    assert "D" not in vectors(catalog, "image") and "A" not in vectors(catalog, "text")
    assert sorted(vectors(catalog, "text", "building")) == ["B"]
    status = platform_status(catalog.settings)
    assert status["orphan_vectors"] == 0 and status["vectors_active"] == 4


def test_similar_and_embed_text_from_the_command_line(catalog, tmp_path, capsys):
    run(catalog, "r1")
    capsys.readouterr()
    assert main(["similar", "A", "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "text" and out["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    skus = [n["sku"] for n in out["neighbours"]]
    assert len(skus) == 3 and "A" not in skus
    scores = [n["score"] for n in out["neighbours"]]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert main(["similar", "B", "--kind", "image", "--k", "2", "--category", "Pants"]) == 0
    text = capsys.readouterr().out
    assert "image neighbours of B" in text and " C " in text and " A " not in text
    assert main(["similar", "NOPE"]) == 1
    assert "NOPE has no vector" in capsys.readouterr().err

    csv = tmp_path / "products.csv"
    csv.write_text(
        "sku,image,title,description,brand,category\n"
        "A,A-red.png,Classic cotton tee,Soft <b>cotton</b> tee.,Acme,T-Shirts\n"
        "X,,Áo thun nữ màu đỏ,Chất liệu cotton mềm mại.,,\n"
        "Y,,Áo thun nữ màu đỏ,Chất liệu cotton mềm mại.,,\n",
        encoding="utf-8",
    )
    out_path = tmp_path / "out" / "vectors.npy"
    assert main(["embed-text", "--input", str(csv), "--output", str(out_path)]) == 0
    matrix = np.load(out_path)
    assert matrix.shape == (3, 384) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)
    assert np.array_equal(matrix[1], matrix[2]) and not np.allclose(matrix[0], matrix[1])
    stored = vectors(catalog, "text")["A"][0]
    assert np.allclose(matrix[0], stored, atol=1e-5)  # same preparation offline and in runs
    with connect(catalog.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM enrichment.vector_indexes")
        assert cur.fetchone()[0] == 2


def test_target_index_is_the_configured_models_version_and_a_retired_one_is_refused(
    platform_db, tmp_path, monkeypatch
):
    from enrichment.config import ConfigError
    from enrichment.db.connection import database_url
    from enrichment.embeddings.factory import text_embedder_from_settings
    from enrichment.vectors.sync import target_index
    from tests.fakes.tiny_text_model import build_tiny_text_model

    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(build_tiny_text_model(tmp_path / "m", dim=16)))
    embedder = text_embedder_from_settings(load_settings())
    store = PgVectorStore(database_url(platform_db), platform_db.state_schema)
    index = target_index(store, embedder)
    assert (index.kind, index.dim, index.state) == ("text", 16, "active")
    assert index.model_id == embedder.model_id
    assert target_index(store, embedder).name == index.name  # created once
    with connect(database_url(platform_db)) as conn, conn.cursor() as cur:
        cur.execute(
            f"UPDATE {platform_db.state_schema}.vector_indexes SET state = 'retired' "
            "WHERE name = %s",
            (index.name,),
        )
    with pytest.raises(ConfigError, match=f"writes to index {index.name}, which was retired"):
        target_index(store, embedder)
