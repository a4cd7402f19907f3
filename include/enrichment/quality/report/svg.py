"""Inline SVG charts for the analysts' report: bars, histograms, trend lines.

Plain SVG strings, no JavaScript, no fonts or files fetched: a report opens offline and
can be mailed as one HTML file. Every label is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

BLUE, GREY, RED, INK = "#2f6db5", "#b9c3cf", "#c0392b", "#334"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def hbars(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    width: int = 360,
    bar_height: int = 16,
    label_width: int = 110,
    previous: Sequence[float | None] = (),
) -> str:
    """Horizontal bars: ``(label, share in [0, 1], text at the bar's end)`` per row.

    ``previous`` (same order) draws a thin marker at last run's share.
    """
    gap, right = 4, 90
    height = max(1, len(items)) * (bar_height + gap) + gap
    span = width - label_width - right
    top = max((v for _, v, _ in items), default=0) or 1.0
    body = []
    for n, (label, value, text) in enumerate(items):
        y = gap + n * (bar_height + gap)
        w = max(1.0, span * value / top) if value > 0 else 0
        body.append(
            f'<text x="{label_width - 6}" y="{y + bar_height - 4}" text-anchor="end" '
            f'{FONT} fill="{INK}">{escape(label[:18])}</text>'
        )
        body.append(
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_height}" '
            f'fill="{BLUE}" rx="2"/>'
        )
        prev = previous[n] if n < len(previous) else None
        if prev is not None:
            px = label_width + span * prev / top
            body.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y - 1}" '
                f'y2="{y + bar_height + 1}" stroke="{INK}" stroke-width="2"/>'
            )
        body.append(
            f'<text x="{label_width + w + 4:.1f}" y="{y + bar_height - 4}" {FONT} '
            f'fill="{INK}">{escape(text)}</text>'
        )
    return _svg(width, height, body, title)


def histogram(counts: Sequence[int], *, title: str, width: int = 260, height: int = 120) -> str:
    """Vertical bars over equal bins of [0, 1] (confidence histograms)."""
    left, bottom, top_pad = 30, 18, 8
    bins = max(1, len(counts))
    span_w, span_h = width - left - 4, height - bottom - top_pad
    peak = max(counts, default=0) or 1
    bw = span_w / bins
    body = [
        f'<line x1="{left}" x2="{width - 4}" y1="{height - bottom}" '
        f'y2="{height - bottom}" stroke="{GREY}"/>',
        f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" {FONT} '
        f'fill="{INK}">{peak}</text>',
    ]
    for n, count in enumerate(counts):
        h = span_h * count / peak
        x = left + n * bw
        body.append(
            f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{bw - 2:.1f}" '
            f'height="{h:.1f}" fill="{BLUE}"><title>{n / bins:.1f}-{(n + 1) / bins:.1f}: '
            f"{count}</title></rect>"
        )
    for tick in (0, 0.5, 1):
        x = left + span_w * tick
        body.append(
            f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle" {FONT} '
            f'fill="{INK}">{tick:g}</text>'
        )
    return _svg(width, height, body, title)


def trend(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 300,
    height: int = 110,
    limit: float | None = None,
) -> str:
    """A line over the last runs (oldest left); ``limit`` draws the threshold in red."""
    left, right, top_pad, bottom = 8, 8, 14, 16
    values = [v for _, v in points if v is not None]
    body: list[str] = []
    if not values:
        body.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {FONT} '
            f'fill="{INK}">no data yet</text>'
        )
        return _svg(width, height, body, title)
    lo, hi = (
        min(values + ([limit] if limit is not None else [])),
        max(values + ([limit] if limit is not None else [])),
    )
    if hi == lo:
        lo, hi = lo - 1 if lo else 0, hi + 1
    span_w, span_h = width - left - right, height - top_pad - bottom
    step = span_w / max(1, len(points) - 1)

    def y(v: float) -> float:
        return top_pad + span_h * (1 - (v - lo) / (hi - lo))

    if limit is not None:
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(limit):.1f}" '
            f'y2="{y(limit):.1f}" stroke="{RED}" stroke-dasharray="4 3"/>'
        )
    coords = [
        (left + n * step if len(points) > 1 else width / 2, y(v), label, v)
        for n, (label, v) in enumerate(points)
        if v is not None
    ]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _, _ in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    for x, yy, label, v in coords:
        body.append(
            f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="{BLUE}">'
            f"<title>{escape(label)}: {escape(fmt(v))}</title></circle>"
        )
    last_x, last_y, _, last_v = coords[-1]
    body.append(
        f'<text x="{min(last_x, width - right - 2):.1f}" y="{max(10, last_y - 6):.1f}" '
        f'text-anchor="end" {FONT} fill="{INK}">{escape(fmt(last_v))}</text>'
    )
    body.append(  # x axis: the first and the last run's date (labels start with it)
        f'<text x="{left}" y="{height - 3}" {FONT} fill="{INK}">{escape(points[0][0][:16])}</text>'
    )
    if len(points) > 1:
        body.append(
            f'<text x="{width - right}" y="{height - 3}" text-anchor="end" {FONT} '
            f'fill="{INK}">{escape(points[-1][0][:16])}</text>'
        )
    return _svg(width, height, body, title)
