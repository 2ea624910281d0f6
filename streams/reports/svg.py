"""Charts as inline SVG: drawn by hand, so the report needs no plotting library and no network.

The runtime image has no matplotlib (a lab dependency), and an e-mail must be self-contained:
every chart is a small ``<svg>`` element inside the page. Two shapes are enough for the report:
paired bars (spend vs pipeline revenue per day) and intervals (each ad set's pipeline ROAS, with a
reference line at the alert threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

SPEND, REVENUE, INTERVAL, REFERENCE = "#8c9bab", "#2a9d8f", "#264653", "#e76f51"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
            f'style="font-family:sans-serif;font-size:11px">' f"<title>{escape(title)}</title>" + "".join(body)
            + "</svg>")


def paired_bars(labels: Sequence[str], first: Sequence[float], second: Sequence[float], names: tuple[str, str],
                title: str, width: int = 560, height: int = 200) -> str:
    """Two bars per label (e.g. spend and revenue per day), a shared scale, a legend."""
    top, bottom, left = 24, 28, 8
    plot_h = height - top - bottom
    peak = max([*first, *second, 1.0])
    slot = (width - 2 * left) / max(1, len(labels))
    bar = slot * 0.36
    body = [f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>']
    for i, label in enumerate(labels):
        x = left + i * slot + slot * 0.12
        for j, (value, colour) in enumerate(((first[i], SPEND), (second[i], REVENUE))):
            h = plot_h * max(0.0, value) / peak
            body.append(f'<rect x="{x + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(names[j])} {escape(label)}: {value:,.2f}</title></rect>')
        body.append(f'<text x="{x + bar:.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>')
    for j, (name, colour) in enumerate(zip(names, (SPEND, REVENUE), strict=True)):
        lx = width - 190 + j * 95
        body.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{lx + 14}" y="14">{escape(name)}</text>')
    return _svg(width, height, body, title)


def intervals(rows: Sequence[tuple[str, float, float, float]], reference: float | None, title: str,
              width: int = 560) -> str:
    """One row per item: a line from low to high and a dot at the mean, on a shared axis from 0."""
    row_h, top, label_w, right = 22, 26, 150, 40
    height = top + row_h * max(1, len(rows)) + 20
    peak = max([high for _, _, _, high in rows] + [reference or 0.0, 0.1])
    span = width - label_w - right

    def at(value: float) -> float:
        return label_w + span * max(0.0, value) / peak

    body = [f'<text x="8" y="14" font-weight="bold">{escape(title)}</text>']
    for i, (label, mean, low, high) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        body.append(f'<text x="8" y="{y + 4:.1f}">{escape(label[:22])}</text>'
                    f'<line x1="{at(low):.1f}" y1="{y:.1f}" x2="{at(high):.1f}" y2="{y:.1f}" stroke="{INTERVAL}" '
                    f'stroke-width="3"/><circle cx="{at(mean):.1f}" cy="{y:.1f}" r="4" fill="{INTERVAL}">'
                    f"<title>{escape(label)}: {mean:.2f} ({low:.2f}-{high:.2f})</title></circle>")
    if reference is not None:
        x = at(reference)
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 18}" stroke="{REFERENCE}" '
                    f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{height - 6}" fill="{REFERENCE}">'
                    f"{reference:g}</text>")
    body.append(f'<text x="{label_w}" y="{height - 6}">0</text>'
                f'<text x="{width - right}" y="{height - 6}" text-anchor="end">{peak:.2f}</text>')
    return _svg(width, height, body, title)
