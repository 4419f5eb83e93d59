"""The API budget chart's geometry (server/admin/chart.py): bars proportional to the calls,
a readable axis top, the share's hourly average as a line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailferry.admin_overview import HourUsage
from server.admin.chart import hourly_chart

MIDNIGHT = datetime(2026, 11, 26, tzinfo=timezone.utc)


def _hours(calls: dict[int, int]) -> list[HourUsage]:
    return [HourUsage(MIDNIGHT + timedelta(hours=h), calls.get(h, 0), None) for h in range(24)]


def test_bars_are_proportional_to_the_calls_under_a_round_axis_top():
    chart = hourly_chart(_hours({3: 180, 4: 90}), share=2_400)  # share allows 100 an hour
    assert [t.label for t in chart.ticks] == ["0", "50", "100", "150", "200"]
    bars = {bar.label: bar for bar in chart.bars}
    assert len(chart.bars) == 24 and bars["00"].height == 0
    assert bars["03"].height == 2 * bars["04"].height > 0
    assert bars["03"].y + bars["03"].height == chart.baseline
    assert bars["03"].title == "03:00–03:59 UTC: 180 calls" and bars["05"].title.endswith(": 0 calls")
    assert chart.share_y == chart.baseline - (chart.baseline - 16) * 100 / 200


def test_a_day_without_calls_still_draws_an_axis_and_the_share_line():
    chart = hourly_chart(_hours({}), share=3_000)
    assert all(bar.height == 0 for bar in chart.bars)
    assert chart.ticks[-1].label == "200" and chart.share_y is not None
