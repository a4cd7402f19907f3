"""The SQL that turns changed rows of a base table into product keys (shared by all modes)."""

from __future__ import annotations

from enrichment.cdc.mapping_types import BaseTable


def keys_from(table: BaseTable, rows_sql: str) -> str:
    """``SELECT DISTINCT key`` over ``rows_sql`` (a FROM item), each row called ``changed``."""
    return (
        f"SELECT DISTINCT k.key::text FROM {rows_sql} AS changed "
        f"CROSS JOIN LATERAL ({table.keys}) AS k(key) WHERE k.key IS NOT NULL"
    )


def safe_name(*parts: str) -> str:
    """An identifier made of ``parts`` (schema/table names are already validated)."""
    return "_".join(p.replace(".", "_").replace("$", "_") for p in parts).lower()[:63]
