"""The progress rules: one value and one status per unit x indicator, and their roll-ups.

Pure functions of (content, approved reports, as-of date). Every view of progress (pages,
tables, charts, exports, the form service's portal) reads it from here so that a unit is
never "met" on one page and "behind" on another.

The rules are documented for plan editors in `content/README.md`; in short:

* only reports submitted on or before the as-of date count, and for each
  (unit, form, period) the latest submission replaces the earlier ones (a correction);
* `sum`, `latest`, `yes_no` and `ratio` combine those reports over the form's periods;
* the status is decided in this order: not applicable -> met -> overdue -> not reported
  -> behind (below the pace towards a minimum target) -> on track.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timezone
from types import MappingProxyType
from typing import Literal

from builder.gcpause import without_collection
from builder.model import (
    Content,
    FieldRef,
    Form,
    Indicator,
    Operand,
    Period,
    Report,
    Status,
    Task,
    Unit,
)

ReportKey = tuple[str, str, str]  # (unit, form, period), as Report.key
Value = float | bool | None
State = Literal["reported", "late", "missing", "open"]

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


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    unit: str
    task: str
    indicator: str
    value: Value  # ratios as fractions (1.0 = 100%)
    status: Status
    reports: tuple[str, ...]  # ids of the reports that fed the value
    expected: float | None = None  # value expected by now (pace), when a min target applies


_new = object.__new__
_set = object.__setattr__


def _result(
    unit: str,
    task: str,
    indicator: str,
    value: Value,
    status: Status,
    reports: tuple[str, ...],
    expected: float | None = None,
) -> IndicatorResult:
    """IndicatorResult(...) for evaluate()'s one result per unit x indicator, a sixth cheaper.

    A frozen dataclass' __init__ sets each field through `object.__setattr__` looked up
    anew for each field; this is the same with the function bound once. The result is the
    same object: frozen, equal, hashed and shown as one built by __init__
    (tests/test_progress_fast.py holds the two together).
    """
    result = _new(IndicatorResult)
    _set(result, "unit", unit)
    _set(result, "task", task)
    _set(result, "indicator", indicator)
    _set(result, "value", value)
    _set(result, "status", status)
    _set(result, "reports", reports)
    _set(result, "expected", expected)
    return result


@dataclass(frozen=True)
class Rollup:
    counts: Mapping[Status, int]  # applicable statuses only, every one present (0 when none)
    met: int
    applicable: int
    share: float | None  # met / applicable, None when nothing applies
    status: Status  # the worst applicable status; NOT_APPLICABLE when nothing applies
    not_applicable: int = 0  # results left out of `applicable`


@dataclass(frozen=True, slots=True)
class ReportingState:
    """One unit x form x period, for the report history and the portal."""

    unit: str
    form: str
    period: str
    due: date
    report: Report | None  # the effective one
    state: State  # reported | late | missing (due passed, none) | open (not yet due)


def rollup(results: Iterable[IndicatorResult]) -> Rollup:
    """Counts, share met and worst status over any set of results."""
    counts = _zero_counts()
    for result in results:
        counts[result.status._value_] += 1
    return _rollup_from_counts(counts)


# Counting is keyed by the status' string value: an Enum member hashes in Python code, a
# str in C, and evaluate() counts every one of (units x indicators) results four times.
# The values are read once here: `Status.value` is a Python-level property too; the
# hot loops read the member's `_value_` (enum's documented sunder attribute, what `value`
# returns) directly, a plain attribute read.
_STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in Status)
_APPLICABLE: tuple[tuple[Status, str], ...] = tuple((s, s.value) for s in APPLICABLE_STATUSES)
_SEVERITY: tuple[tuple[Status, str], ...] = tuple((s, s.value) for s in SEVERITY)
_MET = Status.MET.value
_NOT_APPLICABLE = Status.NOT_APPLICABLE.value


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(_STATUS_VALUES, 0)


def _rollup_from_counts(counts: Mapping[str, int]) -> Rollup:
    by_status = {s: counts[value] for s, value in _APPLICABLE}
    applicable = sum(by_status.values())
    met = counts[_MET]
    worst = next((s for s, value in _SEVERITY if counts[value]), Status.NOT_APPLICABLE)
    return Rollup(
        counts=MappingProxyType(by_status),
        met=met,
        applicable=applicable,
        share=met / applicable if applicable else None,
        status=worst,
        not_applicable=counts[_NOT_APPLICABLE],
    )


# --------------------------------------------------------------------------- reports


def _instant(moment: datetime) -> datetime:
    """A comparable instant. Reports carry an offset; a naive time is read as UTC so that
    mixing the two cannot raise in the middle of a build."""
    if type(moment.tzinfo) is timezone:
        # A fixed offset, as in every report read from a file: aware datetimes compare by
        # their instant already, so converting (a third of the cost of ordering
        # reports) changes no comparison.
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _order(report: Report) -> tuple[datetime, str]:
    return (_instant(report.submitted_at), report.id)


def progress_date(as_of: date | None, reports: Iterable[Report], today: date) -> date:
    """The date progress is counted to: `as_of` when one is configured, else today.

    "Today" is this machine's date, but a report carries its submitter's offset (the
    organisation's zone, +08:00 for the first plan), which can already be tomorrow on a
    server kept in UTC: from 00:00 to 08:00 in Beijing a report submitted "today" is dated
    tomorrow. Counting as of today must count every report there is, so a report dated
    later than `today` moves the date to its own.
    """
    if as_of is not None:
        return as_of
    return max([today, *(report.submitted_at.date() for report in reports)])


def effective_reports(reports: Iterable[Report], as_of: date) -> dict[ReportKey, Report]:
    """The report that counts for each (unit, form, period) as of a date.

    Reports submitted after `as_of` do not exist yet. A correction replaces the earlier
    report: the latest `submitted_at` wins, and on a tie the larger id (ids start with the
    submission time, so the larger one is the later submission).
    """
    best: dict[ReportKey, Report] = {}
    best_order: dict[ReportKey, tuple[datetime, str]] = {}
    for report in reports:
        if report.submitted_at.date() > as_of:
            continue
        key = report.key
        order = _order(report)
        if key not in best or order > best_order[key]:
            best[key] = report
            best_order[key] = order
    return best


def reports_after(reports: Iterable[Report], as_of: date) -> dict[str, tuple[Report, ...]]:
    """The reports `effective_reports` leaves out as submitted after `as_of`, by unit, each
    unit's in submission order (then id). Approved all the same: the site lists them so that
    a report received after its date (an archived plan's end, the demo's day) is not silently
    missing, without counting it. Units with none are absent (the usual case: as_of = today)."""
    late = [report for report in reports if report.submitted_at.date() > as_of]
    by_unit: dict[str, list[Report]] = {}
    for report in sorted(late, key=_order):
        by_unit.setdefault(report.unit, []).append(report)
    return {unit: tuple(listed) for unit, listed in by_unit.items()}


def _first_submissions(reports: Iterable[Report], as_of: date) -> dict[ReportKey, date]:
    """When each (unit, form, period) was first reported: a late correction of a report
    that came in on time does not make the unit late."""
    first: dict[ReportKey, tuple[datetime, date]] = {}
    for report in reports:
        if report.submitted_at.date() > as_of:
            continue
        instant = _instant(report.submitted_at)
        known = first.get(report.key)
        if known is None or instant < known[0]:
            first[report.key] = (instant, report.submitted_at.date())
    return {key: day for key, (_, day) in first.items()}


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


def _first_report_due(content: Content, task: Task, indicator: Indicator) -> date | None:
    """The earliest due date of any period of a form that feeds the indicator."""
    periods = {p.id: p for p in content.periods}
    dues = [
        periods[period_id].due
        for form in content.forms
        if form.id in _feeding_forms(task, indicator)
        for period_id in form.periods
        if period_id in periods
    ]
    return min(dues, default=None)


def applies(content: Content, task: Task, indicator: Indicator, unit: Unit) -> bool:
    """Whether the indicator is measured for the unit at all."""
    return _applies(task, indicator, unit, {f.id: f for f in content.forms})


# --------------------------------------------------------------------------- values


# A tuple rather than `int | float`: the union would be built anew on every call, and
# these checks run for every value read (tens of thousands per build).
_NUMBER_TYPES = (int, float)


def _number(value: object) -> float | None:
    """A numeric report value; anything else (text, a missing value, NaN) is no value."""
    if isinstance(value, _NUMBER_TYPES) and not (isinstance(value, float) and math.isnan(value)):
        return value
    return None


# One unit's effective reports of one form, oldest period first (period end, then
# submission time): sum reads all of them, latest reads from the end.
UnitForm = list[Report]


def _sum(reports: UnitForm, name: str) -> tuple[Value, tuple[str, ...]]:
    total: float = 0
    fed: list[str] = []
    for report in reports:
        number = _number(report.values.get(name))
        if number is not None:
            total += number
            fed.append(report.id)
    return (total, tuple(fed)) if fed else (None, ())


def _latest(reports: UnitForm, name: str, booleans: bool) -> tuple[Value, tuple[str, ...]]:
    for report in reversed(reports):
        raw = report.values.get(name)
        value = (raw if isinstance(raw, bool) else None) if booleans else _number(raw)
        if value is not None:
            return value, (report.id,)
    return None, ()


def _field(
    by_form: Mapping[str, UnitForm], ref: FieldRef, combine: str, booleans: bool = False
) -> tuple[Value, tuple[str, ...]]:
    reports = by_form.get(ref.form, [])
    if combine == "sum":
        return _sum(reports, ref.field)
    return _latest(reports, ref.field, booleans)


def _operand(
    operand: Operand | None, unit: Unit, by_form: Mapping[str, UnitForm]
) -> tuple[float | None, tuple[str, ...]]:
    if operand is None:
        return None, ()
    if operand.unit_attribute is not None:
        return _number(unit.attributes.get(operand.unit_attribute)), ()
    if operand.field is None:
        return None, ()
    value, fed = _field(by_form, operand.field, operand.combine)
    return (None if isinstance(value, bool) else value), fed


# (value, ids of the reports it came from, nothing to measure: a ratio over a denominator
# of 0). A plain tuple: one is built for each of (units x indicators) results, and a frozen
# dataclass costs ten times as much to build.
_Measured = tuple[Value, tuple[str, ...], bool]


def _value(indicator: Indicator, unit: Unit, by_form: Mapping[str, UnitForm]) -> _Measured:
    if indicator.rule == "ratio":
        denominator, fed_d = _operand(indicator.denominator, unit, by_form)
        if denominator == 0:
            return None, fed_d, True
        numerator, fed_n = _operand(indicator.numerator, unit, by_form)
        fed = tuple(dict.fromkeys(fed_n + fed_d))
        if numerator is None or denominator is None:
            return None, fed, False
        return numerator / denominator, fed, False
    ref = indicator.field
    if ref is None:
        return None, (), False
    reports = by_form.get(ref.form)
    if not reports:  # the common "not reported yet": no value, from no report
        return None, (), False
    if indicator.rule == "sum":
        return (*_sum(reports, ref.field), False)
    return (*_latest(reports, ref.field, indicator.rule == "yes_no"), False)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class _Pace:
    """What depends on the indicator and the as-of date only, computed once per indicator."""

    overdue: bool
    expected: float | None  # minimum x elapsed share of the time to the due date
    # Whether a report feeding the indicator was due by now. Until then a missing report
    # is not a shortfall: an indicator fed only by the year-end form is on track in October.
    report_due: bool = True


def _pace(
    indicator: Indicator, plan_start: date, as_of: date, first_report_due: date | None = None
) -> _Pace:
    expected = None
    target = indicator.target
    if target is not None and target.minimum is not None:
        span = (indicator.due - plan_start).days
        if span > 0:
            elapsed = min(max((as_of - plan_start).days / span, 0.0), 1.0)
        else:  # due on the first day: all of it is expected from then on
            elapsed = 1.0 if as_of >= indicator.due else 0.0
        expected = target.minimum * elapsed
    report_due = first_report_due is None or as_of > first_report_due
    return _Pace(overdue=as_of > indicator.due, expected=expected, report_due=report_due)


def _status(indicator: Indicator, value: Value, pace: _Pace) -> Status:
    """Decide in the documented order; NOT_APPLICABLE is decided before this is called."""
    target = indicator.target
    # A value exists only when some report (or, for a ratio, a unit attribute) gave one.
    reported = value is not None
    if target is None:
        if reported:
            return Status.MET
    elif target.is_met(value):
        return Status.MET
    if pace.overdue:
        return Status.OVERDUE
    if not reported:
        return Status.NOT_REPORTED if pace.report_due else Status.ON_TRACK
    if (
        pace.expected is not None
        and not isinstance(value, bool)
        and isinstance(value, _NUMBER_TYPES)
        and value < pace.expected
    ):
        return Status.BEHIND
    return Status.ON_TRACK


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True, eq=False)
class Progress:
    """Every result and roll-up as of one date. Built by `evaluate`; lookups are dict reads."""

    as_of: date
    effective: Mapping[ReportKey, Report]  # the reports that count, by (unit, form, period)
    # unit -> indicator -> result: no (unit, indicator) key tuple to build per result.
    _results: Mapping[str, Mapping[str, IndicatorResult]] = field(repr=False)
    _by_unit: Mapping[str, tuple[IndicatorResult, ...]] = field(repr=False)
    _by_indicator: Mapping[str, tuple[IndicatorResult, ...]] = field(repr=False)
    _unit_rollups: Mapping[str, Rollup] = field(repr=False)
    _task_rollups: Mapping[str, Rollup] = field(repr=False)
    _category_rollups: Mapping[str, Rollup] = field(repr=False)
    _plan_rollup: Rollup = field(repr=False)
    _overdue: tuple[IndicatorResult, ...] = field(repr=False)
    _reporting: Mapping[str, tuple[ReportingState, ...]] = field(repr=False)
    # Filled on the first unit_task_rollup call: the matrix and the task pages ask for
    # every cell, and one pass over all results is far cheaper than one sum per cell.
    # Not an __init__ argument, so that dataclasses.replace starts a new one.
    _unit_task_rollups: dict[tuple[str, str], Rollup] = field(
        default_factory=dict, init=False, repr=False
    )

    def result(self, unit_id: str, indicator_id: str) -> IndicatorResult:
        return self._results[unit_id][indicator_id]

    def for_unit(self, unit_id: str) -> list[IndicatorResult]:
        """Every indicator for the unit (not applicable ones included), in plan order."""
        return list(self._by_unit[unit_id])

    def for_indicator(self, indicator_id: str) -> list[IndicatorResult]:
        """Every unit on the indicator (not applicable ones included), in registry order."""
        return list(self._by_indicator[indicator_id])

    def unit_rollup(self, unit_id: str) -> Rollup:
        return self._unit_rollups[unit_id]

    def task_rollup(self, task_id: str) -> Rollup:
        return self._task_rollups[task_id]

    def unit_task_rollup(self, unit_id: str, task_id: str) -> Rollup:
        """One cell of the units x tasks matrix: the unit's results on the task."""
        if task_id not in self._task_rollups:
            raise KeyError(task_id)
        cells = self._unit_task_rollups
        if not cells:
            cells.update(_unit_task_rollups(self._by_unit))
        item = cells.get((unit_id, task_id))
        if item is None:  # a task without indicators, or a unit not evaluated (KeyError)
            item = rollup(r for r in self._by_unit[unit_id] if r.task == task_id)
        return item

    def category_rollup(self, category_id: str) -> Rollup:
        return self._category_rollups[category_id]

    def plan_rollup(self) -> Rollup:
        return self._plan_rollup

    def overdue(self) -> list[IndicatorResult]:
        """Overdue results, unit by unit in registry order, indicators in plan order."""
        return list(self._overdue)

    def reporting(self, unit_id: str) -> list[ReportingState]:
        """The forms that apply to the unit x their periods, in form then period order."""
        return list(self._reporting[unit_id])


def _unit_task_rollups(
    by_unit: Mapping[str, tuple[IndicatorResult, ...]],
) -> dict[tuple[str, str], Rollup]:
    """Every unit x task roll-up in one pass. Thousands of cells have the same few counts,
    so they share one (immutable) Rollup per distinct count instead of building their own."""
    shared: dict[tuple[int, ...], Rollup] = {}
    cells: dict[tuple[str, str], Rollup] = {}
    for unit_id, results in by_unit.items():
        per_task: dict[str, dict[str, int]] = {}
        for result in results:
            counts = per_task.get(result.task)
            if counts is None:
                counts = per_task[result.task] = _zero_counts()
            counts[result.status._value_] += 1
        for task_id, counts in per_task.items():
            key = tuple(counts.values())
            item = shared.get(key)
            if item is None:
                item = shared[key] = _rollup_from_counts(counts)
            cells[(unit_id, task_id)] = item
    return cells


def _group_by_unit_form(
    effective: Mapping[ReportKey, Report],
    forms: Mapping[str, Form],
    period_ends: Mapping[str, date],
) -> dict[str, dict[str, UnitForm]]:
    """Index the reports by unit once, so evaluating a unit reads only its own reports."""
    grouped: dict[str, dict[str, UnitForm]] = {}
    form_periods = {form_id: set(form.periods) for form_id, form in forms.items()}
    for (unit_id, form_id, period_id), report in effective.items():
        if period_id not in form_periods.get(form_id, ()) or period_id not in period_ends:
            continue  # a report for a period its form does not ask for feeds nothing
        grouped.setdefault(unit_id, {}).setdefault(form_id, []).append(report)
    for by_form in grouped.values():
        for reports in by_form.values():
            reports.sort(key=lambda r: (period_ends[r.period], *_order(r)))
    return grouped


# A form and its periods (id, due date), in the content's order; built once per evaluate().
_FormCalendar = tuple[Form, tuple[tuple[str, date], ...]]


def _reporting_states(
    unit: Unit,
    calendar: Iterable[_FormCalendar],
    effective: Mapping[ReportKey, Report],
    first: Mapping[ReportKey, date],
    as_of: date,
) -> tuple[ReportingState, ...]:
    states: list[ReportingState] = []
    unit_id = unit.id
    for form, periods in calendar:
        if not form.applies_to.matches(unit):
            continue
        form_id = form.id
        for period_id, due in periods:
            key = (unit_id, form_id, period_id)
            report = effective.get(key)
            state: State
            if report is not None:
                state = "late" if first[key] > due else "reported"
            else:
                state = "missing" if as_of > due else "open"
            states.append(ReportingState(unit_id, form_id, period_id, due, report, state))
    return tuple(states)


@without_collection
def evaluate(content: Content, reports: Iterable[Report], as_of: date) -> Progress:
    """Compute every unit x indicator result, the roll-ups and reporting states as of a date."""
    reports = tuple(reports)
    effective = effective_reports(reports, as_of)
    first = _first_submissions(reports, as_of)
    forms = {f.id: f for f in content.forms}
    periods = {p.id: p for p in content.periods}
    grouped = _group_by_unit_form(effective, forms, {p.id: p.end for p in periods.values()})
    calendar = [
        (form, tuple((p, periods[p].due) for p in form.periods if p in periods))
        for form in content.forms
    ]

    indicators = [(task, ind) for task in content.tasks for ind in task.indicators]
    paces = [
        _pace(ind, content.plan.start, as_of, _first_report_due(content, task, ind))
        for task, ind in indicators
    ]
    # Applicability depends on the unit's profile only (Unit.profile), and
    # thousands of units share a handful of those: decide once per combination.
    applicability: dict[tuple[str, frozenset[str]], tuple[bool, ...]] = {}

    unit_counts = {unit.id: _zero_counts() for unit in content.units}
    task_counts = {task.id: _zero_counts() for task in content.tasks}
    category_counts = {c.id: _zero_counts() for c in content.plan.categories}
    plan_counts = _zero_counts()
    no_category = _zero_counts()  # guarantees, and tasks of an unknown category
    category_of = {
        task.id: category_counts.get(task.category or "", no_category) for task in content.tasks
    }

    results: dict[str, Mapping[str, IndicatorResult]] = {}
    by_unit: dict[str, tuple[IndicatorResult, ...]] = {}
    by_indicator: dict[str, list[IndicatorResult]] = {ind.id: [] for _, ind in indicators}
    overdue: list[IndicatorResult] = []
    empty: dict[str, UnitForm] = {}
    # What the inner loop needs of each indicator, looked up once instead of once per unit.
    columns = [
        (task.id, indicator, indicator.id, pace, task_counts[task.id], by_indicator[indicator.id])
        for (task, indicator), pace in zip(indicators, paces, strict=True)
    ]

    for unit in content.units:
        unit_id = unit.id
        by_form = grouped.get(unit_id, empty)
        profile = unit.profile
        if profile not in applicability:
            applicability[profile] = tuple(_applies(t, i, unit, forms) for t, i in indicators)
        unit_results: list[IndicatorResult] = []
        unit_by_indicator: dict[str, IndicatorResult] = {}
        counts = unit_counts[unit_id]
        for (task_id, indicator, indicator_id, pace, task_count, column), applicable in zip(
            columns, applicability[profile], strict=True
        ):
            if not applicable:
                result = _result(unit_id, task_id, indicator_id, None, Status.NOT_APPLICABLE, ())
            else:
                value, fed, nothing_to_measure = _value(indicator, unit, by_form)
                if nothing_to_measure:
                    result = _result(
                        unit_id, task_id, indicator_id, None, Status.NOT_APPLICABLE, fed
                    )
                else:
                    result = _result(
                        unit_id,
                        task_id,
                        indicator_id,
                        value,
                        _status(indicator, value, pace),
                        fed,
                        pace.expected,
                    )
            unit_by_indicator[indicator_id] = result
            unit_results.append(result)
            column.append(result)
            status = result.status
            key = status._value_
            counts[key] += 1
            task_count[key] += 1
            if status is Status.OVERDUE:
                overdue.append(result)
        by_unit[unit_id] = tuple(unit_results)
        results[unit_id] = MappingProxyType(unit_by_indicator)
    # Every result belongs to one task: the plan's and the categories' counts are sums of
    # the tasks' (19 x 6 additions instead of two more per result).
    for task_id, counts in task_counts.items():
        category = category_of[task_id]
        for key, count in counts.items():
            plan_counts[key] += count
            category[key] += count

    return Progress(
        as_of=as_of,
        effective=MappingProxyType(effective),
        _results=MappingProxyType(results),
        _by_unit=MappingProxyType(by_unit),
        _by_indicator=MappingProxyType({k: tuple(v) for k, v in by_indicator.items()}),
        _unit_rollups=MappingProxyType({k: _rollup_from_counts(v) for k, v in unit_counts.items()}),
        _task_rollups=MappingProxyType({k: _rollup_from_counts(v) for k, v in task_counts.items()}),
        _category_rollups=MappingProxyType(
            {k: _rollup_from_counts(v) for k, v in category_counts.items()}
        ),
        _plan_rollup=_rollup_from_counts(plan_counts),
        _overdue=tuple(overdue),
        _reporting=MappingProxyType(
            {
                unit.id: _reporting_states(unit, calendar, effective, first, as_of)
                for unit in content.units
            }
        ),
    )


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


# --------------------------------------------------------------------------- display


def _plain_number(number: float, decimals: int) -> str:
    text = f"{number:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_value(indicator: Indicator, value: Value) -> str:
    """The value as shown to users: "85%", "3 次", "是"/"否", "—" when there is none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if indicator.rule == "ratio":
        return f"{_plain_number(value * 100, 1)}%"
    text = _plain_number(value, 2)
    return f"{text} {indicator.measure}" if indicator.measure else text
