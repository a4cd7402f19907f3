"""Tag stores: where each SKU's tags and product document land.

``TagStore`` is the interface; ``PostgresTagStore`` (the default) keeps tags in the
platform database. Writes are idempotent: a SKU's tags are replaced as a whole in one
transaction, so re-running a shard leaves the same rows. ``MirroredTagStore`` mirrors
every write into the production sinks of ``ENRICHMENT_TAG_SINKS`` (Elasticsearch, see
:mod:`enrichment.tags.es_sink`); PostgreSQL stays the system of record.
"""

from __future__ import annotations

from psycopg2.extras import execute_values

from enrichment.db.connection import connect
from enrichment.tags.documents import ProductDoc, TagDocument, TagStore

__all__ = ["MirroredTagStore", "PostgresTagStore", "ProductDoc", "TagDocument", "TagStore"]


class PostgresTagStore:
    """Tags in ``{schema}.tags`` and documents in ``{schema}.product_docs``."""

    def __init__(self, url: str, schema: str):
        self.url = url
        self.schema = schema

    def _upsert_docs(self, cur, docs: list[ProductDoc]) -> None:
        if not docs:
            return
        execute_values(
            cur,
            f"""INSERT INTO {self.schema}.product_docs
                   (sku, title, brand, category, price, stock, active, content_hash)
                VALUES %s
                ON CONFLICT (sku) DO UPDATE SET
                   title = EXCLUDED.title, brand = EXCLUDED.brand,
                   category = EXCLUDED.category, price = EXCLUDED.price,
                   stock = EXCLUDED.stock, active = EXCLUDED.active,
                   content_hash = coalesce(EXCLUDED.content_hash,
                                           {self.schema}.product_docs.content_hash),
                   updated_at = clock_timestamp()""",
            [
                (d.sku, d.title, d.brand, d.category, d.price, d.stock, d.active, d.content_hash)
                for d in docs
            ],
        )

    def replace_tags(self, docs: list[TagDocument]) -> int:
        """Replace the tags of every SKU in ``docs``; returns the number of tag rows."""
        if not docs:
            return 0
        rows = [
            (
                d.doc.sku,
                t["attribute"],
                t["value"],
                float(t["confidence"]),
                list(t["sources"]),
                d.taxonomy_version,
                d.model_id,
                d.content_hash,
                d.run_id,
            )
            for d in docs
            for t in d.tags
        ]
        with connect(self.url) as conn, conn.cursor() as cur:
            self._upsert_docs(cur, [d.doc for d in docs])
            cur.execute(
                f"DELETE FROM {self.schema}.tags WHERE sku = ANY(%s)", ([d.doc.sku for d in docs],)
            )
            if rows:
                execute_values(
                    cur,
                    f"""INSERT INTO {self.schema}.tags (sku, attribute, value, confidence,
                           sources, taxonomy_version, model_id, content_hash, run_id)
                        VALUES %s""",
                    rows,
                )
        return len(rows)

    def update_metadata(self, docs: list[ProductDoc]) -> int:
        """Update product documents without touching tags (metadata-only changes)."""
        with connect(self.url) as conn, conn.cursor() as cur:
            self._upsert_docs(cur, docs)
        return len(docs)

    def delete(self, skus: list[str]) -> int:
        """Remove the tags and documents of ``skus``; returns tag rows removed."""
        if not skus:
            return 0
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"DELETE FROM {self.schema}.tags WHERE sku = ANY(%s)", (skus,))
            removed = cur.rowcount
            cur.execute(f"DELETE FROM {self.schema}.product_docs WHERE sku = ANY(%s)", (skus,))
        return removed


class MirroredTagStore:
    """The primary store plus sinks: writes go to the primary, then to every sink.

    Reads go to the primary (the system of record). A sink that fails raises after the
    primary has written; the shard fails and is re-run, and every write is idempotent.
    """

    def __init__(self, primary: TagStore, sinks: list):
        self.primary = primary
        self.sinks = list(sinks)

    def replace_tags(self, docs: list[TagDocument]) -> int:
        written = self.primary.replace_tags(docs)
        for sink in self.sinks:
            sink.replace_tags(docs)
        return written

    def update_metadata(self, docs: list[ProductDoc]) -> int:
        updated = self.primary.update_metadata(docs)
        for sink in self.sinks:
            sink.update_metadata(docs)
        return updated

    def delete(self, skus: list[str]) -> int:
        removed = self.primary.delete(skus)
        for sink in self.sinks:
            sink.delete(skus)
        return removed
