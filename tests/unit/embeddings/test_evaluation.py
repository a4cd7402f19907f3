"""Label precision@k of nearest neighbours, and the ``evaluate-embeddings`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enrichment.cli.main import main
from enrichment.embeddings.evaluation import precision_at_k
from tests.fakes.tiny_text_model import build_tiny_text_model
from tests.paths import DATASETS

pytestmark = pytest.mark.unit
MAGENTO = DATASETS / "magento-sample"


def test_precision_excludes_the_query_and_reports_chance():
    # two tight clusters; item 5 sits in cluster "a" but is labelled "b"
    vecs = np.array([[1, 0.01 * i] for i in range(6)] + [[0.01 * i, 1] for i in range(4)], float)
    labels = ["a"] * 5 + ["b"] + ["b"] * 4
    got = precision_at_k(vecs, labels, k=3)
    # a-items: 3 nearest are other a-items except when item 5 is among them
    assert got["n"] == 10 and got["k"] == 3
    assert got["per_label"]["a"]["precision_at_k"] == pytest.approx(
        (1 + 1 + 1 + 2 / 3 + 2 / 3) / 5, abs=1e-4
    )
    assert got["per_label"]["b"]["n"] == 5
    assert got["chance"] == pytest.approx((5 * 4 + 5 * 4) / 90, abs=1e-4)
    alone = precision_at_k(np.eye(3), ["x", "y", "y"], k=1)
    assert alone["per_label"]["x"]["precision_at_k"] == 0.0  # itself does not count
    with pytest.raises(ValueError):
        precision_at_k(np.eye(2), ["x"], k=1)


def test_command_prints_json_and_dedupes_identical_vectors(tmp_path, monkeypatch, capsys):
    model = build_tiny_text_model(tmp_path / "m", dim=16)
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(model))
    (tmp_path / "m.csv").write_text(
        "sku,image,title,description\n1,,red tee,cotton\n2,,red tee,cotton\n3,,blue hat,wool\n"
        "4,,green hat,wool\n5,,unlabelled,x\n",
        encoding="utf-8",
    )
    (tmp_path / "l.csv").write_text(
        "sku,category\n1,Tees\n2,tees\n3,hats\n4,hats\n5,\n", encoding="utf-8"
    )
    args = [
        "evaluate-embeddings",
        "--manifest",
        str(tmp_path / "m.csv"),
        "--labels",
        str(tmp_path / "l.csv"),
        "--column",
        "category",
        "--k",
        "1",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4 and out["k"] == 1 and out["deduplicated"] == 0
    assert out["per_label"]["tees"]["precision_at_k"] == 1.0  # identical texts find each other
    assert main([*args, "--dedupe"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3
    assert main([*args[:-4], "--column", "colour"]) == 2
    assert "missing column(s) colour" in capsys.readouterr().err


@pytest.mark.skipif(not MAGENTO.exists(), reason="magento-sample dataset not present")
def test_bundled_model_groups_magento_products_by_category(capsys):
    assert (
        main(
            [
                "evaluate-embeddings",
                "--manifest",
                str(MAGENTO / "manifest.csv"),
                "--labels",
                str(MAGENTO / "labels.csv"),
                "--column",
                "category",
                "--k",
                "10",
                "--dedupe",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n"] > 100 and out["precision_at_k"] > 3 * out["chance"]
