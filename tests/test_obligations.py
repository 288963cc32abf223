"""builder.obligations: every unit x form x period is an obligation with one state, and no
summary says "all fine" while a report is missing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from builder.model import Escalation, Status
from builder.obligations import (
    colour,
    count,
    obligation,
    plan_obligations,
    standing,
    to_do,
    with_reports_after,
    with_submissions,
)
from builder.plan import load_content
from builder.progress import evaluate
from builder.reporting import ReportingState, State
from builder.reports import load_reports
from tests.factories import make_report

DUE = date(2022, 4, 10)
ESCALATION = Escalation(due_soon_days=14)


def slot(state: State, period: str = "Q1", due: date = DUE) -> ReportingState:
    report = None
    if state in ("reported", "late"):
        report = make_report("u1", period, {}, datetime(2022, 4, 1, tzinfo=UTC), form="qp")
    return ReportingState("u1", "qp", period, due, report, state)


@pytest.mark.parametrize(
    ("state", "as_of", "expected"),
    [
        ("open", date(2022, 3, 26), "not_due"),  # 15 days before: not yet blue
        ("open", date(2022, 3, 27), "due_soon"),  # 14 days before
        ("open", DUE, "due_soon"),  # on the due date it is still due, not missing
        ("missing", date(2022, 4, 11), "missing"),
        ("reported", date(2022, 4, 11), "on_time"),
        ("late", date(2022, 4, 11), "late"),
    ],
)
def test_an_obligation_state_follows_the_due_date_and_the_approved_report(
    state: State, as_of: date, expected: str
) -> None:
    assert obligation(slot(state), as_of, ESCALATION).state == expected


def test_a_missing_report_is_counted_and_coloured_red_even_when_every_indicator_is_fine() -> None:
    items = [
        obligation(slot("reported", "Q1"), date(2022, 10, 20), ESCALATION),
        obligation(slot("missing", "Q2", date(2022, 7, 15)), date(2022, 10, 20), ESCALATION),
        obligation(slot("open", "Q4", date(2023, 1, 10)), date(2022, 10, 20), ESCALATION),
    ]
    counts = count(items)
    assert (counts.expected, counts.reported, counts.missing) == (2, 1, 1)
    assert counts.summary == "报表：应报 2 份，已报 1 份，逾期未报 1 份"
    assert colour(items, [Status.ON_TRACK, Status.MET]) == "red"
    assert [item.period for item in to_do(items)] == ["Q2"]
    assert to_do(items)[0].days_overdue == 97


def test_colours_escalate_from_blue_to_yellow_to_red() -> None:
    soon = [obligation(slot("open"), date(2022, 4, 1), ESCALATION)]
    assert colour(soon, [Status.ON_TRACK]) == "blue"
    assert colour(soon, [Status.BEHIND]) == "yellow"
    assert colour(soon, [Status.OVERDUE]) == "red"
    assert colour([], [Status.MET]) == "none"


def test_the_form_service_lays_in_review_and_returned_over_what_the_site_knows() -> None:
    items = [
        obligation(slot("missing", "Q1"), date(2022, 5, 1), ESCALATION),
        obligation(slot("open", "Q2", date(2022, 5, 5)), date(2022, 5, 1), ESCALATION),
        obligation(slot("reported", "Q3"), date(2022, 5, 1), ESCALATION),
    ]
    laid = with_submissions(
        items,
        {
            ("u1", "qp", "Q1"): ("in_review", ""),
            ("u1", "qp", "Q2"): ("returned", "人数有误"),
            ("u1", "qp", "Q3"): ("in_review", ""),  # an approved report stays approved
        },
    )
    assert [item.state for item in laid] == ["in_review", "returned", "on_time"]
    assert to_do(laid)[0].reason == "人数有误"
    assert count(laid).summary == (
        "报表：应报 2 份，已报 1 份，审核中 1 份，退回待更正 1 份，逾期未报 0 份"
    )


def test_the_demo_has_units_with_missing_reports_and_each_is_in_its_to_do() -> None:
    root = Path(__file__).resolve().parents[1]
    content = load_content(root)
    reports = load_reports(root, content)
    progress = evaluate(content, reports, content.plan.end)
    obligations = plan_obligations(progress.reporting_states, progress.as_of, content.escalation)
    owing_units = [unit for unit, items in obligations.items() if count(items).missing]
    assert owing_units, "the demo is meant to show units that owe reports"
    for unit in owing_units:
        assert any(item.state == "missing" for item in to_do(obligations[unit]))


def test_a_report_approved_after_the_as_of_date_settles_the_slot_for_the_reporter() -> None:
    as_of = date(2022, 10, 20)  # a demo's fixed date; the report came in long after
    items = [
        obligation(slot("missing", "Q1"), as_of, ESCALATION),
        obligation(slot("open", "Q4", date(2023, 1, 10)), as_of, ESCALATION),
        obligation(slot("reported", "Q2"), as_of, ESCALATION),
    ]
    later = [
        make_report("u1", "Q1", {}, datetime(2026, 12, 7, tzinfo=UTC), form="qp"),
        make_report("u1", "Q1", {}, datetime(2026, 12, 9, tzinfo=UTC), form="qp"),
        make_report("u1", "Q4", {}, datetime(2022, 12, 1, tzinfo=UTC), form="qp"),
    ]
    laid = with_reports_after(items, later)
    assert [item.state for item in laid] == ["late", "on_time", "on_time"]
    assert laid[0].report is later[0]  # the first submission decides late or on time
    assert to_do(laid) == ()


def test_a_unit_standing_is_overdue_while_a_report_is_missing_whatever_its_indicators() -> None:
    missing = [obligation(slot("missing", "Q2", date(2022, 7, 15)), date(2022, 10, 20), ESCALATION)]
    reported = [obligation(slot("reported"), date(2022, 10, 20), ESCALATION)]
    assert standing(Status.ON_TRACK, missing) is Status.OVERDUE
    assert standing(Status.MET, missing) is Status.OVERDUE
    assert standing(Status.NOT_APPLICABLE, missing) is Status.OVERDUE
    assert standing(Status.ON_TRACK, reported) is Status.ON_TRACK
    assert standing(Status.BEHIND, []) is Status.BEHIND
