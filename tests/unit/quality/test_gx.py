"""Great Expectations evaluates the check specs on a data frame; Data Docs are built."""

from __future__ import annotations

import pandas as pd
import pytest

from enrichment.quality import checks as qc
from enrichment.quality import gx

pytestmark = pytest.mark.unit


def test_a_frame_plan_is_judged_and_offending_rows_are_named(tmp_path):
    frame = pd.DataFrame(
        [("vector store (text)", "pgvector", 10, 10), ("tag search (es)", "es", 10, 9)],
        columns=["store", "backend", "expected", "actual"],
    )
    specs = qc.store_count_checks()
    plan = qc.AssetPlan("store_counts", checks=specs, frame=frame, index_column="store")
    docs = tmp_path / "docs"
    out = gx.evaluate([plan], "postgresql://unused", run_name="r1", docs_dir=docs)
    result = out[specs[0].name]
    assert result["success"] is False and result["error"] is None
    assert result["result"]["unexpected_count"] == 1
    rows = result["result"]["partial_unexpected_index_list"]
    assert [r["store"] for r in rows] == ["tag search (es)"]
    assert (docs / "index.html").is_file()
    gx.clear_docs(docs)
    assert not docs.exists()


def test_a_ratio_check_reads_the_column_mean_within_its_condition():
    frame = pd.DataFrame({"sku": list("ABCD"), "attribute": ["color"] * 4, "tagged": [1, 1, 1, 0]})
    spec = qc.CheckSpec("coverage.color", "coverage", "Colour", "min_ratio",
                        "ExpectColumnMeanToBeBetween", {"column": "tagged", "min_value": 0.7},
                        0.7, ("attribute", "==", "color"))  # fmt: skip
    out = gx.evaluate([qc.AssetPlan("cov", checks=[spec], frame=frame)], "", run_name="r")
    assert out["coverage.color"]["success"] is True
    assert out["coverage.color"]["result"]["observed_value"] == 0.75
