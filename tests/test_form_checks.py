"""builder.form_checks: a form's checks across fields and against the unit registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from builder.form_checks import (
    EXPLANATION_MAX_LENGTH,
    EarlierReport,
    check_errors,
    check_values,
    check_warnings,
    explanation_error,
    periods_before,
)
from builder.model import CheckOperand, Form, FormCheck, FormField, HistoryCheck, Period, Unit
from builder.plan import load_content
from builder.records import read_record
from tests.factories import make_form
from tests.fixtures import SCHOOL_SAFETY

REPOSITORY = Path(__file__).resolve().parent.parent


TITLES = {"found": "发现数", "fixed": "整改数", "open": "未整改数"}


def counts_form(*checks: FormCheck) -> Form:
    """A form of three counts with `checks`."""
    fields = [FormField(name, "integer", title) for name, title in TITLES.items()]
    descriptor = {"fields": [{"name": name, "type": "integer"} for name in TITLES]}
    return replace(make_form("f", fields, ("P",), descriptor=descriptor), checks=checks)


UNIT = Unit("u1", "u1", "organ", attributes={"members": 196})


def test_the_demo_refuses_900_trained_of_196_members() -> None:
    content = load_content(REPOSITORY)
    form = content.form("quarterly-progress")
    unit = next(u for u in content.units if u.attributes.get("members") == 196)
    values = {"members_trained_24h": 900, "cadres_visited_twice": 50}
    errors = check_errors(check_values(form, values, unit))
    assert errors["members_trained_24h"] == (
        "累计完成24学时培训的党员人数不能超过本单位党员总数（填报 900，单位名录“members”为 196）"
    )
    assert errors["cadres_visited_twice"].startswith("深入联系点的党员领导干部人数不能超过")
    assert check_values(form, {"members_trained_24h": 196}, unit) == []


def test_the_demo_asks_why_members_trained_went_down_since_the_last_quarter() -> None:
    content = load_content(REPOSITORY)
    form = content.form("quarterly-progress")
    unit = next(u for u in content.units if u.attributes.get("members") == 196)
    earlier = EarlierReport(content.period("2022-Q1"), {"members_trained_24h": 120})
    (finding,) = check_values(form, {"members_trained_24h": 100}, unit, earlier)
    assert finding.is_warning and finding.message.startswith(
        "“累计完成不少于24学时培训的普通党员人数”是累计数，不应比上次批准的填报"
    )


def test_not_above_another_field_with_a_message_made_from_the_titles() -> None:
    form = counts_form(FormCheck(("fixed",), "not_above", CheckOperand(field="found")))
    (finding,) = check_values(form, {"found": 3, "fixed": 5}, UNIT)
    assert (finding.field, finding.is_warning) == ("fixed", False)
    assert finding.message == "“整改数”不能大于“发现数”（填报 5，“发现数”为 3）"
    assert check_values(form, {"found": 3, "fixed": 3}, UNIT) == []


def test_a_sum_that_must_match() -> None:
    form = counts_form(
        FormCheck(("fixed", "open"), "equals", CheckOperand(field="found"), level="warning")
    )
    (finding,) = check_values(form, {"found": 5, "fixed": 3, "open": 1}, UNIT)
    assert finding.message == "“整改数”、“未整改数”之和应等于“发现数”（填报 4，“发现数”为 5）"
    assert check_warnings([finding]) == [finding] and check_errors([finding]) == {}
    assert check_values(form, {"found": 5, "fixed": 3, "open": 2}, UNIT) == []


def test_a_missing_figure_skips_the_check_and_leaves_the_field_s_own_message() -> None:
    form = counts_form(FormCheck(("fixed",), "not_above", CheckOperand(unit_column="branches")))
    assert check_values(form, {"fixed": 5}, UNIT) == []  # the unit has no such figure
    form = counts_form(FormCheck(("fixed",), "not_above", CheckOperand(field="found")))
    assert check_values(form, {"fixed": 5}, UNIT) == []


def test_posted_text_is_checked_once_typed() -> None:
    form = counts_form(FormCheck(("fixed",), "not_above", CheckOperand(unit_column="members")))
    values, errors = read_record(form, {"fixed": "197"})
    assert errors == {}
    assert list(check_errors(check_values(form, values, UNIT))) == ["fixed"]


# ------------------------------------------------------------------ against the unit's history
SPRING = Period(
    "2025-T1", "2025年春季学期", date(2025, 2, 17), date(2025, 7, 10), date(2025, 7, 20)
)


def history_form(*checks: HistoryCheck) -> Form:
    return replace(counts_form(), history_checks=checks)


def test_a_cumulative_count_that_went_down_since_the_last_approved_report_is_a_warning() -> None:
    form = history_form(HistoryCheck("fixed", cumulative=True))
    earlier = EarlierReport(SPRING, {"fixed": 64})
    (finding,) = check_values(form, {"fixed": 60}, UNIT, earlier)
    assert (finding.field, finding.is_warning) == ("fixed", True)
    assert finding.message == (
        "“整改数”是累计数，不应比上次批准的填报（2025年春季学期）少（填报 60，上次为 64）"
    )
    assert check_values(form, {"fixed": 64}, UNIT, earlier) == []
    assert check_values(form, {"fixed": 90}, UNIT, earlier) == []


def test_a_jump_beyond_the_plan_s_factor_is_a_warning() -> None:
    form = history_form(HistoryCheck("found", max_factor=3, message="本期发现隐患数变化过大"))
    earlier = EarlierReport(SPRING, {"found": 3})
    (finding,) = check_values(form, {"found": 10}, UNIT, earlier)
    assert finding.is_warning and check_errors([finding]) == {}
    assert finding.message == (
        "本期发现隐患数变化过大（填报 10，超过上次批准的填报（2025年春季学期）3 的 3 倍）"
    )
    assert check_values(form, {"found": 9}, UNIT, earlier) == []  # exactly 3 times: not odd
    assert check_values(form, {"found": 1}, UNIT, earlier) == []  # not cumulative: may drop


def test_history_checks_need_an_earlier_figure_to_compare_with() -> None:
    form = history_form(HistoryCheck("found", cumulative=True, max_factor=2))
    assert check_values(form, {"found": 0}, UNIT) == []  # the unit's first report
    assert check_values(form, {"found": 0}, UNIT, EarlierReport(SPRING, {})) == []
    # From nothing, any figure is a jump of no factor at all: only a drop can be judged.
    assert check_values(form, {"found": 50}, UNIT, EarlierReport(SPRING, {"found": 0})) == []


def test_the_earlier_report_is_of_the_nearest_earlier_period_of_the_form() -> None:
    content = load_content(SCHOOL_SAFETY)
    form = content.form("inspection")
    assert [p.id for p in periods_before(content, form, "2025-T2")] == ["2025-SUMMER", "2025-T1"]
    assert periods_before(content, form, "2025-T1") == []


def test_an_explanation_is_required_and_limited_in_length() -> None:
    assert explanation_error("") == "数据异常请说明：请用一句话说明这些数据为何如此"
    assert explanation_error("含上期遗留的 2 处隐患") is None
    assert explanation_error("长" * EXPLANATION_MAX_LENGTH) is None
    too_long = "长" * (EXPLANATION_MAX_LENGTH + 1)
    assert explanation_error(too_long) == f"说明不能超过 {EXPLANATION_MAX_LENGTH} 个字"
