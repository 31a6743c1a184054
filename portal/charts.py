"""Charts drawn on the server as SVG: no chart library reaches the browser.

Each chart is a self-contained <svg> with role="img" and a text alternative, using only
presentation attributes (no style attributes), so the strict CSP needs no exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from backend.figures import FigureComparison, ProvinceLateness
from backend.funnel import Funnel
from backend.orders.models import SalesChannel
from portal.i18n import gettext
from portal.labels import label

WIDTH = 320  # fits the narrowest phone's card; the viewBox scales it up on a desk
ROW = 34
LABEL = 96
BAR_MAX = WIDTH - LABEL - 44


@dataclass(frozen=True)
class RatePair:
    label: str
    current: float | None  # 0..1
    previous: float | None


def _bar(y: int, value: float | None, colour: str) -> str:
    if value is None:
        return f'<text x="{LABEL}" y="{y + 9}" font-size="11" fill="#6b7280">—</text>'
    width = max(1, round(BAR_MAX * min(max(value, 0.0), 1.0)))
    return (
        f'<rect x="{LABEL}" y="{y}" width="{width}" height="11" rx="2" fill="{colour}"/>'
        f'<text x="{LABEL + width + 4}" y="{y + 9}" font-size="11" fill="#111827">'
        f"{value * 100:.0f}%</text>"
    )


def rate_pairs(rows: Sequence[RatePair], title: str, current: str, previous: str) -> Markup:
    """Horizontal bars, this range (dark) over the range before (light), one row per rate."""
    height = ROW * len(rows) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for index, row in enumerate(rows):
        y = index * ROW
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#111827">{escape(row.label)}</text>'
        )
        parts.append(_bar(y + 4, row.current, "#1d4ed8"))
        parts.append(_bar(y + 17, row.previous, "#93c5fd"))
    legend_y = height - 6
    parts.append(
        f'<rect x="0" y="{legend_y - 9}" width="10" height="10" fill="#1d4ed8"/>'
        f'<text x="14" y="{legend_y}" font-size="11" fill="#111827">{escape(current)}</text>'
        f'<rect x="120" y="{legend_y - 9}" width="10" height="10" fill="#93c5fd"/>'
        f'<text x="134" y="{legend_y}" font-size="11" fill="#111827">{escape(previous)}</text>'
    )
    parts.append("</svg>")
    # Every text in it went through escape() above; the numbers are formatted here.
    return Markup("".join(parts))  # noqa: S704


def figure_rates(comparison: FigureComparison) -> Markup:
    """The operations page's chart: on-time shipment and accuracy, this range and the last."""
    current, previous = comparison.current, comparison.previous
    return rate_pairs(
        [
            RatePair(
                gettext("Shipped within 24 hours"), current.on_time_rate, previous.on_time_rate
            ),
            RatePair(gettext("Shipping accuracy"), current.accuracy_rate, previous.accuracy_rate),
        ],
        gettext("Shipped on time and shipped right, this range against the range before"),
        gettext("This range"),
        gettext("Range before"),
    )


# China's 34 provincial-level divisions as a tile grid, one square each, placed roughly where
# it lies (column, row). A grid rather than a drawn map on purpose: a map with borders
# published in China needs a 审图号 (地图审核管理规定), and a border drawn wrong, or a
# province left out, is a 问题地图. Tiles show every province, Taiwan included, and no border.
# (stem the address's province name starts with, 简称 shown on the tile, column, row)
PROVINCE_TILES: tuple[tuple[str, str, int, int], ...] = (
    ("黑龙江", "黑", 8, 0),
    ("内蒙古", "蒙", 5, 1),
    ("吉林", "吉", 8, 1),
    ("新疆", "新", 1, 2),
    ("北京", "京", 6, 2),
    ("辽宁", "辽", 7, 2),
    ("甘肃", "甘", 3, 3),
    ("宁夏", "宁", 4, 3),
    ("山西", "晋", 5, 3),
    ("河北", "冀", 6, 3),
    ("天津", "津", 7, 3),
    ("西藏", "藏", 1, 4),
    ("青海", "青", 2, 4),
    ("陕西", "陕", 4, 4),
    ("河南", "豫", 5, 4),
    ("山东", "鲁", 6, 4),
    ("四川", "川", 3, 5),
    ("重庆", "渝", 4, 5),
    ("湖北", "鄂", 5, 5),
    ("安徽", "皖", 6, 5),
    ("江苏", "苏", 7, 5),
    ("上海", "沪", 8, 5),
    ("云南", "云", 3, 6),
    ("贵州", "贵", 4, 6),
    ("湖南", "湘", 5, 6),
    ("江西", "赣", 6, 6),
    ("浙江", "浙", 7, 6),
    ("广西", "桂", 4, 7),
    ("广东", "粤", 5, 7),
    ("福建", "闽", 6, 7),
    ("台湾", "台", 8, 7),
    ("海南", "琼", 4, 8),
    ("澳门", "澳", 5, 8),
    ("香港", "港", 6, 8),
)
TILE, GAP = 30, 3
# Sequential, light to dark: 0-5%, 5-10%, 10-20%, 20-40%, 40% and more late.
LATE_STEPS: tuple[tuple[float, str], ...] = (
    (0.05, "#fee2e2"),
    (0.10, "#fca5a5"),
    (0.20, "#f87171"),
    (0.40, "#dc2626"),
    (1.01, "#7f1d1d"),
)
NO_DATA = "#e5e7eb"


def _late_colour(rate: float) -> str:
    return next(colour for limit, colour in LATE_STEPS if rate < limit)


def late_map(lateness: Sequence[ProvinceLateness]) -> Markup:
    """The province tile map, coloured by the share of late deliveries."""
    by_stem: dict[str, ProvinceLateness] = {}
    for entry in lateness:
        stem = next((s for s, *_ in PROVINCE_TILES if entry.province.startswith(s)), None)
        if stem is not None:
            by_stem[stem] = entry
    step = TILE + GAP
    width, height = step * 10, step * 9 + 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="late-map-title" class="chart map">',
        f'<title id="late-map-title">{escape(gettext("Late deliveries by province"))}</title>',
    ]
    for stem, short, column, row in PROVINCE_TILES:
        found = by_stem.get(stem)
        colour = _late_colour(found.rate) if found else NO_DATA
        ink = "#ffffff" if found and found.rate >= 0.20 else "#111827"
        note = (
            f"{stem} {found.late}/{found.orders} ({found.rate * 100:.0f}%)"
            if found
            else f"{stem} —"
        )
        x, y = column * step, row * step
        parts.append(
            f"<g><title>{escape(note)}</title>"
            f'<rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="3" fill="{colour}"/>'
            f'<text x="{x + TILE / 2:.0f}" y="{y + 20}" font-size="13" text-anchor="middle" '
            f'fill="{ink}">{escape(short)}</text></g>'
        )
    legend_y = step * 9 + 4
    lower = 0.0
    for index, (limit, colour) in enumerate(LATE_STEPS):
        x = index * 62
        label = f"{lower * 100:.0f}%+" if limit > 1 else f"<{limit * 100:.0f}%"
        parts.append(
            f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{legend_y + 11}" font-size="11" fill="#111827">'
            f"{escape(label)}</text>"
        )
        lower = limit
    parts.append("</svg>")
    # Every text in it went through escape(); the numbers are formatted here.
    return Markup("".join(parts))  # noqa: S704


def label_channel(channel: str) -> str:
    try:
        return label(SalesChannel(channel))
    except ValueError:
        return channel


def profit_heat(totals: Mapping[tuple[date, str], int], channels: Sequence[str]) -> Markup:
    """Day (rows) × channel (columns), green for profit and red for loss, by size."""
    days = sorted({day for day, _ in totals})
    if not days or not channels:
        return Markup("")
    cell, left, top = 34, 44, 18
    width = left + cell * len(channels)
    height = top + cell * len(days) // 2 + 4
    row_height = cell // 2
    biggest = max((abs(value) for value in totals.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="profit-heat-title" class="chart heat">',
        f'<title id="profit-heat-title">{escape(gettext("Profit by day and channel"))}</title>',
    ]
    for column, channel in enumerate(channels):
        parts.append(
            f'<text x="{left + column * cell + cell / 2:.0f}" y="12" font-size="10" '
            f'text-anchor="middle" fill="#111827">{escape(label_channel(channel))}</text>'
        )
    for row, day in enumerate(days):
        y = top + row * row_height
        parts.append(f'<text x="0" y="{y + 12}" font-size="10" fill="#111827">{day:%m-%d}</text>')
        for column, channel in enumerate(channels):
            value = totals.get((day, channel))
            x = left + column * cell
            if value is None:
                colour, note = NO_DATA, "—"
            else:
                strength = min(abs(value) / biggest, 1.0)
                shade = ("#dcfce7", "#86efac", "#22c55e", "#15803d")
                loss = ("#fee2e2", "#fca5a5", "#ef4444", "#b91c1c")
                colour = (loss if value < 0 else shade)[min(int(strength * 4), 3)]
                note = f"¥{value / 100:,.2f}"
            parts.append(
                f"<g><title>{escape(f'{day:%m-%d} {label_channel(channel)} {note}')}</title>"
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{row_height - 2}" '
                f'rx="2" fill="{colour}"/></g>'
            )
    parts.append("</svg>")
    # Every text in it went through escape(); the numbers are formatted here.
    return Markup("".join(parts))  # noqa: S704


def _count_bar(y: int, value: int, biggest: int, colour: str) -> str:
    width = max(1, round(BAR_MAX * value / biggest)) if biggest else 1
    return (
        f'<rect x="{LABEL}" y="{y}" width="{width}" height="11" rx="2" fill="{colour}"/>'
        f'<text x="{LABEL + width + 4}" y="{y + 9}" font-size="11" fill="#111827">{value}</text>'
    )


def funnel_chart(current: Funnel, previous: Funnel) -> Markup:
    """自助漏斗: links opened, pages viewed, self-service actions, messages to support."""
    steps = (
        (gettext("Links opened"), current.links_opened, previous.links_opened),
        (gettext("Pages viewed"), current.pages_viewed, previous.pages_viewed),
        (gettext("Done by the customer"), current.actions, previous.actions),
        (gettext("Messages to support"), current.messages, previous.messages),
    )
    biggest = max(max(now, before) for _, now, before in steps)
    height = ROW * len(steps) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="funnel-title" class="chart">',
        f'<title id="funnel-title">{escape(gettext("Self-service funnel"))}</title>',
    ]
    for index, (name, now, before) in enumerate(steps):
        y = index * ROW
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#111827">{escape(name)}</text>'
        )
        parts.append(_count_bar(y + 4, now, biggest, "#047857"))
        parts.append(_count_bar(y + 17, before, biggest, "#6ee7b7"))
    legend_y = height - 6
    parts.append(
        f'<rect x="0" y="{legend_y - 9}" width="10" height="10" fill="#047857"/>'
        f'<text x="14" y="{legend_y}" font-size="11" fill="#111827">'
        f"{escape(gettext('This range'))}</text>"
        f'<rect x="120" y="{legend_y - 9}" width="10" height="10" fill="#6ee7b7"/>'
        f'<text x="134" y="{legend_y}" font-size="11" fill="#111827">'
        f"{escape(gettext('Range before'))}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text escaped above
