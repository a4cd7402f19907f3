"""Persistent cache of CLIP image embeddings keyed by (image sha256, model id).

The image tower is the GPU-heavy step. Tagging (zero-shot similarities) and image
vectors both start from the same embedding, so it is computed once per distinct photo
and model, whatever the number of SKUs, shards or runs that use it. Taxonomy changes do
not invalidate it: the prompt bank is applied on top.
"""

from __future__ import annotations

import numpy as np
from psycopg2.extras import execute_values

from enrichment.db.connection import connect


class ImageEmbeddingCache:
    """Embeddings in ``{schema}.image_embeddings`` for one model."""

    def __init__(self, url: str, schema: str, model_id: str):
        self.url = url
        self.schema = schema
        self.model_id = model_id

    def get_many(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored embeddings of ``hashes`` (missing ones are absent from the result)."""
        if not hashes:
            return {}
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT image_sha256, embedding FROM {self.schema}.image_embeddings "
                "WHERE model_id = %s AND image_sha256 = ANY(%s)",
                (self.model_id, list(hashes)),
            )
            return {h: np.asarray(e, dtype=np.float32) for h, e in cur.fetchall()}

    def put_many(self, embeddings: dict[str, np.ndarray]) -> None:
        """Store embeddings (first writer wins; equal bytes give equal embeddings)."""
        if not embeddings:
            return
        with connect(self.url) as conn, conn.cursor() as cur:
            execute_values(
                cur,
                f"INSERT INTO {self.schema}.image_embeddings (image_sha256, model_id, embedding)"
                " VALUES %s ON CONFLICT DO NOTHING",
                [(h, self.model_id, [float(x) for x in v]) for h, v in embeddings.items()],
            )
