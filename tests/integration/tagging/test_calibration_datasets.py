"""Real labelled photos, strict mapping: calibrate on a disjoint fifth, score the rest.

Skips cleanly when the shared datasets are absent (a user's clone does not have them).
"""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from enrichment.cli.main import main
from tests.paths import DATASETS, ROOT

pytestmark = pytest.mark.integration

MAGENTO = DATASETS / "magento-sample"
STRICT = ROOT / "include/enrichment/tagging/eval_mappings/magento-sample-strict.yaml"
BASELINE_COLOUR_PRECISION = 0.859  # strict mapping, --no-clip, before the Oklab naming


def _split(tmp_path):
    with (MAGENTO / "labels.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    fold = {r["sku"]: int(hashlib.sha256(r["sku"].encode()).hexdigest(), 16) % 5 for r in rows}
    paths = {}
    for name, keep in (("calibration", lambda f: f == 0), ("rest", lambda f: f != 0)):
        paths[name] = tmp_path / f"{name}.csv"
        with paths[name].open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, header)
            w.writeheader()
            w.writerows(r for r in rows if keep(fold[r["sku"]]))
    return paths


@pytest.mark.skipif(not (MAGENTO / "labels.csv").exists(), reason="shared datasets absent")
def test_magento_colour_calibrated_on_a_fifth_reaches_the_target(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.delenv("ENRICHMENT_CALIBRATION", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    labels = _split(tmp_path)
    common = ["--manifest", str(MAGENTO / "manifest.csv"), "--mapping", str(STRICT), "--no-clip"]
    assert main(["calibrate", *common, "--labels", str(labels["calibration"]),
                 "--output", str(tmp_path / "cal")]) == 0  # fmt: skip
    assert "color: head" in capsys.readouterr().out
    assert main(["evaluate", *common, "--labels", str(labels["rest"]), "--attributes",
                 "color,category"]) == 0  # fmt: skip
    before = json.loads(capsys.readouterr().out)["attributes"]
    assert main(["evaluate", *common, "--labels", str(labels["rest"]), "--attributes",
                 "color,category", "--calibration", str(tmp_path / "cal")]) == 0  # fmt: skip
    after = json.loads(capsys.readouterr().out)["attributes"]
    assert before["color"]["precision"] > BASELINE_COLOUR_PRECISION
    assert after["color"]["precision"] >= 0.92 and after["color"]["coverage"] >= 0.7
    assert after["category"]["precision"] >= 0.92
    assert after["category"]["coverage"] >= before["category"]["coverage"]
