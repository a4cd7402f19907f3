"""Magento 2's catalogue on PostgreSQL: EAV value tables, media gallery, stock items.

Table and column names follow Magento 2.4's ``catalog_product_entity`` family. Magento
cascades deletes in the database (foreign keys ON DELETE CASCADE), its product save
writes ``updated_at``, while mass "Update attributes", imports and stock updates write
the value tables directly and leave ``catalog_product_entity.updated_at`` alone.
"""

from __future__ import annotations

NAME, DESCRIPTION, PRICE, MANUFACTURER, STATUS = 73, 75, 77, 83, 97  # eav_attribute ids

SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.catalog_product_entity (
  entity_id serial PRIMARY KEY, attribute_set_id int NOT NULL DEFAULT 4,
  type_id varchar(32) NOT NULL DEFAULT 'simple', sku varchar(64) NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE {s}.catalog_product_entity_varchar (
  value_id serial PRIMARY KEY, attribute_id int NOT NULL, store_id int NOT NULL DEFAULT 0,
  entity_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  value varchar(255), UNIQUE (entity_id, attribute_id, store_id));
CREATE TABLE {s}.catalog_product_entity_text (LIKE {s}.catalog_product_entity_varchar
  INCLUDING ALL);
ALTER TABLE {s}.catalog_product_entity_text ALTER value TYPE text,
  ADD FOREIGN KEY (entity_id) REFERENCES {s}.catalog_product_entity ON DELETE CASCADE;
CREATE TABLE {s}.catalog_product_entity_decimal (
  value_id serial PRIMARY KEY, attribute_id int NOT NULL, store_id int NOT NULL DEFAULT 0,
  entity_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  value numeric(20,6), UNIQUE (entity_id, attribute_id, store_id));
CREATE TABLE {s}.catalog_product_entity_int (
  value_id serial PRIMARY KEY, attribute_id int NOT NULL, store_id int NOT NULL DEFAULT 0,
  entity_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  value int, UNIQUE (entity_id, attribute_id, store_id));
CREATE TABLE {s}.catalog_product_entity_media_gallery (
  value_id serial PRIMARY KEY, attribute_id int NOT NULL DEFAULT 90,
  value varchar(255), media_type varchar(32) NOT NULL DEFAULT 'image',
  disabled smallint NOT NULL DEFAULT 0);
CREATE TABLE {s}.catalog_product_entity_media_gallery_value (
  record_id serial PRIMARY KEY,
  value_id int NOT NULL REFERENCES {s}.catalog_product_entity_media_gallery ON DELETE CASCADE,
  store_id int NOT NULL DEFAULT 0,
  entity_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  label varchar(255), position int, disabled smallint NOT NULL DEFAULT 0);
CREATE TABLE {s}.catalog_product_entity_media_gallery_value_to_entity (
  value_id int NOT NULL REFERENCES {s}.catalog_product_entity_media_gallery ON DELETE CASCADE,
  entity_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  PRIMARY KEY (value_id, entity_id));
CREATE TABLE {s}.catalog_category_entity_varchar (
  value_id serial PRIMARY KEY, attribute_id int NOT NULL DEFAULT 45,
  store_id int NOT NULL DEFAULT 0, entity_id int NOT NULL, value varchar(255));
CREATE TABLE {s}.catalog_category_product (
  entity_id serial PRIMARY KEY, category_id int NOT NULL,
  product_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  position int NOT NULL DEFAULT 0, UNIQUE (category_id, product_id));
CREATE TABLE {s}.cataloginventory_stock_item (
  item_id serial PRIMARY KEY,
  product_id int NOT NULL REFERENCES {s}.catalog_product_entity ON DELETE CASCADE,
  stock_id int NOT NULL DEFAULT 1, qty numeric(12,4), is_in_stock smallint NOT NULL DEFAULT 1,
  UNIQUE (product_id, stock_id));
INSERT INTO {s}.catalog_category_entity_varchar (entity_id, value)
  VALUES (3, 'T-Shirts'), (4, 'Dresses');
"""

MAPPING = """
name: magento
key: sku
grain: variant
document: |
  SELECT e.entity_id AS product_id, e.sku, coalesce(nm.value, '') AS title,
         coalesce(ds.value, '') AS description, mf.value AS brand, cat.value AS category,
         pr.value AS price, 'EUR' AS currency, si.qty::int AS stock,
         coalesce(st.value, 1) = 1 AS active, e.updated_at,
         coalesce(img.files, '{}') AS images, coalesce(img.versions, '{}') AS image_versions
    FROM {schema}.catalog_product_entity e
    LEFT JOIN {schema}.catalog_product_entity_varchar nm
           ON nm.entity_id = e.entity_id AND nm.attribute_id = 73 AND nm.store_id = 0
    LEFT JOIN {schema}.catalog_product_entity_text ds
           ON ds.entity_id = e.entity_id AND ds.attribute_id = 75 AND ds.store_id = 0
    LEFT JOIN {schema}.catalog_product_entity_varchar mf
           ON mf.entity_id = e.entity_id AND mf.attribute_id = 83 AND mf.store_id = 0
    LEFT JOIN {schema}.catalog_product_entity_decimal pr
           ON pr.entity_id = e.entity_id AND pr.attribute_id = 77 AND pr.store_id = 0
    LEFT JOIN {schema}.catalog_product_entity_int st
           ON st.entity_id = e.entity_id AND st.attribute_id = 97 AND st.store_id = 0
    LEFT JOIN {schema}.cataloginventory_stock_item si
           ON si.product_id = e.entity_id AND si.stock_id = 1
    LEFT JOIN LATERAL (
         SELECT c.value FROM {schema}.catalog_category_product cp
           JOIN {schema}.catalog_category_entity_varchar c ON c.entity_id = cp.category_id
          WHERE cp.product_id = e.entity_id ORDER BY cp.position, c.value LIMIT 1) cat ON true
    LEFT JOIN LATERAL (
         SELECT array_agg(g.value ORDER BY gv.position, g.value_id) AS files,
                array_agg(g.value_id::text ORDER BY gv.position, g.value_id) AS versions
           FROM {schema}.catalog_product_entity_media_gallery_value_to_entity l
           JOIN {schema}.catalog_product_entity_media_gallery g ON g.value_id = l.value_id
           LEFT JOIN {schema}.catalog_product_entity_media_gallery_value gv
                  ON gv.value_id = g.value_id AND gv.entity_id = l.entity_id
          WHERE l.entity_id = e.entity_id AND g.disabled = 0) img ON true
tables:
  - name: "{schema}.catalog_product_entity"
    keys: SELECT changed.sku
    cursor: [updated_at, created_at]
  - name: "{schema}.catalog_product_entity_varchar"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_product_entity_text"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_product_entity_decimal"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_product_entity_int"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_product_entity_media_gallery"
    keys: >-
      SELECT e.sku FROM {schema}.catalog_product_entity_media_gallery_value_to_entity l
      JOIN {schema}.catalog_product_entity e ON e.entity_id = l.entity_id
      WHERE l.value_id = changed.value_id
  - name: "{schema}.catalog_product_entity_media_gallery_value"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_product_entity_media_gallery_value_to_entity"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.entity_id
  - name: "{schema}.catalog_category_product"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.product_id
  - name: "{schema}.cataloginventory_stock_item"
    keys: SELECT e.sku FROM {schema}.catalog_product_entity e WHERE e.entity_id = changed.product_id
"""


def _eav(cur, s: str, table: str, entity_id: int, attribute_id: int, value) -> None:
    """Magento's ORM attribute save: an upsert on the value table."""
    cur.execute(
        f"""INSERT INTO {s}.catalog_product_entity_{table} (attribute_id, store_id, entity_id, value)
            VALUES (%s, 0, %s, %s) ON CONFLICT (entity_id, attribute_id, store_id)
            DO UPDATE SET value = EXCLUDED.value""",
        (attribute_id, entity_id, value),
    )


def _entity(cur, s: str, sku: str) -> int:
    cur.execute(f"SELECT entity_id FROM {s}.catalog_product_entity WHERE sku = %s", (sku,))
    return cur.fetchone()[0]


def add_image(cur, s: str, sku: str, file: str, position: int) -> None:
    """The media gallery save: gallery row, per-store value, link to the entity."""
    eid = _entity(cur, s, sku)
    cur.execute(
        f"INSERT INTO {s}.catalog_product_entity_media_gallery (value) VALUES (%s) "
        "RETURNING value_id",
        (file,),
    )
    vid = cur.fetchone()[0]
    cur.execute(
        f"""INSERT INTO {s}.catalog_product_entity_media_gallery_value
            (value_id, entity_id, position) VALUES (%s, %s, %s)""",
        (vid, eid, position),
    )
    cur.execute(
        f"INSERT INTO {s}.catalog_product_entity_media_gallery_value_to_entity VALUES (%s, %s)",
        (vid, eid),
    )


def add_product(cur, s: str, sku: str, name: str, *, price: float = 20.0) -> None:
    """A product save from the admin: entity row, attributes, category, stock, a photo."""
    cur.execute(
        f"INSERT INTO {s}.catalog_product_entity (sku) VALUES (%s) RETURNING entity_id", (sku,)
    )
    eid = cur.fetchone()[0]
    _eav(cur, s, "varchar", eid, NAME, name)
    _eav(cur, s, "text", eid, DESCRIPTION, f"{name}, cotton")
    _eav(cur, s, "varchar", eid, MANUFACTURER, "Acme")
    _eav(cur, s, "decimal", eid, PRICE, price)
    _eav(cur, s, "int", eid, STATUS, 1)
    cur.execute(
        f"INSERT INTO {s}.catalog_category_product (category_id, product_id) VALUES (3, %s)",
        (eid,),
    )
    cur.execute(
        f"INSERT INTO {s}.cataloginventory_stock_item (product_id, qty) VALUES (%s, 10)", (eid,)
    )
    add_image(cur, s, sku, f"/{sku[0].lower()}/{sku.lower()}.jpg", 1)


def seed(cur, s: str) -> None:
    for sku in ("M-ORM", "M-BULK", "M-PRICE", "M-PHOTO", "M-DEL", "M-OFF", "M-STOCK", "M-OLD"):
        add_product(cur, s, sku, f"Shirt {sku}")
    add_product(cur, s, "M-SAME", "Unchanged shirt")


def orm_save(cur, s):
    eid = _entity(cur, s, "M-ORM")
    _eav(cur, s, "varchar", eid, NAME, "Linen shirt")
    cur.execute(
        f"UPDATE {s}.catalog_product_entity SET updated_at = now() WHERE entity_id = %s", (eid,)
    )


def bulk_description(cur, s):  # mass "Update attributes": value table only
    cur.execute(
        f"""UPDATE {s}.catalog_product_entity_text t SET value = 'Organic cotton, new cut'
              FROM {s}.catalog_product_entity e
             WHERE e.entity_id = t.entity_id AND e.sku = 'M-BULK' AND t.attribute_id = 75"""
    )


def price_change(cur, s):
    _eav(cur, s, "decimal", _entity(cur, s, "M-PRICE"), PRICE, 14.5)


def new_photo(cur, s):
    add_image(cur, s, "M-PHOTO", "/m/m-photo-back.jpg", 0)


def hard_delete(cur, s):  # database cascade (Magento's foreign keys)
    cur.execute(f"DELETE FROM {s}.catalog_product_entity WHERE sku = 'M-DEL'")


def disable(cur, s):  # status attribute = 2 (disabled), mass action
    _eav(cur, s, "int", _entity(cur, s, "M-OFF"), STATUS, 2)


def stock_movement(cur, s):  # inventory API: stock item only
    cur.execute(
        f"""UPDATE {s}.cataloginventory_stock_item SET qty = qty - 3
             WHERE product_id = (SELECT entity_id FROM {s}.catalog_product_entity
                                  WHERE sku = 'M-STOCK')"""
    )


def rename(cur, s):  # the SKU field edited in the admin: entity save
    cur.execute(
        f"UPDATE {s}.catalog_product_entity SET sku = 'M-NEW', updated_at = now() "
        "WHERE sku = 'M-OLD'"
    )


# change kind -> (function, {sku: expected change class}, writes a cursor column)
CHANGES = {
    "ORM save (timestamp bumped)": (orm_save, {"M-ORM": "text_changed"}, True),
    "bulk update skipping timestamps": (bulk_description, {"M-BULK": "text_changed"}, False),
    "price in a child table": (price_change, {"M-PRICE": "metadata_only"}, False),
    "new photo (child tables)": (new_photo, {"M-PHOTO": "image_changed"}, False),
    "hard delete (cascade)": (hard_delete, {"M-DEL": "deleted"}, None),
    "disabled (status attribute)": (disable, {"M-OFF": "deleted"}, False),
    "stock movement": (stock_movement, {"M-STOCK": "metadata_only"}, False),
    "SKU rename": (rename, {"M-OLD": "deleted", "M-NEW": "new"}, True),
}
