"""Tag accuracy, uncalibrated vs calibrated on a disjoint split, with the strict mapping.

The labelled rows are split by a hash of the SKU into five folds; fold 0 is the
calibration sample (``calibrate``), folds 1-4 are scored (``evaluate``) once without
and once with that calibration. Also scores the whole set uncalibrated. Prints JSON
(per attribute: precision, coverage, n) and the calibrate command's report.

    python bench/bench_accuracy.py DATASET_DIR [--mapping MAP.yaml] [--no-clip]

DATASET_DIR holds ``labels.csv`` (sku plus one column per attribute) and
``manifest.csv`` (sku,image,title,description; labels.csv is used when absent).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

from enrichment.cli.main import main as cli

FOLDS = 5


def fold_of(sku: str) -> int:
    return int(hashlib.sha256(sku.encode("utf-8")).hexdigest(), 16) % FOLDS


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(argv)
    if code:
        raise SystemExit(f"{' '.join(argv[:1])} exited {code}")
    return out.getvalue()


def _write(path: Path, header: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        w.writerows(rows)
    return path


def _summary(report: dict) -> dict:
    return {
        a: {k: m.get(k) for k in ("precision", "coverage", "n", "emitted")}
        for a, m in report["attributes"].items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--mapping", type=Path)
    ap.add_argument("--no-clip", action="store_true")
    args = ap.parse_args()
    labels_path = args.dataset / "labels.csv"
    manifest = args.dataset / "manifest.csv"
    manifest = manifest if manifest.exists() else labels_path
    with labels_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    common = ["--manifest", str(manifest)] + (["--mapping", str(args.mapping)] * bool(args.mapping))
    common += ["--no-clip"] * args.no_clip
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        cal_rows = [r for r in rows if fold_of(r["sku"]) == 0]
        test_rows = [r for r in rows if fold_of(r["sku"]) != 0]
        cal_labels = _write(tmp_dir / "calibration.csv", header, cal_rows)
        test_labels = _write(tmp_dir / "test.csv", header, test_rows)
        cal_dir = tmp_dir / "calibration"
        report = _run(["calibrate", *common, "--labels", str(cal_labels), "--output", str(cal_dir)])
        whole = json.loads(_run(["evaluate", *common, "--labels", str(labels_path)]))
        before = json.loads(_run(["evaluate", *common, "--labels", str(test_labels)]))
        after = json.loads(
            _run(["evaluate", *common, "--labels", str(test_labels), "--calibration", str(cal_dir)])
        )
    result = {
        "dataset": args.dataset.name,
        "calibration_items": len(cal_rows),
        "scored_items": len(test_rows),
        "whole_uncalibrated": _summary(whole),
        "rest_uncalibrated": _summary(before),
        "rest_calibrated": _summary(after),
        "calibration": after.get("calibration"),
    }
    print(json.dumps(result, indent=2))
    print(report, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
