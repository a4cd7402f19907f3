"""Fault injection: ``python -m enrichment run`` is SIGKILLed part-way through its shards,
then recovered by each documented path; the stores end equal to a clean run.

Recovery paths: ``run --run-id SAME`` again; ``process-shard`` for every shard then
``commit``; a new run id (the crashed run is superseded, then ``abandon``ed). A clean
run of an identical catalogue in another database is the reference. Compared: tags
(value, confidence, sources), product documents, text vectors (content hash and the
embedding to 5 decimals), product_state and the watermark's position; counted: lost
SKUs (in the reference, missing after recovery), duplicates and orphans.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from enrichment.db import connection as db
from enrichment.db import schema as db_schema
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog
from tests.paths import ROOT

pytestmark = pytest.mark.integration

PRODUCTS = [
    (f"S{n:02d}", title, colour, category)
    for n, (title, colour, category) in enumerate(
        [
            ("Classic tee", "red", "T-Shirts"),
            ("Summer dress", "blue", "Dresses"),
            ("Chino pants", "green", "Pants"),
            ("Wool hat", "black", "Hats"),
            ("Canvas bag", "yellow", "Bags"),
            ("Striped shirt", "white", "Shirts"),
        ]
        * 3
    )
]


def seed(cat: Catalog) -> None:
    for sku, title, colour, category in PRODUCTS:
        cat.add(sku, f"{title} {sku}", colour, category=category)


def fingerprint(cat: Catalog) -> dict:
    """What a run leaves behind, minus timestamps (image versions are update times)."""
    name = cat.sql(
        "SELECT name FROM enrichment.vector_indexes WHERE kind = 'text' AND state = 'active'"
    )[0][0]
    vectors = cat.sql(f"SELECT sku, content_hash, embedding::text FROM enrichment.vec_{name}")
    return {
        "tags": sorted(
            cat.sql("SELECT sku, attribute, value, confidence, sources::text FROM enrichment.tags")
        ),
        "docs": sorted(cat.sql("SELECT sku, title, price, active FROM enrichment.product_docs")),
        "vectors": {
            s: (h, np.array([float(x) for x in e.strip("[]").split(",")])) for s, h, e in vectors
        },
        "state": sorted(
            cat.sql("SELECT sku, active, text_hash, meta_hash FROM enrichment.product_state")
        ),
    }


def assert_equal(got: dict, want: dict) -> None:
    for key in ("tags", "docs", "state"):
        assert got[key] == want[key], key
    assert got["vectors"].keys() == want["vectors"].keys()
    for sku, (text_hash, vector) in want["vectors"].items():
        assert got["vectors"][sku][0] == text_hash, sku
        # batch composition changes the last float bits, nothing more
        assert np.abs(got["vectors"][sku][1] - vector).max() < 1e-4, sku


def cli(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "enrichment", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_after_results(proc: subprocess.Popen, results_dir: Path, shards_done: int) -> int:
    """SIGKILL ``proc`` once ``shards_done`` shard results exist; returns how many did."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(results_dir.glob("*/result-*.json"))) >= shards_done:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before the fault: {proc.communicate()[0]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    return len(list(results_dir.glob("*/result-*.json")))


@pytest.fixture
def reference(platform_db, tmp_path, monkeypatch):
    """A clean run of the same catalogue in its own database."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.server_url(platform_db)
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    (tmp_path / "ref-images").mkdir()
    settings = dataclasses.replace(
        platform_db,
        database_url=url,
        shard_store=str(tmp_path / "ref-shards"),
        image_root=tmp_path / "ref-images",
    )
    db_schema.upgrade(url, settings.state_schema)
    cat = Catalog(settings)
    seed(cat)
    pipeline.run_all("clean", cat.now(), settings=settings, use_clip=False)
    yield fingerprint(cat)
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("recovery", ["rerun_same_id", "shards_then_commit", "new_run_id"])
def test_sigkill_mid_run_then_recovery_equals_a_clean_run(
    platform_db, reference, monkeypatch, recovery
):
    monkeypatch.setenv("ENRICHMENT_SHARD_SIZE", "3")  # 6 shards: the kill lands between them
    cat = Catalog(platform_db)
    seed(cat)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'include'}:{ROOT / 'plugins'}"}
    shards = Path(os.environ["ENRICHMENT_SHARD_STORE"])
    upper = cat.now().isoformat()
    crashed = cli("run", "--run-id", "R1", "--upper", upper, "--no-clip", env=env)
    done = kill_after_results(crashed, shards, 2)
    assert 2 <= done < 6
    assert platform_status(platform_db)["runs_in_progress"] == 1

    if recovery == "rerun_same_id":
        steps = [["run", "--run-id", "R1", "--upper", upper, "--no-clip"]]
    elif recovery == "shards_then_commit":
        steps = [
            ["process-shard", "--run-id", "R1", "--shard", str(n), "--no-clip"] for n in range(6)
        ]
        steps.append(["commit", "--run-id", "R1"])
    else:
        steps = [
            ["run", "--run-id", "R2", "--no-clip"],
            ["abandon", "--run-id", "R1", "--reason", "killed"],
        ]
    for step in steps:
        proc = cli(*step, env=env)
        out = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, out

    assert_equal(fingerprint(cat), reference)
    status = platform_status(platform_db)
    assert status["orphan_tags"] == status["orphan_vectors"] == 0
    assert status["tagged_active"] == status["vectors_active"] == len(PRODUCTS)
    assert status["runs_in_progress"] == 0
    committed = cat.sql(
        "SELECT run_id FROM enrichment.runs WHERE status = 'committed' AND kind = 'incremental' "
        "ORDER BY committed_at DESC LIMIT 1"
    )
    assert [r[0] for r in cat.sql("SELECT run_id FROM enrichment.capture_positions")] == [
        committed[0][0]
    ]  # the capture position is the last committed run's, written once
    # a further incremental run finds nothing: no item lost, none left half-done
    again = pipeline.run_all("after", cat.now(), settings=platform_db, use_clip=False)
    assert again["changes"] == {}
