"""Data exports: a Frictionless data package (CSV + datapackage.json) and an Excel workbook.

Both are built from the same tables: a table is a list of columns plus a generator of rows
of plain Python values, so nothing holds a whole table in memory and the CSV, the package
schema and the workbook can never disagree on the columns. Everything plan-specific (forms,
fields, titles) comes from `Content`; nothing here knows the plan.

Spreadsheet formula injection: a unit name or a report note typed as `=HYPERLINK(...)` must
not become a formula in whoever opens the file. Every text cell that starts with one of
`= + - @ TAB CR` is written with a leading `'` in CSV and as an explicit string cell with
Excel's quote prefix in the workbook.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import xlsxwriter

from builder.model import Content, Form, Report, Status
from builder.progress import Progress, effective_reports, format_value

DATAPACKAGE = "datapackage.json"

# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Statuses counted in the per-unit summary, in display order (not applicable is not counted).
COUNTED_STATUSES = tuple(s for s in Status if s is not Status.NOT_APPLICABLE)


def neutralise(text: str) -> str:
    """The text as it must appear in a CSV cell so that no spreadsheet evaluates it."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


@dataclass(frozen=True)
class Column:
    """One column of an exported table: its Frictionless field descriptor is the contract."""

    name: str
    title: str  # Chinese header
    descriptor: dict[str, Any]

    @staticmethod
    def of(name: str, title: str, type_: str, description: str = "", **constraints: Any) -> Column:
        descriptor: dict[str, Any] = {"name": name, "title": title, "type": type_}
        if description:
            descriptor["description"] = description
        if constraints:
            descriptor["constraints"] = constraints
        return Column(name, title, descriptor)


@dataclass(frozen=True)
class Table:
    name: str  # resource name and file stem
    title: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[], Iterator[list[Any]]]  # a fresh generator each call
    primary_key: tuple[str, ...] = ()

    @property
    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"fields": [copy.deepcopy(c.descriptor) for c in self.columns]}
        if self.primary_key:
            schema["primaryKey"] = list(self.primary_key)
        return schema


# Key columns of a report table. Form field names match ^[a-z][a-z0-9_]*$, so these
# hyphenated names can never collide with a field of any plan's form.
REPORT_KEY_COLUMNS = (
    Column.of("submission-id", "填报编号", "string", required=True, unique=True),
    Column.of("unit-id", "单位代码", "string", required=True),
    Column.of("unit-name", "单位名称", "string"),
    Column.of("period-id", "报送周期", "string", required=True),
    Column.of("submitted-at", "提交时间", "datetime", required=True),
)


def _report_field_columns(form: Form) -> list[Column]:
    """The form's own fields, in schema order, with constraints made to fit neutralised text."""
    descriptors = form.descriptor.get("fields") if form.descriptor else None
    if not descriptors:
        descriptors = [_descriptor_from_field(f) for f in form.fields]
    columns = []
    for raw in descriptors:
        descriptor = copy.deepcopy(raw)
        if descriptor.get("type", "string") == "string":
            _widen_for_neutralised_text(descriptor)
        columns.append(Column(descriptor["name"], descriptor.get("title") or descriptor["name"],
                              descriptor))
    return columns


def _descriptor_from_field(field: Any) -> dict[str, Any]:
    # Hand-built Form objects may carry no descriptor; rebuild one from the FormField.
    constraints: dict[str, Any] = {}
    if field.required:
        constraints["required"] = True
    if field.minimum is not None:
        constraints["minimum"] = field.minimum
    if field.maximum is not None:
        constraints["maximum"] = field.maximum
    if field.max_length is not None:
        constraints["maxLength"] = field.max_length
    if field.enum is not None:
        constraints["enum"] = list(field.enum)
    descriptor: dict[str, Any] = {"name": field.name, "type": field.type, "title": field.title}
    if field.description:
        descriptor["description"] = field.description
    if constraints:
        descriptor["constraints"] = constraints
    return descriptor


def _widen_for_neutralised_text(descriptor: dict[str, Any]) -> None:
    """A neutralised value gains a leading quote; the published schema must still accept it."""
    constraints = descriptor.get("constraints")
    if not constraints:
        return
    if isinstance(constraints.get("maxLength"), int):
        constraints["maxLength"] += 1
    if isinstance(constraints.get("pattern"), str):
        constraints["pattern"] = f"'?(?:{constraints['pattern']})"
    if isinstance(constraints.get("enum"), list):
        enum = constraints["enum"]
        constraints["enum"] = enum + [
            neutralise(v) for v in enum if isinstance(v, str) and is_formula_like(v)
        ]


def _typed_for_field(value: Any, descriptor: dict[str, Any]) -> Any:
    """A report value as its column expects it (JSON gives 3.0 for an integer field)."""
    field_type = descriptor.get("type")
    if field_type == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    fmt = descriptor.get("format")
    if isinstance(value, date | time) and isinstance(fmt, str) and fmt.startswith("%"):
        return value.strftime(fmt)
    return value


def report_table(content: Content, form: Form, reports: Iterable[Report]) -> Table:
    """Effective approved reports of one form, by period then unit order of the content."""
    field_columns = _report_field_columns(form)
    unit_order = {u.id: i for i, u in enumerate(content.units)}
    unit_names = {u.id: u.name for u in content.units}
    period_order = {p.id: i for i, p in enumerate(content.periods)}
    # Sorting the Report references is cheap; the rows themselves are produced lazily.
    ordered = sorted(
        (r for r in reports if r.form == form.id),
        key=lambda r: (period_order.get(r.period, len(period_order)),
                       unit_order.get(r.unit, len(unit_order)), r.unit, r.period),
    )

    def rows() -> Iterator[list[Any]]:
        for report in ordered:
            row: list[Any] = [report.id, report.unit, unit_names.get(report.unit, ""),
                              report.period, report.submitted_at]
            row.extend(_typed_for_field(report.values.get(c.name), c.descriptor)
                       for c in field_columns)
            yield row

    return Table(
        name=f"reports-{form.id}",
        title=f"{form.title}（已审核填报）",
        description=form.description,
        columns=(*REPORT_KEY_COLUMNS, *field_columns),
        rows=rows,
        # After corrections are resolved a unit has one report per period: the key says so,
        # and `frictionless validate` checks it.
        primary_key=("unit-id", "period-id"),
    )


PROGRESS_COLUMNS = (
    Column.of("unit-id", "单位代码", "string", required=True),
    Column.of("unit-name", "单位名称", "string"),
    Column.of("task-id", "任务代码", "string", required=True),
    Column.of("indicator-id", "指标代码", "string", required=True),
    Column.of("indicator-title", "指标名称", "string"),
    Column.of("value", "值", "number",
              "比率为小数（1 = 100%），是/否指标 1 = 是、0 = 否；空 = 尚无数据"),
    Column.of("value-text", "值（显示）", "string"),
    Column.of("status", "状态代码", "string", required=True,
              enum=[s.value for s in Status]),
    Column.of("status-label", "状态", "string", required=True,
              enum=[s.label for s in Status]),
)


def progress_table(content: Content, progress: Progress) -> Table:
    """Every unit x indicator result, in unit order then the plan's indicator order."""
    indicators = {i.id: i for i in content.indicators}

    def rows() -> Iterator[list[Any]]:
        for unit in content.units:
            for result in progress.for_unit(unit.id):
                indicator = indicators[result.indicator]
                value = result.value
                number = int(value) if isinstance(value, bool) else value
                yield [unit.id, unit.name, result.task, result.indicator, indicator.title,
                       number, format_value(indicator, value), result.status.value,
                       result.status.label]

    return Table(
        name="progress",
        title="各单位指标进度",
        description=f"截至 {progress.as_of.isoformat()} 每个单位每项指标的值与状态",
        columns=PROGRESS_COLUMNS,
        rows=rows,
        primary_key=("unit-id", "indicator-id"),
    )


UNIT_SUMMARY_COLUMNS = (
    Column.of("unit-id", "单位代码", "string"),
    Column.of("unit-name", "单位名称", "string"),
    Column.of("unit-type", "单位类型", "string"),
    Column.of("share-met", "完成率", "number"),
    Column.of("applicable", "适用指标数", "integer"),
    *(Column.of(f"count-{s.value}", s.label, "integer") for s in COUNTED_STATUSES),
)


def unit_summary_table(content: Content, progress: Progress) -> Table:
    def rows() -> Iterator[list[Any]]:
        for unit in content.units:
            rollup = progress.unit_rollup(unit.id)
            yield [unit.id, unit.name, content.plan.unit_type_label(unit.type), rollup.share,
                   rollup.applicable, *(rollup.counts.get(s, 0) for s in COUNTED_STATUSES)]

    return Table(
        name="units",
        title="各单位进度",
        description=f"截至 {progress.as_of.isoformat()} 各单位适用指标的完成情况",
        columns=UNIT_SUMMARY_COLUMNS,
        rows=rows,
    )


def _effective(reports: Iterable[Report], progress: Progress) -> list[Report]:
    return list(effective_reports(reports, progress.as_of).values())


# --- CSV and data package -------------------------------------------------------------


def csv_text(value: Any) -> str:
    """One cell as Frictionless reads it by default; text is neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(json.dumps(value, ensure_ascii=False))


def write_csv(table: Table, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        # RFC 4180 line ends: the writer then quotes any CR or LF inside a cell (report notes).
        writer = csv.writer(handle)
        writer.writerow([c.name for c in table.columns])
        for row in table.rows():
            writer.writerow([csv_text(v) for v in row])


def _package_name(plan_id: str) -> str:
    # Data Package names are lower case; plan ids are identifiers, so this stays valid.
    return plan_id.lower()


def write_data_package(
    content: Content, reports: Iterable[Report], progress: Progress, out_dir: Path
) -> Path:
    """Write reports-<form>.csv per form, progress.csv and datapackage.json; return the latter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    effective = _effective(reports, progress)
    tables = [report_table(content, form, effective) for form in content.forms]
    tables.append(progress_table(content, progress))
    resources = []
    for table in tables:
        filename = f"{table.name}.csv"
        write_csv(table, out_dir / filename)
        resource: dict[str, Any] = {
            "name": table.name.lower(),
            "title": table.title,
            "path": filename,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table.schema,
        }
        if table.description:
            resource["description"] = table.description
        resources.append(resource)
    package = {
        "name": _package_name(content.plan.id),
        "title": content.plan.title,
        "description": (
            f"{content.plan.title}：截至 {progress.as_of.isoformat()} "
            "已审核的填报数据与各单位进度。"
            "以 = + - @ 等字符开头的文本已加前缀 '，以防电子表格将其当作公式执行。"
        ),
        "resources": resources,
    }
    path = out_dir / DATAPACKAGE
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --- Excel workbook --------------------------------------------------------------------

SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31  # Excel's limit
# Excel reserves this sheet name (its change history); XlsxWriter refuses it.
SHEET_NAME_RESERVED = frozenset({"history"})
# Control characters other than TAB/LF/CR are not allowed in XML.
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010\013\014\016-\037]")
# Excel's limit of characters in a cell; XlsxWriter would cut the text and warn.
CELL_TEXT_MAX = 32767


def sheet_title(wanted: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name derived from a Chinese title."""
    base = SHEET_NAME_FORBIDDEN.sub(" ", wanted).strip().strip("'") or "Sheet"
    base = base[:SHEET_NAME_MAX]
    candidate, n = base, 2
    while candidate.lower() in taken or candidate.lower() in SHEET_NAME_RESERVED:
        suffix = f"({n})"
        candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
        n += 1
    taken.add(candidate.lower())
    return candidate


class _Formats:
    """The workbook's few cell formats, created once (XlsxWriter keeps one per style)."""

    def __init__(self, workbook: xlsxwriter.Workbook):
        self.workbook = workbook
        self.header = workbook.add_format({"bold": True})
        self.header_quoted = workbook.add_format({"bold": True, "quote_prefix": True})
        self.quoted = workbook.add_format({"quote_prefix": True})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.time = workbook.add_format({"num_format": "hh:mm:ss"})
        self.numbers: dict[str, Any] = {}

    def number(self, number_format: str | None) -> Any:
        if number_format is None:
            return None
        if number_format not in self.numbers:
            self.numbers[number_format] = self.workbook.add_format({"num_format": number_format})
        return self.numbers[number_format]


def _write_text(sheet: Any, row: int, col: int, text: str, formats: _Formats) -> None:
    if ILLEGAL_CHARACTERS.search(text):
        text = ILLEGAL_CHARACTERS.sub("", text)
    text = text[:CELL_TEXT_MAX]
    if is_formula_like(text):
        # Written as text (never a formula: the workbook has strings_to_formulas off), with
        # Excel's quote prefix so that editing the cell keeps it text.
        sheet.write_string(row, col, text, formats.quoted)
    else:
        sheet.write_string(row, col, text)


def _write_value(sheet: Any, row: int, col: int, value: Any, number_format: Any,
                 formats: _Formats) -> None:
    """One cell, by the value's Python type; None leaves the cell blank."""
    if value is None:
        return
    if isinstance(value, str):
        _write_text(sheet, row, col, value, formats)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        if math.isfinite(value):
            sheet.write_number(row, col, value, number_format)
        else:  # never in validated reports; Excel has no NaN, so keep it readable
            sheet.write_string(row, col, str(value))
    elif isinstance(value, datetime | time) and value.tzinfo is not None:
        # Excel has no time zones; keep the exact instant as ISO 8601 text.
        sheet.write_string(row, col, value.isoformat())
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats.datetime)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats.date)
    elif isinstance(value, time):
        sheet.write_datetime(row, col, value, formats.time)
    else:
        _write_text(sheet, row, col, json.dumps(value, ensure_ascii=False), formats)


def _write_sheet(workbook: xlsxwriter.Workbook, table: Table, title: str, formats: _Formats,
                 number_formats: dict[str, str] | None = None) -> None:
    sheet = workbook.add_worksheet(title)
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(table.columns):
        sheet.set_column(index, index, max(10, 2 * len(column.title) + 4))
    for index, column in enumerate(table.columns):
        # A schema title is text too, whatever it starts with.
        style = formats.header_quoted if is_formula_like(column.title) else formats.header
        sheet.write_string(0, index, column.title, style)
    column_formats = [formats.number((number_formats or {}).get(c.name)) for c in table.columns]
    write_string, write_number = sheet.write_string, sheet.write_number
    for row_index, row in enumerate(table.rows(), start=1):
        for col, (value, number_format) in enumerate(zip(row, column_formats, strict=True)):
            # The common cells inline (most of the workbook is short text and numbers).
            kind = type(value)
            if kind is str and not value.startswith(FORMULA_TRIGGERS) \
                    and not ILLEGAL_CHARACTERS.search(value):
                write_string(row_index, col, value[:CELL_TEXT_MAX])
            elif (kind is int or kind is float) and math.isfinite(value):
                write_number(row_index, col, value, number_format)
            else:
                _write_value(sheet, row_index, col, value, number_format, formats)


def write_workbook(
    content: Content, reports: Iterable[Report], progress: Progress, path: Path
) -> None:
    """Write the workbook: per-unit progress, unit x indicator, one sheet per form.

    XlsxWriter in constant_memory mode streams each row to a temporary file as it is
    written (memory stays flat at any number of units) and writes text inline; it is
    several times faster than openpyxl's write-only mode (bench/README.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        # Text stays text: never a formula, number or link, whatever it looks like.
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    # Dated by the progress date, not the clock: the same repository gives the same bytes,
    # so a rebuild that changed nothing here does not change the download.
    workbook.set_properties({"created": datetime.combine(progress.as_of, time())})
    formats = _Formats(workbook)
    taken: set[str] = set()
    try:
        _write_sheet(workbook, unit_summary_table(content, progress),
                     sheet_title("各单位进度", taken), formats, {"share-met": "0.0%"})
        _write_sheet(workbook, progress_table(content, progress),
                     sheet_title("指标进度", taken), formats)
        effective = _effective(reports, progress)
        for form in content.forms:
            _write_sheet(workbook, report_table(content, form, effective),
                         sheet_title(form.title or form.id, taken), formats)
    finally:
        workbook.close()


# --- both, from a repository -------------------------------------------------------------


def export_repository(root: Path, as_of: date | None, out_dir: Path) -> None:
    """Load the repository, evaluate progress at `as_of` (None: today, as
    builder.progress.progress_date decides it) and write both exports to out_dir.

    The entry point of the export process the MkDocs plugin starts beside the page build
    (builder.plugin.ExportJob): progress cannot be pickled (read-only mappings), and
    loading again costs the second core about a second at 2,000 units, the first none."""
    from builder.plan import load_content
    from builder.progress import evaluate, progress_date
    from builder.reports import load_reports

    content = load_content(root)
    reports = load_reports(root, content)
    progress = evaluate(content, reports, progress_date(as_of, reports, date.today()))
    write_data_package(content, reports, progress, out_dir)
    write_workbook(content, reports, progress, out_dir / "progress.xlsx")


def main(argv: list[str] | None = None) -> int:
    """`python -m builder.exports ROOT AS_OF OUT_DIR`: the plugin's export process (an
    empty AS_OF: today)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m builder.exports ROOT AS_OF OUT_DIR", file=sys.stderr)
        return 2
    as_of = date.fromisoformat(args[1]) if args[1] else None
    export_repository(Path(args[0]), as_of, Path(args[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
