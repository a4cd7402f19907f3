"""Types of a source mapping: how the shop's own tables become product documents.

A leaf module (no project imports) so capture modes, the document reader and the
loader can all depend on it without cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRAINS = ("variant", "parent")
MODES = ("triggers", "cursor", "log")

# Columns of the product document (docs/source-mapping.md): name -> required.
DOCUMENT_COLUMNS: dict[str, bool] = {
    "sku": True,
    "title": True,
    "description": True,
    "brand": True,
    "category": True,
    "price": True,
    "currency": True,
    "stock": True,
    "active": True,
    "images": True,
    "image_versions": True,
    "language": False,
    "product_id": False,
    "updated_at": False,
}


class MappingError(ValueError):
    """A source mapping is invalid; the message names the file, line and key."""


@dataclass(frozen=True)
class BaseTable:
    """A shop table that feeds documents and how one of its rows maps to product keys.

    ``keys`` is a SELECT returning the product keys of one changed row, which it calls
    ``changed`` (e.g. ``SELECT p.sku FROM shop.products p WHERE p.id = changed.product_id``).
    ``cursor`` lists timestamp columns for the timestamp-cursor mode (may be empty);
    ``cursor_zone`` is the time zone those without one (``timestamp``) hold times in.
    """

    name: str
    keys: str
    cursor: tuple[str, ...] = ()
    cursor_zone: str = "UTC"

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else "public"

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[-1]


@dataclass(frozen=True)
class SourceMapping:
    """The product document as SQL over the shop's tables, its key, grain and base tables."""

    name: str
    document: str
    key: str = "sku"
    grain: str = "variant"
    tables: tuple[BaseTable, ...] = field(default_factory=tuple)
    source: str = ""

    def table(self, name: str) -> BaseTable | None:
        return next((t for t in self.tables if t.name == name), None)
