"""Embedding quality: label precision@k of nearest neighbours (the query itself excluded).

For every labelled item, its ``k`` nearest other items by cosine similarity (exact,
no index) are looked up and the share carrying the same label is its precision; the
result is the mean over items (macro by item), with the per-label means and the chance
level (what random neighbours would score, given the label frequencies) beside it.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from enrichment.config import ConfigError


def read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV; a missing file or column is a clear error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            absent = [c for c in required if c not in (reader.fieldnames or ())]
            if absent:
                raise ConfigError(
                    f"{path}: missing column(s) {', '.join(absent)} "
                    f"(has {', '.join(reader.fieldnames or ()) or 'none'})"
                )
            return list(reader)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def precision_at_k(vectors: np.ndarray, labels: list[str], k: int = 10, chunk: int = 1024) -> dict:
    """Mean share of each item's ``k`` nearest other items that share its label."""
    n = len(labels)
    if vectors.shape[0] != n:
        raise ValueError(f"{vectors.shape[0]} vectors for {n} labels")
    if n < 2:
        raise ValueError("need at least two labelled items")
    k = min(k, n - 1)
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    lab = np.asarray(labels, dtype=object)
    per_item = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk):
        sims = v[start : start + chunk] @ v.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf  # exclude the query itself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        per_item[start : start + chunk] = (lab[top] == lab[start : start + chunk, None]).mean(
            axis=1
        )
    by_label: dict[str, list[float]] = defaultdict(list)
    for label, p in zip(labels, per_item, strict=True):
        by_label[label].append(float(p))
    freq = Counter(labels)
    chance = sum(c * (c - 1) for c in freq.values()) / (n * (n - 1))
    return {
        "k": k,
        "n": n,
        "precision_at_k": round(float(per_item.mean()), 4),
        "chance": round(chance, 4),
        "per_label": {
            lbl: {"n": len(ps), "precision_at_k": round(float(np.mean(ps)), 4)}
            for lbl, ps in sorted(by_label.items())
        },
    }


def labelled(
    rows: list[dict[str, str]], labels: dict[str, str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The manifest rows that have a non-empty label, and their labels, in order."""
    keep = [r for r in rows if (labels.get(r["sku"]) or "").strip()]
    return keep, [labels[r["sku"]].strip().lower() for r in keep]


def manifest_vectors(
    manifest: Path, rows: list[dict[str, str]], kind: str
) -> tuple[list[str], np.ndarray, str, int]:
    """(SKUs, vectors, model id, rows without a usable image) for manifest rows.

    Text rows go through the configured text embedder's preparation; images (paths
    relative to the manifest's folder) through the configured CLIP model.
    """
    from enrichment.config import load_settings

    settings = load_settings()
    if kind == "text":
        from enrichment.embeddings.factory import text_embedder_from_settings

        embedder = text_embedder_from_settings(settings)
        matrix = embedder.embed([embedder.prepare(r) for r in rows])
        return [r["sku"] for r in rows], matrix, embedder.model_id, 0
    from concurrent.futures import ThreadPoolExecutor

    from enrichment.embeddings.embedders import ImageEmbedder
    from enrichment.images.intake import ImageRejected, fetch_image, policy_from_settings
    from enrichment.tagging.signals.clip import ClipModel

    if not settings.clip_model:
        raise ConfigError("image embeddings need a CLIP model: set ENRICHMENT_CLIP_MODEL")
    embedder = ImageEmbedder(
        ClipModel.load(settings.clip_model, batch_size=settings.clip_batch_size)
    )
    policy = policy_from_settings(settings, base_dir=manifest.resolve().parent)

    def load(row: dict[str, str]):
        try:
            return fetch_image(row.get("image") or "", policy, max_side=512).image
        except ImageRejected:
            return None

    skus, parts = [], []
    with ThreadPoolExecutor(4) as pool:
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            images = list(pool.map(load, chunk))
            ok = [(r["sku"], im) for r, im in zip(chunk, images, strict=True) if im is not None]
            skus += [s for s, _ in ok]
            parts.append(embedder.embed([im for _, im in ok]))
    matrix = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    return skus, matrix, embedder.model_id, len(rows) - len(skus)


def ground_truth_labels(column: str) -> dict[str, str]:
    """``{sku: label}`` from the demo catalogue's ``ground_truth`` table."""
    from psycopg2 import sql

    from enrichment.config import load_settings
    from enrichment.db.connection import connect, database_url

    settings = load_settings()
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{settings.source_schema}.ground_truth",))
        if cur.fetchone()[0] is None:
            raise ConfigError(
                f"{settings.source_schema}.ground_truth not found (a demo "
                "catalogue table); pass --labels instead"
            )
        cur.execute(
            sql.SQL("SELECT sku, {} FROM {}.ground_truth WHERE {} IS NOT NULL").format(
                sql.Identifier(column),
                sql.Identifier(settings.source_schema),
                sql.Identifier(column),
            )
        )
        return {sku: str(value) for sku, value in cur.fetchall()}
