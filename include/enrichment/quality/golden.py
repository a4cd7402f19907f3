"""The golden sample of the accuracy check: a labelled table, or a CSV file.

``ENRICHMENT_QUALITY_GOLDEN``: ``auto`` (the source schema's ``ground_truth`` table when
it exists), ``none``, a table name (``schema.table``: a ``sku`` column and one column per
attribute), or a CSV file (``sku,attribute,value`` rows, or ``sku`` plus one column per
attribute) that is loaded into ``quality_golden`` at each check.
"""

from __future__ import annotations

import csv
from pathlib import Path

from psycopg2.extras import execute_values

from enrichment.config import ConfigError, Settings
from enrichment.quality.data import table_exists
from enrichment.quality.sql import lit
from enrichment.tagging.taxonomy import Taxonomy


def resolve_golden(conn, settings: Settings, golden: str, taxonomy: Taxonomy) -> dict | None:
    """The configured golden sample as ``{kind, table|path, attributes}``, or None."""
    setting = "ENRICHMENT_QUALITY_GOLDEN"
    if golden.lower() == "none":
        return None
    with conn.cursor() as cur:
        if golden.lower() == "auto":
            table = f"{settings.source_schema}.ground_truth"
            if not table_exists(cur, table):
                return None
            return _golden_table(cur, table, taxonomy, setting)
        if golden.lower().endswith(".csv") or Path(golden).is_file():
            return _load_golden_csv(cur, settings.state_schema, Path(golden), taxonomy, setting)
        lit(golden)  # a table name: identifier characters only
        if not table_exists(cur, golden):
            raise ConfigError(
                f"{setting}={golden!r}: no such table (use auto, none, schema.table or a CSV file)"
            )
        return _golden_table(cur, golden, taxonomy, setting)


def _golden_table(cur, table: str, taxonomy: Taxonomy, setting: str) -> dict:
    schema, _, name = table.rpartition(".")
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND (%s = '' OR table_schema = %s)",
        (name, schema, schema),
    )
    columns = {r[0] for r in cur.fetchall()}
    attributes = sorted(columns & set(taxonomy.attribute_ids))
    if "sku" not in columns or not attributes:
        raise ConfigError(
            f"{setting}: table {table} needs a sku column and at least one "
            f"attribute column ({', '.join(taxonomy.attribute_ids)})"
        )
    return {"kind": "table", "table": table, "attributes": attributes, "source": table}


def _load_golden_csv(cur, s: str, path: Path, taxonomy: Taxonomy, setting: str) -> dict:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            records = list(reader)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read golden sample {path}: {exc}") from exc
    if "sku" not in header:
        raise ConfigError(f"{setting}: {path} needs a sku column")
    rows: dict[tuple[str, str], str] = {}
    for rec in records:
        rec = {(k or "").strip(): (v or "").strip() for k, v in rec.items()}
        pairs = (
            [(rec.get("attribute", ""), rec.get("value", ""))]
            if {"attribute", "value"} <= set(header)
            else [(h, rec.get(h, "")) for h in header if h != "sku"]
        )
        for attribute, value in pairs:
            if not value or not rec.get("sku"):
                continue
            if attribute not in taxonomy:
                raise ConfigError(
                    f"{setting}: {path} names attribute {attribute!r}, which "
                    "the taxonomy does not have"
                )
            rows[(rec["sku"], attribute)] = value
    cur.execute(f"DELETE FROM {s}.quality_golden")
    execute_values(
        cur,
        f"INSERT INTO {s}.quality_golden (sku, attribute, value, source) VALUES %s",
        [(k[0], k[1], v, str(path)) for k, v in rows.items()],
    )
    return {
        "kind": "csv",
        "path": str(path),
        "source": str(path),
        "attributes": sorted({a for _, a in rows}),
    }
