"""``tag-images`` and ``evaluate`` commands on generated images (no CLIP, no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from enrichment.cli.main import main
from tests.paths import DATASETS, ROOT

pytestmark = pytest.mark.unit


def garment(path: Path, colour) -> None:
    img = Image.new("RGB", (240, 300), (255, 255, 255))
    ImageDraw.Draw(img).rectangle([60, 50, 180, 250], fill=colour)
    img.save(path)


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "img").mkdir()
    garment(tmp_path / "img" / "red.png", (205, 25, 35))
    garment(tmp_path / "img" / "navy.jpg", (20, 28, 80))
    (tmp_path / "img" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    rows = [
        "sku,image,title,description",
        'R1,img/red.png,Cotton T-shirt,"Soft tee, 100% cotton"',
        "N1,img/navy.jpg,Áo khoác,",
        "B1,img/broken.jpg,Black hoodie,",
        "M1,img/missing.png,Wool sweater,",
        "E1,,Striped shirt,",
    ]
    (tmp_path / "products.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def run_tag_images(catalogue: Path, *extra: str) -> list[dict]:
    out = catalogue / "out" / "tags.jsonl"
    code = main(
        ["tag-images", "--input", str(catalogue / "products.csv"), "--output", str(out), *extra]
    )
    assert code == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def tagset(record: dict) -> set[tuple[str, str]]:
    return {(t["attribute"], t["value"]) for t in record["tags"]}


def test_tag_images_one_line_per_row_in_order(catalogue):
    records = run_tag_images(catalogue, "--no-clip", "--batch-size", "2")
    assert [r["sku"] for r in records] == ["R1", "N1", "B1", "M1", "E1"]
    red, navy, broken, missing, no_image = records
    assert red["error"] is None
    assert {("category", "t-shirt"), ("color", "red"), ("material", "cotton")} <= tagset(red)
    colour = next(t for t in red["tags"] if t["attribute"] == "color")
    assert colour["sources"] == ["pixels"] and 0 < colour["confidence"] <= 1
    assert {("category", "jacket"), ("color", "navy")} <= tagset(navy)
    # a bad image keeps its text tags and reports why the image failed
    assert broken["error"] and ("category", "hoodie") in tagset(broken)
    assert not any(t["attribute"] == "color" and "pixels" in t["sources"] for t in broken["tags"])
    assert missing["error"] and ("material", "wool") in tagset(missing)
    assert no_image["error"] is None and ("pattern", "striped") in tagset(no_image)


def test_tag_images_requires_clip_unless_told_otherwise(catalogue, capsys):
    code = main(
        [
            "tag-images",
            "--input",
            str(catalogue / "products.csv"),
            "--output",
            str(catalogue / "x.jsonl"),
        ]
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "ENRICHMENT_CLIP_MODEL" in err and "--no-clip" in err
    assert not (catalogue / "x.jsonl").exists()


def test_tag_images_reports_missing_columns(catalogue, capsys):
    (catalogue / "bad.csv").write_text("id,picture\n1,a.png\n", encoding="utf-8")
    code = main(
        [
            "tag-images",
            "--input",
            str(catalogue / "bad.csv"),
            "--output",
            str(catalogue / "y.jsonl"),
            "--no-clip",
        ]
    )
    assert code == 2 and "sku" in capsys.readouterr().err


def test_tag_images_names_a_csv_that_is_not_utf8(catalogue, capsys):
    (catalogue / "latin1.csv").write_bytes(
        "sku,image,title\nA,a.png,Caf\xe9 shirt\n".encode("latin-1")
    )
    out = catalogue / "z.jsonl"
    code = main(
        ["tag-images", "--input", str(catalogue / "latin1.csv"), "--output", str(out), "--no-clip"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "latin1.csv: not UTF-8" in err and "Traceback" not in err


def test_tag_images_refuses_an_output_it_cannot_create_before_tagging(catalogue, capsys):
    (catalogue / "a-file").write_text("x", encoding="utf-8")
    for output in (catalogue / "a-file" / "out.jsonl", catalogue):
        code = main(
            [
                "tag-images",
                "--input",
                str(catalogue / "products.csv"),
                "--output",
                str(output),
                "--no-clip",
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and f"cannot write {output}" in err, err


@pytest.mark.parametrize("option", [["--workers", "-1"], ["--batch-size", "0"], ["--workers", "x"]])
def test_tag_images_rejects_counts_out_of_range(catalogue, capsys, option):
    args = ["tag-images", "--input", str(catalogue / "products.csv"), "--output", "o.jsonl"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--no-clip", *option])
    assert exit_info.value.code == 2
    assert f"argument {option[0]}" in capsys.readouterr().err


def test_evaluate_reports_metrics(catalogue, capsys):
    (catalogue / "labels.csv").write_text(
        "sku,color,category,material\nR1,crimson,tees,cotton|elastane\nN1,navy,coats,\nB1,black,hoodie,\n",
        encoding="utf-8",
    )
    (catalogue / "map.yaml").write_text(
        "attributes:\n  color: {crimson: red}\n  category: {tees: t-shirt, coats: jacket}\n"
        "  material: {elastane: spandex}\n",
        encoding="utf-8",
    )
    code = main([
        "evaluate", "--manifest", str(catalogue / "products.csv"), "--labels", str(catalogue / "labels.csv"),
        "--mapping", str(catalogue / "map.yaml"), "--no-clip",
    ])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 3 and report["image_errors"] == 1 and report["model_id"] == "none"
    color = report["attributes"]["color"]
    # R1 red and N1 navy from pixels; B1's image is broken, its title says black
    assert color["n"] == 3 and color["accuracy"] == 1.0
    assert report["attributes"]["category"]["accuracy"] == 1.0
    material = report["attributes"]["material"]
    assert material["n"] == 1 and material["precision"] == 1.0 and material["recall"] == 0.5


@pytest.mark.skipif(
    not (DATASETS / "magento-sample" / "labels.csv").exists(), reason="dev datasets absent"
)
def test_magento_sample_colour_without_clip(tmp_path, monkeypatch, capsys):
    """A fixed slice of real studio photos: colour is mostly right without CLIP."""
    import csv

    root = DATASETS / "magento-sample"
    with (root / "manifest.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[::6]
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["sku", "image", "title", "description"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "image": str(root / r["image"])})
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    mapping = ROOT / "include/enrichment/tagging/eval_mappings/magento-sample.yaml"
    code = main([
        "evaluate", "--manifest", str(manifest), "--labels", str(root / "labels.csv"),
        "--mapping", str(mapping), "--no-clip", "--attributes", "color,category",
        "--image-root", str(root),
    ])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["attributes"]["color"]["accuracy"] >= 0.75
    assert report["attributes"]["category"]["accuracy"] >= 0.85


def test_a_label_mapping_reads_labels_to_taxonomy_ids(tmp_path):
    from enrichment.cli.tagging import load_mapping
    from enrichment.config import ConfigError

    path = tmp_path / "map.yaml"
    path.write_text("attributes:\n  category:\n    'T-Shirts &amp; Tops': t-shirt\n"
                    "    Dresses: [dress, skirt]\n    Gift cards: null\n")  # fmt: skip
    assert load_mapping(path) == {
        "category": {"t-shirts & tops": ["t-shirt"], "dresses": ["dress", "skirt"],
                     "gift cards": None}
    }  # fmt: skip
    assert load_mapping(None) == {}
    path.write_text("attributes: [1, 2]\n")
    with pytest.raises(ConfigError, match="'attributes' must map"):
        load_mapping(path)
