"""Change classification: what is new, changed, metadata-only or deleted since the last run.

Every product snapshot (read through the source mapping, :mod:`enrichment.cdc.documents`)
is compared with what the platform last processed (``product_state``) by content hashes,
so a product read again without a real change is ``unchanged`` and skipped.
``scan_window`` is the former single-table ``(updated_at, id)`` keyset scan of the demo
schema, kept as the baseline of ``bench/cdc_modes.py`` and ``bench/bench_detect.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

log = logging.getLogger(__name__)

NEW = "new"
IMAGE_CHANGED = "image_changed"
TEXT_CHANGED = "text_changed"
IMAGE_AND_TEXT_CHANGED = "image_and_text_changed"
METADATA_ONLY = "metadata_only"
DELETED = "deleted"
REPROCESS = "reprocess"
UNCHANGED = "unchanged"
CHANGE_CLASSES = (
    NEW,
    IMAGE_CHANGED,
    TEXT_CHANGED,
    IMAGE_AND_TEXT_CHANGED,
    METADATA_ONLY,
    DELETED,
    REPROCESS,
)

PAGE_SIZE = 5_000


# one encoder for every digest: json.dumps with options builds a new one per call
_DIGEST_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
_ESCAPE = json.encoder.encode_basestring  # the escaping that encoder applies to strings
_FLOAT = float.__repr__
_CONSTANTS = {None: "null", True: "true", False: "false"}


def _canonical(value: object) -> str:
    """``_DIGEST_ENCODER.encode(value)``, built directly for the values snapshots hash
    (lists of strings, numbers, booleans and None): 4-5x faster than the encoder's own
    setup per call. Any other type is handed to the encoder itself, so the text (and
    every stored hash) is the same."""
    kind = type(value)
    if kind is str:
        return _ESCAPE(value)
    if kind is list or kind is tuple:
        return "[" + ", ".join([_canonical(v) for v in value]) + "]"
    if value is None or kind is bool:
        return _CONSTANTS[value]
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return _FLOAT(value)
    return _DIGEST_ENCODER.encode(value)


def _digest_text(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _digest(value: object) -> str:
    return _digest_text(_canonical(value))


class _memo:
    """``functools.cached_property`` without its per-access lock (Python < 3.12 takes
    one on every first read): computed once, then a plain instance attribute."""

    def __init__(self, compute):
        self.compute, self.name = compute, compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass
class ProductSnapshot:
    """One product as read from the source, with the hashes that classify changes."""

    sku: str
    product_id: int | None
    active: bool
    title: str = ""
    description: str = ""
    brand: str | None = None
    category: str | None = None
    price: float | None = None
    currency: str | None = None
    stock: int | None = None
    language: str | None = None
    images: list[str] = field(default_factory=list)
    image_versions: list[str] = field(default_factory=list)
    source_updated_at: datetime | None = None

    @classmethod
    def from_columns(
        cls, sku, product_id, active, title, description, brand, category, price, currency,
        stock, language, images, image_versions, updated_at,
    ) -> ProductSnapshot:  # fmt: skip
        """A snapshot from source columns in document order: NULL text empty, a numeric
        price as float, photo references and versions as text."""
        return cls(
            sku=sku,
            product_id=product_id,
            active=bool(active),
            title=title or "",
            description=description or "",
            brand=brand,
            category=category,
            price=float(price) if isinstance(price, Decimal) else price,
            currency=currency,
            stock=stock,
            language=language,
            images=[str(i) for i in images or ()],
            image_versions=[str(v) for v in image_versions or ()],
            source_updated_at=updated_at,
        )

    @_memo
    def text_hash(self) -> str:
        return _digest(
            [
                _clean(self.title),
                _clean(self.description),
                _clean(self.brand),
                _clean(self.category),
            ]
        )

    @_memo
    def image_hash(self) -> str:
        pairs = list(zip(self.images, self.image_versions, strict=True))
        if all(type(u) is str and type(v) is str for u, v in pairs):  # the usual case, direct
            text = ", ".join(["[" + _ESCAPE(u) + ", " + _ESCAPE(v) + "]" for u, v in pairs])
            return _digest_text("[" + text + "]")
        return _digest(pairs)

    @_memo
    def meta_hash(self) -> str:
        return _digest([self.price, self.currency, self.stock, self.active])

    @_memo
    def content_hash(self) -> str:
        """Hash of everything the models see (text and images)."""
        return _digest([self.text_hash, self.image_hash])


@dataclass
class ChangeItem:
    """A product in a run's change set; the manifest line a shard worker receives."""

    sku: str
    product_id: int | None
    change_class: str
    active: bool
    text_hash: str | None = None
    image_hash: str | None = None
    meta_hash: str | None = None
    content_hash: str | None = None
    source_updated_at: str | None = None
    product: dict | None = None
    shard: int = 0

    @property
    def retag(self) -> bool:
        return self.change_class in (
            NEW,
            IMAGE_CHANGED,
            TEXT_CHANGED,
            IMAGE_AND_TEXT_CHANGED,
            REPROCESS,
        )

    @property
    def embed_text(self) -> bool:
        return self.change_class in (NEW, TEXT_CHANGED, IMAGE_AND_TEXT_CHANGED, REPROCESS)

    @property
    def embed_image(self) -> bool:
        return self.change_class in (NEW, IMAGE_CHANGED, IMAGE_AND_TEXT_CHANGED, REPROCESS)

    def to_json(self) -> dict:
        """The manifest line (a shallow dict: ``product`` is already JSON-ready)."""
        return {name: getattr(self, name) for name in _ITEM_FIELDS}

    @classmethod
    def from_json(cls, data: dict) -> ChangeItem:
        return cls(**data)


def classify(snapshot: ProductSnapshot, state: dict | None, *, force: bool = False) -> str:
    """Change class of ``snapshot`` against the last processed ``state`` row (or None)."""
    if not snapshot.active:
        return DELETED if state and state["active"] else UNCHANGED
    if state is None or not state["active"]:
        return NEW
    text = snapshot.text_hash != state["text_hash"]
    image = snapshot.image_hash != state["image_hash"]
    if text and image:
        return IMAGE_AND_TEXT_CHANGED
    if text:
        return TEXT_CHANGED
    if image:
        return IMAGE_CHANGED
    if force:
        return REPROCESS
    if snapshot.meta_hash != state["meta_hash"]:
        return METADATA_ONLY
    return UNCHANGED


def to_item(snapshot: ProductSnapshot, change_class: str) -> ChangeItem:
    product = None
    if change_class != DELETED:
        product = {
            "title": snapshot.title,
            "description": snapshot.description,
            "brand": snapshot.brand,
            "category": snapshot.category,
            "price": snapshot.price,
            "currency": snapshot.currency,
            "stock": snapshot.stock,
            "language": snapshot.language,
            "images": snapshot.images,
        }
    return ChangeItem(
        sku=snapshot.sku,
        product_id=snapshot.product_id,
        change_class=change_class,
        active=snapshot.active and change_class != DELETED,
        text_hash=snapshot.text_hash,
        image_hash=snapshot.image_hash,
        meta_hash=snapshot.meta_hash,
        content_hash=snapshot.content_hash,
        source_updated_at=snapshot.source_updated_at.isoformat()
        if snapshot.source_updated_at
        else None,
        product=product,
    )


# One page of products (found through the (updated_at, id) or primary-key index, LIMIT
# applied before any join), then each product's images in position order.
_PAGE = """
SELECT p.id, p.sku, p.title, p.description, p.brand, p.category, p.price, p.currency,
       p.stock, p.language, p.is_deleted, p.updated_at,
       coalesce(img.urls, '{{}}'), coalesce(img.versions, '{{}}')
  FROM (SELECT * FROM {src}.products p WHERE {where} ORDER BY {order} LIMIT %s) p
  LEFT JOIN LATERAL (
       SELECT array_agg(i.url ORDER BY i.position) AS urls,
              array_agg(i.updated_at::text ORDER BY i.position) AS versions
         FROM {src}.product_images i WHERE i.product_id = p.id) img ON true
 ORDER BY {order}
"""


def _snapshot(row: tuple) -> ProductSnapshot:
    (
        pid,
        sku,
        title,
        desc,
        brand,
        category,
        price,
        currency,
        stock,
        language,
        deleted,
        updated_at,
        images,
        versions,
    ) = row  # the columns of _PAGE
    return ProductSnapshot.from_columns(
        sku, pid, not deleted, title, desc, brand, category, price, currency, stock,
        language, images, versions, updated_at,
    )  # fmt: skip


def _pages(
    conn,
    src: str,
    where: list[str],
    params: list,
    after: str,
    order: str,
    key,
    next_key,
    page_size: int,
) -> Iterator[ProductSnapshot]:
    """Keyset pagination: ``after`` (SQL with placeholders) selects rows past ``key``."""
    while True:
        clauses, values = list(where), list(params)
        if key is not None:
            clauses.append(after)
            values.extend(key)
        sql = _PAGE.format(src=src, where=" AND ".join(clauses or ["true"]), order=order)
        with conn.cursor() as cur:
            cur.execute(sql, [*values, page_size])
            rows = cur.fetchall()
        for row in rows:
            yield _snapshot(row)
        if len(rows) < page_size:
            return
        key = next_key(rows[-1])


def scan_window(
    conn, src: str, lower: tuple[datetime, int] | None, upper: datetime, page_size: int = PAGE_SIZE
) -> Iterator[ProductSnapshot]:
    """Products with ``lower < (updated_at, id)`` and ``updated_at <= upper``, keyset-paged."""
    return _pages(
        conn,
        src,
        ["p.updated_at <= %s"],
        [upper],
        "(p.updated_at, p.id) > (%s, %s)",
        "p.updated_at, p.id",
        lower,
        lambda row: (row[11], row[0]),
        page_size,
    )


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern matching only itself (``\\``, ``%``, ``_`` escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def category_filter(category: str, state_schema: str | None) -> tuple[str, list]:
    """SQL on ``p`` (a source product) for a category: the shop's label, any case, or
    (with ``state_schema``) the taxonomy category the platform tagged it with."""
    clause = "p.category ILIKE %s ESCAPE '\\'"
    values: list = [like_literal(category.strip())]
    if state_schema:
        clause = (
            f"({clause} OR p.sku IN (SELECT t.sku FROM {state_schema}.tags t "
            "WHERE t.attribute = 'category' AND lower(t.value) = lower(%s)))"
        )
        values.append(category.strip())
    return clause, values


def category_labels(conn, src: str, state_schema: str) -> list[str]:
    """Every category a backfill can select: shop labels and tagged taxonomy categories."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT category FROM {src}.products WHERE category IS NOT NULL "
            f"UNION SELECT DISTINCT value FROM {state_schema}.tags WHERE attribute = 'category'"
        )
        return sorted({r[0] for r in cur.fetchall() if r[0]}, key=str.lower)


def load_state(conn, state_schema: str, skus: list[str]) -> dict[str, dict]:
    """The ``product_state`` rows of ``skus``, keyed by SKU."""
    if not skus:
        return {}
    with conn.cursor() as cur:
        # a join with the key list keeps one index lookup per key whatever the statistics
        # say (``= ANY`` turned into a full scan of a freshly filled table)
        cur.execute(
            f"SELECT s.sku, s.active, s.text_hash, s.image_hash, s.meta_hash "
            f"FROM unnest(%s::text[]) AS k(sku) JOIN {state_schema}.product_state s "
            "ON s.sku = k.sku",
            (skus,),
        )
        return {
            r[0]: {"active": r[1], "text_hash": r[2], "image_hash": r[3], "meta_hash": r[4]}
            for r in cur.fetchall()
        }


_ITEM_FIELDS = tuple(f.name for f in fields(ChangeItem))
