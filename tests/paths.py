"""Paths the tests read: the project root, its DAG folder, the shared labelled datasets."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS_DIR = ROOT / "dags"
DATASETS = ROOT.parent / "shared" / "datasets"
