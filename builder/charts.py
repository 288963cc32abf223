"""Small inline SVG charts generated at build time.

No JavaScript and no external requests: each chart is one `<svg>` with `role="img"`, a
`<title>` and a `<desc>` for screen readers, and every bar carries its value as text so
that nothing is told by colour alone. Colours come from CSS classes (`assets/plansite.css`)
so the theme's light and dark palettes can both style them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from builder.model import Status
from builder.templating import environment

# Display order of a status distribution: good news first, then by severity.
STACK_ORDER: tuple[Status, ...] = (
    Status.MET,
    Status.ON_TRACK,
    Status.BEHIND,
    Status.NOT_REPORTED,
    Status.OVERDUE,
)

# Geometry in SVG user units; the SVG scales to its container through the viewBox.
WIDTH = 640
LABEL_WIDTH = 230
VALUE_WIDTH = 110
ROW_HEIGHT = 28
BAR_HEIGHT = 18
LABEL_CHARS = 14  # CJK characters that fit in LABEL_WIDTH at the chart's font size


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a share in [0, 1] (None = nothing applies) and its text."""

    label: str
    share: float | None
    detail: str = ""  # e.g. "12/20", shown after the percentage
    status: Status | None = None  # colours the bar by the roll-up's status when given


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """A label that fits the chart; the full text stays in the bar's own <title>."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def share_bars(title: str, bars: Sequence[Bar], *, chart_id: str) -> Markup:
    """Horizontal bars of the share met, one row per bar."""
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    rows = []
    for index, bar in enumerate(bars):
        share = 0.0 if bar.share is None else min(max(bar.share, 0.0), 1.0)
        value_text = percent(bar.share) + (f"（{bar.detail}）" if bar.detail else "")
        rows.append(
            {
                "y": index * ROW_HEIGHT,
                "label": short_label(bar.label),
                "full_label": bar.label,
                "width": round(plot * share, 1),
                "value_text": value_text,
                "status": (bar.status or Status.MET).value,
                "empty": bar.share is None,
            }
        )
    return Markup(
        environment()
        .get_template("chart_bars.svg")
        .render(
            chart_id=chart_id,
            title=title,
            rows=rows,
            width=WIDTH,
            height=max(len(rows), 1) * ROW_HEIGHT + 4,
            label_width=LABEL_WIDTH,
            plot_width=plot,
            bar_height=BAR_HEIGHT,
            row_height=ROW_HEIGHT,
        )
    )


def status_stack(title: str, counts: Mapping[Status, int], *, chart_id: str) -> Markup:
    """One stacked bar of how many results are in each status, with a text legend."""
    total = sum(counts.get(s, 0) for s in STACK_ORDER)
    segments = []
    x = 0.0
    for status in STACK_ORDER:
        count = counts.get(status, 0)
        if not count:
            continue
        width = WIDTH * count / total
        segments.append(
            {
                "x": round(x, 1),
                "width": round(width, 1),
                "status": status.value,
                "label": status.label,
                "count": count,
                "share": percent(count / total),
            }
        )
        x += width
    legend = [
        {
            "status": s.value,
            "label": s.label,
            "count": counts.get(s, 0),
            "share": percent(counts.get(s, 0) / total) if total else "—",
        }
        for s in STACK_ORDER
    ]
    return Markup(
        environment()
        .get_template("chart_stack.svg")
        .render(
            chart_id=chart_id,
            title=title,
            segments=segments,
            legend=legend,
            total=total,
            width=WIDTH,
        )
    )
