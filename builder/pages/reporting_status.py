"""The reporting-status page (报送情况): every form's units x periods with each obligation's
state, the reporting and timeliness rates per period and per unit type (tables and charts),
and the 催报名单 of each period: the units that owe it, longest overdue first.

The cell table has a row per unit and form (thousands): its cells and rows are fragments
(builder.pages.fragments), each distinct one rendered once per build, as on the matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from builder.charts import Bar, share_bars
from builder.model import Form, Period
from builder.obligations import STATE_LABELS, Obligation, Owing, RateRow, owing, rates_by
from builder.pages.fragments import fill, hole
from builder.pages.links import form_link
from builder.pages.page import GeneratedPage
from builder.pages.site import Site

PATH = "reporting.md"
TITLE = "报送情况"
# The 催报名单 section's id (templates/reporting_status.md): the review queue links to it.
OWING_ANCHOR = "ps-owing"
UNIT_ID, UNIT_CELL, CELLS = hole("unit_id"), hole("unit_cell"), hole("cells")


@dataclass(frozen=True)
class FormTable:
    """One form's units x periods."""

    form: Form
    periods: tuple[Period, ...]
    rows: list[str]


@dataclass(frozen=True)
class OwingGroup:
    """The 催报名单 of one form x period."""

    form: Form
    period: Period
    lines: list[tuple[Owing, str | None]]  # each line and the link to its form


def reporting_status_page(site: Site) -> GeneratedPage:
    everything = [item for items in site.obligations.values() for item in items]
    by_period = _rates_by_period(site, everything)
    by_type = _rates_by_unit_type(site, everything)
    return site.render(
        "reporting_status.md",
        PATH,
        TITLE,
        forms=[_form_table(site, form) for form in site.content.forms],
        by_period=by_period,
        by_type=by_type,
        charts=[
            _chart("各报送周期报送率", by_period, "reporting", "ps-chart-reporting-period"),
            _chart("各报送周期及时率", by_period, "timeliness", "ps-chart-timely-period"),
            _chart("各类型单位报送率", by_type, "reporting", "ps-chart-reporting-type"),
            _chart("各类型单位及时率", by_type, "timeliness", "ps-chart-timely-type"),
        ],
        owing=_owing_groups(site),
        state_labels=STATE_LABELS,
        unit_types=[t for t in site.plan.unit_types if t.id in site.units_by_type],
        forms_url=site.options.forms_url,
    )


def _form_table(site: Site, form: Form) -> FormTable:
    """A row per unit the form applies to, a cell per period of the form."""
    link = site.links(PATH)
    periods = tuple(site.periods[p] for p in form.periods if p in site.periods)
    rows = []
    for unit in site.content.units:
        items = {
            item.period: item for item in site.unit_obligations(unit.id) if item.form == form.id
        }
        if not items:
            continue
        cells = [
            site.fragments("obligation_cell", period.id, items[period.id].state)
            if period.id in items
            else site.fragments("no_obligation_cell", period.id)
            for period in periods
        ]
        states = " ".join(sorted({item.state for item in items.values()}))
        row = site.fragments(
            "status_row",
            unit.type,
            site.type_label(unit),
            site.standing(unit.id).colour,
            states,
            UNIT_ID,
            UNIT_CELL,
            CELLS,
        )
        unit_cell = site.unit_link(link, unit)
        rows.append(fill(row, unit_id=unit.id, unit_cell=unit_cell, cells=Markup("".join(cells))))
    return FormTable(form, periods, rows)


def _rates_by_period(site: Site, everything: Sequence[Obligation]) -> tuple[RateRow, ...]:
    used = {item.period for item in everything}
    labels = {p.id: p.title for p in site.content.periods if p.id in used}
    return rates_by(everything, {}, labels, "period")


def _rates_by_unit_type(site: Site, everything: Sequence[Obligation]) -> tuple[RateRow, ...]:
    type_of = {unit.id: unit.type for unit in site.content.units}
    labels = {t.id: t.label for t in site.plan.unit_types if t.id in site.units_by_type}
    return rates_by(everything, type_of, labels, "unit")


def _chart(title: str, rows: Sequence[RateRow], rate: str, chart_id: str) -> Markup:
    bars = []
    for row in rows:
        counts = row.counts
        if rate == "reporting":
            bars.append(
                Bar(row.label, counts.reporting_rate, f"{counts.reported}/{counts.expected}")
            )
        else:
            bars.append(
                Bar(row.label, counts.timeliness_rate, f"{counts.on_time}/{counts.expected}")
            )
    return share_bars(title, bars, chart_id=chart_id)


def _owing_groups(site: Site) -> list[OwingGroup]:
    groups: dict[tuple[str, str], OwingGroup] = {}
    for line in owing(site.content, site.obligations):
        item = line.obligation
        group = groups.get((item.form, item.period))
        if group is None:
            group = groups[(item.form, item.period)] = OwingGroup(
                site.forms[item.form], site.periods[item.period], []
            )
        href = form_link(site.options.forms_url, item.unit, item.form, item.period)
        group.lines.append((line, href))
    # Period by period (by due date), then the forms in plan order.
    form_order = {form.id: n for n, form in enumerate(site.content.forms)}
    return sorted(
        groups.values(),
        key=lambda g: (g.period.due, g.period.id, form_order.get(g.form.id, 0)),
    )
