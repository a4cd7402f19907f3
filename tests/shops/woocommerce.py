"""WooCommerce (WordPress) products on PostgreSQL: posts, postmeta, terms, lookup table.

Table and column names follow WordPress 6 and WooCommerce 9 (``wp_`` prefix, the
post ID column is ``"ID"``); MySQL types become their PostgreSQL equivalents, dates
keep MySQL ``datetime``'s one-second resolution and carry no zone. Nothing is designed
for change capture: no foreign keys, no ``updated_at`` on any table but ``wp_posts``,
every product field but the post's own in ``wp_postmeta`` (EAV, text values).

How WordPress/WooCommerce write, as modelled here:

- ``post_modified`` is the site's local time, ``post_modified_gmt`` UTC, both whole
  seconds (``current_time('mysql')``); ``wp_update_post`` and every
  ``WC_Product::save()`` set both, even a save that changes only meta (the data
  store's "only update post modified time to record this save event" branch).
- ``update_post_meta`` inserts a missing key, updates every row of an existing key,
  and writes nothing when the value is unchanged; it never touches ``wp_posts``.
- Term assignments and post status transitions recount ``wp_term_taxonomy.count``.
- Deletes are the application's (``wp_delete_post``): term relationships, attachment
  re-parenting, each meta row, then the post. Trash is a status (``wp_trash_post``).
- WordPress autocommits each query; here one request is one transaction.

Documents are per sellable SKU (``_sku`` meta): simple products and the variations of
variable products (text, terms and gallery from the parent post). A ``wp_postmeta`` row
maps to SKUs through its ``post_id``; a ``_sku`` row also names its own value, which is
what finds the old SKU of a rename and a deleted product in log mode (where rows are
mapped when read, after WordPress deleted the product's other rows).
"""

from __future__ import annotations

import time

SITE = "https://shop.example"
UPLOADS = "2024/05"  # uploads sub-folder; files live under wp-content/uploads
TZ = "Asia/Kolkata"  # the site's timezone_string option (+05:30, no daylight saving)
NOW_LOCAL = f"date_trunc('second', now() AT TIME ZONE '{TZ}')"  # current_time('mysql')
NOW_GMT = "date_trunc('second', now() AT TIME ZONE 'UTC')"  # current_time('mysql', 1)

SEEDED = 16  # documents in the seed (the first run's "new"): 12 simple, 4 variations
# cursor columns have one-second resolution: a write in the same second as the previous
# run's upper bound gets an earlier timestamp, so an exact window (overlap 0) can miss it
CURSOR_OVERLAP_SECONDS = 1

SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.wp_posts (
  "ID" bigserial PRIMARY KEY, post_author bigint NOT NULL DEFAULT 0,
  post_date timestamp(0) NOT NULL, post_date_gmt timestamp(0) NOT NULL,
  post_content text NOT NULL DEFAULT '', post_title text NOT NULL DEFAULT '',
  post_excerpt text NOT NULL DEFAULT '', post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open',
  ping_status varchar(20) NOT NULL DEFAULT 'open', post_password varchar(255) NOT NULL DEFAULT '',
  post_name varchar(200) NOT NULL DEFAULT '', to_ping text NOT NULL DEFAULT '',
  pinged text NOT NULL DEFAULT '', post_modified timestamp(0) NOT NULL,
  post_modified_gmt timestamp(0) NOT NULL, post_content_filtered text NOT NULL DEFAULT '',
  post_parent bigint NOT NULL DEFAULT 0, guid varchar(255) NOT NULL DEFAULT '',
  menu_order int NOT NULL DEFAULT 0, post_type varchar(20) NOT NULL DEFAULT 'post',
  post_mime_type varchar(100) NOT NULL DEFAULT '', comment_count bigint NOT NULL DEFAULT 0);
CREATE INDEX post_name ON {s}.wp_posts (post_name);
CREATE INDEX type_status_date ON {s}.wp_posts (post_type, post_status, post_date, "ID");
CREATE INDEX post_parent ON {s}.wp_posts (post_parent);
CREATE INDEX post_author ON {s}.wp_posts (post_author);
CREATE TABLE {s}.wp_postmeta (
  meta_id bigserial PRIMARY KEY, post_id bigint NOT NULL DEFAULT 0,
  meta_key varchar(255), meta_value text);
CREATE INDEX postmeta_post_id ON {s}.wp_postmeta (post_id);
CREATE INDEX postmeta_meta_key ON {s}.wp_postmeta (meta_key);
CREATE TABLE {s}.wp_terms (
  term_id bigserial PRIMARY KEY, name varchar(200) NOT NULL DEFAULT '',
  slug varchar(200) NOT NULL DEFAULT '', term_group bigint NOT NULL DEFAULT 0);
CREATE INDEX terms_slug ON {s}.wp_terms (slug);
CREATE TABLE {s}.wp_term_taxonomy (
  term_taxonomy_id bigserial PRIMARY KEY, term_id bigint NOT NULL DEFAULT 0,
  taxonomy varchar(32) NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
  parent bigint NOT NULL DEFAULT 0, count bigint NOT NULL DEFAULT 0,
  UNIQUE (term_id, taxonomy));
CREATE TABLE {s}.wp_term_relationships (
  object_id bigint NOT NULL DEFAULT 0, term_taxonomy_id bigint NOT NULL DEFAULT 0,
  term_order int NOT NULL DEFAULT 0, PRIMARY KEY (object_id, term_taxonomy_id));
CREATE TABLE {s}.wp_wc_product_meta_lookup (
  product_id bigint PRIMARY KEY, sku varchar(100) DEFAULT '',
  global_unique_id varchar(100) DEFAULT '', virtual smallint DEFAULT 0,
  downloadable smallint DEFAULT 0, min_price numeric(19,4), max_price numeric(19,4),
  onsale smallint DEFAULT 0, stock_quantity double precision,
  stock_status varchar(100) DEFAULT 'instock', rating_count bigint DEFAULT 0,
  average_rating numeric(3,2) DEFAULT 0.00, total_sales bigint DEFAULT 0,
  tax_status varchar(100) DEFAULT 'taxable', tax_class varchar(100) DEFAULT '');
INSERT INTO {s}.wp_terms (name, slug) VALUES ('Uncategorized', 'uncategorized'),
  ('T-Shirts', 't-shirts'), ('Outlet', 'outlet'), ('Last season', 'last-season'),
  ('Coming soon', 'coming-soon'), ('simple', 'simple'), ('variable', 'variable'),
  ('Acme', 'acme');
INSERT INTO {s}.wp_term_taxonomy (term_id, taxonomy)
  SELECT term_id, CASE slug WHEN 'simple' THEN 'product_type' WHEN 'variable' THEN 'product_type'
                            WHEN 'acme' THEN 'product_brand' ELSE 'product_cat' END
    FROM {s}.wp_terms ORDER BY term_id;
"""


def _family(objects: str) -> str:
    """Keys SQL: the SKUs of the posts ``objects`` selects (as ``id``) and of their
    variations (a variable product's own fields and terms feed its variations' documents)."""
    return f"""SELECT s.meta_value FROM ({objects}) o
      CROSS JOIN LATERAL (SELECT o.id UNION ALL SELECT c."ID" FROM {{schema}}.wp_posts c
      WHERE c.post_parent = o.id AND c.post_type = 'product_variation') f(id)
      JOIN {{schema}}.wp_postmeta s ON s.post_id = f.id AND s.meta_key = '_sku'"""


def _showing(attachment: str, when: str) -> str:
    """Keys SQL: the products (and variations) showing ``attachment`` as featured image
    or in their gallery; the gallery is a comma-separated list, so this scans the
    ``_thumbnail_id``/``_product_image_gallery`` rows."""
    return _family(
        f"""SELECT ref.post_id AS id FROM {{schema}}.wp_postmeta ref
      WHERE {when} AND ref.meta_key IN ('_thumbnail_id', '_product_image_gallery')
      AND {attachment}::text = ANY (string_to_array(ref.meta_value, ','))"""
    )


# product_type terms ('simple', 'variable') feed no document: their count updates (a new
# product, a publish, unpublish or trash) would otherwise re-read every product of the type
_TAXONOMIES = "('product_cat', 'product_brand')"
_POST_KEYS = (
    _family("""SELECT changed."ID" AS id
      WHERE changed.post_type IN ('product', 'product_variation')""")
    + "\n      UNION "
    + _showing('changed."ID"', "changed.post_type = 'attachment'")
)
_META_KEYS = (  # a changed or deleted _sku row names its SKU itself (renames, deletes)
    "SELECT changed.meta_value WHERE changed.meta_key = '_sku' AND changed.meta_value <> ''"
    + "\n      UNION "
    + _family("SELECT changed.post_id AS id")
    + "\n      UNION "
    + _showing("changed.post_id", "changed.meta_key = '_wp_attached_file'")
)
_RELATIONSHIP_KEYS = _family("SELECT changed.object_id AS id")
_TERM_TAXONOMY_KEYS = _family(f"""SELECT r.object_id AS id
      FROM {{schema}}.wp_term_relationships r
      WHERE r.term_taxonomy_id = changed.term_taxonomy_id AND changed.taxonomy IN {_TAXONOMIES}""")
_TERM_KEYS = _family(f"""SELECT r.object_id AS id FROM {{schema}}.wp_term_taxonomy tt
      JOIN {{schema}}.wp_term_relationships r ON r.term_taxonomy_id = tt.term_taxonomy_id
      WHERE tt.term_id = changed.term_id AND tt.taxonomy IN {_TAXONOMIES}""")


def _pivot(post: str, keys: dict[str, str]) -> str:
    """The first value (as ``get_post_meta($id, $key, true)``) of each meta key."""
    cols = ",\n".join(
        f"                (array_agg(m.meta_value ORDER BY m.meta_id)\n"
        f"                   FILTER (WHERE m.meta_key = '{key}'))[1] AS {alias}"
        for key, alias in keys.items()
    )
    wanted = ", ".join(f"'{k}'" for k in keys)
    return (
        f"         SELECT\n{cols}\n           FROM {{schema}}.wp_postmeta m\n"
        f"          WHERE m.post_id = {post} AND m.meta_key IN ({wanted})"
    )


def _term(taxonomy: str) -> str:
    return f"""SELECT t.name FROM {{schema}}.wp_term_relationships r
           JOIN {{schema}}.wp_term_taxonomy tt
             ON tt.term_taxonomy_id = r.term_taxonomy_id AND tt.taxonomy = '{taxonomy}'
           JOIN {{schema}}.wp_terms t ON t.term_id = tt.term_id
          WHERE r.object_id = p."ID" ORDER BY r.term_order, t.name LIMIT 1"""


_VARIANT_META = {
    "_price": "price",
    "_stock": "stock",
    "_manage_stock": "manage_stock",
    "_thumbnail_id": "thumbnail",
    "_variation_description": "description",
}
_PRODUCT_META = {"_thumbnail_id": "thumbnail", "_product_image_gallery": "gallery"}

# One document per sellable SKU: simple products and variations (``v``), with the text,
# terms and gallery of the product post (``p``: the variation's parent, else itself); a
# variable product itself is sold through its variations and has no document.
MAPPING = f"""
name: woocommerce
key: sku
grain: variant
document: |
  SELECT sku.meta_value AS sku, v."ID" AS product_id, v.post_title AS title,
         concat_ws(' ', nullif(p.post_excerpt, ''), p.post_content, vm.description)
           AS description,
         brand.name AS brand, cat.name AS category,
         nullif(vm.price, '')::numeric AS price, 'EUR' AS currency,
         CASE WHEN vm.manage_stock = 'yes' THEN round(nullif(vm.stock, '')::numeric)::int
         END AS stock,
         v.post_status = 'publish' AND p.post_status = 'publish' AS active,
         greatest(v.post_modified_gmt, p.post_modified_gmt) AT TIME ZONE 'UTC' AS updated_at,
         coalesce(img.files, '{{}}') AS images, coalesce(img.versions, '{{}}') AS image_versions
    FROM {{schema}}.wp_posts v
    JOIN {{schema}}.wp_postmeta sku
      ON sku.post_id = v."ID" AND sku.meta_key = '_sku' AND sku.meta_value <> ''
    JOIN {{schema}}.wp_posts p ON p.post_type = 'product'
     AND p."ID" = CASE v.post_type WHEN 'product_variation' THEN v.post_parent ELSE v."ID" END
    LEFT JOIN LATERAL (
{_pivot('v."ID"', _VARIANT_META)}) vm ON true
    LEFT JOIN LATERAL (
{_pivot('p."ID"', _PRODUCT_META)}) pm ON true
    LEFT JOIN LATERAL ({_term("product_cat")}) cat ON true
    LEFT JOIN LATERAL ({_term("product_brand")}) brand ON true
    LEFT JOIN LATERAL (
         SELECT array_agg(f.meta_value ORDER BY i.pos) AS files,
                array_agg(a."ID"::text ORDER BY i.pos) AS versions
           FROM unnest(array_remove(string_to_array(concat_ws(',',
                  CASE WHEN v."ID" <> p."ID" AND vm.thumbnail NOT IN ('', '0')
                       THEN vm.thumbnail ELSE pm.thumbnail END, pm.gallery), ','), ''))
                WITH ORDINALITY AS i(id, pos)
           JOIN {{schema}}.wp_posts a ON a."ID" = i.id::bigint AND a.post_type = 'attachment'
           JOIN {{schema}}.wp_postmeta f
             ON f.post_id = a."ID" AND f.meta_key = '_wp_attached_file') img ON true
   WHERE v.post_type IN ('product', 'product_variation')
     AND NOT EXISTS (
         SELECT 1 FROM {{schema}}.wp_term_relationships r
           JOIN {{schema}}.wp_term_taxonomy tt
             ON tt.term_taxonomy_id = r.term_taxonomy_id AND tt.taxonomy = 'product_type'
           JOIN {{schema}}.wp_terms t ON t.term_id = tt.term_id AND t.slug = 'variable'
          WHERE r.object_id = v."ID")
tables:
  - name: "{{schema}}.wp_posts"
    keys: >-
      {_POST_KEYS}
    cursor: [post_modified_gmt]
  - name: "{{schema}}.wp_postmeta"
    keys: >-
      {_META_KEYS}
  - name: "{{schema}}.wp_term_relationships"
    keys: >-
      {_RELATIONSHIP_KEYS}
  - name: "{{schema}}.wp_term_taxonomy"
    keys: >-
      {_TERM_TAXONOMY_KEYS}
  - name: "{{schema}}.wp_terms"
    keys: >-
      {_TERM_KEYS}
"""


# --- WordPress core ------------------------------------------------------------------


def _post_id(cur, s: str, sku: str) -> int:
    cur.execute(
        f"SELECT post_id FROM {s}.wp_postmeta WHERE meta_key = '_sku' AND meta_value = %s",
        (sku,),
    )
    return cur.fetchone()[0]


def add_post_meta(cur, s: str, post_id: int, key: str, value) -> None:
    cur.execute(
        f"INSERT INTO {s}.wp_postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
        (post_id, key, str(value)),
    )


def update_post_meta(cur, s: str, post_id: int, key: str, value) -> None:
    """``update_metadata``: add a missing key, skip an unchanged value, else update every
    row of the key."""
    value = str(value)
    cur.execute(
        f"SELECT meta_value FROM {s}.wp_postmeta WHERE post_id = %s AND meta_key = %s",
        (post_id, key),
    )
    old = [r[0] for r in cur.fetchall()]
    if not old:
        add_post_meta(cur, s, post_id, key, value)
    elif old != [value]:
        cur.execute(
            f"UPDATE {s}.wp_postmeta SET meta_value = %s WHERE post_id = %s AND meta_key = %s",
            (value, post_id, key),
        )


def _update_term_count(cur, s: str, tt_ids: list[int]) -> None:
    """``_update_post_term_count``: published objects per term, one UPDATE per term."""
    for tt in tt_ids:
        cur.execute(
            f"""UPDATE {s}.wp_term_taxonomy SET count = (
                  SELECT count(*) FROM {s}.wp_term_relationships r
                    JOIN {s}.wp_posts p ON p."ID" = r.object_id
                   WHERE r.term_taxonomy_id = %s AND p.post_status = 'publish'
                     AND p.post_type = 'product')
                WHERE term_taxonomy_id = %s""",
            (tt, tt),
        )


def _object_terms(cur, s: str, object_id: int, taxonomy: str | None = None) -> list[int]:
    cur.execute(
        f"""SELECT r.term_taxonomy_id FROM {s}.wp_term_relationships r
              JOIN {s}.wp_term_taxonomy tt ON tt.term_taxonomy_id = r.term_taxonomy_id
             WHERE r.object_id = %s AND (%s::text IS NULL OR tt.taxonomy = %s)
             ORDER BY 1""",
        (object_id, taxonomy, taxonomy),
    )
    return [r[0] for r in cur.fetchall()]


def wp_set_object_terms(cur, s: str, object_id: int, taxonomy: str, slugs: list[str]) -> None:
    """Relationships to the terms ``slugs`` (inserted one by one), others of the taxonomy
    removed, every touched term recounted."""
    cur.execute(
        f"""SELECT tt.term_taxonomy_id FROM {s}.wp_term_taxonomy tt
              JOIN {s}.wp_terms t ON t.term_id = tt.term_id
             WHERE tt.taxonomy = %s AND t.slug = ANY(%s) ORDER BY 1""",
        (taxonomy, slugs),
    )
    new = [r[0] for r in cur.fetchall()]
    old = _object_terms(cur, s, object_id, taxonomy)
    for tt in new:
        if tt not in old:
            cur.execute(
                f"INSERT INTO {s}.wp_term_relationships (object_id, term_taxonomy_id) "
                "VALUES (%s, %s)",
                (object_id, tt),
            )
    gone = [tt for tt in old if tt not in new]
    if gone:
        cur.execute(
            f"DELETE FROM {s}.wp_term_relationships "
            "WHERE object_id = %s AND term_taxonomy_id = ANY(%s)",
            (object_id, gone),
        )
    _update_term_count(cur, s, sorted(set(new) | set(gone)))


def wp_insert_post(cur, s: str, *, title: str, post_type: str, status: str, name: str,
                   content: str = "", excerpt: str = "", parent: int = 0, guid: str = "",
                   mime: str = "") -> int:  # fmt: skip
    """The INSERT, then (no guid given) the guid set to the permalink by a second UPDATE."""
    cur.execute(
        f"""INSERT INTO {s}.wp_posts (post_author, post_date, post_date_gmt, post_content,
              post_title, post_excerpt, post_status, ping_status, post_name, post_modified,
              post_modified_gmt, post_parent, guid, post_type, post_mime_type)
            VALUES (1, {NOW_LOCAL}, {NOW_GMT}, %s, %s, %s, %s, 'closed', %s, {NOW_LOCAL},
              {NOW_GMT}, %s, %s, %s, %s)
            RETURNING "ID" """,
        (content, title, excerpt, status, name, parent, guid, post_type, mime),
    )
    post_id = cur.fetchone()[0]
    if not guid:
        cur.execute(
            f'UPDATE {s}.wp_posts SET guid = %s WHERE "ID" = %s',
            (f"{SITE}/?post_type={post_type}&p={post_id}", post_id),
        )
    return post_id


def wp_update_post(cur, s: str, post_id: int, **fields) -> None:
    """``wp_update_post``: the given columns, ``post_modified`` always; a status
    transition recounts the post's terms."""
    cur.execute(f'SELECT post_status FROM {s}.wp_posts WHERE "ID" = %s', (post_id,))
    before = cur.fetchone()[0]
    sets = "".join(f"{col} = %s, " for col in fields)
    cur.execute(
        f"""UPDATE {s}.wp_posts SET {sets}post_modified = {NOW_LOCAL},
              post_modified_gmt = {NOW_GMT} WHERE "ID" = %s""",
        (*fields.values(), post_id),
    )
    if fields.get("post_status", before) != before:  # _update_term_count_on_transition_post_status
        _update_term_count(cur, s, _object_terms(cur, s, post_id))


def wp_insert_attachment(cur, s: str, parent: int, file: str) -> int:
    """An upload attached to ``parent``: the attachment post, its file and metadata."""
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    att = wp_insert_post(
        cur, s, title=stem, post_type="attachment", status="inherit", name=stem,
        parent=parent, guid=f"{SITE}/wp-content/uploads/{file}", mime="image/jpeg",
    )  # fmt: skip
    add_post_meta(cur, s, att, "_wp_attached_file", file)
    add_post_meta(
        cur, s, att, "_wp_attachment_metadata",
        f'a:3:{{s:5:"width";i:1200;s:6:"height";i:1200;s:4:"file";s:{len(file)}:"{file}";}}',
    )  # fmt: skip
    return att


def _edit_lock(cur, s: str, post_id: int) -> None:
    """Opening the product in the editor (``wp_set_post_lock``), before any save."""
    update_post_meta(cur, s, post_id, "_edit_lock", f"{int(time.time())}:1")


# --- WooCommerce -----------------------------------------------------------------------


def _lookup(cur, s: str, post_id: int) -> None:
    """``update_lookup_table``: a REPLACE of the product's wc_product_meta_lookup row."""
    cur.execute(
        f"""INSERT INTO {s}.wp_wc_product_meta_lookup
              (product_id, sku, min_price, max_price, stock_quantity, stock_status)
            SELECT %(id)s, max(meta_value) FILTER (WHERE meta_key = '_sku'),
                   max(nullif(meta_value, '')::numeric) FILTER (WHERE meta_key = '_price'),
                   max(nullif(meta_value, '')::numeric) FILTER (WHERE meta_key = '_price'),
                   max(nullif(meta_value, '')::float8) FILTER (WHERE meta_key = '_stock'),
                   max(meta_value) FILTER (WHERE meta_key = '_stock_status')
              FROM {s}.wp_postmeta WHERE post_id = %(id)s
            ON CONFLICT (product_id) DO UPDATE SET sku = EXCLUDED.sku,
              min_price = EXCLUDED.min_price, max_price = EXCLUDED.max_price,
              stock_quantity = EXCLUDED.stock_quantity, stock_status = EXCLUDED.stock_status""",
        {"id": post_id},
    )


def _touch(cur, s: str, post_id: int) -> None:
    """``WC_Product_Data_Store_CPT::update`` with no post field changed: the timestamps."""
    cur.execute(
        f"""UPDATE {s}.wp_posts SET post_modified = {NOW_LOCAL}, post_modified_gmt = {NOW_GMT}
             WHERE "ID" = %s""",
        (post_id,),
    )


def _set_price(cur, s: str, post_id: int, price: str) -> None:
    """The regular price, then ``handle_updated_props`` syncing ``_price``."""
    update_post_meta(cur, s, post_id, "_regular_price", price)
    update_post_meta(cur, s, post_id, "_price", price)


def add_product(cur, s: str, sku: str, title: str, content: str, *,
                category: str = "t-shirts", brand: str | None = "acme") -> None:  # fmt: skip
    """``WC_Product_Simple::save()`` on a new product, with a featured image: the post,
    every product meta key (forced), its terms, the lookup row."""
    slug = sku.lower()
    pid = wp_insert_post(
        cur, s, title=title, post_type="product", status="publish", name=slug,
        content=content, excerpt=f"{title}, short",
    )  # fmt: skip
    meta = {
        "_sku": sku, "total_sales": "0", "_tax_status": "taxable", "_tax_class": "",
        "_manage_stock": "yes", "_backorders": "no", "_sold_individually": "no",
        "_virtual": "no", "_downloadable": "no", "_download_limit": "-1",
        "_download_expiry": "-1", "_stock": "10", "_stock_status": "instock",
        "_wc_average_rating": "0", "_wc_review_count": "0", "_product_version": "9.8.5",
    }  # fmt: skip
    for key, value in meta.items():
        update_post_meta(cur, s, pid, key, value)
    _set_price(cur, s, pid, "20")
    att = wp_insert_attachment(cur, s, pid, f"{UPLOADS}/{slug}.jpg")
    update_post_meta(cur, s, pid, "_thumbnail_id", att)
    update_post_meta(cur, s, pid, "_product_image_gallery", "")
    wp_set_object_terms(cur, s, pid, "product_cat", [category])
    wp_set_object_terms(cur, s, pid, "product_type", ["simple"])
    wp_set_object_terms(cur, s, pid, "product_brand", [brand] if brand else [])
    _lookup(cur, s, pid)


def _sync_variable(cur, s: str, parent: int) -> None:
    """``WC_Product_Variable::sync`` (price part): the parent's ``_price`` rows deleted and
    added again, one per distinct price of its enabled variations; the lookup row."""
    cur.execute(
        f"""SELECT DISTINCT pr.meta_value::numeric FROM {s}.wp_posts c
              JOIN {s}.wp_postmeta pr ON pr.post_id = c."ID" AND pr.meta_key = '_price'
             WHERE c.post_parent = %s AND c.post_type = 'product_variation'
               AND c.post_status = 'publish' ORDER BY 1""",
        (parent,),
    )
    prices = [r[0] for r in cur.fetchall()]
    for key in ("_price", "_sale_price", "_regular_price"):  # delete_post_meta
        cur.execute(
            f"DELETE FROM {s}.wp_postmeta WHERE post_id = %s AND meta_key = %s", (parent, key)
        )
    for price in prices:
        add_post_meta(cur, s, parent, "_price", f"{price:f}")
    _lookup(cur, s, parent)


def add_variable_product(cur, s: str, key: str, title: str, prices: dict[str, str]) -> None:
    """A variable product (its own SKU, no stock) and one variation per size, each with
    its SKU, price and stock; then the parent's price sync."""
    slug = f"ws-{key.lower()}"
    pid = wp_insert_post(
        cur, s, title=title, post_type="product", status="publish", name=slug,
        content=f"{title} in cotton jersey.", excerpt=f"{title}, short",
    )  # fmt: skip
    attributes = (
        'a:1:{s:4:"size";a:6:{s:4:"name";s:4:"Size";s:5:"value";s:5:"S | M";'
        's:8:"position";i:0;s:10:"is_visible";i:1;s:12:"is_variation";i:1;'
        's:11:"is_taxonomy";i:0;}}'
    )
    for meta, value in {
        "_sku": f"WS-{key}", "_manage_stock": "no", "_stock_status": "instock",
        "_product_attributes": attributes, "_tax_status": "taxable", "_tax_class": "",
        "total_sales": "0", "_product_version": "9.8.5",
    }.items():  # fmt: skip
        update_post_meta(cur, s, pid, meta, value)
    att = wp_insert_attachment(cur, s, pid, f"{UPLOADS}/{slug}.jpg")
    update_post_meta(cur, s, pid, "_thumbnail_id", att)
    update_post_meta(cur, s, pid, "_product_image_gallery", "")
    wp_set_object_terms(cur, s, pid, "product_cat", ["t-shirts"])
    wp_set_object_terms(cur, s, pid, "product_type", ["variable"])
    wp_set_object_terms(cur, s, pid, "product_brand", ["acme"])
    for size, price in prices.items():  # WC_Product_Variation::save() on a new variation
        vid = wp_insert_post(
            cur, s, title=f"{title} - {size}", post_type="product_variation",
            status="publish", name=f"{slug}-{size.lower()}", excerpt=f"Size: {size}",
            parent=pid,
        )  # fmt: skip
        for meta, value in {
            "_variation_description": "", "_sku": f"WS-{key}-{size}",
            "_manage_stock": "yes", "_stock": "5", "_stock_status": "instock",
            "_thumbnail_id": "0", "_tax_class": "parent", "total_sales": "0",
            "attribute_size": size, "_product_version": "9.8.5",
        }.items():  # fmt: skip
            update_post_meta(cur, s, vid, meta, value)
        _set_price(cur, s, vid, price)
        _lookup(cur, s, vid)
    _sync_variable(cur, s, pid)


KEYS = ("SAVE", "BULK", "PRICE", "REST", "PHOTO", "MEDIA", "STOCK", "OLD")
# Products leaving the shop get terms of their own: the status change recounts the
# product's terms, and a term's count update re-reads every product holding the term
# (noise in a real shop), which would also hide a change the mapping fails to map.
REMOVED = {"DEL": "outlet", "TRASH": "last-season", "DRAFT": "coming-soon"}


def seed(cur, s: str) -> None:
    for key in KEYS:
        fabric = "coton" if key == "BULK" else "cotton"  # a typo, fixed by search-replace
        add_product(cur, s, f"WS-{key}", f"Tee {key}", f"Tee {key} in {fabric} jersey.")
    for key, category in REMOVED.items():
        add_product(
            cur, s, f"WS-{key}", f"Tee {key}", f"Tee {key} in cotton jersey.",
            category=category, brand=None,
        )  # fmt: skip
    add_product(cur, s, "WS-SAME", "Unchanged tee", "A tee in cotton jersey.")
    media = _post_id(cur, s, "WS-MEDIA")
    back = wp_insert_attachment(cur, s, media, f"{UPLOADS}/ws-media-back.jpg")
    update_post_meta(cur, s, media, "_product_image_gallery", str(back))
    add_variable_product(cur, s, "VAR", "Tee VAR", {"S": "20", "M": "20"})
    add_variable_product(cur, s, "VOFF", "Tee VOFF", {"S": "20", "M": "25"})
    cur.execute(  # the catalogue was built long before the platform was connected
        f"""UPDATE {s}.wp_posts SET post_date = post_date - interval '30 days',
              post_date_gmt = post_date_gmt - interval '30 days',
              post_modified = post_modified - interval '30 days',
              post_modified_gmt = post_modified_gmt - interval '30 days'"""
    )


# --- changes, written the way WordPress and WooCommerce write them -----------------------


def admin_save(cur, s):
    """The product edit screen: the editor lock, ``edit_post`` (wp_update_post), then
    WooCommerce's meta box save (``$product->save()`` inside save_post)."""
    pid = _post_id(cur, s, "WS-SAVE")
    _edit_lock(cur, s, pid)
    wp_update_post(cur, s, pid, post_title="Linen tee")
    update_post_meta(cur, s, pid, "_edit_last", "1")
    _touch(cur, s, pid)


def search_replace(cur, s):
    """``wp search-replace 'coton' 'cotton' wp_posts --include-columns=post_content``:
    SQL on the column, no timestamp."""
    cur.execute(
        f"UPDATE {s}.wp_posts SET post_content = replace(post_content, 'coton', 'cotton') "
        "WHERE post_content LIKE '%coton%'"
    )


def price_feed(cur, s):
    """A price-sync plugin or ``wp post meta update``: ``update_post_meta`` only, no
    product save (so no timestamp and a stale lookup row)."""
    pid = _post_id(cur, s, "WS-PRICE")
    _set_price(cur, s, pid, "14.5")


def rest_price(cur, s):
    """``PUT /wp-json/wc/v3/products/<id>`` with a regular price (the CSV importer takes
    the same path): ``$product->save()`` bumps the timestamps, writes the meta, the
    lookup row."""
    pid = _post_id(cur, s, "WS-REST")
    _touch(cur, s, pid)
    _set_price(cur, s, pid, "16")
    _lookup(cur, s, pid)


def new_photo(cur, s):
    """A photo uploaded in the product's gallery box, then the product updated."""
    pid = _post_id(cur, s, "WS-PHOTO")
    _edit_lock(cur, s, pid)
    att = wp_insert_attachment(cur, s, pid, f"{UPLOADS}/ws-photo-back.jpg")
    wp_update_post(cur, s, pid)
    _touch(cur, s, pid)
    update_post_meta(cur, s, pid, "_product_image_gallery", str(att))


def force_delete(cur, s):
    """``DELETE /wp-json/wc/v3/products/<id>?force=true``: ``wp_delete_post``."""
    pid = _post_id(cur, s, "WS-DEL")
    terms = _object_terms(cur, s, pid)
    cur.execute(f"DELETE FROM {s}.wp_term_relationships WHERE object_id = %s", (pid,))
    _update_term_count(cur, s, terms)
    cur.execute(  # "point all attachments to this post up one level"
        f"UPDATE {s}.wp_posts SET post_parent = 0 "
        "WHERE post_parent = %s AND post_type = 'attachment'",
        (pid,),
    )
    cur.execute(f"SELECT meta_id FROM {s}.wp_postmeta WHERE post_id = %s ORDER BY 1", (pid,))
    for (mid,) in cur.fetchall():  # delete_metadata_by_mid, one row at a time
        cur.execute(f"DELETE FROM {s}.wp_postmeta WHERE meta_id = %s", (mid,))
    cur.execute(f'DELETE FROM {s}.wp_posts WHERE "ID" = %s', (pid,))
    cur.execute(f"DELETE FROM {s}.wp_wc_product_meta_lookup WHERE product_id = %s", (pid,))


def delete_media(cur, s):
    """A gallery photo deleted from the Media Library (``wp_delete_attachment``):
    featured-image references removed, the attachment's meta and post deleted; the
    product's ``_product_image_gallery`` still lists the id and is not saved."""
    cur.execute(
        f"""SELECT a."ID" FROM {s}.wp_posts a WHERE a.post_type = 'attachment'
               AND a.guid LIKE '%/ws-media-back.jpg'"""
    )
    att = cur.fetchone()[0]
    cur.execute(
        f"DELETE FROM {s}.wp_postmeta WHERE meta_key = '_thumbnail_id' AND meta_value = %s",
        (str(att),),
    )
    cur.execute(f"SELECT meta_id FROM {s}.wp_postmeta WHERE post_id = %s ORDER BY 1", (att,))
    for (mid,) in cur.fetchall():
        cur.execute(f"DELETE FROM {s}.wp_postmeta WHERE meta_id = %s", (mid,))
    cur.execute(f'DELETE FROM {s}.wp_posts WHERE "ID" = %s', (att,))


def trash(cur, s):
    """``wp_trash_post``: the trash meta, status 'trash' (slug suffixed), terms recounted."""
    pid = _post_id(cur, s, "WS-TRASH")
    add_post_meta(cur, s, pid, "_wp_trash_meta_status", "publish")
    add_post_meta(cur, s, pid, "_wp_trash_meta_time", str(int(time.time())))
    add_post_meta(cur, s, pid, "_wp_desired_post_slug", "ws-trash")
    wp_update_post(cur, s, pid, post_status="trash", post_name="ws-trash__trashed")


def to_draft(cur, s):
    """The edit screen's "Switch to Draft": wp_update_post, then the product save."""
    pid = _post_id(cur, s, "WS-DRAFT")
    _edit_lock(cur, s, pid)
    wp_update_post(cur, s, pid, post_status="draft")
    _touch(cur, s, pid)


def order_stock(cur, s):
    """``wc_reduce_stock_levels`` for an order of 3: ``update_product_stock`` (SQL on the
    meta value, the lookup row), then ``$product->save()`` (the timestamps)."""
    pid = _post_id(cur, s, "WS-STOCK")
    cur.execute(  # meta_value = meta_value - 3.000000 (MySQL keeps the decimal's scale)
        f"""UPDATE {s}.wp_postmeta SET meta_value = (meta_value::numeric - 3.000000)::text
             WHERE post_id = %s AND meta_key = '_stock'""",
        (pid,),
    )
    _lookup(cur, s, pid)
    _touch(cur, s, pid)


def sku_edit(cur, s):
    """The SKU field edited on the edit screen: wp_update_post, then the new ``_sku``."""
    pid = _post_id(cur, s, "WS-OLD")
    _edit_lock(cur, s, pid)
    wp_update_post(cur, s, pid)
    _touch(cur, s, pid)
    update_post_meta(cur, s, pid, "_sku", "WS-NEW")
    _lookup(cur, s, pid)


def variable_rename(cur, s):
    """A variable product renamed on the edit screen: wp_update_post, the product save,
    then ``sync_variation_names`` (SQL on the variations' titles, no timestamp)."""
    pid = _post_id(cur, s, "WS-VAR")
    _edit_lock(cur, s, pid)
    wp_update_post(cur, s, pid, post_title="Rib tee")
    _touch(cur, s, pid)
    cur.execute(
        f"""UPDATE {s}.wp_posts SET post_title = replace(post_title, %s, %s)
             WHERE post_type = 'product_variation' AND post_parent = %s""",
        ("Tee VAR", "Rib tee", pid),
    )


def disable_variation(cur, s):
    """One variation's "Enabled" unticked (the variations panel's AJAX save): the
    variation's status 'private', then the parent synced and saved."""
    vid = _post_id(cur, s, "WS-VOFF-M")
    cur.execute(
        f"""UPDATE {s}.wp_posts SET post_status = 'private', post_modified = {NOW_LOCAL},
              post_modified_gmt = {NOW_GMT} WHERE "ID" = %s RETURNING post_parent""",
        (vid,),
    )
    parent = cur.fetchone()[0]
    _sync_variable(cur, s, parent)
    _touch(cur, s, parent)


# change kind -> (function, {sku: expected change class}, writes a cursor column)
CHANGES = {
    "admin editor save (post_modified bumped)": (admin_save, {"WS-SAVE": "text_changed"}, True),
    "search-replace on post_content (no timestamp)": (
        search_replace,
        {"WS-BULK": "text_changed"},
        False,
    ),
    "price feed via update_post_meta": (price_feed, {"WS-PRICE": "metadata_only"}, False),
    "REST API price update (product save)": (rest_price, {"WS-REST": "metadata_only"}, True),
    "new gallery photo (attachment + meta)": (new_photo, {"WS-PHOTO": "image_changed"}, True),
    "gallery photo deleted from the Media Library": (
        delete_media,
        {"WS-MEDIA": "image_changed"},
        False,
    ),
    "permanent delete (wp_delete_post)": (force_delete, {"WS-DEL": "deleted"}, None),
    "moved to trash (status)": (trash, {"WS-TRASH": "deleted"}, True),
    "switched to draft (status)": (to_draft, {"WS-DRAFT": "deleted"}, True),
    "order stock decrement": (order_stock, {"WS-STOCK": "metadata_only"}, True),
    "SKU edited (_sku meta)": (sku_edit, {"WS-OLD": "deleted", "WS-NEW": "new"}, True),
    "variable product renamed (variation titles by SQL)": (
        variable_rename,
        {"WS-VAR-S": "text_changed", "WS-VAR-M": "text_changed"},
        True,
    ),
    "variation disabled (status private)": (
        disable_variation,
        {"WS-VOFF-M": "deleted"},
        True,
    ),
}
