"""An SVG status badge for the latest complete headline period (segment all)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from generator.model import Figure

COLOURS = {"red": "#c62828", "amber": "#a15c00", "green": "#2e7d32", "none": "#555555"}


def badge_text(rows: list[Figure]) -> tuple[str, str]:
    """(message, colour key) summarising the statuses of the `all` segment's figures."""
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("red", "amber", "green")}
    if counts["red"]:
        return f"{counts['red']} off goal", "red"
    if counts["amber"]:
        return f"{counts['amber']} near goal", "amber"
    if counts["green"]:
        return "all on goal", "green"
    return "no goals", "none"


def status_badge(label: str, rows: list[Figure]) -> bytes:
    """A flat two-part SVG badge, e.g. `2026-W47 | 2 off goal` (deterministic bytes)."""
    message, colour = badge_text(rows)
    left_width = 7 * len(label) + 12
    right_width = 7 * len(message) + 12
    width = left_width + right_width
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" \
aria-label="{escape(label)}: {escape(message)}">
<title>{escape(label)}: {escape(message)}</title>
<rect width="{left_width}" height="20" fill="#444"/>
<rect x="{left_width}" width="{right_width}" height="20" fill="{COLOURS[colour]}"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">{escape(label)}</text>
<text x="{left_width + 6}" y="14">{escape(message)}</text>
</g>
</svg>
"""
    return svg.encode("utf-8")
