"""SQL of the quality checks: the queries GX evaluates and the report summarises.

Every query reads the platform state schema ``s`` (and the taxonomy, inlined as literals
of validated ids). "Active SKUs" are the SKUs the platform holds as live after the run
(``product_state``); the freshness check proves separately that this state matches the
source catalogue up to the run's upper bound.
"""

from __future__ import annotations

import re

from enrichment.tagging.taxonomy import Taxonomy

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")
ANY = "any"  # the coverage row meaning "at least one tag of any attribute"


def lit(value: str) -> str:
    """A SQL string literal of an identifier-like value (taxonomy ids, table names)."""
    if not _SAFE.match(value):
        raise ValueError(f"unsafe SQL literal {value!r}")
    return "'" + value + "'"


def text_array(values) -> str:
    values = sorted(values)
    return "ARRAY[" + ", ".join(lit(v) for v in values) + "]::text[]" if values else "NULL"


def coverage_query(s: str, taxonomy: Taxonomy) -> str:
    """One row per (active SKU, attribute that applies to it): ``tagged`` 0/1."""
    rows = [f"({lit(ANY)}, NULL::text[])"]
    rows += [
        f"({lit(a.id)}, {text_array(a.applies_to) if a.applies_to else 'NULL::text[]'})"
        for a in taxonomy.attributes
    ]
    return f"""
WITH active AS (SELECT sku FROM {s}.product_state WHERE active),
cat AS (SELECT DISTINCT ON (t.sku) t.sku, t.value AS category
          FROM {s}.tags t JOIN active a ON a.sku = t.sku
         WHERE t.attribute = 'category' ORDER BY t.sku, t.confidence DESC, t.value),
attrs (attribute, applies_to) AS (VALUES {", ".join(rows)}),
present AS (SELECT DISTINCT sku, attribute FROM {s}.tags),
anytag AS (SELECT DISTINCT sku FROM {s}.tags)
SELECT a.sku, coalesce(c.category, 'unknown') AS category, x.attribute,
       (CASE WHEN x.attribute = {lit(ANY)} THEN y.sku IS NOT NULL
             ELSE p.sku IS NOT NULL END)::int AS tagged
  FROM active a
  LEFT JOIN cat c ON c.sku = a.sku
 CROSS JOIN attrs x
  LEFT JOIN present p ON p.sku = a.sku AND p.attribute = x.attribute
  LEFT JOIN anytag y ON y.sku = a.sku
 WHERE x.applies_to IS NULL OR c.category IS NULL OR c.category = ANY (x.applies_to)"""


def vectors_query(s: str, kinds: dict[str, str | None], no_image_hash: str) -> str:
    """One row per active SKU: ``has_<kind>`` and ``current_<kind>`` (NULL: not expected).

    ``kinds`` maps each configured vector kind to its active index name (None: none is
    active). Image vectors are expected only for SKUs whose image was usable.
    """
    cols, joins = [], []
    for n, (kind, name) in enumerate(sorted(kinds.items())):
        hash_col = "text_hash" if kind == "text" else "image_hash"
        expected = (
            "true"
            if kind == "text"
            else (
                f"a.image_hash IS DISTINCT FROM {lit(no_image_hash)} AND NOT EXISTS "
                f"(SELECT 1 FROM {s}.quarantine q WHERE q.sku = a.sku)"
            )
        )
        if name is None:
            cols.append(f"CASE WHEN {expected} THEN 0 END AS has_{kind}")
            cols.append(f"CASE WHEN {expected} THEN 0 END AS current_{kind}")
            continue
        joins.append(f"LEFT JOIN {s}.vec_{name} v{n} ON v{n}.sku = a.sku")
        cols.append(f"CASE WHEN {expected} THEN (v{n}.sku IS NOT NULL)::int END AS has_{kind}")
        cols.append(
            f"CASE WHEN {expected} AND v{n}.sku IS NOT NULL THEN "
            f"(v{n}.content_hash = a.{hash_col})::int END AS current_{kind}"
        )
    return (
        f"SELECT a.sku, {', '.join(cols)} FROM {s}.product_state a {' '.join(joins)} WHERE a.active"
    )


def tags_query(s: str) -> str:
    return (
        f"SELECT sku, attribute, value, attribute || '=' || value AS attr_value, "
        f"confidence FROM {s}.tags"
    )


def provenance_query(s: str, vector_tables: list[str]) -> str:
    """One row per stored tag or vector: are its model, taxonomy and content hash recorded?"""
    parts = [
        f"SELECT 'tags' AS store, sku, (coalesce(taxonomy_version, '') <> '' AND "
        f"coalesce(model_id, '') <> '' AND coalesce(content_hash, '') <> '')::int "
        f"AS recorded FROM {s}.tags"
    ]
    parts += [
        f"SELECT {lit('vec_' + name)}, sku, (coalesce(model_id, '') <> '' AND "
        f"coalesce(content_hash, '') <> '')::int FROM {s}.vec_{name}"
        for name in vector_tables
    ]
    return " UNION ALL ".join(parts)


def quarantine_query(s: str, no_image_hash: str) -> str:
    """One row per active SKU whose image the platform processed: ``quarantined`` 0/1."""
    return (
        f"SELECT a.sku, (EXISTS (SELECT 1 FROM {s}.quarantine q WHERE q.sku = a.sku))::int "
        f"AS quarantined FROM {s}.product_state a WHERE a.active "
        f"AND a.image_hash IS DISTINCT FROM {lit(no_image_hash)}"
    )


def current_distribution_query(s: str) -> str:
    return (
        f"SELECT t.attribute, t.value, count(*) AS n FROM {s}.tags t "
        f"JOIN {s}.product_state a ON a.sku = t.sku AND a.active GROUP BY 1, 2"
    )


def drift_query(s: str, previous_run: str, epsilon: float = 1e-4) -> str:
    """Population stability index per attribute: current tags against a previous run's."""
    return f"""
WITH cur AS ({current_distribution_query(s)}),
prev AS (SELECT attribute, value, n FROM {s}.tag_distributions WHERE run_id = {lit_run(previous_run)}),
j AS (SELECT coalesce(c.attribute, p.attribute) AS attribute, coalesce(c.n, 0) AS cn,
             coalesce(p.n, 0) AS pn
        FROM cur c FULL JOIN prev p ON p.attribute = c.attribute AND p.value = c.value),
sh AS (SELECT attribute,
              greatest(cn::float8 / nullif(sum(cn) OVER w, 0), {epsilon}) AS a,
              greatest(pn::float8 / nullif(sum(pn) OVER w, 0), {epsilon}) AS b
         FROM j WINDOW w AS (PARTITION BY attribute))
SELECT attribute, sum((a - b) * ln(a / b)) AS psi FROM sh GROUP BY attribute"""


def lit_run(run_id: str) -> str:
    """A run id as a SQL literal (run ids may hold ':' '+' and the like; quotes doubled)."""
    return "'" + run_id.replace("'", "''") + "'"


def golden_query(s: str, golden: dict) -> str:
    """The golden sample as (sku, attribute, value) rows."""
    if golden["kind"] == "table":
        values = ", ".join(f"({lit(a)}, g.{a}::text)" for a in golden["attributes"])
        return (
            f"SELECT g.sku, x.attribute, x.value FROM {golden['table']} g "
            f"CROSS JOIN LATERAL (VALUES {values}) AS x (attribute, value) "
            "WHERE x.value IS NOT NULL"
        )
    return f"SELECT sku, attribute, value FROM {s}.quality_golden"


def accuracy_query(s: str, golden: dict) -> str:
    """One row per tag emitted on an active golden SKU for a labelled attribute."""
    return (
        f"WITH golden AS ({golden_query(s, golden)}) "
        f"SELECT t.sku, t.attribute, t.value, (t.value = g.value)::int AS correct "
        f"FROM {s}.tags t JOIN golden g ON g.sku = t.sku AND g.attribute = t.attribute "
        f"JOIN {s}.product_state a ON a.sku = t.sku AND a.active"
    )
