"""An indicator that reads a form some of its units never fill is a plan problem.

The check is decided per distinct unit type and flags (thousands of units share a few);
these tests hold it to what a plan editor reads: how many units miss out, named by the
first three of them in the units' own order, however many units share their profile.
"""

from __future__ import annotations

from pathlib import Path

from builder.model import Problem
from builder.validate import validate_repository
from tests.fixtures import copy_plan, edit

DRILLS = "content/tasks/03-drills.md"
UNITS = "content/units.csv"


def drill_only_with_a_dormitory(tmp_path: Path) -> Path:
    root = copy_plan(tmp_path)
    # The drill form now reaches schools with a dormitory only; every drills indicator
    # applies to units without one too.
    edit(
        root,
        "content/forms.yml",
        "applies_to: {unit_types: [primary, secondary]}",
        "applies_to: {unit_types: [primary, secondary], flags: [has_dormitory]}",
    )
    return root


def missing(count: int, examples: str) -> str:
    return f"有 {count} 个适用单位不填报表单 drill（如 {examples}），该指标无法取得数据"


def coverage_problems(root: Path) -> list[Problem]:
    return [p for p in validate_repository(root) if p.file == DRILLS]


def test_units_left_out_by_a_flag_are_counted_and_named_in_registry_order(tmp_path):
    root = drill_only_with_a_dormitory(tmp_path)
    everyone = missing(3, "dongfeng-ps、hongqi-ps、dier-ms")
    with_a_lab = missing(2, "hongqi-ps、dier-ms")
    assert coverage_problems(root) == [
        Problem(DRILLS, "indicators[0]", everyone),
        Problem(DRILLS, "indicators[1]", everyone),
        Problem(DRILLS, "indicators[2]", with_a_lab),
    ]


def test_every_unit_of_a_left_out_profile_counts_not_one_per_profile(tmp_path):
    root = drill_only_with_a_dormitory(tmp_path)
    # 20 more primary schools with a lab and no dormitory, listed before the others.
    more = "".join(
        f"more-{n:02d}-ps,第{n}小学,primary,城东街道,false,true,500,40,\n" for n in range(20)
    )
    edit(root, UNITS, "dongfeng-ps,", more + "dongfeng-ps,")
    problems = coverage_problems(root)
    first_three = "more-00-ps、more-01-ps、more-02-ps"
    assert [p.message for p in problems] == [
        missing(23, first_three),
        missing(23, first_three),
        missing(22, first_three),
    ]


def test_a_form_that_reaches_every_profile_raises_nothing(tmp_path):
    root = copy_plan(tmp_path)
    assert coverage_problems(root) == []
