"""What approving one report will change: statuses before -> after, computed by the pure
core (builder.progress) from the approved reports plus that one report.

A unit's results depend on that unit's reports only, so the unit is evaluated again
(`evaluate_unit`) and the roll-ups that cover it (its own, its tasks', the plan's) are
adjusted by the difference; the whole plan is never evaluated twice. The result is the
same as `evaluate(content, reports + [report], as_of)` (tests/test_impact.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from builder.model import Content, Report
from builder.progress import IndicatorResult, Progress, Rollup, evaluate_unit, replace_results
from builder.reporting import submission_order

__all__ = ["Impact", "IndicatorChange", "RollupChange", "report_impact"]


@dataclass(frozen=True)
class IndicatorChange:
    """One unit x indicator whose value or status the report changes."""

    before: IndicatorResult
    after: IndicatorResult

    @property
    def status_changed(self) -> bool:
        return self.before.status is not self.after.status


@dataclass(frozen=True)
class RollupChange:
    """A roll-up (the unit's, a task's, the plan's) that the report changes."""

    scope: str  # "unit" | "task" | "plan"
    id: str  # the unit's or task's id, "" for the plan
    before: Rollup
    after: Rollup

    @property
    def status_changed(self) -> bool:
        return self.before.status is not self.after.status


@dataclass(frozen=True)
class Impact:
    counted: bool  # False: submitted after the as-of date, or older than the slot's latest
    indicators: tuple[IndicatorChange, ...]
    rollups: tuple[RollupChange, ...]

    @property
    def changes_anything(self) -> bool:
        return bool(self.indicators or self.rollups)


def _differs(before: Rollup, after: Rollup) -> bool:
    return (before.status, dict(before.counts), before.not_applicable) != (
        after.status,
        dict(after.counts),
        after.not_applicable,
    )


def report_impact(
    content: Content, before: Progress, unit_reports: Iterable[Report], report: Report
) -> Impact:
    """What `report` changes when it joins the approved reports `before` was evaluated
    from; `unit_reports` are those of them that belong to the report's unit."""
    unit = content.unit(report.unit)
    own = [r for r in unit_reports if r.unit == unit.id and r.id != report.id]
    current = before.effective.get(report.key)
    counted = report.submitted_at.date() <= before.as_of and (
        current is None or submission_order(report) > submission_order(current)
    )
    old = before.results[unit.id]
    new = evaluate_unit(content, unit, [*own, report], before.as_of)
    indicators = tuple(
        IndicatorChange(old[indicator], result)
        for indicator, result in new.items()
        if (result.status, result.value) != (old[indicator].status, old[indicator].value)
    )
    if not indicators:
        return Impact(counted, (), ())
    rollups: list[RollupChange] = []
    unit_after = replace_results(before.unit_rollup(unit.id), old.values(), new.values())
    if _differs(before.unit_rollup(unit.id), unit_after):
        rollups.append(RollupChange("unit", unit.id, before.unit_rollup(unit.id), unit_after))
    for task in content.tasks:
        removed = [r for r in old.values() if r.task == task.id]
        added = [r for r in new.values() if r.task == task.id]
        task_after = replace_results(before.task_rollup(task.id), removed, added)
        if _differs(before.task_rollup(task.id), task_after):
            rollups.append(RollupChange("task", task.id, before.task_rollup(task.id), task_after))
    plan_after = replace_results(before.plan_rollup(), old.values(), new.values())
    if _differs(before.plan_rollup(), plan_after):
        rollups.append(RollupChange("plan", "", before.plan_rollup(), plan_after))
    return Impact(counted, indicators, tuple(rollups))
