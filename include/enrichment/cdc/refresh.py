"""From captured keys to snapshots: re-read documents through the mapping, find deletes.

Keys a capture mode reports are re-read in the current source snapshot, so a SKU
changed twice is read once, at its newest version. Keys with no document any more (hard
deletes, the old SKU of a rename) become deletes of what the platform holds as active.
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from enrichment.cdc import documents
from enrichment.cdc.capture.keys import keys_from
from enrichment.cdc.capture.types import Captured
from enrichment.cdc.detect import DELETED, ChangeItem, ProductSnapshot
from enrichment.cdc.mapping_types import SourceMapping


def root_keys(src, mapping: SourceMapping) -> set[str]:
    """Every key of the root table (the mapping's first table): what exists at all."""
    root = mapping.tables[0]
    with src.cursor() as cur:
        cur.execute(keys_from(root, root.name))
        return {r[0] for r in cur.fetchall()}


def active_state_keys(state, schema: str, keys: Set[str] | None = None) -> dict[str, int | None]:
    """SKUs the platform holds as active (optionally only among ``keys``) -> product id."""
    with state.cursor() as cur:
        if keys is None:
            cur.execute(f"SELECT sku, product_id FROM {schema}.product_state WHERE active")
        else:
            cur.execute(
                f"SELECT sku, product_id FROM {schema}.product_state WHERE active "
                "AND sku = ANY(%s)",
                (sorted(keys),),
            )
        return dict(cur.fetchall())


def deletes(state, schema: str, gone: set[str] | None) -> list[ChangeItem]:
    """DELETED items for the active SKUs among ``gone`` (None: every active SKU)."""
    if gone is not None and not gone:
        return []
    return [
        ChangeItem(sku=sku, product_id=pid, change_class=DELETED, active=False)
        for sku, pid in sorted(active_state_keys(state, schema, gone).items())
    ]


class Refresh:
    """The snapshots to classify and the deletes of one captured change set."""

    def __init__(self, src, state, schema: str, mapping: SourceMapping, captured: Captured):
        self.src, self.state, self.schema = src, state, schema
        self.mapping, self.captured = mapping, captured
        self.seen: set[str] = set()

    def snapshots(self) -> Iterator[ProductSnapshot]:
        if self.captured.full:
            docs = documents.scan_documents(self.src, self.mapping)
        else:
            docs = documents.read_documents(self.src, self.mapping, self.captured.keys)
        for snap in docs:
            self.seen.add(snap.sku)
            yield snap

    def deleted(self) -> list[ChangeItem]:
        """Call after :meth:`snapshots` is exhausted."""
        if self.captured.full:
            return [i for i in deletes(self.state, self.schema, None) if i.sku not in self.seen]
        gone = self.captured.keys - self.seen
        if self.captured.reconcile:
            active = set(active_state_keys(self.state, self.schema))
            gone |= active - root_keys(self.src, self.mapping) - self.seen
        return deletes(self.state, self.schema, gone)
