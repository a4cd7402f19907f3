"""Quality while another run is mid-write: store consistency is not judged (its shards
have written vectors that product_state will only hold at its commit), and is judged
again once that run commits."""

from __future__ import annotations

import pytest

from enrichment.orchestration import pipeline
from enrichment.quality.evaluate import run_quality
from enrichment.runs import lifecycle as runs
from enrichment.runs.worker import ShardWorker
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


def test_store_consistency_waits_for_a_run_in_flight(platform_db):
    cat = Catalog(platform_db)
    for sku, title, colour in (("A", "Red cotton tee", "red"), ("B", "Blue dress", "blue")):
        cat.add(sku, title, colour)
    pipeline.run_all("r1", cat.now(), settings=platform_db, use_clip=False)
    cat.add("C", "Green chinos", "green", category="Pants")
    run = runs.detect("r2", cat.now(), settings=platform_db)
    worker = ShardWorker(platform_db, use_clip=False)
    for shard in range(run["shards"]):
        worker.process("r2", shard)  # C's tags and vectors written, not committed

    during = {c.name: c for c in run_quality("r1", docs=False, report=False).checks}
    assert during["consistency.store_counts"].outcome == "skipped"
    assert "run r2 in progress" in during["consistency.store_counts"].observed_text
    assert during["consistency.orphan_tags"].outcome == "pass"  # judged against the source
    assert not [c.name for c in during.values() if c.outcome == "fail"]

    runs.commit("r2", settings=platform_db)
    after = {c.name: c for c in run_quality("r2", docs=False, report=False).checks}
    assert after["consistency.store_counts"].outcome == "pass"
    assert after["consistency.vectors_current.text"].outcome == "pass"
