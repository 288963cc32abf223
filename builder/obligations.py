"""Reports as obligations: what each unit owes, by when, and the plan's reporting rates.

A unit x form x period is one obligation with one state. The site knows the approved
reports only (`builder.reporting`); the form service also knows which are in review or
returned, and lays them over with `with_submissions`. Everything here is pure: the
reporting states and a date in, obligations, counts, rates and colours out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from builder.model import Content, Escalation, Report, Status, Unit
from builder.reporting import ReportingState, submission_order

ObligationState = Literal[
    "not_due",  # its due date is more than `due_soon_days` away
    "due_soon",  # due within `due_soon_days`, nothing reported yet
    "in_review",  # submitted, waiting for a reviewer (the form service knows it)
    "returned",  # sent back for correction (the form service knows it)
    "on_time",  # approved, first submitted on or before its due date
    "late",  # approved, first submitted after its due date
    "missing",  # its due date has passed and nothing is approved or waiting
]

STATE_LABELS: Mapping[ObligationState, str] = {
    "not_due": "未到期",
    "due_soon": "即将到期",
    "in_review": "已提交，等待审核",
    "returned": "已退回，待更正",
    "on_time": "按时报送",
    "late": "逾期报送",
    "missing": "逾期未报",
}

# What a person must still do about it: these states are a to-do.
OWED: frozenset[ObligationState] = frozenset({"missing", "returned", "due_soon"})
REPORTED: frozenset[ObligationState] = frozenset({"on_time", "late"})

Colour = Literal["red", "yellow", "blue", "none"]

COLOUR_LABELS: Mapping[Colour, str] = {
    "red": "红色：有报表或指标已逾期",
    "yellow": "黄色：有指标进度滞后",
    "blue": "蓝色：有报表即将到期、尚未报送",
    "none": "无需督办",
}


@dataclass(frozen=True)
class Obligation:
    """One unit x form x period and what is owed on it as of a date."""

    unit: str
    form: str
    period: str
    due: date
    state: ObligationState
    report: Report | None  # the approved report that counts, if any
    days_to_due: int  # negative once the due date has passed
    reason: str = ""  # why it was returned, when it was (the form service sets it)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.unit, self.form, self.period)

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_to_due)

    @property
    def expected(self) -> bool:
        """Counted as expected by now: its due date has passed, or it is in already."""
        return self.days_to_due < 0 or self.state in REPORTED

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def obligation(reporting: ReportingState, as_of: date, escalation: Escalation) -> Obligation:
    """The obligation of one reporting state (approved reports only)."""
    days_to_due = (reporting.due - as_of).days
    state: ObligationState
    if reporting.state == "reported":
        state = "on_time"
    elif reporting.state == "late":
        state = "late"
    elif reporting.state == "missing":
        state = "missing"
    elif days_to_due <= escalation.due_soon_days:
        state = "due_soon"
    else:
        state = "not_due"
    return Obligation(
        reporting.unit,
        reporting.form,
        reporting.period,
        reporting.due,
        state,
        reporting.report,
        days_to_due,
    )


def unit_obligations(
    states: Iterable[ReportingState], as_of: date, escalation: Escalation
) -> tuple[Obligation, ...]:
    """One unit's obligations, in the order of its reporting states (form, then period)."""
    return tuple(obligation(state, as_of, escalation) for state in states)


Pending = Literal["in_review", "returned"]


def with_submissions(
    obligations: Iterable[Obligation], pending: Mapping[tuple[str, str, str], tuple[Pending, str]]
) -> tuple[Obligation, ...]:
    """The obligations with what the form service knows laid over: a slot with a submission
    waiting for review, or returned (with its reason), and no approved report yet."""
    laid: list[Obligation] = []
    for item in obligations:
        waiting = pending.get(item.key)
        if waiting is None or item.state in REPORTED:
            laid.append(item)
            continue
        state, reason = waiting
        laid.append(
            Obligation(
                item.unit, item.form, item.period, item.due, state, None, item.days_to_due, reason
            )
        )
    return tuple(laid)


@dataclass(frozen=True)
class ObligationCounts:
    """How a unit (or a group of units) stands on its reports."""

    expected: int  # due by now, or in already
    reported: int  # approved
    on_time: int
    missing: int  # past due, nothing approved or waiting
    due_soon: int
    in_review: int = 0
    returned: int = 0

    @property
    def reporting_rate(self) -> float | None:
        return self.reported / self.expected if self.expected else None

    @property
    def timeliness_rate(self) -> float | None:
        return self.on_time / self.expected if self.expected else None

    @property
    def summary(self) -> str:
        """The sentence every summary of a unit states:
        报表：应报 6 份，已报 4 份，逾期未报 2 份."""
        parts = [f"报表：应报 {self.expected} 份", f"已报 {self.reported} 份"]
        if self.in_review:
            parts.append(f"审核中 {self.in_review} 份")
        if self.returned:
            parts.append(f"退回待更正 {self.returned} 份")
        parts.append(f"逾期未报 {self.missing} 份")
        if self.due_soon:
            parts.append(f"即将到期 {self.due_soon} 份")
        return "，".join(parts)


def count(obligations: Iterable[Obligation]) -> ObligationCounts:
    expected = reported = on_time = missing = due_soon = in_review = returned = 0
    for item in obligations:
        expected += item.expected
        reported += item.state in REPORTED
        on_time += item.state == "on_time"
        missing += item.state == "missing"
        due_soon += item.state == "due_soon"
        in_review += item.state == "in_review"
        returned += item.state == "returned"
    return ObligationCounts(expected, reported, on_time, missing, due_soon, in_review, returned)


def to_do(obligations: Iterable[Obligation]) -> tuple[Obligation, ...]:
    """What a unit still has to do, most urgent first: overdue (longest overdue first),
    returned, then due soon (nearest first)."""
    order = {"missing": 0, "returned": 1, "due_soon": 2}
    owed = [item for item in obligations if item.state in OWED]
    return tuple(sorted(owed, key=lambda item: (order[item.state], item.days_to_due)))


def colour(obligations: Iterable[Obligation], indicator_statuses: Iterable[Status]) -> Colour:
    """The 督办 colour of a unit: red when a report or an indicator is overdue, yellow when an
    indicator is behind, blue when a report is due soon and not in, else none."""
    states = {item.state for item in obligations}
    statuses = set(indicator_statuses)
    if "missing" in states or Status.OVERDUE in statuses:
        return "red"
    if Status.BEHIND in statuses:
        return "yellow"
    if "due_soon" in states:
        return "blue"
    return "none"


def standing(indicator_status: Status, obligations: Iterable[Obligation]) -> Status:
    """The one status a summary of a unit shows: its indicators' roll-up, but overdue while
    a report is missing, so that no summary says "all fine" over a missing report."""
    if any(item.state == "missing" for item in obligations):
        return Status.OVERDUE
    return indicator_status


@dataclass(frozen=True)
class RateRow:
    """Reporting and timeliness for one group of obligations (a period, a unit type)."""

    key: str
    label: str
    counts: ObligationCounts


def rates_by(
    obligations: Sequence[Obligation],
    key_of: Mapping[str, str],
    labels: Mapping[str, str],
    by: Literal["period", "unit"],
) -> tuple[RateRow, ...]:
    """Counts per group, the groups in the order of `labels`. `by="period"` groups by the
    obligation's period (key_of unused); `by="unit"` groups units through key_of (unit id ->
    group, e.g. its type)."""
    grouped: dict[str, list[Obligation]] = {key: [] for key in labels}
    for item in obligations:
        group = item.period if by == "period" else key_of.get(item.unit, "")
        if group in grouped:
            grouped[group].append(item)
    return tuple(RateRow(key, labels[key], count(items)) for key, items in grouped.items())


@dataclass(frozen=True)
class Owing:
    """One line of a 催报名单: a unit that has not reported a period of a form."""

    unit: Unit
    obligation: Obligation


def owing(content: Content, obligations: Mapping[str, Sequence[Obligation]]) -> tuple[Owing, ...]:
    """Every missing report, by form and period (plan order), longest overdue unit first."""
    form_order = {form.id: n for n, form in enumerate(content.forms)}
    period_order = {period.id: n for n, period in enumerate(content.periods)}
    units = {unit.id: unit for unit in content.units}
    lines = [
        Owing(units[item.unit], item)
        for unit_items in obligations.values()
        for item in unit_items
        if item.state == "missing" and item.unit in units
    ]
    return tuple(
        sorted(
            lines,
            key=lambda line: (
                form_order.get(line.obligation.form, 0),
                period_order.get(line.obligation.period, 0),
                line.obligation.days_to_due,
                line.unit.id,
            ),
        )
    )


def plan_obligations(
    reporting_states: Mapping[str, Sequence[ReportingState]], as_of: date, escalation: Escalation
) -> dict[str, tuple[Obligation, ...]]:
    """Every unit's obligations (`Progress.reporting_states` as of its date)."""
    return {
        unit_id: unit_obligations(states, as_of, escalation)
        for unit_id, states in reporting_states.items()
    }


def with_reports_after(
    obligations: Iterable[Obligation], later: Iterable[Report]
) -> tuple[Obligation, ...]:
    """The obligations with approved reports submitted after their as-of date laid over.

    For the reporter's to-do (the form service's portal): a report approved today settles
    what the unit owes, even where figures are counted to an earlier date (a demo, an
    archived plan), which leaves such reports out. The slot is approved, on time or late
    by the first of them."""
    first: dict[tuple[str, str, str], Report] = {}
    for report in sorted(later, key=submission_order, reverse=True):
        first[report.key] = report
    laid: list[Obligation] = []
    for item in obligations:
        settled = first.get(item.key)
        if settled is None or item.state in REPORTED:
            laid.append(item)
            continue
        state: ObligationState = "late" if settled.submitted_at.date() > item.due else "on_time"
        laid.append(
            Obligation(
                item.unit, item.form, item.period, item.due, state, settled, item.days_to_due
            )
        )
    return tuple(laid)
