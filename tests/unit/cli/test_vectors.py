"""Vector commands: embed a CSV, nearest neighbours and index versions after a run."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment.cli import vectors
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog
from tests.unit.cli.parser import help_of, run, run_json


def test_help_lists_the_vector_commands(capsys):
    text = help_of(vectors, [], capsys)
    for command in ("embed-text", "similar", "index", "evaluate-embeddings"):
        assert command in text
    assert "versions" in help_of(vectors, ["index"], capsys)


def test_embed_text_writes_one_normalised_row_per_csv_row(tmp_path):
    source = tmp_path / "items.csv"
    source.write_text("sku,image,title,description\nA,,Red cotton tee,soft\n"
                      "B,,Blue summer dress,light\nC,,Red cotton t-shirt,soft\n")  # fmt: skip
    assert (
        run(vectors, ["embed-text", "--input", str(source), "--output", str(tmp_path / "v.npy")])
        == 0
    )
    matrix = np.load(tmp_path / "v.npy")
    assert matrix.shape[0] == 3 and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert matrix[0] @ matrix[2] > matrix[0] @ matrix[1]  # the two tees are closest


@pytest.mark.integration
def test_similar_and_index_versions_after_a_run(platform_db, capsys):
    cat = Catalog(platform_db)
    cat.add("A", "Classic red cotton tee")
    cat.add("B", "Red cotton t-shirt", "red")
    cat.add("C", "Wool winter hat", "black", category="Hats")
    pipeline.run_all("r1", cat.now(), settings=platform_db, use_clip=False)
    code, found = run_json(vectors, ["similar", "A", "--k", "2", "--exact", "--json"], capsys)
    assert code == 0 and found["kind"] == "text"
    assert [n["sku"] for n in found["neighbours"]][0] == "B"
    code, versions = run_json(vectors, ["index", "versions", "--json"], capsys)
    (text,) = [v for v in versions if v["kind"] == "text"]
    assert code == 0 and text["state"] == "active" and text["vectors"] == 3
    assert run(vectors, ["similar", "NOPE"]) == 1
    assert "NOPE" in capsys.readouterr().err
    assert run(vectors, ["similar", "A", "--category", "hats", "--exact"]) == 0
    assert "spelt as in the catalogue, case included" in capsys.readouterr().err
    assert run(vectors, ["similar", "A", "--kind", "image"]) == 1
    assert "ENRICHMENT_CLIP_MODEL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(vectors, ["similar", "A", "--k", "0"])
    assert "--k: must be at least 1" in capsys.readouterr().err
