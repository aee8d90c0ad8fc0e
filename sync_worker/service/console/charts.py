"""Line charts drawn on the server, as SVG geometry a template writes out: they work without
any script, and the strict Content-Security-Policy needs none.

Pure: points in, coordinates out. Each chart has its own scale (duration in seconds, changes and
API calls are counts), from zero to the largest value, with time on the horizontal axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sync_worker.service.console.formats import when

WIDTH, HEIGHT = 640, 160
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 22
"""Room for the value labels on the left and the time labels below."""


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    unit: str
    points: str
    """The polyline's ``points`` attribute ("x,y x,y ...")."""
    dots: tuple[tuple[float, float], ...]
    top_label: str
    first_label: str
    last_label: str
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    plot_right: int = WIDTH - RIGHT


def line_chart(title: str, unit: str, series: Sequence[tuple[datetime, float]]) -> Chart:
    """A chart of ``series`` (time, value), in time order."""
    ordered = sorted(series, key=lambda point: point[0])
    if not ordered:
        return Chart(title, unit, "", (), "0", "", "", empty=True)
    first, last = ordered[0][0], ordered[-1][0]
    span = (last - first).total_seconds() or 1.0
    peak = max(value for _, value in ordered) or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    dots = tuple(
        (
            round(
                LEFT
                + plot_w * ((moment - first).total_seconds() / span if len(ordered) > 1 else 0.5),
                1,
            ),
            round(TOP + plot_h * (1 - value / peak), 1),
        )
        for moment, value in ordered
    )
    return Chart(
        title=title,
        unit=unit,
        points=" ".join(f"{x},{y}" for x, y in dots),
        dots=dots,
        top_label=_figure(peak),
        first_label=when(first),
        last_label=when(last) if len(ordered) > 1 else "",
        empty=False,
    )


def _figure(value: float) -> str:
    return f"{value:.2f}" if value < 10 and value != int(value) else f"{value:,.0f}"
