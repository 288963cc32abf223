"""The units index and one page per unit: its indicators, tasks, checklists, what it
reported and when, and the contents of its reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from markupsafe import Markup

from builder import search
from builder.local_time import local_minute_text
from builder.model import ChecklistItem, Form, Period, Report, Status, Task, Unit
from builder.obligations import Obligation, to_do
from builder.pages.fragments import fill, hole
from builder.pages.links import form_link, portal_link
from builder.pages.page import GeneratedPage
from builder.pages.site import Site
from builder.pages.text import cell_value
from builder.progress import SEVERITY, IndicatorResult
from builder.reporting import ReportingState
from builder.rules import format_value

# A unit's reporting history: each form x period that applies, with its form and period.
History = Sequence[tuple[ReportingState, Form, Period]]


def units_index_page(site: Site) -> GeneratedPage:
    path = "units/index.md"
    link = site.links(path)
    statuses = SEVERITY[::-1]
    rows = []
    for unit in site.content.units:
        item = site.progress.unit_rollup(unit.id)
        standing = site.standing(unit.id)
        reports = standing.counts
        rows.append(
            site.fragments(
                "units_index_row",
                link(f"units/{unit.id}.md"),
                unit.id,
                unit.name,
                site.type_label(unit),
                item.share,
                tuple(item.counts.get(status, 0) for status in statuses),
                standing.status,
                (reports.expected, reports.reported, reports.missing),
                standing.colour,
            )
        )
    return site.render(
        "units_index.md", path, "单位总览", unit_count=len(rows), unit_rows=rows, statuses=statuses
    )


def unit_page(site: Site, unit: Unit) -> GeneratedPage:
    progress = site.progress
    path = f"units/{unit.id}.md"
    link = site.links(path)
    tasks = site.unit_tasks[unit.id]
    task_hrefs = {task.id: link(f"tasks/{task.id}.md") for task in tasks}
    states = progress.reporting(unit.id)
    history = [
        (state, site.forms[state.form], site.periods[state.period])
        for state in states
        if state.form in site.forms and state.period in site.periods
    ]
    results = [r for r in progress.for_unit(unit.id) if r.status is not Status.NOT_APPLICABLE]
    obligations = {item.key: item for item in site.unit_obligations(unit.id)}
    return site.render(
        "unit.md",
        path,
        unit.name,
        in_nav=False,
        unit=unit,
        search_tags=search.search_tags(search.unit_terms(unit)),
        unit_rollup=progress.unit_rollup(unit.id),
        standing=site.standing(unit.id),
        to_do=_to_do(site, unit),
        portal_href=portal_link(site.options.forms_url, unit.id),
        indicator_rows=_indicator_rows(site, task_hrefs, unit, results),
        task_list=site.fragments("task_list", tuple(task_hrefs.items())),
        checklists=_checklists(site, tasks, states),
        reporting_rows=_reporting_rows(site, unit, history, obligations),
        reports_after=site.reports_after.get(unit.id, ()),
        report_details=_report_details(site, history),
        minute_text=partial(local_minute_text, zone=site.plan.timezone),
        submitter=submitter,
    )


def submitter(report: Report) -> str:
    return report.submitted_by.get("name") or report.submitted_by.get("account") or "—"


# The holes of the unit page's rows: what differs from unit to unit and report to report.
UNIT_ID = hole("unit_id")
SUBMITTED, BY, EVIDENCE, FORM_HREF = (hole(n) for n in ("submitted", "by", "evidence", "form_href"))
REPORT_ID, ROWS = hole("report_id"), hole("rows")


def _indicator_rows(
    site: Site, task_hrefs: Mapping[str, str], unit: Unit, results: Sequence[IndicatorResult]
) -> list[str]:
    rows = []
    for result in results:
        indicator = site.indicators[result.indicator][1]
        rows.append(
            site.fragments(
                "unit_indicator_row",
                task_hrefs[result.task],
                result.indicator,
                format_value(indicator, result.value),
                result.status,
                site.status_why(result),
                UNIT_ID,
            )
        )
    return [fill("".join(rows), unit_id=unit.id)] if rows else []


def _checklists(site: Site, tasks: Sequence[Task], states: Sequence[ReportingState]) -> Markup:
    """The checklist of each of the unit's tasks, ticked by the unit's latest reports."""
    if not any(task.checklist for task in tasks):
        return Markup()
    ordered = sorted(states, key=lambda s: (site.periods[s.period].end, s.period))
    latest = _latest_reports(ordered)
    return Markup(
        "\n".join(
            site.fragments("checklist_group", task.id, _ticks(latest, task.checklist))
            for task in tasks
            if task.checklist
        )
    )


def _latest_reports(ordered: Sequence[ReportingState]) -> dict[str, list[Report]]:
    """The unit's effective reports by form, latest period first (`ordered` is in calendar
    order): where checklist items look for the unit's latest answer."""
    latest: dict[str, list[Report]] = {}
    for state in reversed(ordered):
        if state.report is not None:
            latest.setdefault(state.form, []).append(state.report)
    return latest


def _ticks(
    latest: Mapping[str, Sequence[Report]], items: Sequence[ChecklistItem]
) -> tuple[bool | None, ...]:
    """Whether the unit's latest report that answers each item ticks it (None: none does)."""
    ticks: list[bool | None] = []
    for item in items:
        tick = None
        if item.field is not None:
            for report in latest.get(item.field.form, ()):
                answer = report.values.get(item.field.field)
                if isinstance(answer, bool):
                    tick = answer
                    break
        ticks.append(tick)
    return tuple(ticks)


@dataclass(frozen=True)
class ToDo:
    """One line of a unit's to-do box: what is owed and where to file it."""

    obligation: Obligation
    form: Form
    period: Period
    href: str | None


def _to_do(site: Site, unit: Unit) -> list[ToDo]:
    """What the unit owes, most urgent first (builder.obligations.to_do)."""
    return [
        ToDo(
            item,
            site.forms[item.form],
            site.periods[item.period],
            form_link(site.options.forms_url, unit.id, item.form, item.period),
        )
        for item in to_do(site.unit_obligations(unit.id))
        if item.form in site.forms and item.period in site.periods
    ]


def _reporting_rows(
    site: Site,
    unit: Unit,
    history: History,
    obligations: Mapping[tuple[str, str, str], Obligation],
) -> list[str]:
    rows = []
    zone = site.plan.timezone
    for state, form, period in history:
        report = state.report
        href = form_link(site.options.forms_url, unit.id, state.form, state.period)
        row = site.fragments(
            "reporting_row",
            form.id,
            period.id,
            state.due,
            state.state,
            obligations[(unit.id, form.id, period.id)].state,
            report is not None,
            href is not None,
            UNIT_ID,
            SUBMITTED,
            BY,
            EVIDENCE,
            FORM_HREF,
        )
        rows.append(
            fill(
                row,
                submitted=local_minute_text(report.submitted_at, zone) if report else "—",
                by=submitter(report) if report else "—",
                evidence=site.fragments("evidence_list", report.evidence)
                if report and report.evidence
                else "—",
                form_href=href or "",
            )
        )
    return [fill("".join(rows), unit_id=unit.id)] if rows else []


def _report_details(site: Site, history: History) -> Markup:
    """Each report's values, field by field in form order (fields it has no value for left
    out; reports with none left out)."""
    details = []
    for state, form, period in history:
        report = state.report
        if report is None:
            continue
        rows = [
            site.fragments(
                "report_value_row",
                field.title or field.name,
                cell_value(field.type, report.values[field.name]),
            )
            for field in form.fields
            if field.name in report.values
        ]
        if rows:
            html = site.fragments("report_details", form.id, period.id, REPORT_ID, ROWS)
            details.append(fill(html, report_id=report.id, rows=Markup("".join(rows))))
    return Markup("\n".join(details))
