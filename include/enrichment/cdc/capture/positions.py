"""Committed change-capture positions, kept in the platform's state schema."""

from __future__ import annotations

from psycopg2.extras import Json


def position_name(mapping_name: str, mode: str) -> str:
    """One position per mapping and mode: switching modes starts with a full read."""
    return f"{mapping_name}:{mode}"


def load(cur, schema: str, name: str) -> dict | None:
    cur.execute(f"SELECT position FROM {schema}.capture_positions WHERE name = %s", (name,))
    row = cur.fetchone()
    return row[0] if row else None


def save(cur, schema: str, capture: dict, run_id: str) -> None:
    """Record ``capture`` (``name``, ``mode``, ``position``) as committed by ``run_id``."""
    cur.execute(
        f"""INSERT INTO {schema}.capture_positions AS c (name, mode, position, run_id)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,
                   mode = EXCLUDED.mode, run_id = EXCLUDED.run_id,
                   updated_at = clock_timestamp()""",
        (capture["name"], capture["mode"], Json(capture["position"]), run_id),
    )
