"""Charts drawn on the server as SVG: no chart library reaches the browser.

Each chart is a self-contained <svg> with role="img" and a text alternative, using only
presentation attributes (no style attributes), so the strict CSP needs no exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from backend.figures import FigureComparison
from portal.i18n import gettext

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
