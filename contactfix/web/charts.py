"""Charts drawn on the server as SVG geometry for the templates (no script, no library, no CDN).

:func:`funnel_bars` — one funnel as horizontal bars (a bank's whole funnel, or one batch's);
:func:`mini_bars` — a batch's funnel as five small columns for a table row; :func:`trend_chart` — the
funnel's stages as lines over weeks or months. Every chart's figures are also printed as text
(a table, or the SVG's ``<desc>``) by its template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FUNNEL_STAGES", "funnel_bars", "mini_bars", "stage_values", "trend_chart"]

# The funnel as the charts show it: label, and the funnel keys summed into the stage.
FUNNEL_STAGES = (
    ("提交", ("submitted",)),
    ("修复", ("repaired_records", "repaired_carrier")),
    ("派送", ("dispatched",)),
    ("联系上", ("reached",)),
    ("调解成功", ("mediated",)),
)
_BAR_WIDTH = 200.0  # of a 320-unit-wide drawing: label on the left, count on the right


def stage_values(counts: Mapping[str, int]) -> list[int]:
    """The five stages' figures (:data:`FUNNEL_STAGES`) from the funnel's counts."""
    return [sum(int(counts.get(key, 0)) for key in keys) for _, keys in FUNNEL_STAGES]


def funnel_bars(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The chart's bars: label, count, and the bar's width and y in the drawing's units."""
    values = list(zip((label for label, _ in FUNNEL_STAGES), stage_values(counts), strict=True))
    top = max((value for _, value in values), default=0) or 1
    return [
        {"label": label, "count": value, "width": round(_BAR_WIDTH * value / top, 1), "y": 10 + 34 * i}
        for i, (label, value) in enumerate(values)
    ]


_MINI_HEIGHT = 22.0


def mini_bars(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Five columns 8 units wide in a 60 × 24 drawing, heights relative to the batch's largest stage."""
    values = stage_values(counts)
    top = max(values, default=0) or 1
    bars = []
    for i, value in enumerate(values):
        height = round(_MINI_HEIGHT * value / top, 1) if value else 0.0
        bars.append(
            {"x": 2 + 12 * i, "height": max(height, 1.0 if value else 0.0), "y": round(23 - height, 1)}
        )
    return bars


# The trend chart's drawing: 420 × 220 units, plot area inside the margins.
_WIDTH, _HEIGHT = 420.0, 220.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 40.0, 10.0, 10.0, 30.0
_X_LABELS = 6  # at most this many period labels under the axis


def _nice_top(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k at or above ``value`` (at least 1): the y axis's top."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover  (the loop always returns)


def _tick_step(top: int) -> int:
    """Whole-number ticks, four or five of them above 0: 5 → 1, 10 → 2, 20 → 5, 50 → 10, 100 → 20."""
    if top <= 5:
        return 1
    return top // 4 if str(top)[0] == "2" else top // 5


def trend_chart(labels: Sequence[str], series: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Lines over periods: ``labels`` the periods (x), ``series`` one list of figures per stage.

    Returns the drawing's size, the y ticks (value, y), the x labels shown (label, x, text-anchor), and per
    series its polyline points and its markers (x, y, value)."""
    n = len(labels)
    top = _nice_top(max((max(values, default=0) for values in series), default=0))
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x_at(i: int) -> float:
        return round(_LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y_at(value: int) -> float:
        return round(_TOP + plot_h * (1 - value / top), 1)

    every = max(1, math.ceil(n / _X_LABELS))
    shown = [(label, x_at(i)) for i, label in enumerate(labels) if i % every == 0 or i == n - 1]
    if len(shown) >= 2 and shown[-1][1] - shown[-2][1] < plot_w / _X_LABELS * 0.9:
        shown.pop(-2)  # the last period's label, not one crowding it
    # Labels centred under their point, but the first and last ones kept inside the drawing.
    anchors = ["middle"] * len(shown)
    if len(shown) > 1:
        anchors[0], anchors[-1] = "start", "end"
    placed = [(label, x, anchor) for (label, x), anchor in zip(shown, anchors, strict=True)]
    ticks = [(value, y_at(value)) for value in range(0, top + 1, _tick_step(top))]
    lines = []
    for values in series:
        points = [(x_at(i), y_at(int(value)), int(value)) for i, value in enumerate(values)]
        lines.append({"points": " ".join(f"{x},{y}" for x, y, _ in points), "markers": points})
    return {
        "width": _WIDTH, "height": _HEIGHT, "left": _LEFT, "right": _WIDTH - _RIGHT, "top": _TOP,
        "bottom": _HEIGHT - _BOTTOM, "ticks": ticks, "x_labels": placed, "lines": lines,
    }  # fmt: skip
