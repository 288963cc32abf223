"""builder.validate and `plansite validate`: broken copies of a plan, one thing broken each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from builder.model import Problem
from builder.validate import validate_repository
from tests.fixtures import SCHOOL_SAFETY, copy_plan, edit

FIRE = "content/tasks/01-fire-equipment.md"
DRILLS = "content/tasks/03-drills.md"
SHIYAN = "data/reports/inspection/2025-T1/shiyan-ms/20250718163000-0d9e8f7a.json"
HONGQI = "data/reports/drill/2025-T1/hongqi-ps/20250625140000-a1b2c3d4.json"
IDENTIFIER = (
    "不是有效的标识符（只能使用字母、数字、- 和 _，以字母或数字开头和结尾，最长 64 个字符）"
)


def test_the_second_plan_is_valid():
    assert validate_repository(SCHOOL_SAFETY) == []


# (what is broken, file, old text, new text, the one expected problem)
BROKEN = [
    ("invalid yaml", "content/forms.yml", "    periods: [2025-T1, 2025-T2]",
     "    periods: [2025-T1, 2025-T2",
     # PyYAML notices the unclosed list where the next key starts.
     Problem("content/forms.yml", "line 17",
             "YAML 语法错误（第 17 行第 15 列）：无法解析（expected ',' or ']', but got ':'）")),
    ("unknown category", FIRE, "category: facilities", "category: buildings",
     Problem(FIRE, "category", "类别“buildings”未在 content/plan.yml 中定义")),
    ("bad field reference", FIRE, "field: inspection.hazards_fixed",
     "field: inspection.hazards_repaired",
     Problem(FIRE, "indicators[1].field", "引用的表单字段 inspection.hazards_repaired 不存在")),
    ("field reference to an unknown form", DRILLS, "field: drill.drills_held",
     "field: drills.drills_held",
     Problem(DRILLS, "indicators[0].field", "引用的表单 drills 不存在")),
    ("malformed field reference", DRILLS, "field: drill.drills_held", "field: drills_held",
     Problem(DRILLS, "indicators[0].field",
             "字段引用“drills_held”应写成 表单标识.字段名（例如 form-id.field_name）")),
    ("yes_no on a number", DRILLS, "field: drill.lab_drill", "field: drill.drills_held",
     Problem(DRILLS, "indicators[2].field",
             "表单字段 drill.drills_held 的类型是 integer，这里需要 boolean")),
    ("sum of a text", FIRE, "field: inspection.hazards_fixed", "field: inspection.rating",
     Problem(FIRE, "indicators[1].field",
             "表单字段 inspection.rating 的类型是 string，这里需要 integer 或 number")),
    ("checklist ticked by a number", FIRE, "field: inspection.exits_clear",
     "field: inspection.hazards_found",
     Problem(FIRE, "checklist[0].field",
             "表单字段 inspection.hazards_found 的类型是 integer，这里需要 boolean")),
    ("field of a form the task does not list", DRILLS, "field: drill.lab_drill",
     "field: inspection.exits_clear",
     Problem(DRILLS, "indicators[2].field", "表单 inspection 未列在本任务的 forms 中")),
    ("unknown denominator column", FIRE, "denominator: {unit: extinguishers}",
     "denominator: {unit: hydrants}",
     Problem(FIRE, "indicators[0].denominator.unit",
             "单位数据列“hydrants”不是 schemas/units.schema.json 中的整数列")),
    ("denominator on a text column", FIRE, "denominator: {unit: extinguishers}",
     "denominator: {unit: district}",
     Problem(FIRE, "indicators[0].denominator.unit",
             "单位数据列“district”不是 schemas/units.schema.json 中的整数列")),
    ("unknown flag", "content/tasks/02-dormitory.md", "flags: [has_dormitory]",
     "flags: [has_canteen]",
     Problem("content/tasks/02-dormitory.md", "applies_to.flags[0]",
             "单位标记“has_canteen”不是 schemas/units.schema.json 中的布尔列")),
    ("unknown unit type", "content/forms.yml", "unit_types: [primary, secondary]",
     "unit_types: [primary, secondary, university]",
     Problem("content/forms.yml", "forms[1].applies_to.unit_types[2]",
             "单位类型“university”未在 content/plan.yml 的 unit_types 中定义")),
    ("form period missing from the calendar", "content/forms.yml", "periods: [2025-T1, 2025-T2]",
     "periods: [2025-T1, 2025-T3]",
     Problem("content/forms.yml", "forms[1].periods[1]",
             "报送周期“2025-T3”未在 content/calendar.yml 中定义")),
    ("task lists an unknown form", DRILLS, "forms: [drill]", "forms: [drill, fire-drill]",
     Problem(DRILLS, "forms[1]", "表单 fire-drill 未在 content/forms.yml 中定义")),
    ("due date does not parse", DRILLS, "target: {min: 4}\n    measure: 次\n    due: 2025-12-31",
     "target: {min: 4}\n    measure: 次\n    due: 2025-12-32",
     Problem(DRILLS, "indicators[0].due", "日期“2025-12-32”无效，应写成 YYYY-MM-DD")),
    ("yes_no with a numeric target", DRILLS, "target: {equals: true}", "target: {min: 1}",
     Problem(DRILLS, "indicators[2].target",
             "yes_no 规则的目标应为 equals: true 或 equals: false")),
    ("identifier with ..", "content/plan.yml", "{id: primary, label: 小学}",
     "{id: ../primary, label: 小学}",
     Problem("content/plan.yml", "unit_types[0].id", f"“../primary”{IDENTIFIER}")),
    ("category on a guarantee", "content/guarantees/01-responsibility.md", "number: 1\n",
     "number: 1\ncategory: facilities\n",
     Problem("content/guarantees/01-responsibility.md", "category",
             "组织保障不属于任何类别，请删除 category")),
    ("two tasks with one number", DRILLS, "number: 3", "number: 2",
     Problem(DRILLS, "number", "编号 2 与 content/tasks/02-dormitory.md 重复")),
    ("two tasks with one id", DRILLS, "id: drills\n", "id: dormitory\n",
     Problem(DRILLS, "id", "任务标识“dormitory”与 content/tasks/02-dormitory.md 重复")),
    ("report value out of range", SHIYAN, '"extinguishers_checked": 120',
     '"extinguishers_checked": 99999',
     Problem(SHIYAN, "values.extinguishers_checked", "不能大于 5000")),
    ("report value of the wrong type", SHIYAN, '"hazards_fixed": 4', '"hazards_fixed": "four"',
     Problem(SHIYAN, "values.hazards_fixed", "请输入整数")),
    ("report without a required value", SHIYAN, '"rating": "基本合格",', '',
     Problem(SHIYAN, "values.rating", "此项为必填项")),
    ("report with an unknown field", SHIYAN, '"exits_clear": false,',
     '"exits_clear": false,\n    "colour": "red",',
     Problem(SHIYAN, "values.colour", "表单中没有此字段")),
    ("report path does not match its content", SHIYAN, '"period": "2025-T1"',
     '"period": "2025-T2"',
     Problem(SHIYAN, "", "文件位置与内容不符，应为 "
             "data/reports/inspection/2025-T2/shiyan-ms/20250718163000-0d9e8f7a.json")),
    ("report unit with ..", SHIYAN, '"unit": "shiyan-ms"', '"unit": "../../content"',
     Problem(SHIYAN, "unit", f"“../../content”{IDENTIFIER}")),
    ("report without a time zone", SHIYAN, '"2025-07-18T16:30:00+08:00"', '"2025-07-18T16:30:00"',
     Problem(SHIYAN, "submitted_at", "提交时间应包含时区（例如 +08:00）")),
    ("report that is not JSON", SHIYAN, '"form": "inspection",', '"form": "inspection"',
     Problem(SHIYAN, "line 12", "JSON 格式错误（第 12 行第 3 列）：Expecting ',' delimiter")),
    ("evidence with a path in its name", SHIYAN, '"file": "1-inspection-log.txt"',
     '"file": "1-../../../etc/passwd"',
     Problem(SHIYAN, "evidence[0].file",
             "文件名“1-../../../etc/passwd”无效，应为 <序号>-<文件名>，且不含路径")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_one_broken_thing_is_named_by_file_field_and_message(tmp_path, file, old, new, expected):
    root = copy_plan(tmp_path)
    edit(root, file, old, new)
    assert validate_repository(root) == [expected]


def test_a_form_that_no_longer_reaches_every_unit_an_indicator_applies_to(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/forms.yml", "unit_types: [primary, secondary]", "unit_types: [primary]")
    message = "有 2 个适用单位不填报表单 drill（如 shiyan-ms、dier-ms），该指标无法取得数据"
    # lab-drill applies to schools with a lab only; two of them are secondary schools too.
    assert validate_repository(root) == [
        Problem(DRILLS, f"indicators[{index}]", message) for index in range(3)
    ]


def move_report(root: Path, old: str, new: str, **changes: str) -> str:
    """Move a report to another place, its JSON changed to match (a consistent path)."""
    data = json.loads((root / old).read_text(encoding="utf-8"))
    data.update(changes)
    (root / new).parent.mkdir(parents=True, exist_ok=True)
    (root / new).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (root / old).unlink()
    return new


def test_a_report_for_an_unknown_unit(tmp_path):
    root = copy_plan(tmp_path)
    new = move_report(root, HONGQI, HONGQI.replace("hongqi-ps", "xinhua-ps"), unit="xinhua-ps")
    assert validate_repository(root) == [Problem(new, "unit", "单位“xinhua-ps”不存在")]


def test_a_report_for_a_form_that_does_not_apply_to_the_unit(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/forms.yml", "unit_types: [primary, secondary]", "unit_types: [secondary]")
    edit(root, DRILLS, "forms: [drill]", "applies_to: {unit_types: [secondary]}\nforms: [drill]")
    problems = validate_repository(root)
    assert Problem(HONGQI, "unit", "表单 drill 不适用于单位 hongqi-ps") in problems
    assert {p.message for p in problems} == {
        "表单 drill 不适用于单位 hongqi-ps", "表单 drill 不适用于单位 binjiang-ps",
    }  # fmt: skip


def test_a_report_for_a_period_the_form_does_not_have(tmp_path):
    root = copy_plan(tmp_path)
    new = move_report(root, HONGQI, HONGQI.replace("2025-T1", "2025-SUMMER"), period="2025-SUMMER")
    assert validate_repository(root) == [
        Problem(new, "period", "表单 drill 没有报送周期“2025-SUMMER”")
    ]


def test_a_report_for_an_unknown_period_and_form(tmp_path):
    root = copy_plan(tmp_path)
    new = move_report(
        root, HONGQI, "data/reports/fire/2026-T1/hongqi-ps/20250625140000-a1b2c3d4.json",
        form="fire", period="2026-T1",
    )  # fmt: skip
    assert validate_repository(root) == [
        Problem(new, "form", "表单“fire”不存在"),
        Problem(new, "period", "报送周期“2026-T1”不存在"),
    ]


def test_a_listed_evidence_file_that_is_missing(tmp_path):
    root = copy_plan(tmp_path)
    (root / SHIYAN.removesuffix(".json") / "1-inspection-log.txt").unlink()
    assert validate_repository(root) == [
        Problem(SHIYAN, "evidence[0].file", "佐证材料文件 1-inspection-log.txt 不存在")
    ]


def test_a_json_file_outside_the_report_layout(tmp_path):
    root = copy_plan(tmp_path)
    (root / "data/reports/inspection/stray.json").write_text("{}", encoding="utf-8")
    assert validate_repository(root) == [
        Problem("data/reports/inspection/stray.json", "",
                "报告文件位置不正确，应为 data/reports/<表单>/<周期>/<单位>/<编号>.json")
    ]  # fmt: skip


def test_problems_are_sorted_by_file_then_field_and_deduplicated(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, SHIYAN, '"hazards_fixed": 4', '"hazards_fixed": -4')
    edit(root, SHIYAN, '"extinguishers_checked": 120', '"extinguishers_checked": -1')
    edit(root, DRILLS, "field: drill.lab_drill", "field: drill.lab")
    edit(root, FIRE, "field: inspection.hazards_fixed", "field: inspection.fixed")
    problems = validate_repository(root)
    # Content problems stop the report checks: reports are only checked against a whole plan.
    assert [(p.file, p.field) for p in problems] == [
        (FIRE, "indicators[1].field"),
        (DRILLS, "indicators[2].field"),
    ]
    shutil.copy(SCHOOL_SAFETY / FIRE, root / FIRE)
    shutil.copy(SCHOOL_SAFETY / DRILLS, root / DRILLS)
    problems = validate_repository(root)
    assert [(p.field, p.message) for p in problems] == [
        ("values.extinguishers_checked", "不能小于 0"),
        ("values.hazards_fixed", "不能小于 0"),
    ]
    assert len(set(problems)) == len(problems)


def test_field_paths_sort_numbers_naturally(tmp_path):
    root = copy_plan(tmp_path)
    rows = "".join(f"extra-{n},学校{n},primary,,false,false,-1,1,\n" for n in range(1, 11))
    with (root / "content/units.csv").open("a", encoding="utf-8") as handle:
        handle.write(rows)
    fields = [p.field for p in validate_repository(root)]
    assert fields == [f"row {n}: students" for n in range(7, 17)]


# ------------------------------------------------------------------ the command


def test_cli_validate_passes_a_valid_plan(capsys):
    assert main(["validate", "--root", str(SCHOOL_SAFETY)]) == 0
    assert capsys.readouterr().out == "校验通过\n"


def test_cli_validate_prints_every_problem_and_exits_1(tmp_path, capsys):
    root = copy_plan(tmp_path)
    edit(root, FIRE, "category: facilities", "category: buildings")
    edit(root, SHIYAN, '"extinguishers_checked": 120', '"extinguishers_checked": 99999')
    assert main(["validate", "--root", str(root)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{FIRE}: category: 类别“buildings”未在 content/plan.yml 中定义",
        "校验未通过：1 个文件中共有 1 个问题",
    ]
    shutil.copy(SCHOOL_SAFETY / FIRE, root / FIRE)
    assert main(["validate", "--root", str(root)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{SHIYAN}: values.extinguishers_checked: 不能大于 5000",
        "校验未通过：1 个文件中共有 1 个问题",
    ]


def test_cli_validate_refuses_a_folder_without_content(tmp_path, capsys):
    assert main(["validate", "--root", str(tmp_path)]) == 2
    assert "找不到 content 目录" in capsys.readouterr().err


def test_cli_validate_defaults_to_the_current_directory(monkeypatch, capsys):
    monkeypatch.chdir(SCHOOL_SAFETY)
    assert main(["validate"]) == 0
    assert "校验通过" in capsys.readouterr().out


def test_cli_without_a_command_shows_usage_and_fails(capsys):
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2
    assert "usage: plansite" in capsys.readouterr().err


# ------------------------------------------------------------------ checks across fields
# The second plan's inspection form declares: extinguishers checked not above the school's
# own count in units.csv (an error), hazards fixed not above hazards found (a warning).


def test_a_report_above_a_unit_registry_column_is_an_error(tmp_path, capsys):
    root = copy_plan(tmp_path)
    # 实验中学 has 150 extinguishers in units.csv.
    edit(root, SHIYAN, '"extinguishers_checked": 120', '"extinguishers_checked": 900')
    said = "已检查灭火器数量不能超过本校灭火器总数（填报 900，单位名录“extinguishers”为 150）"
    assert validate_repository(root) == [Problem(SHIYAN, "values.extinguishers_checked", said)]
    assert main(["validate", "--root", str(root)]) == 1


def test_a_warning_without_explanation_is_an_error_and_with_one_a_warning(tmp_path, capsys):
    root = copy_plan(tmp_path)
    edit(root, SHIYAN, '"hazards_fixed": 4', '"hazards_fixed": 7')
    said = "本期整改隐患数一般不超过本期发现的隐患数（填报 7，“本期发现隐患（处）”为 5）"
    assert validate_repository(root) == [
        Problem(SHIYAN, "values.hazards_fixed", f"{said}；数据异常但没有说明（explanation）")
    ]
    edit(root, SHIYAN, '"values"', '"explanation": "含上期遗留的 2 处隐患", "values"')
    explained = f"{said}；填报单位说明：含上期遗留的 2 处隐患"
    assert validate_repository(root) == [
        Problem(SHIYAN, "values.hazards_fixed", explained, warning=True)
    ]
    capsys.readouterr()
    assert main(["validate", "--root", str(root)]) == 0  # a warning: printed, still valid
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{SHIYAN}: values.hazards_fixed: 警告：{said}；填报单位说明：含上期遗留的 2 处隐患",
        "校验通过（有 1 个警告，请核实）",
    ]


def test_a_check_naming_an_unknown_field_or_column_is_a_plan_problem(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/forms.yml", "not_above: {unit: extinguishers}", "not_above: {unit: pupils}")
    edit(
        root, "content/forms.yml", "not_above: {field: hazards_found}", "not_above: {field: rating}"
    )
    problems = [p for p in validate_repository(root) if p.file == "content/forms.yml"]
    assert problems == [
        Problem("content/forms.yml", "forms[0].checks[0].not_above.unit",
                "单位数据列“pupils”不是 schemas/units.schema.json 中的整数列"),
        Problem("content/forms.yml", "forms[0].checks[1].not_above.field",
                "“rating”不是本表单的数值字段（可用：extinguishers_checked、hazards_fixed、hazards_found）"),
    ]  # fmt: skip


# ------------------------------------------------------------------ warnings: likely mistakes


def warnings_of(root: Path) -> list[Problem]:
    problems = validate_repository(root)
    assert all(problem.warning for problem in problems), problems
    return problems


def test_a_rate_target_above_1_is_a_warning_not_an_error(tmp_path, capsys):
    root = copy_plan(tmp_path)
    edit(root, FIRE, "target: {min: 1.0}", "target: {min: 100}")
    (warning,) = warnings_of(root)
    assert (warning.file, warning.field) == (FIRE, "indicators[0].target.min")
    assert warning.message.startswith("比率目标 min: 100 大于 1（100%），永远无法达到")
    assert main(["validate", "--root", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{FIRE}: indicators[0].target.min: 警告：比率目标")
    assert out[-1] == "校验通过（有 1 个警告，请核实）"


def test_a_due_date_outside_the_plan_period_is_a_warning(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, FIRE, "due: 2025-12-31", "due: 2026-12-31")
    assert warnings_of(root) == [
        Problem(FIRE, "indicators[0].due",
                "截止日期 2026-12-31 不在方案期限（2025-01-01 至 2025-12-31）内", warning=True)
    ]  # fmt: skip


def test_an_indicator_id_used_in_two_tasks_is_a_warning(tmp_path):
    root = copy_plan(tmp_path)
    edit(root, "content/tasks/02-dormitory.md", "id: night-patrol", "id: hazards-fixed")
    (warning,) = warnings_of(root)
    assert (warning.file, warning.field) == ("content/tasks/02-dormitory.md", "indicators[0].id")
    assert warning.message.startswith(
        "指标标识“hazards-fixed”已在 content/tasks/01-fire-equipment.md 中使用"
    )


def test_a_target_the_field_constraints_never_reach_is_a_warning(tmp_path):
    root = copy_plan(tmp_path)
    # hazards_fixed is at most 500 per report, over three periods: 1500 at most.
    edit(root, FIRE, "    measure: 处\n", "    measure: 处\n    target: {min: 2000}\n")
    assert warnings_of(root) == [
        Problem(FIRE, "indicators[1].target.min",
                "目标 2000 处 无法达到：按表单字段的取值上限，最多只能达到 1500 处", warning=True)
    ]  # fmt: skip


# ------------------------------------------------------------------ against the unit's history
# The second plan's inspection form: hazards found more than 3 times the school's last
# approved report of the form is odd. 实验中学 reported 5 in 2025-T1, then 2025-SUMMER.
SHIYAN_SUMMER = "data/reports/inspection/2025-SUMMER/shiyan-ms/20250903090000-5c6d7e8f.json"


def test_a_jump_beyond_the_plan_s_factor_is_a_warning_explained_or_not(tmp_path, capsys):
    root = copy_plan(tmp_path)
    edit(root, SHIYAN_SUMMER, '"hazards_found": 1', '"hazards_found": 16')
    said = (
        "“本期发现隐患（处）”与上次批准的填报（2025年春季学期）相比变化过大"
        "（填报 16，超过上次批准的填报（2025年春季学期）5 的 3 倍）"
    )
    # A warning even unexplained: an earlier period approved late can make it odd afterwards.
    assert validate_repository(root) == [
        Problem(SHIYAN_SUMMER, "values.hazards_found", f"{said}；没有说明", warning=True)
    ]
    edit(root, SHIYAN_SUMMER, '"values"', '"explanation": "暑期全面排查", "values"')
    assert validate_repository(root) == [
        Problem(SHIYAN_SUMMER, "values.hazards_found", f"{said}；填报单位说明：暑期全面排查",
                warning=True)
    ]  # fmt: skip
    capsys.readouterr()
    assert main(["validate", "--root", str(root)]) == 0


def test_a_cumulative_count_below_the_last_approved_report_is_a_warning(tmp_path):
    root = copy_plan(tmp_path)
    edit(
        root, "content/forms.yml", "        history: {max_factor: 3}",
        "        history: {max_factor: 3}\n"
        "      - field: extinguishers_checked\n        history: {cumulative: true}",
    )  # fmt: skip
    assert validate_repository(root) == []  # 120 in 2025-T1, then 150
    edit(root, SHIYAN_SUMMER, '"extinguishers_checked": 150', '"extinguishers_checked": 100')
    (warning,) = validate_repository(root)
    assert warning == Problem(
        SHIYAN_SUMMER, "values.extinguishers_checked",
        "“已检查灭火器数量”是累计数，不应比上次批准的填报（2025年春季学期）少"
        "（填报 100，上次为 120）；没有说明", warning=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("history", "field", "message"),
    [
        ("{max_factor: 1}", "forms[0].checks[2].history.max_factor", "应大于 1，而不是 1"),
        ("{}", "forms[0].checks[2].history",
         "应设置 cumulative: true（累计数不应减少）或 max_factor（倍数上限）"),
        ("{max_factor: 3}\n        level: error", "forms[0].checks[2].level",
         "与上次填报的比较只能是 warning（需说明），而不是“error”"),
    ],
)  # fmt: skip
def test_a_history_check_that_cannot_work_is_a_plan_problem(tmp_path, history, field, message):
    root = copy_plan(tmp_path)
    edit(root, "content/forms.yml", "history: {max_factor: 3}", f"history: {history}")
    problems = [p for p in validate_repository(root) if p.file == "content/forms.yml"]
    assert problems == [Problem("content/forms.yml", field, message)]
