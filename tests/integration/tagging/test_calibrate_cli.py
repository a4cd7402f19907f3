"""calibrate -> tag-images / evaluate --calibration on a small generated catalogue.

The catalogue's own palette differs from the taxonomy's: its "red" products are pink
and its "blue" ones navy. Without a calibration the tagger names what it sees (pink,
navy), which this catalogue's labels call wrong; calibrated on a labelled sample it
emits the catalogue's names, with the calibration id in the lineage.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from enrichment.cli.main import main
from tests.fakes.tiny_clip import build_tiny_clip

pytestmark = pytest.mark.integration

PALETTE = {"red": (236, 120, 160), "blue": (28, 36, 88), "black": (22, 22, 22)}
TITLES = ["Cotton T-shirt", "Crew neck tee", "Hooded sweatshirt"]


def _garment(path: Path, colour, rng: random.Random) -> None:
    img = Image.new("RGB", (120, 150), (255, 255, 255))
    jitter = tuple(max(0, min(255, c + rng.randint(-12, 12))) for c in colour)
    x0, y0 = rng.randint(20, 35), rng.randint(15, 30)
    ImageDraw.Draw(img).rectangle([x0, y0, 120 - x0, 150 - y0], fill=jitter)
    img.save(path)


def _catalogue(root: Path, n: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    (root / "img").mkdir(parents=True)
    rows, labels = [], []
    for i in range(n):
        label = list(PALETTE)[i % 3]
        _garment(root / "img" / f"{i}.png", PALETTE[label], rng)
        rows.append({"sku": f"S{i}", "image": f"img/{i}.png", "title": TITLES[i % 2],
                     "description": ""})  # fmt: skip
        labels.append({"sku": f"S{i}", "color": label})
    manifest, labels_csv = root / "manifest.csv", root / "labels.csv"
    for path, data in ((manifest, rows), (labels_csv, labels)):
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, list(data[0]))
            w.writeheader()
            w.writerows(data)
    return manifest, labels_csv


@pytest.fixture
def no_clip_env(tmp_path, monkeypatch):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.delenv("ENRICHMENT_CALIBRATION", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _tag(manifest: Path, out: Path, *extra: str) -> list[dict]:
    assert main(["tag-images", "--input", str(manifest), "--output", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _colours(records: list[dict]) -> dict[str, str]:
    return {r["sku"]: t["value"] for r in records for t in r["tags"] if t["attribute"] == "color"}


def test_calibrate_then_tag_images_with_calibration(no_clip_env, capsys, monkeypatch):
    tmp = no_clip_env
    manifest, labels = _catalogue(tmp / "sample", 60, seed=1)
    cal_dir = tmp / "cal"
    code = main(["calibrate", "--manifest", str(manifest), "--labels", str(labels),
                 "--output", str(cal_dir), "--no-clip"])  # fmt: skip
    assert code == 0
    report = capsys.readouterr().out
    assert "color: head" in report and "expected precision" in report
    meta = json.loads((cal_dir / "calibration.json").read_text())
    cal_id = meta["id"]
    assert meta["attributes"]["color"]["precision"]["value"] >= 0.92

    new_manifest, new_labels = _catalogue(tmp / "new", 30, seed=2)
    gold = {r["sku"]: r["color"] for r in csv.DictReader(new_labels.open())}
    before = _colours(_tag(new_manifest, tmp / "before.jsonl", "--no-clip"))
    assert not any(gold[s] == v for s, v in before.items() if gold[s] != "black")
    after = _colours(
        _tag(new_manifest, tmp / "after.jsonl", "--no-clip", "--calibration", str(cal_dir))
    )
    assert len(after) >= 25 and sum(gold[s] == v for s, v in after.items()) >= 0.92 * len(after)
    assert f".cal-{cal_id}" in capsys.readouterr().err

    # evaluate --calibration, and the run setting, apply the same calibration
    assert main(["evaluate", "--manifest", str(new_manifest), "--labels", str(new_labels),
                 "--no-clip", "--calibration", str(cal_dir)]) == 0  # fmt: skip
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["calibration"] == cal_id
    assert evaluated["attributes"]["color"]["precision"] >= 0.92
    monkeypatch.setenv("ENRICHMENT_CALIBRATION", str(cal_dir))
    assert _colours(_tag(new_manifest, tmp / "env.jsonl", "--no-clip")) == after


def test_calibration_from_another_taxonomy_is_refused(no_clip_env, capsys, monkeypatch):
    tmp = no_clip_env
    manifest, labels = _catalogue(tmp / "sample", 24, seed=3)
    cal_dir = tmp / "cal"
    assert main(["calibrate", "--manifest", str(manifest), "--labels", str(labels),
                 "--output", str(cal_dir), "--no-clip"]) == 0  # fmt: skip
    meta = json.loads((cal_dir / "calibration.json").read_text())
    assert "sample too small" in " ".join(meta["attributes"]["color"]["notes"])
    from enrichment.tagging.taxonomy import DEFAULT_TAXONOMY_PATH

    edited = tmp / "taxonomy.yaml"
    edited.write_text(
        DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8").replace(
            "threshold: 0.55", "threshold: 0.6", 1
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("ENRICHMENT_TAXONOMY", str(edited))
    code = main(["tag-images", "--input", str(manifest), "--output", str(tmp / "o.jsonl"),
                 "--no-clip", "--calibration", str(cal_dir)])  # fmt: skip
    assert code == 2
    assert "run calibrate again" in capsys.readouterr().err


def _patterned(root: Path, n: int, seed: int) -> tuple[Path, Path]:
    """Solid and striped garments; no pattern word in the text: only the photo tells."""
    rng = random.Random(seed)
    (root / "img").mkdir(parents=True)
    rows, labels = [], []
    for i in range(n):
        label = ("solid", "striped")[i % 2]
        img = Image.new("RGB", (96, 96), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        colour = tuple(rng.randint(30, 220) for _ in range(3))
        draw.rectangle([16, 12, 80, 84], fill=colour)
        if label == "striped":
            for y in range(12, 84, 8):
                draw.rectangle([16, y, 80, y + 3], fill=(250, 250, 250))
        img.save(root / "img" / f"{i}.png")
        rows.append({"sku": f"P{i}", "image": f"img/{i}.png", "title": "Shirt", "description": ""})
        labels.append({"sku": f"P{i}", "pattern": label})
    manifest, labels_csv = root / "manifest.csv", root / "labels.csv"
    for path, data in ((manifest, rows), (labels_csv, labels)):
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, list(data[0]))
            w.writeheader()
            w.writerows(data)
    return manifest, labels_csv


def test_linear_probe_on_tiny_clip_embeddings(tmp_path, monkeypatch, capsys):
    from enrichment.tagging.calibration_types import load_calibration

    model = build_tiny_clip(tmp_path / "tiny-clip")
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(model))
    monkeypatch.delenv("ENRICHMENT_CALIBRATION", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    manifest, labels = _patterned(tmp_path / "sample", 80, seed=4)
    cal_dir = tmp_path / "cal"
    assert main(["calibrate", "--manifest", str(manifest), "--labels", str(labels),
                 "--output", str(cal_dir), "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    pattern = report["attributes"]["pattern"]
    # random weights: zero-shot is noise, but a linear probe on the embedding separates
    assert pattern["kind"] == "head" and "clip" in pattern["features"]
    assert report["clip_model"]  # the calibration names the model it reads
    cal = load_calibration(cal_dir)
    assert int(cal.arrays["head.pattern.clip_dim"][0]) == 16
    records = _tag(manifest, tmp_path / "tags.jsonl", "--calibration", str(cal_dir))
    gold = {f"P{i}": ("solid", "striped")[i % 2] for i in range(80)}
    emitted = {r["sku"]: t["value"] for r in records for t in r["tags"]
               if t["attribute"] == "pattern"}  # fmt: skip
    assert emitted and sum(gold[s] == v for s, v in emitted.items()) >= 0.9 * len(emitted)
    # a calibration that reads CLIP refuses to run without that model
    code = main(["tag-images", "--input", str(manifest), "--output", str(tmp_path / "x.jsonl"),
                 "--no-clip", "--calibration", str(cal_dir)])  # fmt: skip
    assert code == 2
    assert "reads CLIP model" in capsys.readouterr().err
