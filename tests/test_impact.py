"""What approving one report will change (builder.impact): the unit x indicator results
and the roll-ups that change, exactly as evaluating everything again would give them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from builder.impact import report_impact
from builder.model import Content, Report
from builder.plan import load_content
from builder.progress import evaluate
from builder.reports import load_reports, report_from_document
from builder.synthetic import generate_reports

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"
AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def plan() -> tuple[Content, list[Report]]:
    content = load_content(FIXTURE)
    return content, load_reports(FIXTURE, content)


def inspection(report_id: str, when: str, **values: object) -> Report:
    return report_from_document(
        {
            "id": report_id,
            "form": "inspection",
            "period": "2025-T1",
            "unit": "dongfeng-ps",
            "submitted_at": when,
            "submitted_by": {"account": "dongfeng", "name": "王老师"},
            "values": {
                "inspected_on": "2025-07-08",
                "extinguishers_checked": 64,
                "hazards_found": 3,
                "hazards_fixed": 3,
                "exits_clear": True,
                "night_patrol": True,
                "responsibility_signed": True,
                "rating": "合格",
                **values,
            },
        }
    )


def assert_same_as_evaluating_again(
    content: Content, reports: list[Report], report: Report
) -> None:
    before = evaluate(content, reports, AS_OF)
    unit_reports = [r for r in reports if r.unit == report.unit]
    impact = report_impact(content, before, unit_reports, report)
    again = evaluate(content, [*reports, report], AS_OF)

    changed = {(c.after.unit, c.after.indicator): c for c in impact.indicators}
    for unit_results in again.results.values():
        for result in unit_results.values():
            change = changed.get((result.unit, result.indicator))
            old = before.result(result.unit, result.indicator)
            if change:
                assert (change.before, change.after) == (old, result)
            else:  # the same figure (fed perhaps by another report of the same values)
                assert (old.status, old.value) == (result.status, result.value)
    rollups = {(c.scope, c.id): c.after for c in impact.rollups}
    for unit in content.units:
        expected = again.unit_rollup(unit.id)
        assert rollups.get(("unit", unit.id), before.unit_rollup(unit.id)) == expected
    for task in content.tasks:
        expected = again.task_rollup(task.id)
        assert rollups.get(("task", task.id), before.task_rollup(task.id)) == expected
    assert rollups.get(("plan", ""), before.plan_rollup()) == again.plan_rollup()


def test_a_correction_changes_exactly_what_evaluating_again_changes(plan) -> None:
    content, reports = plan
    correction = inspection("20250716090000-0000aaaa", "2025-07-16T09:00:00+08:00")
    correction = replace(correction, values={**correction.values, "extinguishers_checked": 10})

    before = evaluate(content, reports, AS_OF)
    impact = report_impact(content, before, reports, correction)

    assert impact.counted and impact.indicators
    assert any(change.status_changed for change in impact.indicators)
    assert_same_as_evaluating_again(content, reports, correction)


def test_a_report_that_changes_no_figure_changes_nothing(plan) -> None:
    content, reports = plan
    current = next(r for r in reports if r.id == "20250715083000-b71c04d2")
    same = replace(
        current,
        id="20250716090000-0000bbbb",
        submitted_at=datetime.fromisoformat("2025-07-16T09:00:00+08:00"),
    )

    impact = report_impact(content, evaluate(content, reports, AS_OF), reports, same)

    assert (impact.counted, impact.indicators, impact.rollups) == (True, (), ())


def test_a_report_after_the_as_of_date_is_not_counted_and_changes_nothing(plan) -> None:
    content, reports = plan
    late = inspection("20260116090000-0000cccc", "2026-01-16T09:00:00+08:00", hazards_fixed=0)

    impact = report_impact(content, evaluate(content, reports, AS_OF), reports, late)

    assert not impact.counted and not impact.changes_anything


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_new_report_matches_a_full_evaluation(plan, seed: int) -> None:
    """Synthetic reports of every form for every unit, each added to the plan's own."""
    content, reports = plan
    periods = [p.id for p in content.periods]
    for document in generate_reports(content, periods, seed, as_of=AS_OF):
        report = report_from_document(document)
        assert_same_as_evaluating_again(content, reports, report)
