"""Medusa v2's product, pricing and inventory modules on PostgreSQL (one variant = one SKU).

Names follow Medusa v2: ``product``, ``product_variant``, ``image`` (with ``rank``),
``product_sales_channel`` (publishing per channel), ``price`` in price sets linked to
variants, ``inventory_level`` per stock location linked to variants through
``product_variant_inventory_item``. Medusa's ORM (MikroORM) bumps ``updated_at`` on the
entity it saves; module links carry no timestamps; deletes cascade in the application.
"""

from __future__ import annotations

SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.product (id text PRIMARY KEY, title text NOT NULL, subtitle text,
  description text, handle text UNIQUE, status text NOT NULL DEFAULT 'published',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz);
CREATE TABLE {s}.product_variant (id text PRIMARY KEY, product_id text NOT NULL,
  title text NOT NULL, sku text UNIQUE, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz);
CREATE TABLE {s}.image (id text PRIMARY KEY, product_id text NOT NULL, url text NOT NULL,
  rank int NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE {s}.product_sales_channel (id text PRIMARY KEY, product_id text NOT NULL,
  sales_channel_id text NOT NULL);
CREATE TABLE {s}.product_category (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE {s}.product_category_product (product_id text, product_category_id text,
  PRIMARY KEY (product_id, product_category_id));
CREATE TABLE {s}.price (id text PRIMARY KEY, price_set_id text NOT NULL,
  currency_code text NOT NULL, amount numeric NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE {s}.product_variant_price_set (id text PRIMARY KEY, variant_id text NOT NULL,
  price_set_id text NOT NULL);
CREATE TABLE {s}.inventory_level (id text PRIMARY KEY, inventory_item_id text NOT NULL,
  location_id text NOT NULL, stocked_quantity numeric NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE {s}.product_variant_inventory_item (id text PRIMARY KEY, variant_id text NOT NULL,
  inventory_item_id text NOT NULL);
INSERT INTO {s}.product_category VALUES ('pcat_tee', 'T-Shirts');
"""

_VIA_PRODUCT = (
    "SELECT v.sku FROM {schema}.product_variant v WHERE v.product_id = changed.product_id"
)
MAPPING = f"""
name: medusa
key: sku
grain: variant
document: |
  SELECT v.sku, p.title || ' ' || v.title AS title, coalesce(p.description, '') AS description,
         p.subtitle AS brand, cat.name AS category, pr.amount AS price, 'EUR' AS currency,
         inv.qty::int AS stock,
         (p.status = 'published' AND p.deleted_at IS NULL AND v.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM {{schema}}.product_sales_channel sc
                       WHERE sc.product_id = p.id AND sc.sales_channel_id = 'sc_web')) AS active,
         greatest(p.updated_at, v.updated_at) AS updated_at,
         coalesce(img.urls, '{{}}') AS images, coalesce(img.versions, '{{}}') AS image_versions
    FROM {{schema}}.product_variant v
    JOIN {{schema}}.product p ON p.id = v.product_id
    LEFT JOIN LATERAL (SELECT c.name FROM {{schema}}.product_category_product cp
           JOIN {{schema}}.product_category c ON c.id = cp.product_category_id
          WHERE cp.product_id = p.id ORDER BY c.name LIMIT 1) cat ON true
    LEFT JOIN LATERAL (SELECT min(x.amount) AS amount FROM {{schema}}.product_variant_price_set l
           JOIN {{schema}}.price x ON x.price_set_id = l.price_set_id AND x.currency_code = 'eur'
          WHERE l.variant_id = v.id) pr ON true
    LEFT JOIN LATERAL (SELECT sum(il.stocked_quantity) AS qty
           FROM {{schema}}.product_variant_inventory_item l
           JOIN {{schema}}.inventory_level il ON il.inventory_item_id = l.inventory_item_id
          WHERE l.variant_id = v.id) inv ON true
    LEFT JOIN LATERAL (SELECT array_agg(i.url ORDER BY i.rank, i.id) AS urls,
                array_agg(i.id || '@' || i.updated_at::text ORDER BY i.rank, i.id) AS versions
           FROM {{schema}}.image i WHERE i.product_id = p.id) img ON true
tables:
  - name: "{{schema}}.product_variant"
    keys: SELECT changed.sku
    cursor: [updated_at, created_at]
  - name: "{{schema}}.product"
    keys: SELECT v.sku FROM {{schema}}.product_variant v WHERE v.product_id = changed.id
    cursor: [updated_at]
  - name: "{{schema}}.image"
    keys: {_VIA_PRODUCT}
    cursor: [updated_at]
  - name: "{{schema}}.product_sales_channel"
    keys: {_VIA_PRODUCT}
  - name: "{{schema}}.product_category_product"
    keys: {_VIA_PRODUCT}
  - name: "{{schema}}.price"
    keys: >-
      SELECT v.sku FROM {{schema}}.product_variant_price_set l
      JOIN {{schema}}.product_variant v ON v.id = l.variant_id
      WHERE l.price_set_id = changed.price_set_id
    cursor: [updated_at]
  - name: "{{schema}}.product_variant_price_set"
    keys: SELECT v.sku FROM {{schema}}.product_variant v WHERE v.id = changed.variant_id
  - name: "{{schema}}.inventory_level"
    keys: >-
      SELECT v.sku FROM {{schema}}.product_variant_inventory_item l
      JOIN {{schema}}.product_variant v ON v.id = l.variant_id
      WHERE l.inventory_item_id = changed.inventory_item_id
    cursor: [updated_at]
  - name: "{{schema}}.product_variant_inventory_item"
    keys: SELECT v.sku FROM {{schema}}.product_variant v WHERE v.id = changed.variant_id
"""


def add_product(cur, s: str, key: str, title: str) -> None:
    """What Medusa's createProductsWorkflow writes for a one-variant product."""
    p, v = f"prod_{key}", f"variant_{key}"
    cur.execute(
        f"INSERT INTO {s}.product (id, title, subtitle, description, handle) "
        "VALUES (%s, %s, 'Acme', %s, %s)",
        (p, title, f"{title} in cotton", key.lower()),
    )
    cur.execute(
        f"INSERT INTO {s}.product_variant (id, product_id, title, sku) VALUES (%s, %s, 'M', %s)",
        (v, p, f"MD-{key}"),
    )
    cur.execute(
        f"INSERT INTO {s}.image (id, product_id, url) VALUES (%s, %s, %s)",
        (f"img_{key}", p, f"{key.lower()}.jpg"),
    )
    cur.execute(
        f"INSERT INTO {s}.product_sales_channel VALUES (%s, %s, 'sc_web')", (f"prodsc_{key}", p)
    )
    cur.execute(f"INSERT INTO {s}.product_category_product VALUES (%s, 'pcat_tee')", (p,))
    cur.execute(
        f"INSERT INTO {s}.price (id, price_set_id, currency_code, amount) "
        "VALUES (%s, %s, 'eur', 20)",
        (f"price_{key}", f"pset_{key}"),
    )
    cur.execute(
        f"INSERT INTO {s}.product_variant_price_set VALUES (%s, %s, %s)",
        (f"pvps_{key}", v, f"pset_{key}"),
    )
    for loc, qty in (("sloc_eu", 4), ("sloc_us", 6)):
        cur.execute(
            f"INSERT INTO {s}.inventory_level (id, inventory_item_id, location_id, "
            "stocked_quantity) VALUES (%s, %s, %s, %s)",
            (f"ilev_{key}_{loc}", f"iitem_{key}", loc, qty),
        )
    cur.execute(
        f"INSERT INTO {s}.product_variant_inventory_item VALUES (%s, %s, %s)",
        (f"pvitem_{key}", v, f"iitem_{key}"),
    )


def seed(cur, s: str) -> None:
    for key in ("ORM", "BULK", "PRICE", "PHOTO", "DEL", "OFF", "STOCK", "OLD", "SAME"):
        add_product(cur, s, key, f"Tee {key}")


def orm_save(cur, s):  # updateProductsWorkflow: the entity with a new updated_at
    cur.execute(
        f"UPDATE {s}.product SET title = 'Linen tee', updated_at = now() WHERE id = 'prod_ORM'"
    )


def bulk_description(cur, s):  # a migration script / raw query: no updated_at
    cur.execute(f"UPDATE {s}.product SET description = 'Organic cotton' WHERE id = 'prod_BULK'")


def price_change(cur, s):  # a price list import writes amounts only
    cur.execute(f"UPDATE {s}.price SET amount = 14.5 WHERE price_set_id = 'pset_PRICE'")


def new_photo(cur, s):
    cur.execute(
        f"INSERT INTO {s}.image (id, product_id, url, rank) "
        "VALUES ('img_PHOTO2', 'prod_PHOTO', 'photo-back.jpg', 1)"
    )


def hard_delete(cur, s):  # the application cascade: links and children first
    for sql in (
        "DELETE FROM {s}.product_variant_price_set WHERE variant_id = 'variant_DEL'",
        "DELETE FROM {s}.price WHERE price_set_id = 'pset_DEL'",
        "DELETE FROM {s}.product_variant_inventory_item WHERE variant_id = 'variant_DEL'",
        "DELETE FROM {s}.inventory_level WHERE inventory_item_id = 'iitem_DEL'",
        "DELETE FROM {s}.product_variant WHERE id = 'variant_DEL'",
        "DELETE FROM {s}.image WHERE product_id = 'prod_DEL'",
        "DELETE FROM {s}.product_sales_channel WHERE product_id = 'prod_DEL'",
        "DELETE FROM {s}.product_category_product WHERE product_id = 'prod_DEL'",
        "DELETE FROM {s}.product WHERE id = 'prod_DEL'",
    ):
        cur.execute(sql.format(s=s))


def unpublish(cur, s):  # removed from the web sales channel (a link row deleted)
    cur.execute(f"DELETE FROM {s}.product_sales_channel WHERE product_id = 'prod_OFF'")


def stock_movement(cur, s):  # a fulfilment decrements one location
    cur.execute(
        f"UPDATE {s}.inventory_level SET stocked_quantity = stocked_quantity - 3 "
        "WHERE id = 'ilev_STOCK_sloc_eu'"
    )


def rename(cur, s):
    cur.execute(
        f"UPDATE {s}.product_variant SET sku = 'MD-NEW', updated_at = now() "
        "WHERE id = 'variant_OLD'"
    )


CHANGES = {
    "ORM save (timestamp bumped)": (orm_save, {"MD-ORM": "text_changed"}, True),
    "bulk update skipping timestamps": (bulk_description, {"MD-BULK": "text_changed"}, False),
    "price in a child table": (price_change, {"MD-PRICE": "metadata_only"}, False),
    "new photo (child tables)": (new_photo, {"MD-PHOTO": "image_changed"}, True),
    "hard delete (cascade)": (hard_delete, {"MD-DEL": "deleted"}, None),
    "unpublished (link table)": (unpublish, {"MD-OFF": "deleted"}, False),
    "stock movement": (stock_movement, {"MD-STOCK": "metadata_only"}, False),
    "SKU rename": (rename, {"MD-OLD": "deleted", "MD-NEW": "new"}, True),
}
