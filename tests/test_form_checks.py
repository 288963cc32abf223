"""builder.form_checks: a form's checks across fields and against the unit registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from builder.form_checks import check_errors, check_values, check_warnings
from builder.model import CheckOperand, Form, FormCheck, FormField, Unit
from builder.plan import load_content
from builder.records import read_record
from tests.factories import make_form

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
