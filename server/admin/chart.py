"""The API budget chart: today's calls by hour as an SVG drawn on the server.

Plain SVG elements with presentation attributes and classes (no script, no inline style,
so the page's CSP holds); a `<title>` and `<desc>` name it for screen readers, each bar
carries its own `<title>`, and the page shows the same figures in a table.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 32


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    baseline: float
    left: float
    right: float
    share_y: float | None  # the hourly average the share allows, drawn as a line


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (a readable axis top)."""
    if value <= 0:
        return 10
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def hourly_chart(hours, share: int) -> Chart:
    """Bars of our calls per hour (`hours`: HourUsage of the day, 24 of them)."""
    per_hour_share = share / 24 if share else 0
    top = _nice_ceiling(max([h.our_calls for h in hours] + [int(per_hour_share) + 1]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(hours))
    baseline = TOP + plot_h

    def y_of(value: float) -> float:
        return round(baseline - plot_h * value / top, 1)

    bars = []
    for index, hour in enumerate(hours):
        height = round(plot_h * hour.our_calls / top, 1)
        label = f"{hour.hour:%H}"
        calls = f"{hour.our_calls} call{'s' if hour.our_calls != 1 else ''}"
        bars.append(Bar(round(LEFT + index * slot + slot * 0.15, 1), round(baseline - height, 1),
                        round(slot * 0.7, 1), height, label, f"{label}:00–{label}:59 UTC: {calls}"))
    ticks = tuple(Tick(y_of(top * step / 4), f"{top * step // 4:,}") for step in range(5))
    share_y = y_of(per_hour_share) if per_hour_share else None
    return Chart(WIDTH, HEIGHT, tuple(bars), ticks, baseline, LEFT, WIDTH - RIGHT, share_y)
