"""The report's view of one run: numbers formatted, tables shaped, charts drawn as SVG."""

from __future__ import annotations

from datetime import UTC, datetime

from enrichment.quality.report import svg

TOP_VALUES = 12
CATEGORY_HELP = {
    "coverage": "how many live products carry tags",
    "consistency": "whether the search stores hold exactly the live products",
    "validity": "whether stored tags are well-formed",
    "freshness": "whether every catalogue change up to the run's cut-off was processed",
    "error_rate": "how many product images could not be used",
    "drift": "whether the mix of tag values moved sharply since the previous run",
    "accuracy": "how often emitted tags are right on a hand-labelled sample",
}


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def _heat(ratio: float) -> str:
    """Background colour from red (0) through yellow to green (1)."""
    hue = int(120 * max(0.0, min(1.0, ratio)) ** 2)
    return f"hsl({hue}, 65%, 86%)"


def run_notes(run: dict) -> list[str]:
    """Plain-language notes on the run's window: past interval, nothing to do, reversed."""
    summary = run.get("summary") or {}
    lower, upper = run.get("lower"), run.get("upper")
    notes = []
    if (summary.get("window") or {}).get("past_interval"):
        notes.append(
            f"Past interval: this run re-processed what changed between {lower} and {upper}; "
            "the capture position was not moved."
        )
    if lower and upper and lower > upper:
        notes.append(
            f"Empty window: its start ({lower}) lies after its end ({upper}), so it could "
            "not find any change; re-process a past period with catalog_backfill."
        )
    if summary and not summary.get("processed"):
        notes.append(
            "Nothing to do: no product in this run's window differed from what the platform "
            f"had processed ({summary.get('skipped_unchanged', 0)} checked unchanged)."
        )
    return notes


def _groups(checks: list[dict]) -> list[dict]:
    """The checks by category, in :data:`CATEGORY_HELP` order, with each one's help."""
    groups = []
    for category, help_text in CATEGORY_HELP.items():
        items = [c for c in checks if c["category"] == category]
        if items:
            groups.append(
                {
                    "title": category.replace("_", " ").capitalize(),
                    "help": help_text,
                    "checks": items,
                }
            )
    return groups


def _coverage(coverage: list[dict]) -> dict:
    """The coverage table: a row per category, a heat-coloured cell per attribute."""
    attrs = sorted({c["attribute"] for c in coverage} - {"any"})
    cells: dict[str, dict] = {}
    for c in coverage:
        cells.setdefault(c["category"], {})[c["attribute"]] = c
    rows = []
    for category in sorted(cells, key=lambda k: (k == "unknown", k)):
        row = cells[category]
        products = row.get("any", {}).get("applicable", 0)
        out = []
        for a in attrs:
            cell = row.get(a)
            if cell and cell["applicable"]:
                ratio = cell["tagged"] / cell["applicable"]
                out.append({"text": pct(ratio, 0), "bg": _heat(ratio), **cell})
            else:
                out.append(None)
        rows.append({"category": category, "products": products, "cells": out})
    return {"attributes": attrs, "rows": rows}


def _distributions(data: dict, max_psi: float) -> list[dict]:
    """Per attribute: a bar chart of its top values against the previous run, and its PSI."""
    from markupsafe import Markup

    drift = data.get("drift") or {}
    dists: dict[str, list[dict]] = {}
    for d in data.get("distributions", []):
        dists.setdefault(d["attribute"], []).append(d)
    distributions = []
    for attribute, rows in sorted(dists.items()):
        total = sum(r["n"] for r in rows) or 1
        prev_total = sum(r["previous"] or 0 for r in rows) or None
        top = rows[:TOP_VALUES]
        chart = svg.hbars(
            [(r["value"], r["n"] / total, f"{r['n']} ({r['n'] / total:.0%})") for r in top],
            title=f"{attribute} values",
            previous=[(r["previous"] or 0) / prev_total if prev_total else None for r in top],
        )
        psi = drift.get(attribute)
        distributions.append(
            {
                "attribute": attribute,
                "svg": Markup(chart),
                "psi": psi,
                "flagged": psi is not None and psi > max_psi,
                "more": max(0, len(rows) - TOP_VALUES),
            }
        )
    return distributions


def _accuracy(data: dict, checks: list[dict]) -> list[dict]:
    """Precision per attribute on the golden sample, with its threshold."""
    precision = {  # "accuracy" alone (no golden sample) names no attribute
        c["name"].partition(".")[2]: c for c in checks if c["category"] == "accuracy"
    }
    return [
        {
            "attribute": a["attribute"],
            "emitted": a["emitted"],
            "correct": a["correct"],
            "precision": pct(a["correct"] / a["emitted"]) if a["emitted"] else "n/a",
            "threshold": precision[a["attribute"]]["threshold_text"]
            if a["attribute"] in precision
            else "-",
        }
        for a in data.get("accuracy") or []
    ]


def _trends(trend: list[dict], thresholds: dict) -> list[dict]:
    """A line chart per headline metric over the recent runs, with its limit if any."""
    from markupsafe import Markup

    def series(key):
        return [
            (
                f"{t['committed_at'][:16].replace('T', ' ')} {t['run_id']}"
                + (" (nothing to do)" if t.get("noop") else ""),
                (t["metrics"] or {}).get(key),
            )
            for t in trend
        ]

    trends = [
        (
            "Products with at least one tag",
            "coverage_any",
            lambda v: f"{v:.1%}",
            thresholds.get("coverage_any"),
        ),
        (
            "Quarantined images",
            "quarantine_rate",
            lambda v: f"{v:.2%}",
            thresholds.get("max_quarantined"),
        ),
        ("Active products", "active_skus", lambda v: f"{v:,.0f}", None),
        ("Products processed by the run", "processed", lambda v: f"{v:,.0f}", None),
        (
            "Lowest precision on the golden sample",
            "min_precision",
            lambda v: f"{v:.1%}",
            thresholds.get("precision_default"),
        ),
        ("Failed checks", "failed", lambda v: f"{v:.0f}", None),
    ]
    return [
        {
            "title": title,
            "svg": Markup(svg.trend(series(key), title=title, fmt=fmt, limit=limit)),
        }
        for title, key, fmt, limit in trends
    ]


def _tiles(run: dict, metrics: dict) -> list[dict]:
    """The headline numbers at the top of the page."""
    tiles = [
        ("active_skus", "Active products", f"{metrics.get('active_skus') or 0:,}"),
        ("coverage_any", "Products with a tag", pct(metrics.get("coverage_any"), 2)),
        ("quarantine_rate", "Quarantined images", pct(metrics.get("quarantine_rate"), 2)),
        (
            "stale_skus",
            "Stale products",
            "n/a" if metrics.get("stale_skus") is None else str(metrics["stale_skus"]),
        ),
        ("orphans", "Orphan store entries", str(metrics.get("orphans") or 0)),
        ("min_precision", "Lowest precision", pct(metrics.get("min_precision"))),
        (
            "max_psi",
            "Largest drift (PSI)",
            "n/a" if metrics.get("max_psi") is None else f"{metrics['max_psi']:.3f}",
        ),
        (
            "processed",
            "Processed by this run",
            str((run.get("summary") or {}).get("processed", "n/a")),
        ),
    ]
    return [{"key": k, "label": label, "value": v} for k, label, v in tiles]


def _quarantine_line(checks: list[dict]) -> str:
    q_check = next((c for c in checks if c["name"] == "error_rate.quarantine"), None)
    if not q_check:
        return "Not checked."
    return (
        f"{q_check['observed_text']} of the images of active products "
        f"could not be used (threshold {q_check['threshold_text']})."
    )


def _freshness_line(fresh: dict | None) -> str:
    if not fresh:
        return "Not checked (no incremental run bounds it)."
    line = (
        f"{fresh['stale']} of {fresh['population']} products changed up to "
        f"{fresh['bound']} are not processed yet."
    )
    sample = fresh.get("source_sample")
    if sample:
        line += (
            f" Judged on this run's {sample['run_skus']:,} changed products and a random "
            f"sample of {sample['sample']:,} of the catalogue's {sample['documents']:,}."
        )
    return line


def context(
    run: dict,
    checks: list[dict],
    metrics: dict,
    data: dict,
    trend: list[dict],
    *,
    checked_at: str,
    data_docs: str | None,
) -> dict:
    """The template's view of one run (plain values and ready-made SVG)."""
    from markupsafe import Markup

    thresholds = data.get("thresholds", {})
    by_outcome = {
        k: sum(1 for c in checks if c["outcome"] == k) for k in ("pass", "fail", "warn", "skipped")
    }
    max_psi = thresholds.get("max_psi", 0.25)
    fresh = data.get("freshness")
    return {
        "run": run,
        "passed": by_outcome["fail"] == 0,
        "checked_at": checked_at,
        "data_docs": data_docs,
        "run_notes": run_notes(run),
        "counts": {
            "checks": len(checks),
            "passed": by_outcome["pass"],
            "failed": by_outcome["fail"],
            "warnings": by_outcome["warn"],
            "skipped": by_outcome["skipped"],
        },
        "tiles": _tiles(run, metrics),
        "failures": [c for c in checks if c["outcome"] in ("fail", "warn")],
        "groups": _groups(checks),
        "coverage": _coverage(data.get("coverage", [])),
        "distributions": _distributions(data, max_psi),
        "histograms": [
            {"attribute": a, "svg": Markup(svg.histogram(c, title=f"{a} confidence"))}
            for a, c in (data.get("histograms") or {}).items()
        ],
        "previous_run": data.get("previous_run"),
        "max_psi": max_psi,
        "quarantine": data.get("quarantine") or [],
        "quarantine_line": _quarantine_line(checks),
        "accuracy": _accuracy(data, checks),
        "golden": (data.get("golden") or {}).get("source"),
        "freshness_line": _freshness_line(fresh),
        "stale": (fresh or {}).get("samples", []),
        "store_counts": data.get("store_counts") or [],
        "notes": data.get("notes") or [],
        "trends": _trends(trend, thresholds),
        "taxonomy_version": data.get("taxonomy_version"),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
