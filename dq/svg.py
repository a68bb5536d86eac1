"""Small inline SVG charts for the report: no JavaScript, no fonts or images to fetch.

Every label goes through `esc`, and hover text is an SVG <title>, so a chart is as safe to embed as
any escaped text.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

PALETTE = {
    "pass": "#2e7d32",
    "success": "#2e7d32",
    "warn": "#f9a825",
    "fail": "#c62828",
    "error": "#6a1b9a",
    "runtime error": "#6a1b9a",
    "skipped": "#9e9e9e",
}
FONT = 'font-family="system-ui, sans-serif"'


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">' + "".join(body) + "</svg>"
    )


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_bars(labels: list[str], series: dict[str, list[int]], *, label: str, height: int = 220) -> str:
    """One stacked bar per label (oldest left), one colour per series, a legend on top."""
    width = max(360, 40 + 26 * len(labels))
    top, bottom, left = 28, 20, 36
    plot = height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    body = [f'<text x="{left}" y="{height - 5}" font-size="10" {FONT} fill="#555">oldest → newest</text>']
    body.append(f'<text x="4" y="{top + 8}" font-size="10" {FONT} fill="#555">{peak}</text>')
    body.append(f'<line x1="{left}" y1="{top + plot}" x2="{width - 4}" y2="{top + plot}" stroke="#999"/>')
    x_legend = left
    for name in series:
        colour = PALETTE.get(name, "#607d8b")
        body.append(f'<rect x="{x_legend}" y="6" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{x_legend + 14}" y="15" font-size="11" {FONT}>{esc(name)}</text>')
        x_legend += 24 + 7 * len(name)
    for i, tick in enumerate(labels):
        x = left + 4 + 26 * i
        y = top + plot
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot * value / peak
            y -= h
            colour = PALETTE.get(name, "#607d8b")
            body.append(
                f'<rect x="{x}" y="{y:.1f}" width="20" height="{h:.1f}" fill="{colour}">'
                f"<title>{esc(tick)}: {value} {esc(name)}</title></rect>"
            )
    return _svg(width, height, body, label)


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    mean: float | None = None
    std: float | None = None
    anomaly: bool = False


def line_chart(points: list[Point], *, label: str, width: int = 300, height: int = 110, z: float = 3.0) -> str:
    """Values over time with the trailing mean ± z·sd band each point was judged against; anomalies red."""
    top, bottom, left, right = 14, 16, 34, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    highs = [p.value for p in points] + [p.mean + z * p.std for p in points if p.mean is not None and p.std]
    peak = max(highs, default=0) or 1
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return left + step * i, top + plot_h - plot_h * max(value, 0) / peak

    body = [
        f'<text x="2" y="{top + 4}" font-size="9" {FONT} fill="#555">{_fmt(peak)}</text>',
        f'<text x="2" y="{top + plot_h}" font-size="9" {FONT} fill="#555">0</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#bbb"/>',
    ]
    band = [(i, p) for i, p in enumerate(points) if p.mean is not None and p.std is not None]
    if band:
        upper = [xy(i, p.mean + z * p.std) for i, p in band]
        lower = [xy(i, p.mean - z * p.std) for i, p in reversed(band)]
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
        body.append(f'<polygon points="{outline}" fill="#90caf9" fill-opacity="0.35"><title>mean ± {z:g} sd</title>')
        body.append("</polygon>")
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, p.value) for i, p in enumerate(points)))
    body.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for i, p in enumerate(points):
        x, y = xy(i, p.value)
        colour = "#c62828" if p.anomaly else "#1565c0"
        radius = 4 if p.anomaly else 2.5
        expected = f" (trailing mean {_fmt(p.mean)}, sd {_fmt(p.std or 0)})" if p.mean is not None else ""
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}">'
            f"<title>{esc(p.label)}: {_fmt(p.value)}{esc(expected)}</title></circle>"
        )
    return _svg(width, height, body, label)


def hbars(items: list[tuple[str, float]], *, label: str, width: int = 640, colour: str = "#ef6c00") -> str:
    """Horizontal bars, largest first as given, label on the left, value on the right."""
    row, top, text_w = 18, 4, 300
    height = top * 2 + row * max(len(items), 1)
    peak = max((value for _, value in items), default=0) or 1
    body = []
    for i, (name, value) in enumerate(items):
        y = top + row * i
        w = (width - text_w - 60) * value / peak
        body.append(f'<text x="{text_w - 6}" y="{y + 13}" font-size="11" text-anchor="end" {FONT}>{esc(name)}</text>')
        body.append(
            f'<rect x="{text_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{esc(name)}: {_fmt(value)}</title></rect>"
        )
        body.append(f'<text x="{text_w + w + 4:.1f}" y="{y + 13}" font-size="11" {FONT}>{_fmt(value)}</text>')
    return _svg(width, height, body, label)
