"""Backfill selections: parsed from a form, checked before any work, previewed (dry run).

A selection is a dict with ``skus``, ``category``, ``since``, ``until``, ``force`` and
``reconcile`` (see :func:`enrichment.runs.lifecycle.detect`). Every mistake a user can
make in the form raises :class:`SelectionError` naming the parameter, before a run is
recorded, so a bad form fails at once instead of retrying or committing a 0-item run.
"""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from enrichment.cdc import detect as changes
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.runs.manifests import CollectedItems

log = logging.getLogger(__name__)

MODES = ("skus", "category", "updated_between", "all")


class SelectionError(ValueError):
    """A backfill selection that cannot be run; the message names the parameter."""


def _timestamp(params: Mapping[str, Any], key: str) -> datetime | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SelectionError(f"{key!r} is not a date-time: {value!r}") from exc


def from_params(params: Mapping[str, Any]) -> dict:
    """The selection of a backfill form; raises :class:`SelectionError` when incomplete."""
    mode = params.get("selection") or "all"
    out: dict[str, Any] = {
        "force": bool(params.get("force")),
        "reconcile": bool(params.get("reconcile")),
    }
    if mode == "skus":
        raw = params.get("skus") or []
        if isinstance(raw, str):
            raw = raw.replace(",", "\n").splitlines()
        skus = list(dict.fromkeys(s.strip() for s in raw if s and s.strip()))
        if not skus:
            raise SelectionError("selection 'skus' needs at least one SKU in 'skus'")
        out["skus"] = skus
    elif mode == "category":
        category = (params.get("category") or "").strip()
        if not category:
            raise SelectionError("selection 'category' needs a 'category'")
        out["category"] = category
    elif mode == "updated_between":
        since, until = _timestamp(params, "since"), _timestamp(params, "until")
        if since is None:
            raise SelectionError("selection 'updated_between' needs 'since'")
        if until is not None and since > until:
            raise SelectionError(
                f"'since' ({since.isoformat()}) is after 'until' ({until.isoformat()})"
            )
        out["since"] = since
        if until is not None:
            out["until"] = until
    elif mode != "all":
        raise SelectionError(f"unknown selection {mode!r} (one of {', '.join(MODES)})")
    return out


def check(selection: dict, settings: Settings | None = None) -> None:
    """Raise :class:`SelectionError` when the selection matches nothing in the source."""
    settings = settings or load_settings()
    src, state = settings.source_schema, settings.state_schema
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        if selection.get("skus"):
            cur.execute(f"SELECT sku FROM {src}.products WHERE sku = ANY(%s)", (selection["skus"],))
            found = {r[0] for r in cur.fetchall()}
            unknown = [s for s in selection["skus"] if s not in found]
            if unknown and not found:
                raise SelectionError(f"no product has any of the SKUs {_listed(unknown)}")
            if unknown:  # the others are processed; these may be typos worth knowing
                log.warning("unknown SKUs ignored: %s", _listed(unknown))
        if selection.get("category"):
            clause, values = changes.category_filter(selection["category"], state)
            cur.execute(f"SELECT count(*) FROM {src}.products p WHERE {clause}", values)
            if cur.fetchone()[0] == 0:
                labels = changes.category_labels(conn, src, state)
                raise SelectionError(_no_category(selection["category"], labels))


def _listed(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


def _no_category(category: str, labels: list[str]) -> str:
    lowered = {label.lower(): label for label in labels}
    close = [lowered[m] for m in difflib.get_close_matches(category.lower(), lowered, n=5)]
    hint = f"close matches: {', '.join(close)}" if close else "no close match"
    return (
        f"category {category!r} matches no product (shop label or tagged category); {hint}; "
        f"known categories: {_listed(labels, 30)}"
    )


def preview(selection: dict, upper: datetime, settings: Settings | None = None) -> dict:
    """What a backfill would process and an estimate of its cost; writes nothing."""
    from enrichment.runs import lifecycle

    settings = settings or load_settings()
    counts: Counter = Counter()
    with connect(database_url(settings)) as conn:
        bounded = {**selection, "until": selection.get("until") or upper}
        items = CollectedItems()
        lifecycle._selected_changes(conn, settings, bounded, upper, counts, [], items)
        history = _history(conn, settings.state_schema)
    out = {
        "changes": {k: v for k, v in sorted(counts.items()) if k != changes.UNCHANGED},
        "skipped_unchanged": counts.get(changes.UNCHANGED, 0),
        "to_process": len(items),
        "to_tag": sum(1 for i in items if i.retag),
        "text_to_embed": sum(1 for i in items if i.embed_text),
        "images_to_embed": sum(1 for i in items if i.embed_image)
        if "image" in settings.vector_kinds
        else 0,
    }
    if history["processed"]:
        out["estimated_seconds"] = round(history["seconds"] / history["processed"] * len(items), 1)
    if history["text_embedded"] and history["cost_usd"]:
        out["estimated_api_cost_usd"] = round(
            history["cost_usd"] / history["text_embedded"] * out["text_to_embed"], 4
        )
    return out


def _history(conn, schema: str, runs: int = 20) -> dict:
    """Totals of the last committed runs that processed something (the cost basis)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT coalesce(sum((summary->>'seconds')::float), 0),
                       coalesce(sum((summary->>'processed')::int), 0),
                       coalesce(sum((summary->>'text_embedded')::int), 0),
                       coalesce(sum((summary->'step_counts'->>'text_api_cost_usd')::float), 0)
                  FROM (SELECT summary FROM {schema}.runs
                         WHERE status = 'committed' AND (summary->>'processed')::int > 0
                         ORDER BY committed_at DESC LIMIT %s) r""",
            (runs,),
        )
        seconds, processed, text_embedded, cost = cur.fetchone()
    return {
        "seconds": seconds,
        "processed": processed,
        "text_embedded": text_embedded,
        "cost_usd": cost,
    }


def format_preview(preview_: dict) -> str:
    """A readable dry-run report."""
    lines = ["Dry run: nothing is written"]
    changes_line = ", ".join(f"{k}: {v}" for k, v in preview_["changes"].items()) or "none"
    lines.append(f"  would process      {preview_['to_process']} ({changes_line})")
    lines.append(f"  skipped unchanged  {preview_['skipped_unchanged']}")
    lines.append(f"  would re-tag       {preview_['to_tag']}")
    lines.append(f"  would embed text   {preview_['text_to_embed']}")
    lines.append(f"  would embed images {preview_['images_to_embed']}")
    if "estimated_seconds" in preview_:
        lines.append(f"  estimated time     {preview_['estimated_seconds']} s")
    else:
        lines.append("  estimated time     unknown (no committed run to compare with)")
    if "estimated_api_cost_usd" in preview_:
        lines.append(f"  estimated API cost ${preview_['estimated_api_cost_usd']}")
    return "\n".join(lines)
