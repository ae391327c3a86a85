"""A per-endpoint latency chart as SVG: grouped p50/p95/p99 bars with an axis in ms, endpoint labels, a legend
and the venture's p95 SLA as a labelled line. Text is XML-escaped (endpoint paths come from a spec).
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

_COLOURS = ("#7fb3d5", "#2e86c1", "#1b4f72")
_SERIES = ("p50", "p95", "p99")


def _nice(top: float) -> float:
    """A round axis maximum at or above `top`."""
    if top <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= top:
            return float(step * exp)
    return float(10 * exp)


def latency_chart(rows: list[tuple[str, float, float, float]], sla_ms: float | None, title: str) -> str:
    """`rows`: (endpoint label, p50, p95, p99) in ms."""
    left, right, top, bottom = 70, 20, 50, 150
    group = 3 * 14 + 16
    width = max(420, left + right + group * len(rows))
    height = 360
    plot_h = height - top - bottom
    peak = max([max(r[1:]) for r in rows] + [sla_ms or 0.0, 1.0])
    ymax = _nice(peak * 1.1)

    def y(v: float) -> float:
        return top + plot_h - plot_h * min(v, ymax) / ymax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text transform="translate(16 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
        "latency (ms, scheduled send to answer)</text>",
    ]
    for i in range(6):
        v = ymax * i / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for k, (label, *values) in enumerate(rows):
        x0 = left + 8 + k * group
        for j, v in enumerate(values):
            out.append(
                f'<rect x="{x0 + 14 * j}" y="{y(v):.1f}" width="12" height="{top + plot_h - y(v):.1f}" '
                f'fill="{_COLOURS[j]}"><title>{escape(label)} {_SERIES[j]} {v:.1f} ms</title></rect>'
            )
        cx = x0 + 21
        out.append(
            f'<text transform="translate({cx} {top + plot_h + 10}) rotate(40)" font-size="10">{escape(label)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>')
    if sla_ms is not None:
        ys = y(sla_ms)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ys:.1f}" y2="{ys:.1f}" stroke="#c00" stroke-dasharray="6 3"/>'
        )
        out.append(
            f'<text x="{width - right}" y="{ys - 4:.1f}" text-anchor="end" fill="#c00">p95 SLA {sla_ms:g} ms</text>'
        )
    for j, name in enumerate(_SERIES):
        out.append(f'<rect x="{left + 10 + 60 * j}" y="30" width="10" height="10" fill="{_COLOURS[j]}"/>')
        out.append(f'<text x="{left + 24 + 60 * j}" y="39">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
