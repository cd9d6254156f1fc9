"""Charts as plain SVG text: deterministic, no plotting library, embeddable in HTML and the PDF.

>>> svg = stacked_bars([("2026-01", "location", 5), ("2026-02", "vehicle", 3)], title="t")
>>> svg.startswith("<svg") and "2026-02" in svg
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#1f6fb2", "#e07b39", "#3a9d5d", "#c0392b", "#8e6cc0", "#8c6d4f", "#d35f9f", "#7f8c8d")
FONT = "WenQuanYi Zen Hei, Noto Sans CJK SC, sans-serif"


def text_width(text: str, size: float) -> float:
    """A generous estimate of the drawn width of ``text`` at ``size`` px: a CJK character is
    one em, anything else about 0.62 em (so a label's box is never narrower than its text)."""
    return sum(size if ord(c) > 0x2E7F else size * 0.62 for c in text)


def _fmt(n: float) -> str:
    return f"{int(n):,}"


def _axis_max(value: float) -> float:
    """A round number at or above ``value`` for the axis (1, 2, 5 × 10^k)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def stacked_bars(
    rows: Sequence[tuple[str, str, int]],
    *,
    title: str,
    label: Callable[[str], str] = str,
    width: int = 640,
    height: int = 300,
) -> str:
    """Bars per x value (e.g. month), stacked by series (e.g. category); rows are (x, series, y)."""
    xs = sorted({r[0] for r in rows})
    series = sorted({r[1] for r in rows})
    values = {(x, s): 0 for x in xs for s in series}
    for x, s, y in rows:
        values[(x, s)] += int(y or 0)
    top = _axis_max(max((sum(values[(x, s)] for s in series) for x in xs), default=0))
    legend = max((text_width(label(s), 10) for s in series), default=0) + 30
    left = int(text_width(_fmt(top), 10)) + 14
    right, upper, lower = max(150, int(legend)), 30, 40
    width = max(width, left + right + 60 * len(xs))
    plot_w, plot_h = width - left - right, height - upper - lower
    out = [_open(width, height, title)]
    for i in range(5):
        tick = top * i / 4
        ypos = upper + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" y1="{ypos:.1f}" x2="{left + plot_w}" y2="{ypos:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{ypos + 4:.1f}" text-anchor="end" font-size="10">'
            f"{_fmt(tick)}</text>"
        )
    slot = plot_w / max(len(xs), 1)
    bar = min(slot * 0.7, 48)
    for i, x in enumerate(xs):
        cx = left + slot * i + (slot - bar) / 2
        base = float(upper + plot_h)
        for j, s in enumerate(series):
            h = plot_h * values[(x, s)] / top
            if h <= 0:
                continue
            base -= h
            out.append(
                f'<rect x="{cx:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label(s))} {escape(x)}: '
                f"{_fmt(values[(x, s)])}</title></rect>"
            )
        out.append(
            f'<text x="{cx + bar / 2:.1f}" y="{upper + plot_h + 14}" text-anchor="middle" '
            f'font-size="10">{escape(x)}</text>'
        )
    out.extend(_legend([label(s) for s in series], left + plot_w + 12, upper))
    out.append("</svg>")
    return "".join(out)


def horizontal_bars(
    rows: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 640,
    bar_height: int = 22,
) -> str:
    """One bar per (label, value), in the given order. Labels are drawn from the left edge and
    the plot starts after the widest, so no label is cut off; the figure widens if needed."""
    height = 40 + bar_height * max(len(rows), 1) + 10
    left = int(max((text_width(n, 11) for n, _v in rows), default=0)) + 16
    top_value = max((v for _l, v in rows), default=0)
    right = int(text_width(_fmt(top_value), 11)) + 12
    width = max(width, left + right + 200)
    plot_w = width - left - right
    top = _axis_max(max((v for _l, v in rows), default=0))
    out = [_open(width, height, title)]
    for i, (name, value) in enumerate(rows):
        y = 30 + i * bar_height
        w = plot_w * value / top
        out.append(
            f'<text x="8" y="{y + bar_height * 0.65:.1f}" font-size="11">{escape(name)}</text>'
        )
        out.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar_height - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        out.append(
            f'<text x="{left + w + 4:.1f}" y="{y + bar_height * 0.65:.1f}" '
            f'font-size="11">{_fmt(value)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" role="img">'
        f"<title>{escape(title)}</title>"
        f'<text x="8" y="18" font-size="13" font-weight="bold">{escape(title)}</text>'
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        yy = y + i * 16
        out.append(
            f'<rect x="{x}" y="{yy}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{x + 14}" y="{yy + 9}" font-size="10">{escape(name)}</text>')
    return out
