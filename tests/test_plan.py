"""builder.plan and builder.reports: the plan and the reports read, every problem collected."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from builder.model import (
    ALL_UNITS,
    AppliesTo,
    ContentError,
    Escalation,
    FieldRef,
    Operand,
    Problem,
    Target,
    report_path,
)
from builder.plan import load_content, read_content
from builder.reports import load_reports
from tests.fixtures import SCHOOL_SAFETY, copy_plan, edit

REPOSITORY = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ the repository's plan

repository_plan = pytest.mark.skipif(
    not (REPOSITORY / "content" / "plan.yml").exists(),
    reason="content/plan.yml is being written; the seed plan is not there yet",
)


@repository_plan
def test_the_repository_plan_loads_without_problems():
    content = load_content(REPOSITORY)
    assert content.tasks and content.units and content.forms and content.periods
    categories = {c.id for c in content.plan.categories}
    for task in content.tasks:
        assert task.category in categories if task.kind == "task" else task.category is None
        assert task.body.strip()
    for indicator in content.indicators:
        for ref in indicator.fields:
            assert content.form(ref.form).field_named(ref.field) is not None


@repository_plan
def test_the_repository_reports_load_against_the_repository_plan():
    content = load_content(REPOSITORY)
    reports = load_reports(REPOSITORY, content)
    unit_ids = {u.id for u in content.units}
    for report in reports:
        assert report.unit in unit_ids
        assert report.path == report_path(report.form, report.period, report.unit, report.id)


# ------------------------------------------------------------------ the second plan


@pytest.fixture(scope="module")
def school():
    return load_content(SCHOOL_SAFETY)


def test_a_second_unrelated_plan_loads_with_no_code_change(school):
    assert school.plan.id == "school-safety-2025"
    assert school.plan.year == 2025
    assert (school.plan.start, school.plan.end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert [c.id for c in school.plan.categories] == ["facilities", "drills"]
    assert school.plan.guarantees_title == "保障措施"
    assert school.plan.unit_type_label("secondary") == "中学"
    assert school.plan.demo is True


def test_tasks_come_by_number_then_the_guarantees(school):
    assert [(t.kind, t.number, t.id) for t in school.tasks] == [
        ("task", 1, "fire-equipment"),
        ("task", 2, "dormitory"),
        ("task", 3, "drills"),
        ("guarantee", 1, "responsibility"),
    ]
    assert school.task("responsibility").category is None
    assert school.task("drills").source == "content/tasks/03-drills.md"
    assert school.task("drills").body.startswith("每学期至少开展两次应急疏散演练")


def test_applies_to_reads_all_unit_types_and_flags(school):
    assert school.task("fire-equipment").applies_to == ALL_UNITS
    assert school.task("drills").applies_to == ALL_UNITS  # omitted = all
    assert school.task("dormitory").applies_to == AppliesTo(flags=("has_dormitory",))
    assert school.form("drill").applies_to == AppliesTo(unit_types=("primary", "secondary"))


def test_indicators_read_rules_operands_targets_and_their_own_applies_to(school):
    ratio, tracked, done_on = school.task("fire-equipment").indicators
    assert ratio.rule == "ratio"
    assert ratio.numerator == Operand(field=FieldRef("inspection", "extinguishers_checked"))
    assert ratio.denominator == Operand(unit_attribute="extinguishers")
    assert ratio.target == Target(minimum=1.0)
    assert ratio.due == date(2025, 12, 31)
    assert ratio.task_id == "fire-equipment"
    assert tracked.target is None and tracked.measure == "处"
    assert (done_on.rule, done_on.kind) == ("done_on", "deadline")
    assert done_on.target == Target(by=date(2025, 6, 30))  # its due date, written once
    lab = school.task("drills").indicators[2]
    assert lab.rule == "yes_no"
    assert lab.target == Target(equals=True)
    assert lab.applies_to == AppliesTo(flags=("has_lab",))
    checklist = school.task("fire-equipment").checklist
    assert [(c.title, c.field) for c in checklist] == [
        ("检查疏散通道和安全出口", FieldRef("inspection", "exits_clear")),
        ("检查应急照明", None),
    ]


def test_an_indicator_is_cumulative_unless_it_names_its_kind(tmp_path):
    root = copy_plan(tmp_path)
    edit(
        root,
        "content/tasks/02-dormitory.md",
        "    rule: yes_no\n",
        "    rule: yes_no\n    kind: deadline\n",
    )
    night_patrol = load_content(root).task("dormitory").indicators[0]
    assert night_patrol.kind == "deadline"
    assert load_content(SCHOOL_SAFETY).task("fire-equipment").indicators[0].kind == "cumulative"


def test_an_unknown_kind_and_a_threshold_without_target_are_problems(tmp_path):
    root = copy_plan(tmp_path)
    edit(
        root,
        "content/tasks/02-dormitory.md",
        "    rule: yes_no\n",
        "    rule: yes_no\n    kind: growing\n",
    )
    edit(
        root,
        "content/tasks/01-fire-equipment.md",
        "    measure: 处\n",
        "    measure: 处\n    kind: threshold\n",
    )
    assert problems_of(root) == [
        Problem("content/tasks/01-fire-equipment.md", "indicators[1].target",
                "threshold（持续保持）类指标需要设置 target"),
        Problem("content/tasks/02-dormitory.md", "indicators[0].kind",
                "指标类型“growing”无效，yes_no 规则可用：cumulative、threshold、deadline"),
    ]  # fmt: skip


def test_units_get_flags_from_boolean_columns_and_attributes_from_integer_columns(school):
    assert [u.id for u in school.units] == [
        "dongfeng-ps", "hongqi-ps", "binjiang-ps", "shiyan-ms", "dier-ms",
    ]  # fmt: skip
    unit = school.unit("shiyan-ms")
    assert (unit.name, unit.type) == ("实验中学", "secondary")
    assert unit.flags == {"has_dormitory": True, "has_lab": True}
    assert unit.attributes == {"students": 1630, "extinguishers": 150}
    assert school.unit("dier-ms").attributes["extinguishers"] == 0
    # A string column other than id/name/type is neither a flag nor an attribute.
    assert "district" not in unit.flags and "district" not in unit.attributes


def test_periods_are_ordered_by_end_date(school):
    assert [p.id for p in school.periods] == ["2025-T1", "2025-SUMMER", "2025-T2"]
    summer = school.period("2025-SUMMER")
    assert (summer.start, summer.end, summer.due) == (
        date(2025, 7, 11), date(2025, 8, 31), date(2025, 9, 5),
    )  # fmt: skip


def test_forms_read_their_fields_from_the_table_schema(school):
    form = school.form("inspection")
    assert form.title == "校园安全检查报表"
    assert form.description == "每学期和暑期各填报一次。"
    assert form.schema_path == "schemas/forms/inspection.json"
    assert form.periods == ("2025-T1", "2025-SUMMER", "2025-T2")
    raw = json.loads((SCHOOL_SAFETY / "schemas/forms/inspection.json").read_text())
    assert form.descriptor == raw
    assert [f.name for f in form.fields] == [f["name"] for f in raw["fields"]]
    checked = form.field_named("extinguishers_checked")
    assert (checked.type, checked.title, checked.description) == (
        "integer", "已检查灭火器数量", "截至报送时累计。",
    )  # fmt: skip
    assert (checked.required, checked.minimum, checked.maximum) == (True, 0, 5000)
    rating = form.field_named("rating")
    assert rating.enum == ("合格", "基本合格", "不合格")
    assert form.field_named("notes").max_length == 500
    assert form.field_named("notes").required is False


def test_reports_load_with_their_evidence_and_ignore_evidence_folders(school):
    reports = load_reports(SCHOOL_SAFETY, school)
    assert len(reports) == 6
    by_id = {r.id: r for r in reports}
    report = by_id["20250718163000-0d9e8f7a"]
    assert report.key == ("shiyan-ms", "inspection", "2025-T1")
    assert report.path == "data/reports/inspection/2025-T1/shiyan-ms/20250718163000-0d9e8f7a.json"
    assert report.submitted_at.utcoffset().total_seconds() == 8 * 3600
    assert report.submitted_by == {"account": "shiyan-ms", "name": "王主任"}
    assert report.values["extinguishers_checked"] == 120
    (evidence,) = report.evidence
    assert (evidence.file, evidence.name, evidence.media_type) == (
        "1-inspection-log.txt", "检查记录.txt", "text/plain",
    )  # fmt: skip
    # The evidence file (at depth 5) is not taken for a report.
    assert all(r.path.count("/") == 5 for r in reports)


def test_a_repository_without_reports_has_none(tmp_path):
    root = copy_plan(tmp_path)
    import shutil

    shutil.rmtree(root / "data")
    assert load_reports(root, load_content(root)) == []


# ------------------------------------------------------------------ problems


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(ContentError) as raised:
        load_content(root)
    return raised.value.problems


def test_invalid_yaml_is_a_problem_with_its_line_number(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/calendar.yml", "title: 2025年暑期,", "title: [2025年暑期,")
    (problem,) = problems_of(root)
    assert problem.file == "content/calendar.yml"
    assert problem.field == "line 3"
    assert problem.message.startswith("YAML 语法错误（第 3 行")


def test_invalid_yaml_in_front_matter_counts_lines_from_the_top_of_the_file(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/02-dormitory.md", "title: 寄宿制学校宿舍夜间值守", "title: : : [")
    (problem,) = problems_of(root)
    assert problem.file == "content/tasks/02-dormitory.md"
    assert problem.field == "line 5"  # `---` is line 1, `id:` line 2, ... `title:` line 5


def test_a_duplicate_key_is_a_problem_not_a_silent_overwrite(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/plan.yml", "year: 2025\n", "year: 2025\nyear: 2026\n")
    (problem,) = problems_of(root)
    assert (problem.file, problem.field) == ("content/plan.yml", "line 7")
    assert "键“year”重复出现" in problem.message


def test_a_task_without_front_matter_is_a_problem(tmp_path):
    root = copy_plan(tmp_path)
    (root / "content/tasks/04-notes.md").write_text("只有正文，没有头信息。\n", encoding="utf-8")
    (problem,) = problems_of(root)
    assert problem.file == "content/tasks/04-notes.md"
    assert "缺少 YAML 头信息" in problem.message


def test_every_problem_is_collected_not_only_the_first(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/01-fire-equipment.md", "rule: sum", "rule: average")
    edit(root, "content/tasks/03-drills.md", "due: 2025-12-31\n---", "due: 2025-13-40\n---")
    edit(root, "content/units.csv", "hongqi-ps,红旗小学,primary,城西街道,false,true,1150,90",
         "hongqi-ps,红旗小学,college,城西街道,perhaps,true,-5,90")  # fmt: skip
    assert problems_of(root) == [
        Problem("content/tasks/01-fire-equipment.md", "indicators[1].rule",
                "规则“average”无效，应为 sum、latest、ratio、yes_no、done_on 之一"),
        Problem("content/tasks/03-drills.md", "indicators[2].due",
                "日期“2025-13-40”无效，应写成 YYYY-MM-DD"),
        Problem("content/units.csv", "row 3: has_dormitory", "请选择“是”或“否”"),
        Problem("content/units.csv", "row 3: students", "不能小于 0"),
        Problem("content/units.csv", "row 3: type",
                "“college”不是可选值，请从以下选项中选择：primary、secondary"),
    ]  # fmt: skip


def test_units_csv_header_and_rows_are_checked_against_the_units_schema(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/units.csv", "students,extinguishers", "pupils,extinguishers")
    edit(root, "content/units.csv", "dier-ms,第二中学,secondary,城西街道,false,true,1210,0,二中\n",
         "dier-ms,第二中学,secondary,城西街道,false,true,1210,0,二中\n"
         "dier-ms,第二中学\n")  # fmt: skip
    problems = problems_of(root)
    assert Problem("content/units.csv", "row 1", "缺少列“students”") in problems
    assert (
        Problem("content/units.csv", "row 1", "列“pupils”未在 schemas/units.schema.json 中声明")
        in problems
    )


def test_units_rows_are_checked_cell_by_cell(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/units.csv", "dier-ms,第二中学,secondary,城西街道,false,true,1210,0,二中\n",
         "dier-ms,第二中学,secondary,城西街道,false,true,1210,0,二中\n"
         "dongfeng-ps,东风路小学分校,primary,,false,false,10,1,\n"
         "bad..id,坏单位,primary,,false,false,10,1,\n"
         "short-row,短行\n")  # fmt: skip
    assert problems_of(root) == [
        Problem("content/units.csv", "row 7: id", "“dongfeng-ps”与第 2 行重复"),
        Problem("content/units.csv", "row 8: id",
                "“bad..id”不是有效的标识符（只能使用字母、数字、- 和 _，以字母或数字开头和结尾，"
                "最长 64 个字符）"),
        Problem("content/units.csv", "row 9", "有 2 列，表头有 9 列"),
    ]  # fmt: skip


def test_unknown_keys_are_reported_so_typos_do_not_pass_silently(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/02-dormitory.md", "applies_to:", "aplies_to:")
    (problem,) = problems_of(root)
    assert problem == Problem("content/tasks/02-dormitory.md", "aplies_to", "未知的键“aplies_to”")


def test_a_missing_form_schema_is_named(tmp_path):
    root = copy_plan(tmp_path)
    (root / "schemas/forms/drill.json").unlink()
    problems = problems_of(root)
    # The missing file is reported once; references to the form do not cascade.
    assert problems == [Problem("schemas/forms/drill.json", "", "文件不存在")]


def test_an_invalid_table_schema_is_named(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "schemas/forms/drill.json", '"type": "number"', '"type": "money"')
    (problem,) = problems_of(root)
    assert problem.file == "schemas/forms/drill.json"
    assert problem.message.startswith("不是有效的 Frictionless Table Schema")


def test_a_form_field_name_must_be_usable_in_a_path_and_a_form(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "schemas/forms/drill.json", '"name": "notes"', '"name": "Notes-1"')
    (problem,) = problems_of(root)
    assert (problem.file, problem.field) == ("schemas/forms/drill.json", "fields[4].name")
    assert problem.message.startswith("字段名“Notes-1”无效")


def test_missing_files_are_each_named(tmp_path):
    root = copy_plan(tmp_path)
    (root / "content/calendar.yml").unlink()
    (root / "content/units.csv").unlink()
    problems = problems_of(root)
    assert Problem("content/calendar.yml", "", "文件不存在") in problems
    assert Problem("content/units.csv", "", "文件不存在") in problems


@pytest.mark.parametrize("name", ["plan.yml", "calendar.yml", "forms.yml"])
def test_a_plan_file_that_is_not_a_mapping_is_named(tmp_path, name):
    root = copy_plan(tmp_path)
    (root / "content" / name).write_text("- 只是一个列表\n", encoding="utf-8")
    assert Problem(f"content/{name}", "", f"{name} 的内容应为映射（键: 值）") in problems_of(root)


def test_read_content_returns_the_loadable_part_with_the_problems(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/02-dormitory.md", "number: 2", "number: two")
    content, problems = read_content(root)
    assert problems == [Problem("content/tasks/02-dormitory.md", "number", "应为整数")]
    assert content is not None
    assert [t.id for t in content.tasks] == ["fire-equipment", "drills", "responsibility"]


def test_a_blank_title_is_a_problem_naming_the_file_and_field(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/02-dormitory.md", "title: 寄宿制学校宿舍夜间值守", "title: '   '")
    assert problems_of(root) == [
        Problem("content/tasks/02-dormitory.md", "title", "title 不能为空")
    ]


def test_a_full_width_colon_points_at_its_own_line_with_a_hint(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/01-fire-equipment.md", "    rule: sum", "    rule：sum")
    (problem,) = problems_of(root)
    assert problem.field == "line 18"  # `rule：sum` itself, not where PyYAML gave up
    assert "全角标点“：”" in problem.message and "半角冒号" in problem.message


def test_reminder_days_default_when_absent_and_are_checked_when_given(tmp_path):
    root = copy_plan(tmp_path)
    assert load_content(root).escalation == Escalation()
    calendar = root / "content/calendar.yml"
    calendar.write_text(
        calendar.read_text(encoding="utf-8")
        + "reminders:\n  due_soon_days: 7\n  remind_before: [1, 3]\n",
        encoding="utf-8",
    )
    assert load_content(root).escalation == Escalation(7, (3, 1), Escalation().remind_after)
    calendar.write_text(
        calendar.read_text(encoding="utf-8").replace("[1, 3]", "[一天]"), encoding="utf-8"
    )
    assert [(p.file, p.field) for p in problems_of(root)] == [
        ("content/calendar.yml", "reminders.remind_before")
    ]


# ------------------------------------------------------------------ the plan's own sections


def test_the_plan_declares_its_own_sections_in_order(school):
    sections = school.plan.sections
    assert [s.title for s in sections] == [
        "第一部分：工作目标",
        "第二部分：重点工作",
        "第三部分：工作要求",
        "第四部分：保障措施",
    ]
    assert [s.tasks for s in sections] == ["", "main", "", "guarantees"]
    assert [s.title for s in sections[2].sections] == ["预防为主", "全员参与"]
    assert sections[0].text.startswith("坚持安全第一")


def test_a_plan_yml_with_the_former_fixed_headings_names_the_keys_to_move(tmp_path):
    root = copy_plan(tmp_path)
    plan = root / "content/plan.yml"
    text = plan.read_text(encoding="utf-8")
    start, end = text.index("sections:"), text.index("timezone:")
    former = (
        "guiding_ideology: 坚持安全第一。\nprinciples:\n  - {title: 预防为主, text: 早发现。}\n"
    )
    plan.write_text(text[:start] + former + text[end:], encoding="utf-8")
    problems = problems_of(root)
    assert [(p.file, p.field) for p in problems] == [
        ("content/plan.yml", "guiding_ideology"),
        ("content/plan.yml", "principles"),
        ("content/plan.yml", "sections"),
    ]
    assert "请把这段文字连同它的标题写进 sections" in problems[0].message
    assert problems[2].message == "缺少 sections"


def test_the_tasks_must_have_a_section_and_the_guarantees_too_when_there_are_any(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/plan.yml", "    tasks: main\n", "")
    edit(root, "content/plan.yml", "    tasks: guarantees\n", "")
    problems = problems_of(root)
    assert problems == [
        Problem("content/plan.yml", "sections", "没有一节写明 tasks: main，任务无处列出"),
    ]
    root = copy_plan(tmp_path / "second")
    edit(root, "content/plan.yml", "    tasks: guarantees\n", "")
    assert problems_of(root) == [
        Problem(
            "content/plan.yml",
            "sections",
            "content/guarantees/ 中有保障措施，但没有一节写明 tasks: guarantees",
        ),
    ]


def test_an_unknown_section_list_is_named(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/plan.yml", "tasks: guarantees", "tasks: appendix")
    assert Problem(
        "content/plan.yml",
        "sections[3].tasks",
        "应为 main（任务）或 guarantees（保障措施），不是“appendix”",
    ) in problems_of(root)


# ------------------------------------------------------------------ the plan's time zone


def test_the_time_zone_defaults_to_beijing_time(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/plan.yml", "timezone: Asia/Shanghai\n", "")
    assert load_content(root).plan.timezone == "Asia/Shanghai"
    edit(root, "content/plan.yml", "demo: true\n", "demo: true\ntimezone: Asia/Urumqi\n")
    assert load_content(root).plan.timezone == "Asia/Urumqi"


def test_an_unknown_time_zone_is_a_problem_naming_file_and_field(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/plan.yml", "timezone: Asia/Shanghai", "timezone: Beijing")
    assert problems_of(root) == [
        Problem(
            "content/plan.yml",
            "timezone",
            "未知的时区“Beijing”，应写成 IANA 时区名，例如 Asia/Shanghai",
        )
    ]
