"""Assets the catalogue DAGs update: the tag store and each vector index.

``commit`` lists them as outlets; a successful commit emits one event per asset with
the run id and its counts as ``extra``, so downstream DAGs (``catalog_quality_report``
and any consumer of tags or vectors) schedule on fresh data instead of a clock.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

TAG_STORE = Asset(name="catalog_tag_store", uri="enrichment://tags", group="catalog")
TEXT_VECTORS = Asset(name="catalog_text_vectors", uri="enrichment://vectors/text", group="catalog")
IMAGE_VECTORS = Asset(
    name="catalog_image_vectors", uri="enrichment://vectors/image", group="catalog"
)
COMMIT_OUTLETS = [TAG_STORE, TEXT_VECTORS, IMAGE_VECTORS]


def asset_extras(summary: dict) -> dict[str, dict]:
    """The ``extra`` of each asset event for a committed run summary (by asset name)."""
    base = {"run_id": summary.get("run_id"), "kind": summary.get("kind")}
    return {
        TAG_STORE.name: {
            **base,
            "retagged": summary.get("retagged", 0),
            "tags_written": summary.get("tags_written", 0),
            "metadata_only_updated": summary.get("metadata_only_updated", 0),
            "deleted": summary.get("deleted", 0),
        },
        TEXT_VECTORS.name: {
            **base,
            "upserted": summary.get("text_embedded", 0),
            "deleted": summary.get("deleted", 0),
        },
        IMAGE_VECTORS.name: {
            **base,
            "upserted": summary.get("image_embedded", 0),
            "deleted": summary.get("deleted", 0),
        },
    }


def emit(context: Any, summary: dict) -> None:
    """Attach the run's counts to the asset events this task emits on success."""
    events = context["outlet_events"]
    extras = asset_extras(summary)
    for asset in COMMIT_OUTLETS:
        events[asset].extra = extras[asset.name]
