"""A run's change set streamed into shard manifests and ``run_items`` as it is found.

Detection never holds the change set in memory: items are numbered in the order they
arrive, every ``ENRICHMENT_SHARD_SIZE`` of them are spooled to a local file and copied into
``run_items`` (COPY) at once. When the run would exceed ``ENRICHMENT_MAX_SHARDS`` mapped
tasks (Airflow's ``core.max_map_length``), ``k`` consecutive chunks become one shard.
Manifests are written at :meth:`ManifestWriter.close`, inside the detect transaction, so
a retried detect rewrites them whole.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import orjson

from enrichment.cdc.detect import ChangeItem
from enrichment.runs.shard_store import ShardStore

_COLUMNS = (
    "run_id, sku, product_id, change_class, shard, active, text_hash, image_hash, "
    "meta_hash, source_updated_at"
)


def _copy_field(value: object) -> str:
    """One field in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_row(run_id: str, item: ChangeItem) -> str:
    """The item's ``run_items`` row (``_COLUMNS``) as one COPY text line."""
    values = (
        run_id, item.sku, item.product_id, item.change_class, item.shard, item.active,
        item.text_hash, item.image_hash, item.meta_hash, item.source_updated_at,
    )  # fmt: skip
    return "\t".join([_copy_field(v) for v in values]) + "\n"


_LINE_OPTIONS = orjson.OPT_APPEND_NEWLINE


def _manifest_line(item: ChangeItem) -> bytes:
    """The item as a manifest line (UTF-8); its shard is the manifest's own (not repeated).

    orjson instead of the standard encoder: 8x faster per line (about 8 s of a first
    run over a million products).
    """
    data = item.to_json()
    del data["shard"]
    return orjson.dumps(data, default=str, option=_LINE_OPTIONS)


class ManifestWriter:
    """Number, spool and record the items of one run; :meth:`close` returns the shards.
    Use it in a ``with`` block: the spool is removed however the block ends."""

    def __init__(
        self, cur, schema: str, store: ShardStore, run_id: str, shard_size: int, max_shards: int
    ):
        self.cur, self.schema, self.store, self.run_id = cur, schema, store, run_id
        self.chunk_size = max(1, shard_size)
        self.max_shards = max(1, max_shards)
        self.count = 0
        self._spool = Path(tempfile.mkdtemp(prefix="enrichment-detect-"))
        self._chunk: list[ChangeItem] = []

    def add(self, item: ChangeItem) -> None:
        item.shard = self.count // self.chunk_size  # a chunk number until close()
        self.count += 1
        self._chunk.append(item)
        if len(self._chunk) >= self.chunk_size:
            self._flush()

    def add_new(self, items: list[ChangeItem]) -> int:
        """Add the items whose SKU is not in the run yet (deletes found after the scan)."""
        if not items:  # most runs: no flush of a partial chunk, no query
            return 0
        self._flush()
        self.cur.execute(
            f"SELECT sku FROM {self.schema}.run_items WHERE run_id = %s AND sku = ANY(%s)",
            (self.run_id, [i.sku for i in items]),
        )
        have = {r[0] for r in self.cur.fetchall()}
        added = 0
        for item in items:
            if item.sku not in have:
                have.add(item.sku)
                self.add(item)
                added += 1
        return added

    def _flush(self) -> None:
        if not self._chunk:
            return
        chunk = self._chunk[0].shard
        lines = b"".join([_manifest_line(i) for i in self._chunk])
        with (self._spool / f"{chunk:06d}.jsonl").open("ab") as spool:
            spool.write(lines)  # a chunk flushed early (add_new) is completed later
        rows = io.StringIO("".join([_copy_row(self.run_id, i) for i in self._chunk]))
        self.cur.copy_expert(f"COPY {self.schema}.run_items ({_COLUMNS}) FROM STDIN", rows)
        self._chunk = []

    def close(self) -> int:
        """Write the manifests; returns the shard count (chunks merged past max_shards)."""
        try:
            self._flush()
            chunks = -(-self.count // self.chunk_size)
            per_shard = max(1, -(-chunks // self.max_shards))
            shards = -(-chunks // per_shard)
            if per_shard > 1:
                self.cur.execute(
                    f"UPDATE {self.schema}.run_items SET shard = shard / %s WHERE run_id = %s",
                    (per_shard, self.run_id),
                )
            for shard in range(shards):
                parts = range(shard * per_shard, min(chunks, (shard + 1) * per_shard))
                text = b"".join((self._spool / f"{c:06d}.jsonl").read_bytes() for c in parts)
                self.store.put_manifest_text(self.run_id, shard, text.decode("utf-8"))
            return shards
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the spool (after :meth:`close`, or instead of it after an error)."""
        shutil.rmtree(self._spool, ignore_errors=True)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class CollectedItems(list):
    """A change set kept in memory (the dry-run preview), with the writer's interface."""

    def add(self, item: ChangeItem) -> None:
        self.append(item)

    def add_new(self, items: list[ChangeItem]) -> int:
        have = {i.sku for i in self}
        new = [i for i in items if i.sku not in have and not have.add(i.sku)]
        self.extend(new)
        return len(new)
