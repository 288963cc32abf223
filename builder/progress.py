"""Progress: one value and one status per unit x indicator, and their roll-ups.

Pure functions of (content, approved reports, as-of date). Every view of progress (pages,
tables, charts, exports, the form service's portal) reads it from here so that a unit is
never "met" on one page and "behind" on another.

The rules are documented for plan editors in `content/README.md`; in short:

* only reports submitted on or before the as-of date count, and for each
  (unit, form, period) the latest submission replaces the earlier ones (builder.reporting);
* the indicator's rule (builder.rules) combines those reports over the form's periods;
* the indicator's kind (builder.rules.kinds: cumulative, threshold, deadline) decides the
  status of the value; for every kind: not applicable -> met -> overdue -> not reported
  -> behind -> on track.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from builder.model import Content, Form, Indicator, Period, Report, Status, Task, Unit
from builder.reporting import (
    ReportingState,
    ReportKey,
    effective_reports,
    first_submissions,
    reporting_states,
    submission_order,
)
from builder.rules import RULES, Measured, UnitReports, Value
from builder.rules.kinds import KINDS, Kind, Timing

__all__ = [
    "SEVERITY",
    "IndicatorResult",
    "Progress",
    "Rollup",
    "applies",
    "evaluate",
    "evaluate_unit",
    "indicator_timing",
    "next_due",
    "replace_results",
    "rollup",
]

K = TypeVar("K")

# Roll-ups show the worst status of what they cover; first = worst.
SEVERITY: tuple[Status, ...] = (
    Status.OVERDUE,
    Status.NOT_REPORTED,
    Status.BEHIND,
    Status.ON_TRACK,
    Status.MET,
)
APPLICABLE_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s is not Status.NOT_APPLICABLE)


# --------------------------------------------------------------------------- results


class IndicatorResult(NamedTuple):
    """One unit on one indicator. An immutable record like the others here, but a NamedTuple:
    a build makes one per unit x indicator (76,000 at 2,000 units, in the page build and
    again in the export process), and a frozen dataclass costs four times as much to build
    (3.9 against 1 µs: its __init__ sets each field through object.__setattr__)."""

    unit: str
    task: str
    indicator: str
    value: Value  # ratios as fractions (1.0 = 100%)
    status: Status
    reports: tuple[str, ...]  # ids of the reports that fed the value
    expected: float | None = None  # value expected by now (pace), when a min target applies


@dataclass(frozen=True)
class Rollup:
    counts: Mapping[Status, int]  # applicable statuses only, every one present (0 when none)
    met: int
    applicable: int
    share: float | None  # met / applicable, None when nothing applies
    status: Status  # the worst applicable status; NOT_APPLICABLE when nothing applies
    not_applicable: int = 0  # results left out of `applicable`


def rollup(results: Iterable[IndicatorResult]) -> Rollup:
    """Counts, share met and worst status over any set of results."""
    counts = _no_counts()
    for result in results:
        counts[result.status] += 1
    return _rollup(counts)


def replace_results(
    before: Rollup, removed: Iterable[IndicatorResult], added: Iterable[IndicatorResult]
) -> Rollup:
    """A roll-up with some of the results it covered replaced by others (one unit's
    results before and after a report), without counting everything again."""
    counts = {**before.counts, Status.NOT_APPLICABLE: before.not_applicable}
    for result in removed:
        counts[result.status] -= 1
    for result in added:
        counts[result.status] += 1
    return _rollup(counts)


def _rollup(counts: Mapping[Status, int]) -> Rollup:
    by_status = {status: counts.get(status, 0) for status in APPLICABLE_STATUSES}
    applicable = sum(by_status.values())
    met = by_status[Status.MET]
    return Rollup(
        counts=MappingProxyType(by_status),
        met=met,
        applicable=applicable,
        share=met / applicable if applicable else None,
        status=next((s for s in SEVERITY if by_status[s]), Status.NOT_APPLICABLE),
        not_applicable=counts.get(Status.NOT_APPLICABLE, 0),
    )


# The roll-up of nothing: a unit x task cell without results (a task with no indicators).
NO_RESULTS = _rollup({})


# --------------------------------------------------------------------------- applicability


def _feeding_forms(task: Task, indicator: Indicator) -> tuple[str, ...]:
    """The forms whose reports an indicator reads; the task's forms when it names no field."""
    forms = tuple(dict.fromkeys(ref.form for ref in indicator.fields))
    return forms or task.forms


def _applies(task: Task, indicator: Indicator, unit: Unit, forms: Mapping[str, Form]) -> bool:
    if not task.applies_to.matches(unit) or not indicator.applies_to.matches(unit):
        return False
    feeding = _feeding_forms(task, indicator)
    # A unit that is never asked for the form can never report the indicator.
    return bool(feeding) and all(
        form_id in forms and forms[form_id].applies_to.matches(unit) for form_id in feeding
    )


def applies(content: Content, task: Task, indicator: Indicator, unit: Unit) -> bool:
    """Whether the indicator is measured for the unit at all."""
    return _applies(task, indicator, unit, {f.id: f for f in content.forms})


# --------------------------------------------------------------------------- status


def indicator_timing(content: Content, task: Task, indicator: Indicator) -> Timing:
    """The feeding reports' due dates the indicator's kind decides with (builder.rules.kinds)."""
    feeding = _feeding_forms(task, indicator)
    periods = {p.id: p for p in content.periods}
    fed_by = [
        periods[period_id]
        for form in content.forms
        if form.id in feeding
        for period_id in form.periods
        if period_id in periods
    ]
    carrying = [p for p in fed_by if p.end >= indicator.due]
    carrying_due = min(carrying, key=lambda p: (p.end, p.due)).due if carrying else indicator.due
    return Timing(
        plan_start=content.plan.start,
        first_report_due=min((p.due for p in fed_by), default=None),
        carrying_report_due=max(carrying_due, indicator.due),
    )


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True, eq=False)
class Progress:
    """Every result and roll-up as of one date. Built by `evaluate`; lookups are dict reads."""

    as_of: date
    effective: Mapping[ReportKey, Report]  # the reports that count, by (unit, form, period)
    # unit -> indicator -> result, units in registry order and indicators in plan order.
    results: Mapping[str, Mapping[str, IndicatorResult]] = field(repr=False)
    reporting_states: Mapping[str, tuple[ReportingState, ...]] = field(repr=False)
    task_rollups: Mapping[str, Rollup] = field(repr=False)
    category_rollups: Mapping[str, Rollup] = field(repr=False)
    unit_rollups: Mapping[str, Rollup] = field(repr=False)
    unit_task_rollups: Mapping[tuple[str, str], Rollup] = field(repr=False)
    plan: Rollup = field(repr=False)

    def result(self, unit_id: str, indicator_id: str) -> IndicatorResult:
        return self.results[unit_id][indicator_id]

    def for_unit(self, unit_id: str) -> list[IndicatorResult]:
        """Every indicator for the unit (not applicable ones included), in plan order."""
        return list(self.results[unit_id].values())

    def for_indicator(self, indicator_id: str) -> list[IndicatorResult]:
        """Every unit on the indicator (not applicable ones included), in registry order."""
        return [results[indicator_id] for results in self.results.values()]

    def unit_rollup(self, unit_id: str) -> Rollup:
        return self.unit_rollups[unit_id]

    def task_rollup(self, task_id: str) -> Rollup:
        return self.task_rollups[task_id]

    def unit_task_rollup(self, unit_id: str, task_id: str) -> Rollup:
        """One cell of the units x tasks matrix: the unit's results on the task."""
        if task_id not in self.task_rollups or unit_id not in self.results:
            raise KeyError((unit_id, task_id))
        return self.unit_task_rollups.get((unit_id, task_id), NO_RESULTS)

    def category_rollup(self, category_id: str) -> Rollup:
        return self.category_rollups[category_id]

    def plan_rollup(self) -> Rollup:
        return self.plan

    def overdue(self) -> list[IndicatorResult]:
        """Overdue results, unit by unit in registry order, indicators in plan order."""
        return [
            result
            for results in self.results.values()
            for result in results.values()
            if result.status is Status.OVERDUE
        ]

    def reporting(self, unit_id: str) -> list[ReportingState]:
        """The forms that apply to the unit x their periods, in form then period order."""
        return list(self.reporting_states[unit_id])


@dataclass(frozen=True)
class _Column:
    """One indicator of the plan, with what its results need besides the unit."""

    task: Task
    indicator: Indicator
    kind: Kind
    timing: Timing
    expected: float | None  # the value expected by now, when the kind pro-rates its target


def _columns(content: Content, as_of: date) -> list[_Column]:
    columns = []
    for task in content.tasks:
        for indicator in task.indicators:
            kind = KINDS[indicator.kind]
            timing = indicator_timing(content, task, indicator)
            expected = kind.expected(indicator, timing, as_of)
            columns.append(_Column(task, indicator, kind, timing, expected))
    return columns


def evaluate_unit(
    content: Content, unit: Unit, reports: Iterable[Report], as_of: date
) -> Mapping[str, IndicatorResult]:
    """One unit's results as `evaluate` gives them, from that unit's reports alone: a
    unit's results never depend on another unit's reports. What a single new report
    would change is computed with it without evaluating the whole plan again."""
    own = [report for report in reports if report.unit == unit.id]
    unit_reports = _reports_by_unit(content, effective_reports(own, as_of)).get(unit.id, {})
    forms = {form.id: form for form in content.forms}
    return MappingProxyType(
        {
            column.indicator.id: _result(
                column,
                unit,
                unit_reports,
                _applies(column.task, column.indicator, unit, forms),
                as_of,
            )
            for column in _columns(content, as_of)
        }
    )


def evaluate(content: Content, reports: Iterable[Report], as_of: date) -> Progress:
    """Compute every unit x indicator result, the roll-ups and reporting states as of a date."""
    reports = tuple(reports)
    effective = effective_reports(reports, as_of)
    by_unit = _reports_by_unit(content, effective)
    columns = _columns(content, as_of)
    forms = {form.id: form for form in content.forms}
    # Applicability depends on the unit's profile only (Unit.profile), and thousands of
    # units share a handful of those: it is decided once per profile.
    applicable: dict[tuple[str, frozenset[str]], list[bool]] = {}
    results: dict[str, Mapping[str, IndicatorResult]] = {}
    for unit in content.units:
        if unit.profile not in applicable:
            applicable[unit.profile] = [_applies(c.task, c.indicator, unit, forms) for c in columns]
        unit_reports = by_unit.get(unit.id, {})
        results[unit.id] = MappingProxyType(
            {
                column.indicator.id: _result(column, unit, unit_reports, applies_to_unit, as_of)
                for column, applies_to_unit in zip(columns, applicable[unit.profile], strict=True)
            }
        )
    first = first_submissions(reports, as_of)
    states = reporting_states(content, effective, first, as_of)
    return _progress(content, as_of, effective, results, states)


def _result(
    column: _Column, unit: Unit, reports: UnitReports, applies_to_unit: bool, as_of: date
) -> IndicatorResult:
    task_id, indicator = column.task.id, column.indicator
    if not applies_to_unit:
        return IndicatorResult(unit.id, task_id, indicator.id, None, Status.NOT_APPLICABLE, ())
    measured: Measured = RULES[indicator.rule].measure(indicator, unit, reports)
    if not measured.measurable:
        return IndicatorResult(
            unit.id, task_id, indicator.id, None, Status.NOT_APPLICABLE, measured.reports
        )
    status = column.kind.status(indicator, measured.value, column.timing, as_of)
    return IndicatorResult(
        unit.id,
        task_id,
        indicator.id,
        measured.value,
        status,
        measured.reports,
        column.expected,
    )


def _reports_by_unit(
    content: Content, effective: Mapping[ReportKey, Report]
) -> dict[str, dict[str, list[Report]]]:
    """Each unit's effective reports by form, each form's oldest period first (period end,
    then submission). A report for a period its form does not ask for feeds nothing."""
    period_ends = {period.id: period.end for period in content.periods}
    form_periods = {form.id: set(form.periods) for form in content.forms}
    grouped: dict[str, dict[str, list[Report]]] = {}
    for (unit_id, form_id, period_id), report in effective.items():
        if period_id in form_periods.get(form_id, ()) and period_id in period_ends:
            grouped.setdefault(unit_id, {}).setdefault(form_id, []).append(report)
    for by_form in grouped.values():
        for form_reports in by_form.values():
            form_reports.sort(key=lambda r: (period_ends[r.period], *submission_order(r)))
    return grouped


def _progress(
    content: Content,
    as_of: date,
    effective: Mapping[ReportKey, Report],
    results: Mapping[str, Mapping[str, IndicatorResult]],
    states: Mapping[str, tuple[ReportingState, ...]],
) -> Progress:
    """The roll-ups of every unit, task, unit x task cell, category and the plan."""
    by_unit = {unit_id: _no_counts() for unit_id in results}
    by_task = {task.id: _no_counts() for task in content.tasks}
    by_cell: dict[tuple[str, str], dict[Status, int]] = {}
    for unit_id, unit_results in results.items():
        for result in unit_results.values():
            by_unit[unit_id][result.status] += 1
            by_task[result.task][result.status] += 1
            cell = by_cell.get((unit_id, result.task))
            if cell is None:
                cell = by_cell[(unit_id, result.task)] = _no_counts()
            cell[result.status] += 1
    by_category = {category.id: _no_counts() for category in content.plan.categories}
    plan = _no_counts()
    for task in content.tasks:
        for status, count in by_task[task.id].items():
            plan[status] += count
            if task.category in by_category:
                by_category[task.category][status] += count
    return Progress(
        as_of=as_of,
        effective=MappingProxyType(effective),
        results=MappingProxyType(dict(results)),
        reporting_states=MappingProxyType(dict(states)),
        task_rollups=_rollups(by_task),
        category_rollups=_rollups(by_category),
        unit_rollups=_rollups(by_unit),
        unit_task_rollups=_rollups(by_cell),
        plan=_rollup(plan),
    )


STATUSES: tuple[Status, ...] = tuple(Status)


def _no_counts() -> dict[Status, int]:
    return dict.fromkeys(STATUSES, 0)


def _rollups(counts: Mapping[K, dict[Status, int]]) -> Mapping[K, Rollup]:
    """A roll-up per key. Thousands of units x tasks have the same few counts: those
    share one (immutable) Rollup."""
    shared: dict[tuple[int, ...], Rollup] = {}
    rollups: dict[K, Rollup] = {}
    for key, key_counts in counts.items():
        same = tuple(key_counts.values())
        if same not in shared:
            shared[same] = _rollup(key_counts)
        rollups[key] = shared[same]
    return MappingProxyType(rollups)


# --------------------------------------------------------------------------- calendar


def next_due(content: Content, as_of: date) -> Period | None:
    """The reporting period whose due date comes next, on or after `as_of`.

    Only periods some form asks reports for count; a calendar entry no form uses is not
    a deadline for anyone.
    """
    used = {period_id for form in content.forms for period_id in form.periods}
    upcoming = [
        (period.due, period.end, index, period)
        for index, period in enumerate(content.periods)
        if period.id in used and period.due >= as_of
    ]
    return min(upcoming, key=lambda item: item[:3])[3] if upcoming else None
