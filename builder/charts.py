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

# Geometry in SVG user units; the SVG scales to its container through the viewBox. Each
# chart is drawn twice: wide (labels beside the bars) for screens from 640 px, narrow
# (labels above the bars) below. The narrow width is about a phone's column in CSS pixels,
# so its 13-unit text renders at 12 px or more on a 390 px screen.
WIDTH = 640
NARROW_WIDTH = 340
LABEL_WIDTH = 230
VALUE_WIDTH = 110
ROW_HEIGHT = 28
NARROW_ROW_HEIGHT = 44  # a label line, then the bar
BAR_HEIGHT = 18
LABEL_CHARS = 14  # CJK characters that fit in LABEL_WIDTH at the chart's font size
NARROW_LABEL_CHARS = 24  # CJK characters that fit across NARROW_WIDTH


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


def _bar_drawing(bars: Sequence[Bar], *, narrow: bool) -> dict[str, object]:
    """The geometry and rows of one drawing of a bar chart."""
    width = NARROW_WIDTH if narrow else WIDTH
    label_width = 0 if narrow else LABEL_WIDTH
    plot = width - label_width - VALUE_WIDTH
    row_height = NARROW_ROW_HEIGHT if narrow else ROW_HEIGHT
    bar_y = row_height - BAR_HEIGHT - 4 if narrow else (ROW_HEIGHT - BAR_HEIGHT) // 2
    rows = []
    for index, bar in enumerate(bars):
        share = 0.0 if bar.share is None else min(max(bar.share, 0.0), 1.0)
        value_text = percent(bar.share) + (f"（{bar.detail}）" if bar.detail else "")
        rows.append(
            {
                "y": index * row_height,
                "label": short_label(bar.label, NARROW_LABEL_CHARS if narrow else LABEL_CHARS),
                "full_label": bar.label,
                "width": round(plot * share, 1),
                "value_text": value_text,
                "status": (bar.status or Status.MET).value,
                "empty": bar.share is None,
            }
        )
    return {
        "name": "narrow" if narrow else "wide",
        "suffix": "-narrow" if narrow else "",
        "rows": rows,
        "width": width,
        "height": max(len(rows), 1) * row_height + 4,
        "label_x": 0 if narrow else LABEL_WIDTH - 8,
        "label_y": 14 if narrow else (ROW_HEIGHT + 8) // 2,
        "label_anchor": "start" if narrow else "end",
        "bar_x": label_width,
        "bar_y": bar_y,
        "value_y": bar_y + BAR_HEIGHT // 2 + 5,
        "plot_width": plot,
        "bar_height": BAR_HEIGHT,
    }


def share_bars(title: str, bars: Sequence[Bar], *, chart_id: str) -> Markup:
    """Horizontal bars of the share met, one row per bar."""
    return Markup(
        environment()
        .get_template("chart_bars.svg")
        .render(
            chart_id=chart_id,
            title=title,
            drawings=[_bar_drawing(bars, narrow=False), _bar_drawing(bars, narrow=True)],
        )
    )


def _stack_segments(counts: Mapping[Status, int], width: int) -> list[dict[str, object]]:
    total = sum(counts.get(s, 0) for s in STACK_ORDER)
    segments: list[dict[str, object]] = []
    x = 0.0
    for status in STACK_ORDER:
        count = counts.get(status, 0)
        if not count:
            continue
        segment_width = width * count / total
        segments.append(
            {
                "x": round(x, 1),
                "width": round(segment_width, 1),
                "status": status.value,
                "label": status.label,
                "count": count,
                "share": percent(count / total),
            }
        )
        x += segment_width
    return segments


def status_stack(title: str, counts: Mapping[Status, int], *, chart_id: str) -> Markup:
    """One stacked bar of how many results are in each status, with a text legend."""
    total = sum(counts.get(s, 0) for s in STACK_ORDER)
    legend = [
        {
            "status": s.value,
            "label": s.label,
            "count": counts.get(s, 0),
            "share": percent(counts.get(s, 0) / total) if total else "—",
        }
        for s in STACK_ORDER
    ]
    drawings = [
        {"name": name, "suffix": suffix, "width": width, "segments": _stack_segments(counts, width)}
        for name, suffix, width in (("wide", "", WIDTH), ("narrow", "-narrow", NARROW_WIDTH))
    ]
    return Markup(
        environment()
        .get_template("chart_stack.svg")
        .render(chart_id=chart_id, title=title, drawings=drawings, legend=legend, total=total)
    )
