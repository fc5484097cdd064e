"""A tiny server-side SVG chart helper: stacked bars and line series.

Why not a JS library: the console must work offline with a strict CSP and no
scripts. Charts scale with their container (`viewBox`, width 100%); colours
are SVG presentation attributes (allowed by a CSP without inline styles);
every label is escaped. Output is `markupsafe.Markup` for Jinja. Series keys are
codes (colours are keyed by them); `names` gives what the reader sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape

WIDTH = 720
SMALL_WIDTH = 440  # side-by-side charts: a narrower canvas keeps labels legible
HEIGHT = 240
PAD_LEFT = 56
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28
GRID_LINES = 4

PALETTE = ("#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#4b5563")


@dataclass(frozen=True)
class Series:
    """One line: `points` are (x, y) with x in any monotone unit (e.g. epoch seconds)."""

    name: str
    points: Sequence[tuple[float, float]]
    color: str


def nice_max(value: float, *, integer: bool = False) -> float:
    """A round axis maximum >= value whose GRID_LINES steps are 1, 2, 2.5 or 5 × 10^k.

    With `integer` (counts) a step is never below 1, so labels never read 0.25 reports.
    """
    if value <= 0:
        return float(GRID_LINES) if integer else 1.0
    raw_step = value / GRID_LINES
    exponent = math.floor(math.log10(raw_step))
    step = 10.0 ** (exponent + 1)
    for factor in (1, 2, 2.5, 5):
        candidate = factor * 10.0**exponent
        if candidate >= raw_step:
            step = candidate
            break
    if integer:
        step = max(1.0, math.ceil(step))
    return step * GRID_LINES


def compact_number(value: float) -> str:
    """12, 3.4k, 5.6M: short enough for an axis label."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _frame(
    title: str, y_max: float, y_format: Callable[[float], str], width: int
) -> list[str]:
    css = "chart wide" if width >= WIDTH else "chart"
    parts = [
        f'<svg class="{css}" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(GRID_LINES + 1):
        y = PAD_TOP + plot_h - plot_h * i / GRID_LINES
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{width - PAD_RIGHT}" y2="{y:.1f}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4b5563">{escape(y_format(y_max * i / GRID_LINES))}</text>'
        )
    return parts


def _x_label(x: float, text: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11" '
        f'fill="#4b5563">{escape(text)}</text>'
    )


def stacked_bars(
    labels: Sequence[str],
    stacks: dict[str, Sequence[int]],
    colors: dict[str, str],
    *,
    title: str,
    label_every: int = 5,
    names: dict[str, str] | None = None,
) -> Markup:
    """One bar per label, stacked by series (e.g. reports per day by category)."""
    totals = [sum(values[i] for values in stacks.values()) for i in range(len(labels))]
    y_max = nice_max(max(totals, default=0), integer=True)
    parts = _frame(title, y_max, compact_number, WIDTH)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1.0)
    for i, label in enumerate(labels):
        x = PAD_LEFT + i * slot + (slot - bar_w) / 2
        base = PAD_TOP + plot_h
        for name, values in stacks.items():
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / y_max
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{escape(colors[name])}"><title>{escape(label)} '
                f"{escape((names or {}).get(name, name))}: {value}</title></rect>"
            )
        if i % label_every == 0 or i == len(labels) - 1:
            parts.append(_x_label(x + bar_w / 2, label))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece is escaped


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_format: Callable[[float], str],
    y_format: Callable[[float], str] = compact_number,
    integer: bool = False,
    width: int = SMALL_WIDTH,
) -> Markup:
    """Step-free polylines over a shared x range; a single point is drawn as a dot."""
    distinct_x = {x for s in series for x, _ in s.points}
    if len(distinct_x) == 1 and any(len(s.points) > 1 for s in series):
        # all at one instant (e.g. builds within a second): spread by order instead
        series = [Series(s.name, [(i, y) for i, (_, y) in enumerate(s.points)], s.color)
                  for s in series]
        x_format = _no_label
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    y_max = nice_max(max(ys, default=0), integer=integer)
    parts = _frame(title, y_max, y_format, width)
    if not xs:
        empty = escape(_("no data yet"))
        parts.append(
            f'<text x="{width / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="13" '
            f'fill="#6b7280">{empty}</text></svg>'
        )
        return Markup("".join(parts))  # noqa: S704 - every text piece is escaped
    x_min, x_max = min(xs), max(xs)
    span = (x_max - x_min) or 1.0
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def px(x: float) -> float:
        return PAD_LEFT + (plot_w * (x - x_min) / span if x_max > x_min else plot_w / 2)

    def py(y: float) -> float:
        return PAD_TOP + plot_h - plot_h * y / y_max

    for s in series:
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        color = escape(s.color)
        if len(s.points) > 1:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2">'
                f"<title>{escape(s.name)}</title></polyline>"
            )
        for x, y in s.points[-1:] if len(s.points) > 1 else s.points:
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}">'
                f"<title>{escape(s.name)}: {escape(y_format(y))}</title></circle>"
            )
    parts.append(_x_label(PAD_LEFT, x_format(x_min), "start"))
    if x_max > x_min:
        parts.append(_x_label(width - PAD_RIGHT, x_format(x_max), "end"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece is escaped


def _no_label(_x: float) -> str:
    return ""


def legend(colors: dict[str, str], names: dict[str, str] | None = None) -> Markup:
    """An HTML legend with SVG swatches (no inline style needed)."""
    items = "".join(
        f'<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
        f'fill="{escape(color)}"/></svg> {escape((names or {}).get(name, name))}</li>'
        for name, color in colors.items()
    )
    return Markup(f'<ul class="legend">{items}</ul>')  # noqa: S704 - names escaped
