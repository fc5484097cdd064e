"""The SVG chart helper: round axis maxima, escaping, and degenerate inputs (no browser)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from hub.console.svg import GRID_LINES, Series, legend, line_chart, nice_max, stacked_bars

STEP_FACTORS = {1.0, 2.0, 2.5, 5.0}


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False))
def test_nice_max_covers_the_value_with_round_steps(value: float) -> None:
    top = nice_max(value)
    assert top >= value
    step = top / GRID_LINES
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(abs(mantissa - f) < 1e-9 for f in STEP_FACTORS | {10.0})
    assert top < value * 10 + 1e-9  # never absurdly far above the data


@given(st.integers(min_value=0, max_value=10**9))
def test_integer_axes_never_have_fractional_steps(value: int) -> None:
    top = nice_max(value, integer=True)
    assert top >= value and (top / GRID_LINES).is_integer()


def test_labels_are_escaped_and_the_svg_is_well_formed() -> None:
    evil = "<script>alert(1)</script>&"
    bars = stacked_bars(["d1", evil], {evil: [1, 2]}, {evil: "#000"}, title=evil)
    line = line_chart([Series(evil, [(0, 1), (10, 3)], "#111")], title=evil, x_format=str)
    for svg in (bars, line):
        assert "<script>" not in svg
        ET.fromstring(str(svg))  # parses: nothing unescaped broke the markup
    assert "<script>" not in legend({evil: "#fff"})


def test_line_chart_without_data_and_at_a_single_instant() -> None:
    empty = line_chart([Series("a", [], "#111")], title="t", x_format=str)
    assert "no data yet" in empty
    same_time = line_chart(
        [Series("a", [(5.0, 1), (5.0, 4)], "#111")], title="t", x_format=lambda x: "T"
    )
    xs = [float(x) for x in re.findall(r'(\d+\.\d),\d+\.\d', same_time)]
    assert len(set(xs)) == 2  # spread by order instead of a vertical line
