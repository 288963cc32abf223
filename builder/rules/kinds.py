"""Indicator kinds: how a unit's value on an indicator becomes a status as of a date.

A rule (builder.rules) says how reports combine into a value; the kind says what the
target means over time:

* `cumulative` (the default): an amount that grows towards the target by the due date.
  A `min` target is pro-rated: by now the share of it expected is the share of the time
  from the plan's start to the due date that has elapsed (see `expected_share`).
* `threshold`: a level to keep (a rate, coverage, "no incidents"). Met only while the
  latest value meets the target, behind as soon as it does not; never pro-rated.
* `deadline`: done by a date (a yes/no item, or the day it was done: rule done_on). Met
  once done (a day after the due date is done late, still met: the reason says so); "not
  yet due" (shown as on track) until the report that would carry the due date is itself
  due, overdue after.

Each kind is one object of `KINDS`; a rule lists the kinds it accepts (`Rule.kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from builder.model import Indicator, Status, Target
from builder.rules.base import Value

__all__ = ["DEFAULT_KIND", "KINDS", "Kind", "Timing", "expected_share"]


@dataclass(frozen=True)
class Timing:
    """The dates an indicator's status depends on, besides its own due date."""

    plan_start: date
    # The earliest due date of any report feeding the indicator; None when nothing feeds it.
    first_report_due: date | None
    # When the report covering the indicator's due date is itself due: the due date of the
    # earliest-ending feeding period that ends on or after it (the due date itself when no
    # period does). A unit cannot report an item due 06-30 before its Q2 report is due.
    carrying_report_due: date


def expected_share(indicator: Indicator, plan_start: date, as_of: date) -> float:
    """The share (0..1) of a cumulative target expected by `as_of`: the days elapsed since
    the plan's start over the days from the plan's start to the indicator's due date."""
    span = (indicator.due - plan_start).days
    if span <= 0:  # due on the first day: all of it is expected from then on
        return 1.0 if as_of >= indicator.due else 0.0
    return min(max((as_of - plan_start).days / span, 0.0), 1.0)


class Kind:
    """What a target means over time. Subclasses set `name` and `label` and decide the
    status of a value that does not (yet) meet the target."""

    name: ClassVar[str]
    label: ClassVar[str]  # the kind in Chinese, for plan editors and the status' details
    # Whether the kind needs a target (a tracked-only indicator has no deadline or level).
    needs_target: ClassVar[bool] = True

    def expected(self, indicator: Indicator, timing: Timing, as_of: date) -> float | None:
        """The value expected by now, when the kind pro-rates its target."""
        return None

    def status(self, indicator: Indicator, value: Value, timing: Timing, as_of: date) -> Status:
        raise NotImplementedError


def _met(target: Target | None, value: Value) -> bool:
    return target is not None and target.is_met(value)


def _missing(timing: Timing, as_of: date) -> Status:
    """No value: not reported once a feeding report was due, on track before."""
    due = timing.first_report_due
    return Status.NOT_REPORTED if due is None or as_of > due else Status.ON_TRACK


class Cumulative(Kind):
    name = "cumulative"
    label = "累计完成"
    needs_target = False

    def expected(self, indicator: Indicator, timing: Timing, as_of: date) -> float | None:
        target = indicator.target
        if target is None or target.minimum is None:
            return None
        return target.minimum * expected_share(indicator, timing.plan_start, as_of)

    def status(self, indicator: Indicator, value: Value, timing: Timing, as_of: date) -> Status:
        if _met(indicator.target, value):
            return Status.MET
        # A tracked-only indicator (no target) is never 已完成, nor late: reported, it is on
        # track whatever the date.
        if indicator.target is None and value is not None:
            return Status.ON_TRACK
        if as_of > indicator.due:
            return Status.OVERDUE
        if value is None:
            return _missing(timing, as_of)
        expected = self.expected(indicator, timing, as_of)
        if expected is not None and not isinstance(value, bool | date) and value < expected:
            return Status.BEHIND
        return Status.ON_TRACK


class Threshold(Kind):
    name = "threshold"
    label = "持续保持"

    def status(self, indicator: Indicator, value: Value, timing: Timing, as_of: date) -> Status:
        if _met(indicator.target, value):
            return Status.MET
        if as_of > indicator.due:
            return Status.OVERDUE
        if value is None:
            return _missing(timing, as_of)
        return Status.BEHIND  # a level to keep: below it is behind at once, whatever the date


class Deadline(Kind):
    name = "deadline"
    label = "限期完成"

    def status(self, indicator: Indicator, value: Value, timing: Timing, as_of: date) -> Status:
        if _met(indicator.target, value):
            return Status.MET
        if isinstance(value, date):
            # Done, after its date: 已完成, since nothing is left to do (a yes/no item done
            # late is the same); the status' reason says it was done late (逾期完成).
            return Status.MET
        if as_of > timing.carrying_report_due:
            return Status.OVERDUE
        return Status.ON_TRACK  # not yet due: nobody could have reported it late yet


DEFAULT_KIND = Cumulative.name
KINDS: dict[str, Kind] = {kind.name: kind for kind in (Cumulative(), Threshold(), Deadline())}
