"""What a tag store holds: the product document, a SKU's tags, the store interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ProductDoc:
    """The searchable document of a product: metadata the tag store keeps current."""

    sku: str
    title: str | None = None
    brand: str | None = None
    category: str | None = None
    price: float | None = None
    stock: int | None = None
    active: bool = True
    content_hash: str | None = None


@dataclass
class TagDocument:
    """All tags of one SKU as produced by one tagging pass."""

    doc: ProductDoc
    tags: list[dict] = field(default_factory=list)
    taxonomy_version: str = ""
    model_id: str = ""
    content_hash: str = ""
    run_id: str | None = None


class TagStore(Protocol):
    """What the shard worker and the quality checks need from a tag store."""

    def replace_tags(self, docs: list[TagDocument]) -> int: ...

    def update_metadata(self, docs: list[ProductDoc]) -> int: ...

    def delete(self, skus: list[str]) -> int: ...
