"""A tiny hand-written source catalogue for change-detection tests (exact expectations)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from enrichment.cdc import install as cdc
from enrichment.db import connection as db
from enrichment.demo.catalog import create_schema

COLOURS = {
    "red": (200, 30, 30),
    "blue": (30, 60, 200),
    "green": (30, 160, 60),
    "black": (20, 20, 20),
    "yellow": (230, 210, 40),
    "white": (250, 250, 250),
}


def write_image(root: Path, name: str, colour: str) -> str:
    """A product-like photo: a coloured block on a light studio background."""
    img = Image.new("RGB", (160, 160), (235, 235, 235))
    img.paste(Image.new("RGB", (90, 110), COLOURS[colour]), (35, 25))
    img.save(root / name)
    return name


class Catalog:
    """Helpers to change the source catalogue the way an application would."""

    def __init__(self, settings):
        self.settings = settings
        self.url = db.database_url(settings)
        self.root = settings.image_root
        with db.connect(self.url) as conn:
            create_schema(conn, settings.source_schema)
        cdc.install(settings)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with db.connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def add(
        self,
        sku: str,
        title: str,
        colour: str = "red",
        *,
        price: float = 10.0,
        description: str = "",
        category: str | None = "T-Shirts",
    ) -> None:
        image = write_image(self.root, f"{sku}-{colour}.png", colour)
        self.sql(
            """WITH p AS (INSERT INTO catalog.products (sku, title, description, category,
                          brand, price, stock) VALUES (%s, %s, %s, %s, 'Acme', %s, 5)
                          RETURNING id)
               INSERT INTO catalog.product_images (product_id, position, url)
               SELECT id, 0, %s FROM p""",
            (sku, title, description, category, price, image),
        )

    def set_price(self, sku: str, price: float) -> None:
        self.sql("UPDATE catalog.products SET price = %s WHERE sku = %s", (price, sku))

    def set_title(self, sku: str, title: str) -> None:
        self.sql("UPDATE catalog.products SET title = %s WHERE sku = %s", (title, sku))

    def set_image(self, sku: str, colour: str) -> None:
        image = write_image(self.root, f"{sku}-{colour}-v2.png", colour)
        self.sql(
            """UPDATE catalog.product_images SET url = %s, updated_at = clock_timestamp()
                    WHERE position = 0 AND product_id =
                          (SELECT id FROM catalog.products WHERE sku = %s)""",
            (image, sku),
        )

    def soft_delete(self, sku: str) -> None:
        self.sql("UPDATE catalog.products SET is_deleted = true WHERE sku = %s", (sku,))

    def hard_delete(self, sku: str) -> None:
        self.sql("DELETE FROM catalog.products WHERE sku = %s", (sku,))

    def now(self):
        return self.sql("SELECT clock_timestamp()")[0][0]
