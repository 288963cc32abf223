"""Which reports count as of a date, and each unit x form x period's reporting state.

Only reports submitted on or before the as-of date count, and for each (unit, form,
period) the latest submission replaces the earlier ones (a correction). A period is
reported, late (first reported after its due date), missing (due date passed, nothing
reported) or open (not yet due).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from builder.model import Content, Report

ReportKey = tuple[str, str, str]  # (unit, form, period), as Report.key
State = Literal["reported", "late", "missing", "open"]


@dataclass(frozen=True)
class ReportingState:
    """One unit x form x period, for the report history and the portal."""

    unit: str
    form: str
    period: str
    due: date
    report: Report | None  # the effective one
    state: State  # reported | late | missing (due passed, none) | open (not yet due)


def _instant(moment: datetime) -> datetime:
    """A comparable instant. Reports carry an offset; a naive time is read as UTC so that
    mixing the two cannot raise in the middle of a build."""
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment  # aware datetimes compare by their instant, whatever their offset


def submission_order(report: Report) -> tuple[datetime, str]:
    """Later submissions sort last; on the same instant the larger id (ids start with the
    submission time, so the larger one is the later submission)."""
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
    report: the latest submission wins (see submission_order).
    """
    best: dict[ReportKey, Report] = {}
    for report in reports:
        if report.submitted_at.date() > as_of:
            continue
        known = best.get(report.key)
        if known is None or submission_order(report) > submission_order(known):
            best[report.key] = report
    return best


def reports_after(reports: Iterable[Report], as_of: date) -> dict[str, tuple[Report, ...]]:
    """The reports `effective_reports` leaves out as submitted after `as_of`, by unit, each
    unit's in submission order (then id). Approved all the same: the site lists them so that
    a report received after its date (an archived plan's end, the demo's day) is not silently
    missing, without counting it. Units with none are absent (the usual case: as_of = today)."""
    late = [report for report in reports if report.submitted_at.date() > as_of]
    by_unit: dict[str, list[Report]] = {}
    for report in sorted(late, key=submission_order):
        by_unit.setdefault(report.unit, []).append(report)
    return {unit: tuple(listed) for unit, listed in by_unit.items()}


def first_submissions(reports: Iterable[Report], as_of: date) -> dict[ReportKey, date]:
    """When each (unit, form, period) was first reported: a late correction of a report
    that came in on time does not make the unit late."""
    first: dict[ReportKey, Report] = {}
    for report in reports:
        if report.submitted_at.date() > as_of:
            continue
        known = first.get(report.key)
        if known is None or _instant(report.submitted_at) < _instant(known.submitted_at):
            first[report.key] = report
    return {key: report.submitted_at.date() for key, report in first.items()}


def reporting_states(
    content: Content,
    effective: Mapping[ReportKey, Report],
    first: Mapping[ReportKey, date],
    as_of: date,
) -> dict[str, tuple[ReportingState, ...]]:
    """Each unit's forms (those that apply to it) x their periods, in form then period order."""
    periods = {period.id: period for period in content.periods}
    states: dict[str, tuple[ReportingState, ...]] = {}
    for unit in content.units:
        unit_states = []
        for form in content.forms:
            if not form.applies_to.matches(unit):
                continue
            for period_id in form.periods:
                if period_id not in periods:
                    continue
                due = periods[period_id].due
                key = (unit.id, form.id, period_id)
                report = effective.get(key)
                state: State
                if report is not None:
                    state = "late" if first[key] > due else "reported"
                else:
                    state = "missing" if as_of > due else "open"
                unit_states.append(ReportingState(unit.id, form.id, period_id, due, report, state))
        states[unit.id] = tuple(unit_states)
    return states
