"""Calibration maths: intervals, threshold choice, heads on synthetic evidence, the file format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enrichment.config import ConfigError
from enrichment.tagging.calibration import (
    Candidates,
    LabelledItem,
    calibrate,
    choose_threshold,
    decide,
)
from enrichment.tagging.calibration_types import (
    Estimate,
    lineage_version,
    load_calibration,
    save_calibration,
    wilson_interval,
)
from enrichment.tagging.engine import ItemAnalysis
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit


def test_wilson_interval_reference_values_and_width():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # all right on a small sample is far from certain; the interval narrows with n
    assert wilson_interval(20, 20)[0] < 0.85
    widths = [np.subtract(*wilson_interval(int(0.9 * n), n)[::-1]) for n in (20, 100, 1000)]
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[0] / widths[2] == pytest.approx(np.sqrt(1000 / 20), rel=0.35)


def test_threshold_reaches_target_with_most_coverage():
    rng = np.random.default_rng(0)
    score = rng.uniform(0, 1, 4000)
    correct = rng.uniform(0, 1, 4000) < score  # P(correct | score) = score
    item = np.arange(4000)
    t, emitted, right, covered = choose_threshold(score, correct, item, 4000, 0.9)
    assert right / emitted >= 0.9
    # above t the expected precision is (1 + t) / 2 = 0.9, so t is near 0.8
    assert t == pytest.approx(0.8, abs=0.04)
    assert covered == emitted == int((score >= t).sum())
    # any lower threshold misses the target
    lower = score >= t - 0.05
    assert correct[lower].mean() < 0.9


def test_threshold_unreachable_and_ties():
    score = np.array([0.9, 0.9, 0.5])
    correct = np.array([True, False, True])
    assert choose_threshold(score, correct, np.arange(3), 3, 0.9)[0] is None
    # a tie is never split: both 0.9s are emitted or neither
    score = np.array([0.95, 0.9, 0.9, 0.2])
    correct = np.array([True, True, False, False])
    t, emitted, _, _ = choose_threshold(score, correct, np.arange(4), 4, 0.6)
    assert t == 0.9 and emitted == 3


def test_multi_valued_coverage_counts_items_once():
    score = np.array([0.9, 0.8, 0.7])
    correct = np.array([True, True, True])
    item = np.array([0, 0, 1])  # two tags on item 0
    t, emitted, right, covered = choose_threshold(score, correct, item, 4, 0.9)
    assert (t, emitted, right, covered) == (0.7, 3, 3, 2)


def test_category_gets_its_own_threshold_where_it_is_large_enough():
    rng = np.random.default_rng(1)
    n = 400
    score = rng.uniform(0, 1, n)
    group = ["hard" if i % 2 else "easy" for i in range(n)]
    # "easy" items are right whatever their score; "hard" ones only when score is high
    correct = np.array([g == "easy" or s > 0.7 for g, s in zip(group, score, strict=True)])
    cand = Candidates(score, correct, np.arange(n), group, n)
    d = decide(cand, 0.95, min_category=100)
    assert d["per_category"]["easy"] < 0.05
    assert d["per_category"]["hard"] >= 0.6
    assert d["precision"].value >= 0.95
    assert d["coverage"].value > 0.6


def _colour_items(n: int, seed: int = 0) -> list[LabelledItem]:
    """Synthetic colour evidence: the pixel signal says "pink" for items labelled red."""
    from enrichment.tagging.signals.colour import STAT_SIZE, ColourResult

    rng = np.random.default_rng(seed)
    palette = {"red": "pink", "blue": "navy", "black": "black"}
    items = []
    for i in range(n):
        label = list(palette)[i % 3]
        seen = palette[label]
        share = float(rng.uniform(0.5, 0.95))
        other = "gray"
        shares = {seen: share, other: 1 - share}
        colour = ColourResult(shares, 0.3, False, rng.normal(0, 0.01, STAT_SIZE))
        a = ItemAnalysis(f"S{i}", colour=colour)
        a.evidence["color"] = {"pixels": shares}
        items.append(LabelledItem(a, {"color": {label}}))
    return items


def test_head_learns_the_catalogues_palette_and_round_trips(tmp_path):
    taxonomy = Taxonomy.load()
    cal = calibrate(taxonomy, _colour_items(90), ["color"], 0.92, None, {"items": 90})
    ac = cal.attributes["color"]
    assert ac.kind == "head" and set(ac.classes) == {"red", "blue", "black"}
    assert ac.precision.value >= 0.92 and ac.coverage.value > 0.8
    assert ac.signal_worth["pixels"]["precision"]["value"] == pytest.approx(1 / 3, abs=0.01)
    save_calibration(cal, tmp_path / "cal")
    loaded = load_calibration(tmp_path / "cal")
    assert loaded.id == cal.id and len(cal.id) == 12
    assert loaded.attributes["color"].precision == ac.precision
    assert lineage_version(taxonomy.version, loaded.id) == f"{taxonomy.version}.cal-{cal.id}"
    # another sample is another version
    other = calibrate(taxonomy, _colour_items(90, seed=5), ["color"], 0.92, None, {})
    save_calibration(other, tmp_path / "other")
    assert other.id != cal.id


def test_small_sample_is_said_to_be_too_small():
    cal = calibrate(Taxonomy.load(), _colour_items(15), ["color"], 0.92, None, {})
    ac = cal.attributes["color"]
    assert ac.too_small and "sample too small" in ac.notes[0]
    # no firm estimate: the taxonomy's own decision stays (or nothing, if unreachable)
    assert ac.kind == "taxonomy" or ac.threshold is None


def test_altered_calibration_is_refused(tmp_path):
    cal = calibrate(Taxonomy.load(), _colour_items(60), ["color"], 0.92, None, {})
    save_calibration(cal, tmp_path / "cal")
    meta = tmp_path / "cal" / "calibration.json"
    data = json.loads(meta.read_text())
    data["attributes"]["color"]["threshold"] = 0.0
    meta.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="changed after it was written"):
        load_calibration(tmp_path / "cal")
    with pytest.raises(ConfigError, match="cannot read a calibration"):
        load_calibration(tmp_path / "nowhere", "ENRICHMENT_CALIBRATION")


def test_estimate_of():
    e = Estimate.of(46, 50)
    assert e.value == 0.92 and e.low < 0.92 < e.high


def test_calibration_id_joins_the_tag_lineage(tmp_path):
    from dataclasses import replace

    from enrichment.bluegreen.es_indexes import configured_version
    from enrichment.config import load_settings
    from enrichment.tagging.engine import Tagger

    taxonomy = Taxonomy.load()
    cal = calibrate(taxonomy, _colour_items(60), ["color"], 0.92, None, {})
    save_calibration(cal, tmp_path / "cal")
    tagger = Tagger(taxonomy, calibration=load_calibration(tmp_path / "cal"))
    assert tagger.taxonomy_version == f"{taxonomy.version}.cal-{cal.id}"
    assert Tagger(taxonomy).taxonomy_version == taxonomy.version
    settings = replace(load_settings(), calibration_path=tmp_path / "cal")
    assert configured_version(settings) == tagger.taxonomy_version
