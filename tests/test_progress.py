"""The progress rules: how approved reports become a value and a status per unit x indicator.

Every test builds its own small plan in code (not the repository's content) so that the
rules are specified independently of any particular plan.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.model import (
    ALL_UNITS,
    AppliesTo,
    Category,
    Content,
    FieldRef,
    Form,
    FormField,
    Indicator,
    Operand,
    Period,
    Report,
    Status,
    Target,
    Task,
    Unit,
    UnitType,
)
from builder.plan import load_content
from builder.progress import IndicatorResult, applies, evaluate, next_due, rollup
from builder.reporting import effective_reports, progress_date, reports_after
from builder.reports import load_reports
from builder.rules import format_value
from tests.factories import make_form, make_period, make_plan, make_report
from tests.fixtures import SCHOOL_SAFETY

CST = timezone(timedelta(hours=8))
FORM = "qp"

# ------------------------------------------------------------------ building a plan in code


QUARTERS = (
    make_period("Q1", "2022-01-01", "2022-03-31", "2022-04-10"),
    make_period("Q2", "2022-04-01", "2022-06-30", "2022-07-10"),
    make_period("Q3", "2022-07-01", "2022-09-30", "2022-10-10"),
    make_period("Q4", "2022-10-01", "2022-12-31", "2023-01-10"),
)
ANNUAL = make_period("Y", "2022-01-01", "2022-12-31", "2023-01-15")


def field(name: str, kind: str = "integer") -> FormField:
    return FormField(name=name, type=kind, title=name)


def form(
    fid: str = FORM,
    periods: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4"),
    applies_to: AppliesTo = ALL_UNITS,
) -> Form:
    fields = (field("count"), field("total"), field("flag", "boolean"), field("level", "number"))
    return make_form(fid, fields, periods, applies_to=applies_to)


def ref(name: str, fid: str = FORM) -> FieldRef:
    return FieldRef(fid, name)


def indicator(
    iid: str,
    rule: str = "sum",
    *,
    task: str = "t1",
    field_name: str | None = "count",
    due: str = "2022-12-31",
    target: Target | None = None,
    numerator: Operand | None = None,
    denominator: Operand | None = None,
    applies_to: AppliesTo = ALL_UNITS,
    measure: str = "",
    fid: str = FORM,
    kind: str = "cumulative",
) -> Indicator:
    return Indicator(
        id=iid,
        task_id=task,
        title=iid,
        rule=rule,  # type: ignore[arg-type]
        due=date.fromisoformat(due),
        field=ref(field_name, fid) if field_name and rule != "ratio" else None,
        numerator=numerator,
        denominator=denominator,
        target=target,
        measure=measure,
        applies_to=applies_to,
        kind=kind,
    )


def task(
    tid: str,
    *indicators: Indicator,
    category: str | None = "c1",
    applies_to: AppliesTo = ALL_UNITS,
    forms: tuple[str, ...] = (FORM,),
) -> Task:
    return Task(
        id=tid,
        number=int("".join(ch for ch in tid if ch.isdigit()) or 0),
        title=tid,
        body="",
        kind="task" if category else "guarantee",
        category=category,
        applies_to=applies_to,
        forms=forms,
        indicators=tuple(replace(i, task_id=tid) for i in indicators),
    )


def unit(
    uid: str,
    kind: str = "organ",
    flags: dict[str, bool] | None = None,
    attributes: dict[str, int] | None = None,
) -> Unit:
    return Unit(uid, uid, kind, flags or {}, attributes or {})


def content(
    tasks: tuple[Task, ...],
    units: tuple[Unit, ...] = (),
    forms: tuple[Form, ...] | None = None,
    periods: tuple[Period, ...] = (*QUARTERS, ANNUAL),
) -> Content:
    plan = make_plan(
        unit_types=(UnitType("organ", "机关"), UnitType("soe", "国有企业")),
        categories=(
            Category("c1", "一", "c1"),
            Category("c2", "二", "c2"),
            Category("c3", "三", "c3"),
        ),
    )
    return Content(plan, tasks, units or (unit("u1"),), periods, forms or (form(),))


def report(
    uid: str,
    pid: str,
    values: dict[str, object],
    submitted: str = "2022-04-05T10:00:00",
    *,
    rid: str | None = None,
    fid: str = FORM,
) -> Report:
    moment = datetime.fromisoformat(submitted).replace(tzinfo=CST)
    return make_report(uid, pid, values, moment, form=fid, rid=rid or "")


def one(
    c: Content, reports: list[Report], as_of: str, iid: str = "i1", uid: str = "u1"
) -> IndicatorResult:
    return evaluate(c, reports, date.fromisoformat(as_of)).result(uid, iid)


# ------------------------------------------------------------------ effective reports


def test_reports_submitted_after_the_as_of_date_do_not_exist_yet() -> None:
    early = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    late = report("u1", "Q2", {"count": 1}, "2022-07-05T10:00:00")
    assert list(effective_reports([early, late], date(2022, 7, 4)).values()) == [early]
    assert len(effective_reports([early, late], date(2022, 7, 5))) == 2


def test_the_as_of_day_is_the_report_s_own_calendar_day() -> None:
    # 23:30 in China on 4 July is 15:30 UTC on 4 July, and still 4 July for the unit.
    r = report("u1", "Q1", {"count": 1}, "2022-07-04T23:30:00")
    assert effective_reports([r], date(2022, 7, 4)) == {("u1", FORM, "Q1"): r}


def test_a_configured_as_of_date_is_the_date_progress_counts_to() -> None:
    late = report("u1", "Q2", {"count": 1}, "2022-07-05T10:00:00")
    assert progress_date(date(2022, 7, 4), [late], today=date(2026, 1, 1)) == date(2022, 7, 4)


def test_without_one_progress_counts_to_today() -> None:
    early = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    assert progress_date(None, [early], today=date(2022, 7, 4)) == date(2022, 7, 4)
    assert progress_date(None, [], today=date(2022, 7, 4)) == date(2022, 7, 4)


def test_today_counts_a_report_already_dated_tomorrow_in_its_own_zone() -> None:
    # 00:30 on 5 July in China is 16:30 on 4 July on a server kept in UTC: the report was
    # submitted "today" for that server, and counting as of today must count it.
    just_in = report("u1", "Q2", {"count": 1}, "2022-07-05T00:30:00")
    as_of = progress_date(None, [just_in], today=date(2022, 7, 4))
    assert as_of == date(2022, 7, 5)
    assert effective_reports([just_in], as_of) == {("u1", FORM, "Q2"): just_in}


def test_a_correction_replaces_the_earlier_report_whatever_the_input_order() -> None:
    first = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    correction = report("u1", "Q1", {"count": 5}, "2022-04-08T09:00:00")
    for order in ([first, correction], [correction, first]):
        assert effective_reports(order, date(2022, 12, 31)) == {("u1", FORM, "Q1"): correction}


def test_a_correction_submitted_after_as_of_does_not_replace_yet() -> None:
    first = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    correction = report("u1", "Q1", {"count": 5}, "2022-04-08T09:00:00")
    assert effective_reports([first, correction], date(2022, 4, 7)) == {("u1", FORM, "Q1"): first}


def test_corrections_at_the_same_instant_break_the_tie_by_the_larger_id() -> None:
    a = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00", rid="20220405100000-aaaa")
    b = report("u1", "Q1", {"count": 2}, "2022-04-05T10:00:00", rid="20220405100000-bbbb")
    assert effective_reports([b, a], date(2022, 12, 31))[("u1", FORM, "Q1")] is b
    assert effective_reports([a, b], date(2022, 12, 31))[("u1", FORM, "Q1")] is b


def test_submission_times_compare_as_instants_across_offsets() -> None:
    china = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")  # 02:00 UTC
    utc = replace(
        report("u1", "Q1", {"count": 2}),
        id="00000000000000-0000",
        submitted_at=datetime(2022, 4, 5, 3, 0, tzinfo=UTC),
    )
    assert effective_reports([utc, china], date(2022, 12, 31))[("u1", FORM, "Q1")] is utc


def test_separate_units_forms_and_periods_never_replace_each_other() -> None:
    reports = [
        report("u1", "Q1", {}),
        report("u2", "Q1", {}),
        report("u1", "Q2", {}),
        report("u1", "Q1", {}, fid="other"),
    ]
    assert len(effective_reports(reports, date(2022, 12, 31))) == 4


# ------------------------------------------------------------------ reports after the as-of date


def test_reports_after_the_as_of_date_are_listed_by_unit_in_submission_order() -> None:
    counted = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    same_day = report("u1", "Q2", {"count": 1}, "2022-07-04T23:30:00")  # still 4 July
    later = report("u1", "Q3", {"count": 1}, "2022-10-08T09:00:00", rid="20221008090000-b")
    tie = report("u1", "Q2", {"count": 2}, "2022-10-08T09:00:00", rid="20221008090000-a")
    first = report("u1", "Q2", {"count": 3}, "2022-07-05T08:00:00")
    other = report("u2", "Q1", {"count": 1}, "2022-08-01T10:00:00")

    after = reports_after([later, counted, other, tie, same_day, first], date(2022, 7, 4))

    assert after == {"u1": (first, tie, later), "u2": (other,)}


def test_no_reports_after_the_as_of_date_means_no_entry_at_all() -> None:
    reports = [report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")]
    assert reports_after(reports, date(2022, 4, 5)) == {}


def test_a_correction_after_the_as_of_date_is_listed_while_the_earlier_report_counts() -> None:
    c = content((task("t1", indicator("i1", "sum", target=Target(minimum=4))),))
    first = report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00")
    correction = report("u1", "Q1", {"count": 5}, "2022-04-08T09:00:00")
    as_of = date(2022, 4, 7)

    assert reports_after([first, correction], as_of) == {"u1": (correction,)}
    assert one(c, [first, correction], as_of.isoformat()).value == 1


# ------------------------------------------------------------------ values


def test_without_reports_there_is_no_value_and_nothing_is_reported() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=2))),))
    before = one(c, [], "2022-06-30")
    assert (before.value, before.status, before.reports) == (None, Status.NOT_REPORTED, ())
    after = one(c, [], "2023-01-01")
    assert (after.value, after.status) == (None, Status.OVERDUE)


def test_no_report_before_any_feeding_report_is_due_is_on_track_not_missing() -> None:
    # Fed only by the year-end form: in October nothing was due yet, so nothing is missing.
    c = content(
        (task("t1", indicator("i1", target=Target(minimum=2))),),
        forms=(form(periods=("Y",)),),
    )
    assert one(c, [], "2022-10-20").status is Status.ON_TRACK
    assert one(c, [], "2022-12-31").status is Status.ON_TRACK
    assert one(c, [], "2023-01-16").status is Status.OVERDUE  # the indicator was due 12-31


def test_no_report_once_the_first_feeding_report_was_due_is_not_reported() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=2))),))
    assert one(c, [], "2022-04-10").status is Status.ON_TRACK  # Q1 due that day
    assert one(c, [], "2022-04-11").status is Status.NOT_REPORTED


def test_sum_adds_the_field_over_every_period_of_the_form() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=10))),))
    reports = [
        report("u1", "Q1", {"count": 2}, "2022-04-05T10:00:00"),
        report("u1", "Q2", {"count": None}, "2022-07-05T10:00:00"),  # left blank: skipped
        report("u1", "Q3", {"count": 3}, "2022-10-05T10:00:00"),
        report("u2", "Q3", {"count": 100}, "2022-10-05T10:00:00"),  # another unit
    ]
    r = one(c, reports, "2022-11-01")
    assert r.value == 5
    assert r.reports == (reports[0].id, reports[2].id)


def test_sum_counts_only_the_corrected_report_of_a_period() -> None:
    c = content((task("t1", indicator("i1")),))
    reports = [
        report("u1", "Q1", {"count": 2}, "2022-04-05T10:00:00"),
        report("u1", "Q1", {"count": 4}, "2022-04-06T10:00:00"),
        report("u1", "Q2", {"count": 1}, "2022-07-05T10:00:00"),
    ]
    assert one(c, reports, "2022-12-31").value == 5
    assert one(c, reports, "2022-04-05").value == 2


def test_sum_ignores_reports_for_periods_the_form_does_not_ask_for() -> None:
    c = content((task("t1", indicator("i1")),), forms=(form(periods=("Q1", "Q2")),))
    reports = [report("u1", "Q1", {"count": 2}), report("u1", "Q3", {"count": 7})]
    assert one(c, reports, "2022-12-31").value == 2


def test_sum_with_only_blank_values_is_not_reported() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=1))),))
    r = one(c, [report("u1", "Q1", {"count": None})], "2022-05-01")
    assert (r.value, r.status, r.reports) == (None, Status.NOT_REPORTED, ())


def test_latest_takes_the_report_with_the_latest_period_end() -> None:
    c = content((task("t1", indicator("i1", "latest", field_name="level")),))
    q2 = report("u1", "Q2", {"level": 0.4}, "2022-10-20T10:00:00")  # submitted last, older period
    q3 = report("u1", "Q3", {"level": 0.7}, "2022-10-05T10:00:00")
    r = one(c, [q3, q2], "2022-11-01")
    assert (r.value, r.reports) == (0.7, (q3.id,))


def test_latest_skips_a_later_report_that_left_the_field_blank() -> None:
    c = content((task("t1", indicator("i1", "latest", field_name="level")),))
    q1 = report("u1", "Q1", {"level": 0.3}, "2022-04-05T10:00:00")
    q2 = report("u1", "Q2", {"level": None}, "2022-07-05T10:00:00")
    q3 = report("u1", "Q3", {}, "2022-10-05T10:00:00")
    r = one(c, [q1, q2, q3], "2022-11-01")
    assert (r.value, r.reports) == (0.3, (q1.id,))


@pytest.mark.parametrize("annual_last", [True, False])
def test_latest_between_an_annual_period_and_q4_ending_the_same_day(annual_last: bool) -> None:
    periods = ("Q1", "Q2", "Q3", "Q4", "Y")
    c = content(
        (task("t1", indicator("i1", "latest", field_name="level")),),
        forms=(form(periods=periods),),
    )
    q4 = report(
        "u1", "Q4", {"level": 0.8}, "2023-01-05T10:00:00" if annual_last else "2023-01-12T10:00:00"
    )
    year = report("u1", "Y", {"level": 0.9}, "2023-01-08T10:00:00")
    winner = year if annual_last else q4
    r = one(c, [q4, year], "2023-01-31")
    assert (r.value, r.reports) == (winner.values["level"], (winner.id,))


def test_yes_no_is_the_latest_boolean() -> None:
    c = content(
        (
            task(
                "t1",
                indicator(
                    "i1", "yes_no", field_name="flag", target=Target(equals=True), due="2022-06-30"
                ),
            ),
        )
    )
    yes = report("u1", "Q1", {"flag": True}, "2022-04-05T10:00:00")
    no = report("u1", "Q2", {"flag": False}, "2022-07-05T10:00:00")
    assert one(c, [yes], "2022-05-01").status is Status.MET
    later = one(c, [yes, no], "2022-07-06")
    assert (later.value, later.status) == (False, Status.OVERDUE)
    assert one(c, [no], "2022-07-06").value is False


def test_ratio_over_a_unit_attribute() -> None:
    i = indicator(
        "i1",
        "ratio",
        target=Target(minimum=1.0),
        numerator=Operand(ref("count"), "sum"),
        denominator=Operand(unit_attribute="n"),
    )
    c = content((task("t1", i),), units=(unit("u1", attributes={"n": 4}),))
    reports = [
        report("u1", "Q1", {"count": 1}),
        report("u1", "Q2", {"count": 2}, "2022-07-02T10:00:00"),
    ]
    r = one(c, reports, "2022-08-01")
    assert r.value == pytest.approx(0.75)
    assert r.reports == (reports[0].id, reports[1].id)


def test_ratio_with_a_form_field_denominator() -> None:
    i = indicator(
        "i1",
        "ratio",
        target=Target(minimum=0.9),
        numerator=Operand(ref("count"), "sum"),
        denominator=Operand(ref("total"), "latest"),
    )
    c = content((task("t1", i),))
    q1 = report("u1", "Q1", {"count": 3, "total": 10}, "2022-04-05T10:00:00")
    q2 = report("u1", "Q2", {"count": 6, "total": 10}, "2022-07-05T10:00:00")
    partial = one(c, [q1], "2022-05-01")
    assert partial.value == pytest.approx(0.3)
    full = one(c, [q1, q2], "2022-08-01")
    assert (full.value, full.status) == (pytest.approx(0.9), Status.MET)
    assert set(full.reports) == {q1.id, q2.id}


def test_ratio_with_a_missing_numerator_has_no_value() -> None:
    i = indicator(
        "i1",
        "ratio",
        target=Target(minimum=1.0),
        numerator=Operand(ref("count"), "sum"),
        denominator=Operand(unit_attribute="n"),
    )
    c = content((task("t1", i),), units=(unit("u1", attributes={"n": 4}),))
    r = one(c, [report("u1", "Q1", {"total": 3})], "2022-05-01")
    assert (r.value, r.status) == (None, Status.NOT_REPORTED)


@pytest.mark.parametrize(
    "denominator, values",
    [
        (Operand(unit_attribute="n"), {"count": 0}),
        (Operand(ref("total"), "sum"), {"count": 0, "total": 0}),
    ],
)
def test_a_zero_denominator_means_there_is_nothing_to_measure(
    denominator: Operand, values: dict[str, int]
) -> None:
    i = indicator(
        "i1",
        "ratio",
        target=Target(minimum=1.0),
        numerator=Operand(ref("count"), "sum"),
        denominator=denominator,
    )
    c = content((task("t1", i),), units=(unit("u1", attributes={"n": 0}),))
    p = evaluate(c, [report("u1", "Q1", values)], date(2023, 6, 1))  # past due, not overdue
    r = p.result("u1", "i1")
    assert (r.value, r.status, r.expected) == (None, Status.NOT_APPLICABLE, None)
    assert p.unit_rollup("u1").applicable == 0


# ------------------------------------------------------------------ applicability


def test_a_task_for_other_unit_types_does_not_apply() -> None:
    t = task("t1", indicator("i1"), applies_to=AppliesTo(unit_types=("soe",)))
    c = content((t,), units=(unit("u1", "organ"), unit("u2", "soe")))
    p = evaluate(c, [], date(2022, 6, 1))
    assert p.result("u1", "i1").status is Status.NOT_APPLICABLE
    assert p.result("u2", "i1").status is Status.NOT_REPORTED
    assert not applies(c, t, t.indicators[0], c.units[0])
    assert applies(c, t, t.indicators[0], c.units[1])


def test_a_task_behind_a_flag_applies_only_to_flagged_units() -> None:
    t = task("t1", indicator("i1"), applies_to=AppliesTo(flags=("retirees",)))
    c = content(
        (t,),
        units=(
            unit("u1", flags={"retirees": True}),
            unit("u2"),
            unit("u3", flags={"retirees": False}),
        ),
    )
    p = evaluate(c, [], date(2022, 6, 1))
    assert [r.status for r in p.for_indicator("i1")] == [
        Status.NOT_REPORTED,
        Status.NOT_APPLICABLE,
        Status.NOT_APPLICABLE,
    ]


def test_an_indicator_narrows_its_task() -> None:
    t = task(
        "t1",
        indicator("i1", target=Target(minimum=2)),
        indicator("i2", applies_to=AppliesTo(unit_types=("soe",))),
    )
    c = content((t,), units=(unit("u1", "organ"),))
    p = evaluate(c, [report("u1", "Q1", {"count": 1})], date(2022, 6, 1))
    assert p.result("u1", "i1").status is Status.ON_TRACK
    assert p.result("u1", "i2").status is Status.NOT_APPLICABLE
    assert p.result("u1", "i2").value is None


def test_an_indicator_fed_by_a_form_the_unit_is_not_asked_for_does_not_apply() -> None:
    t = task("t1", indicator("i1", fid="soe-form"), forms=("soe-form",))
    c = content(
        (t,),
        units=(unit("u1", "organ"), unit("u2", "soe")),
        forms=(form("soe-form", applies_to=AppliesTo(unit_types=("soe",))),),
    )
    p = evaluate(c, [], date(2022, 6, 1))
    assert p.result("u1", "i1").status is Status.NOT_APPLICABLE
    assert p.result("u2", "i1").status is Status.NOT_REPORTED


def test_a_report_of_a_unit_the_task_does_not_apply_to_changes_nothing() -> None:
    t = task(
        "t1", indicator("i1", target=Target(minimum=1)), applies_to=AppliesTo(unit_types=("soe",))
    )
    c = content((t,), units=(unit("u1", "organ"),))
    r = one(c, [report("u1", "Q1", {"count": 5})], "2022-06-01")
    assert (r.status, r.value, r.expected) == (Status.NOT_APPLICABLE, None, None)


# ------------------------------------------------------------------ status


def test_a_report_submitted_after_the_due_date_counts_once_as_of_has_passed_it() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=1), due="2022-06-30")),))
    late = report("u1", "Q2", {"count": 1}, "2022-07-05T10:00:00")
    before = one(c, [late], "2022-07-01")
    assert (before.status, before.value, before.reports) == (Status.OVERDUE, None, ())
    after = one(c, [late], "2022-07-10")
    assert (after.status, after.value) == (Status.MET, 1)


def test_met_before_the_due_date_stays_met_after_it() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=2), due="2022-06-30")),))
    r = [report("u1", "Q1", {"count": 2})]
    assert one(c, r, "2022-05-01").status is Status.MET
    assert one(c, r, "2023-05-01").status is Status.MET


def test_not_met_after_the_due_date_is_overdue_even_when_reported() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=5), due="2022-06-30")),))
    assert one(c, [report("u1", "Q1", {"count": 2})], "2022-07-01").status is Status.OVERDUE


@pytest.mark.parametrize(
    "value, status",
    [(1, Status.ON_TRACK), (2, Status.MET), (3, Status.MET), (4, Status.MET), (5, Status.ON_TRACK)],
)
def test_range_targets_are_met_only_within_both_bounds(value: int, status: Status) -> None:
    # Before the due date, a value outside the range is not yet a failure.
    c = content((task("t1", indicator("i1", target=Target(minimum=2, maximum=4))),))
    assert one(c, [report("u1", "Q1", {"count": value})], "2022-04-20").status is status


def test_range_target_outside_the_bounds_after_the_due_date_is_overdue() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=2, maximum=4))),))
    assert one(c, [report("u1", "Q1", {"count": 5})], "2023-01-02").status is Status.OVERDUE


def test_an_indicator_without_target_is_tracked_never_met() -> None:
    # "仅跟踪": nothing to complete, so a reported value is on track, never 已完成, and
    # never late either.
    c = content((task("t1", indicator("i1", "latest", field_name="level")),))
    assert one(c, [], "2022-05-01").status is Status.NOT_REPORTED
    assert one(c, [], "2023-01-05").status is Status.OVERDUE
    r = one(c, [report("u1", "Q1", {"level": 0})], "2022-05-01")
    assert (r.status, r.value, r.expected) == (Status.ON_TRACK, 0, None)
    assert one(c, [report("u1", "Q1", {"level": 0})], "2023-01-05").status is Status.ON_TRACK


def test_pace_separates_behind_from_on_track() -> None:
    # Min 4 by the end of the year; on 2022-07-02 half the year (182/364 days) has elapsed.
    c = content((task("t1", indicator("i1", target=Target(minimum=4), due="2022-12-31")),))
    one_done = one(c, [report("u1", "Q1", {"count": 1})], "2022-07-02")
    two_done = one(c, [report("u1", "Q1", {"count": 2})], "2022-07-02")
    assert one_done.expected == pytest.approx(4 * 182 / 364)
    assert one_done.status is Status.BEHIND
    assert two_done.status is Status.ON_TRACK
    # Early in the year one is ahead of the pace.
    early = report("u1", "Q1", {"count": 1}, "2022-01-20T10:00:00")
    assert one(c, [early], "2022-02-01").status is Status.ON_TRACK


def test_pace_is_clamped_before_the_plan_starts() -> None:
    c = content((task("t1", indicator("i1", target=Target(minimum=4))),))
    r = one(c, [report("u1", "Q1", {"count": 0}, "2021-12-20T10:00:00")], "2021-12-25")
    assert (r.expected, r.status) == (0, Status.ON_TRACK)


def test_ratios_are_paced_as_fractions() -> None:
    i = indicator(
        "i1",
        "ratio",
        target=Target(minimum=1.0),
        due="2022-12-31",
        numerator=Operand(ref("count"), "sum"),
        denominator=Operand(unit_attribute="n"),
    )
    c = content((task("t1", i),), units=(unit("u1", attributes={"n": 10}),))
    assert one(c, [report("u1", "Q1", {"count": 3})], "2022-07-02").status is Status.BEHIND
    assert one(c, [report("u1", "Q1", {"count": 6})], "2022-07-02").status is Status.ON_TRACK


# ------------------------------------------------------------------ roll-ups


def rollup_plan() -> tuple[Content, list[Report]]:
    """Two units, two categories; u1 meets t1, is overdue on t2's first indicator."""
    t1 = task("t1", indicator("i1", target=Target(minimum=1)), category="c1")
    t2 = task(
        "t2",
        indicator("i2", target=Target(minimum=1), due="2022-03-31"),
        indicator("i3", target=Target(minimum=0), applies_to=AppliesTo(unit_types=("soe",))),
        category="c2",
    )
    t3 = task("t3", indicator("i4", applies_to=AppliesTo(flags=("nobody",))), category="c3")
    c = content((t1, t2, t3), units=(unit("u1"), unit("u2", "soe")))
    reports = [
        report("u1", "Q1", {"count": 1}, "2022-04-05T10:00:00"),
        report("u2", "Q1", {"count": 0}, "2022-04-05T10:00:00"),
    ]
    return c, reports


def test_unit_rollup_counts_applicable_results_and_takes_the_worst() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2022, 5, 1))
    # u1: i1 met; i2 was due 03-31 and reported late on 04-05, but met beats overdue;
    # i3 (SOEs only) and i4 (a flag nobody has) do not apply.
    u1 = p.unit_rollup("u1")
    assert (u1.met, u1.applicable, u1.not_applicable, u1.status) == (2, 2, 2, Status.MET)
    assert u1.share == 1.0
    # u2 (soe): i1 reported 0, below the pace -> behind; i2 overdue; i3 (minimum 0) was
    # reported -> met.
    u2 = p.unit_rollup("u2")
    assert dict(u2.counts) == {
        Status.MET: 1,
        Status.ON_TRACK: 0,
        Status.BEHIND: 1,
        Status.NOT_REPORTED: 0,
        Status.OVERDUE: 1,
    }
    assert (u2.met, u2.applicable, u2.status) == (1, 3, Status.OVERDUE)
    assert u2.share == pytest.approx(1 / 3)


def test_task_category_and_plan_rollups_cover_their_results() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2022, 5, 1))
    assert (p.task_rollup("t1").met, p.task_rollup("t1").applicable) == (1, 2)
    assert p.task_rollup("t1").status is Status.BEHIND
    assert (p.task_rollup("t2").met, p.task_rollup("t2").applicable) == (2, 3)
    assert p.category_rollup("c2") == p.task_rollup("t2")
    plan = p.plan_rollup()
    assert (plan.met, plan.applicable, plan.not_applicable) == (3, 5, 3)
    assert plan.status is Status.OVERDUE


def test_a_matrix_cell_is_one_unit_on_one_task() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2022, 5, 1))
    cell = p.unit_task_rollup("u2", "t2")
    assert (cell.met, cell.applicable, cell.status) == (1, 2, Status.OVERDUE)
    empty = p.unit_task_rollup("u1", "t3")
    assert (empty.applicable, empty.share, empty.status) == (0, None, Status.NOT_APPLICABLE)


def test_when_nothing_applies_the_rollup_is_not_applicable() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2022, 5, 1))
    for r in (p.task_rollup("t3"), p.category_rollup("c3")):
        assert (r.met, r.applicable, r.share, r.status) == (0, 0, None, Status.NOT_APPLICABLE)
        assert r.not_applicable == 2
        assert sum(r.counts.values()) == 0


def test_a_category_without_tasks_has_an_empty_rollup() -> None:
    c = content((task("t1", indicator("i1"), category="c1"),))
    r = evaluate(c, [], date(2022, 5, 1)).category_rollup("c2")
    assert (r.applicable, r.not_applicable, r.status) == (0, 0, Status.NOT_APPLICABLE)


@pytest.mark.parametrize(
    "statuses, worst",
    [
        ([Status.MET, Status.ON_TRACK], Status.ON_TRACK),
        ([Status.MET, Status.BEHIND, Status.ON_TRACK], Status.BEHIND),
        ([Status.BEHIND, Status.NOT_REPORTED], Status.NOT_REPORTED),
        ([Status.NOT_REPORTED, Status.OVERDUE, Status.MET], Status.OVERDUE),
        ([Status.MET, Status.NOT_APPLICABLE], Status.MET),
        ([Status.NOT_APPLICABLE], Status.NOT_APPLICABLE),
        ([], Status.NOT_APPLICABLE),
    ],
)
def test_the_worst_status_wins_a_rollup(statuses: list[Status], worst: Status) -> None:
    results = [IndicatorResult("u", "t", f"i{n}", None, s, ()) for n, s in enumerate(statuses)]
    assert rollup(results).status is worst


def test_overdue_lists_every_overdue_result_unit_by_unit() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2023, 1, 2))
    assert [(r.unit, r.indicator) for r in p.overdue()] == [("u2", "i1"), ("u2", "i2")]


def test_lookups_list_every_indicator_and_unit_in_order() -> None:
    c, reports = rollup_plan()
    p = evaluate(c, reports, date(2022, 5, 1))
    assert [r.indicator for r in p.for_unit("u1")] == ["i1", "i2", "i3", "i4"]
    assert [r.unit for r in p.for_indicator("i3")] == ["u1", "u2"]
    assert p.result("u2", "i3").task == "t2"
    with pytest.raises(KeyError):
        p.result("u9", "i1")
    with pytest.raises(KeyError):
        p.unit_task_rollup("u1", "t9")


# ------------------------------------------------------------------ reporting states


def test_reporting_states_per_form_period() -> None:
    c = content(
        (task("t1", indicator("i1")),),
        forms=(form(), form("annual", periods=("Y",), applies_to=AppliesTo(unit_types=("soe",)))),
    )
    on_time = report("u1", "Q1", {"count": 1}, "2022-04-09T10:00:00")
    late = report("u1", "Q2", {"count": 1}, "2022-07-11T10:00:00")
    states = evaluate(c, [on_time, late], date(2022, 10, 12)).reporting("u1")
    # The annual form is for SOEs only, so u1 sees only the quarterly periods.
    assert [(s.form, s.period, s.state) for s in states] == [
        (FORM, "Q1", "reported"),
        (FORM, "Q2", "late"),
        (FORM, "Q3", "missing"),
        (FORM, "Q4", "open"),
    ]
    assert states[0].report is on_time and states[2].report is None
    assert states[3].due == date(2023, 1, 10)


def test_a_late_correction_of_an_on_time_report_is_not_late() -> None:
    c = content((task("t1", indicator("i1")),))
    on_time = report("u1", "Q1", {"count": 1}, "2022-04-09T10:00:00")
    correction = report("u1", "Q1", {"count": 2}, "2022-05-01T10:00:00")
    state = evaluate(c, [on_time, correction], date(2022, 6, 1)).reporting("u1")[0]
    assert (state.state, state.report) == ("reported", correction)


def test_the_due_date_itself_is_still_on_time_and_still_open() -> None:
    c = content((task("t1", indicator("i1")),))
    on_due = report("u1", "Q1", {"count": 1}, "2022-04-10T23:00:00")
    assert evaluate(c, [on_due], date(2022, 4, 10)).reporting("u1")[0].state == "reported"
    assert evaluate(c, [], date(2022, 4, 10)).reporting("u1")[0].state == "open"
    assert evaluate(c, [], date(2022, 4, 11)).reporting("u1")[0].state == "missing"


# ------------------------------------------------------------------ calendar


def test_next_due_is_the_first_due_date_on_or_after_as_of() -> None:
    c = content((task("t1", indicator("i1")),))
    assert next_due(c, date(2022, 1, 1)).id == "Q1"
    assert next_due(c, date(2022, 4, 10)).id == "Q1"
    assert next_due(c, date(2022, 4, 11)).id == "Q2"
    # The annual period is in the calendar but no form asks for it.
    assert next_due(c, date(2023, 1, 11)) is None


def test_next_due_includes_every_form_s_periods() -> None:
    c = content((task("t1", indicator("i1")),), forms=(form(), form("annual", periods=("Y",))))
    assert next_due(c, date(2023, 1, 11)).id == "Y"


# ------------------------------------------------------------------ display


@pytest.mark.parametrize(
    "ind, value, shown",
    [
        (indicator("i", "ratio"), 0.85, "85%"),
        (indicator("i", "ratio"), 1.0, "100%"),
        (indicator("i", "ratio"), 2 / 3, "66.7%"),
        (indicator("i", "ratio"), 0.0, "0%"),
        (indicator("i", measure="次"), 3, "3 次"),
        (indicator("i", measure="次"), 3.0, "3 次"),
        (indicator("i", "latest", measure="人"), 2.5, "2.5 人"),
        (indicator("i", "latest"), 12, "12"),
        (indicator("i", "yes_no"), True, "是"),
        (indicator("i", "yes_no"), False, "否"),
        (indicator("i", measure="次"), None, "—"),
        (indicator("i", "ratio"), None, "—"),
    ],
)
def test_format_value_shows_values_the_chinese_way(
    ind: Indicator, value: object, shown: str
) -> None:
    assert format_value(ind, value) == shown  # type: ignore[arg-type]


# ------------------------------------------------------------------ properties

PERIOD_IDS = [p.id for p in QUARTERS]


def random_plan() -> Content:
    return content(
        (
            task(
                "t1",
                indicator("i1", target=Target(minimum=3)),
                indicator(
                    "i2", "yes_no", field_name="flag", target=Target(equals=True), due="2022-06-30"
                ),
            ),
            task(
                "t2",
                indicator(
                    "i3",
                    "ratio",
                    target=Target(minimum=0.8),
                    numerator=Operand(ref("count"), "sum"),
                    denominator=Operand(unit_attribute="n"),
                ),
                indicator("i4", "latest", field_name="level", target=Target(0.2, 0.6)),
                category="c2",
                applies_to=AppliesTo(unit_types=("soe",)),
            ),
        ),
        units=(
            unit("u1", attributes={"n": 0}),
            unit("u2", "soe", attributes={"n": 5}),
            unit("u3", "soe", attributes={"n": 3}),
        ),
    )


report_strategy = st.builds(
    lambda u, p, count, flag, level, day, minute, tag: report(
        u,
        p,
        {"count": count, "flag": flag, "level": level},
        (datetime(2022, 1, 1) + timedelta(days=day, minutes=minute)).isoformat(),
        rid=f"{tag:04d}",
    ),
    st.sampled_from(["u1", "u2", "u3"]),
    st.sampled_from(PERIOD_IDS),
    st.one_of(st.none(), st.integers(0, 6)),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.floats(0, 1)),
    st.integers(0, 400),
    st.sampled_from([0, 30]),  # few distinct minutes -> many ties
    st.integers(0, 9999),
)
# Submission ids are unique in a repository; two reports never share one.
reports_strategy = st.lists(report_strategy, max_size=25, unique_by=lambda r: r.id)
as_of_strategy = st.dates(date(2021, 12, 1), date(2023, 3, 1))


@settings(max_examples=150, deadline=None)
@given(reports_strategy, as_of_strategy)
def test_rollups_are_consistent(reports: list[Report], as_of: date) -> None:
    c = random_plan()
    p = evaluate(c, reports, as_of)
    for r in [
        p.plan_rollup(),
        *(p.unit_rollup(u.id) for u in c.units),
        *(p.task_rollup(t.id) for t in c.tasks),
    ]:
        assert 0 <= r.met <= r.applicable
        assert sum(r.counts.values()) == r.applicable
        assert r.share is None if r.applicable == 0 else 0.0 <= r.share <= 1.0
    plan = p.plan_rollup()
    assert plan.applicable == sum(p.unit_rollup(u.id).applicable for u in c.units)
    assert plan.met == sum(p.task_rollup(t.id).met for t in c.tasks)
    assert plan.applicable + plan.not_applicable == len(c.units) * len(c.indicators)


@settings(max_examples=150, deadline=None)
@given(reports_strategy, as_of_strategy, st.randoms())
def test_the_order_reports_arrive_in_changes_nothing(
    reports: list[Report], as_of: date, rnd: random.Random
) -> None:
    c = random_plan()
    shuffled = list(reports)
    rnd.shuffle(shuffled)
    assert effective_reports(shuffled, as_of) == effective_reports(reports, as_of)
    assert reports_after(shuffled, as_of) == reports_after(reports, as_of)
    a, b = evaluate(c, reports, as_of), evaluate(c, shuffled, as_of)
    for u in c.units:
        assert a.for_unit(u.id) == b.for_unit(u.id)
        assert a.reporting(u.id) == b.reporting(u.id)


@settings(max_examples=100, deadline=None)
@given(reports_strategy, as_of_strategy)
def test_values_only_come_from_effective_reports_and_statuses_follow_the_order(
    reports: list[Report], as_of: date
) -> None:
    c = random_plan()
    p = evaluate(c, reports, as_of)
    effective_ids = {r.id for r in effective_reports(reports, as_of).values()}
    for u in c.units:
        for r in p.for_unit(u.id):
            assert set(r.reports) <= effective_ids
            ind = next(i for i in c.indicators if i.id == r.indicator)
            if r.status is Status.MET:
                assert ind.target is None or ind.target.is_met(r.value)
            if r.status is Status.OVERDUE:
                assert as_of > ind.due
            if r.status is Status.BEHIND:
                assert r.value is not None and as_of <= ind.due
            if r.status is Status.ON_TRACK:
                assert as_of <= ind.due
                # Without a value it is on track only while no feeding report was due yet.
                first_due = min(
                    c.period(pid).due
                    for f in c.forms
                    if f.id in {x.form for x in ind.fields}
                    for pid in f.periods
                )
                assert r.value is not None or as_of <= first_due


# ------------------------------------------------------------------ indicator kinds
# QUARTERS: Q2 ends 06-30 and its report is due 07-10; Q3 ends 09-30, due 10-10.


def _rate_kept(kind: str) -> Content:
    """A rate of at least 95% (count / total, the latest report's), due at the year's end."""
    rate = indicator(
        "i1",
        "ratio",
        target=Target(minimum=0.95),
        numerator=Operand(field=ref("count")),
        denominator=Operand(field=ref("total")),
        kind=kind,
    )
    return content((task("t1", rate),))


@pytest.mark.parametrize(
    "as_of, status",
    [("2022-10-20", Status.BEHIND), ("2022-12-31", Status.BEHIND), ("2023-01-01", Status.OVERDUE)],
)
def test_a_threshold_below_its_target_is_behind_at_once_never_pro_rated(
    as_of: str, status: Status
) -> None:
    # 83% in October: cumulatively that is ahead of the 74% expected by then (on track);
    # a level to keep is simply not kept.
    q3 = report("u1", "Q3", {"count": 83, "total": 100}, "2022-10-08T09:00:00")
    assert one(_rate_kept("cumulative"), [q3], "2022-10-20").status is Status.ON_TRACK
    kept = one(_rate_kept("threshold"), [q3], as_of)
    assert (kept.status, kept.expected) == (status, None)


def test_a_threshold_is_met_only_while_the_latest_value_meets_it() -> None:
    c = _rate_kept("threshold")
    q2 = report("u1", "Q2", {"count": 96, "total": 100}, "2022-07-05T09:00:00")
    q3 = report("u1", "Q3", {"count": 83, "total": 100}, "2022-10-08T09:00:00")
    assert one(c, [q2], "2022-07-06").status is Status.MET
    assert one(c, [q2, q3], "2022-10-08").status is Status.BEHIND
    q4 = report("u1", "Q4", {"count": 97, "total": 100}, "2023-01-05T09:00:00")
    assert one(c, [q2, q3, q4], "2023-01-05").status is Status.MET  # kept again, after due


def test_a_threshold_not_yet_reported_is_missing_only_once_a_report_was_due() -> None:
    c = _rate_kept("threshold")
    assert one(c, [], "2022-04-10").status is Status.ON_TRACK  # Q1 due that day
    assert one(c, [], "2022-04-11").status is Status.NOT_REPORTED


def _done_by(due: str) -> Content:
    item = indicator(
        "i1", "yes_no", field_name="flag", target=Target(equals=True), due=due, kind="deadline"
    )
    return content((task("t1", item),))


@pytest.mark.parametrize(
    "as_of, status",
    [
        ("2022-06-29", Status.ON_TRACK),  # before the due date
        ("2022-06-30", Status.ON_TRACK),  # on it
        ("2022-07-05", Status.ON_TRACK),  # after it, before the Q2 report is due: not yet due
        ("2022-07-10", Status.ON_TRACK),  # the day the Q2 report is due
        ("2022-07-11", Status.OVERDUE),  # after the report that would carry it was due
    ],
)
def test_an_item_due_06_30_is_not_yet_due_until_its_report_of_07_10_is(
    as_of: str, status: Status
) -> None:
    assert one(_done_by("2022-06-30"), [], as_of).status is status


def test_an_item_done_by_its_date_is_met_and_stays_met() -> None:
    done = report("u1", "Q2", {"flag": True}, "2022-07-08T09:00:00")
    for as_of in ("2022-07-08", "2022-07-11", "2023-02-01"):
        assert one(_done_by("2022-06-30"), [done], as_of).status is Status.MET


@pytest.mark.parametrize(
    "as_of, status",
    [
        ("2022-05-01", Status.ON_TRACK),
        ("2022-07-10", Status.ON_TRACK),
        ("2022-07-11", Status.OVERDUE),
    ],
)
def test_an_item_reported_not_done_is_overdue_only_after_its_carrying_report_is_due(
    as_of: str, status: Status
) -> None:
    # Q1 said "not yet" (and no Q2 report came): not a shortfall before the item is due.
    not_yet = report("u1", "Q1", {"flag": False}, "2022-04-05T09:00:00")
    assert one(_done_by("2022-06-30"), [not_yet], as_of).status is status


def test_an_item_due_on_a_report_s_own_due_date_is_overdue_the_day_after() -> None:
    # Due 07-10, inside Q3: the Q3 report (due 10-10) is the one that carries it.
    c = _done_by("2022-07-10")
    assert one(c, [], "2022-10-10").status is Status.ON_TRACK
    assert one(c, [], "2022-10-11").status is Status.OVERDUE


def test_a_cumulative_item_keeps_its_due_date_as_the_deadline() -> None:
    # The default kind is unchanged: overdue the day after its own due date.
    item = indicator(
        "i1", "yes_no", field_name="flag", target=Target(equals=True), due="2022-06-30"
    )
    assert one(content((task("t1", item),)), [], "2022-07-01").status is Status.OVERDUE


# A date field read by `done_on`: the report carries the day the item was done. The same
# calendar as above: the item is due 06-30, the Q2 report that carries it is due 07-10.


def _done_on_date(due: str = "2022-06-30") -> Content:
    # The loader gives a done_on indicator its due date as its target (Target.by).
    by = Target(by=date.fromisoformat(due))
    item = indicator("i1", "done_on", field_name="done_on", due=due, target=by, kind="deadline")
    fields = (field("count"), field("done_on", "date"))
    return content((task("t1", item),), forms=(make_form(FORM, fields, ("Q1", "Q2", "Q3", "Q4")),))


@pytest.mark.parametrize(
    "as_of, status",
    [
        ("2022-06-29", Status.ON_TRACK),  # before the due date
        ("2022-06-30", Status.ON_TRACK),  # on it
        ("2022-07-05", Status.ON_TRACK),  # after it, before the Q2 report is due: not yet due
        ("2022-07-10", Status.ON_TRACK),  # the day the Q2 report is due
        ("2022-07-11", Status.OVERDUE),  # after the report that would carry it was due
    ],
)
def test_a_date_not_yet_reported_is_not_yet_due_until_its_carrying_report_is(
    as_of: str, status: Status
) -> None:
    # Q1 was reported without the date: not done yet, which is no shortfall before 07-10.
    q1 = report("u1", "Q1", {"count": 1}, "2022-04-05T09:00:00")
    assert one(_done_on_date(), [q1], as_of).status is status


@pytest.mark.parametrize("done_on", ["2022-06-12", "2022-06-30"])
def test_a_date_on_or_before_the_due_date_is_met_and_stays_met(done_on: str) -> None:
    q2 = report("u1", "Q2", {"done_on": done_on}, "2022-07-08T09:00:00")
    for as_of in ("2022-07-08", "2022-07-11", "2023-02-01"):
        result = one(_done_on_date(), [q2], as_of)
        assert (result.status, result.value) == (Status.MET, date.fromisoformat(done_on))
        assert result.reports == (q2.id,)


@pytest.mark.parametrize(
    "done_on, submitted",
    [
        ("2022-07-01", "2022-07-08T09:00:00"),  # late, yet reported before 07-10 in Q2's report
        ("2022-08-15", "2022-10-08T09:00:00"),  # late, reported in Q3's report
    ],
)
def test_a_date_after_the_due_date_is_done_late_met_with_its_date(
    done_on: str, submitted: str
) -> None:
    # Done after its date is still done: 已完成 (nothing is left to do), and the value is the
    # day it was done, which the reason compares with the due date (逾期完成).
    late = report("u1", "Q2" if submitted < "2022-07-10" else "Q3", {"done_on": done_on}, submitted)
    result = one(_done_on_date(), [late], "2022-12-01")
    assert (result.status, result.value) == (Status.MET, date.fromisoformat(done_on))


def test_the_latest_report_s_date_is_the_one_that_counts() -> None:
    # Q3 restates the day (a mistake in Q2 put it after the due date).
    q2 = report("u1", "Q2", {"done_on": "2022-07-20"}, "2022-07-08T09:00:00")
    q3 = report("u1", "Q3", {"done_on": "2022-06-20"}, "2022-10-08T09:00:00")
    assert one(_done_on_date(), [q2, q3], "2022-12-01").value == date(2022, 6, 20)
    # A later report that leaves the date blank keeps the earlier one.
    q4 = report("u1", "Q4", {"count": 1}, "2023-01-05T09:00:00")
    assert one(_done_on_date(), [q2, q3, q4], "2023-01-06").value == date(2022, 6, 20)


def test_a_date_value_is_written_as_its_iso_day() -> None:
    item = _done_on_date().tasks[0].indicators[0]
    assert format_value(item, date(2022, 6, 12)) == "2022-06-12"


def test_the_second_plan_s_done_on_item_through_its_own_calendar() -> None:
    # Plan data only: the school-safety plan's "修订消防应急预案" reads a date field, due
    # 06-30; its T1 report (ending 07-10) is due 07-20. 实验中学 reported 06-20 (on 07-18),
    # 东风路小学 07-03 (on 07-15, a correction); the three others reported nothing.
    school = load_content(SCHOOL_SAFETY)
    reports = load_reports(SCHOOL_SAFETY, school)

    def statuses(as_of: str) -> dict[str, Status]:
        progress = evaluate(school, reports, date.fromisoformat(as_of))
        return {r.unit: r.status for r in progress.for_indicator("fire-plan-revised")}

    units = ["dongfeng-ps", "hongqi-ps", "binjiang-ps", "shiyan-ms", "dier-ms"]
    nothing_due = dict.fromkeys(units, Status.ON_TRACK)
    assert statuses("2025-06-29") == nothing_due  # before the due date
    assert statuses("2025-06-30") == nothing_due  # on it
    assert statuses("2025-07-14") == nothing_due  # after it, before T1's report is due
    assert statuses("2025-07-21") == {
        "dongfeng-ps": Status.MET,  # done late: 07-03
        "hongqi-ps": Status.OVERDUE,
        "binjiang-ps": Status.OVERDUE,
        "shiyan-ms": Status.MET,
        "dier-ms": Status.OVERDUE,
    }
    late = evaluate(school, reports, date(2025, 7, 21)).result("dongfeng-ps", "fire-plan-revised")
    assert late.value == date(2025, 7, 3)
