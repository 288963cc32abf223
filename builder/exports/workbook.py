"""The Excel workbook: per-unit progress, unit x indicator, one sheet per form.

Written for people (builder.exports.readable): Chinese headers, 是/否, the plan's period
titles, times on the plan's clock as real date-times; each sheet with its header row
frozen, a filter on it and columns as wide as what they hold. Text stays text: a cell that
starts like a formula is written as a string with Excel's quote prefix, never as a formula.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import xlsxwriter
from markupsafe import Markup

from builder.exports.downloads import Download, Export
from builder.exports.readable import ReadableTable, readable_table
from builder.exports.reporting_status import reporting_tables
from builder.exports.tables import (
    effective,
    is_formula_like,
    progress_table,
    report_table,
    unit_summary_table,
)
from builder.model import Content, Report
from builder.progress import Progress

WORKBOOK = "progress.xlsx"

SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31  # Excel's limit
# Excel reserves this sheet name (its change history); XlsxWriter refuses it.
SHEET_NAME_RESERVED = frozenset({"history"})
# Control characters other than TAB/LF/CR are not allowed in XML.
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010\013\014\016-\037]")
# Excel's limit of characters in a cell; XlsxWriter would cut the text and warn.
CELL_TEXT_MAX = 32767
# Column widths in Excel's character units: a Chinese character takes two.
COLUMN_WIDTH_MIN = 8
COLUMN_WIDTH_MAX = 60


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
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
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


def _write_value(
    sheet: Any, row: int, col: int, value: Any, number_format: Any, formats: _Formats
) -> None:
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
        # Excel has no time zones; readable tables never hold one (the plan's clock).
        sheet.write_string(row, col, value.isoformat())
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats.datetime)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats.date)
    elif isinstance(value, time):
        sheet.write_datetime(row, col, value, formats.time)
    else:
        _write_text(sheet, row, col, json.dumps(value, ensure_ascii=False), formats)


def display_width(value: Any) -> int:
    """How many character widths a cell's text takes (a Chinese character two)."""
    if isinstance(value, datetime):
        return 16  # yyyy-mm-dd hh:mm
    if isinstance(value, date):
        return 10
    text = value if isinstance(value, str) else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _write_sheet(
    workbook: xlsxwriter.Workbook,
    table: ReadableTable,
    title: str,
    formats: _Formats,
    number_formats: dict[str, str] | None = None,
) -> None:
    sheet = workbook.add_worksheet(title)
    sheet.freeze_panes(1, 0)
    widths = [display_width(header) + 3 for header in table.headers]  # + the filter button
    for index, header in enumerate(table.headers):
        # A schema title is text too, whatever it starts with.
        style = formats.header_quoted if is_formula_like(header) else formats.header
        sheet.write_string(0, index, header, style)
    column_formats = [formats.number((number_formats or {}).get(name)) for name in table.names]
    last_row = 0
    for last_row, row in enumerate(table.rows(), start=1):
        for col, (value, number_format) in enumerate(zip(row, column_formats, strict=True)):
            _write_value(sheet, last_row, col, value, number_format, formats)
            if value is not None:
                widths[col] = max(widths[col], display_width(value) + 1)
    sheet.autofilter(0, 0, last_row, len(table.headers) - 1)
    for index, width in enumerate(widths):
        sheet.set_column(index, index, min(COLUMN_WIDTH_MAX, max(COLUMN_WIDTH_MIN, width)))


def write_workbook(
    content: Content, reports: Iterable[Report], progress: Progress, path: Path
) -> None:
    """Write the workbook: per-unit progress, unit x indicator, one sheet per form.

    XlsxWriter in constant_memory mode streams each row to a temporary file as it is
    written (memory stays flat at any number of units) and writes text inline; it is
    faster than openpyxl's write-only mode (bench/README.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            # Text stays text: never a formula, number or link, whatever it looks like.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    # Dated by the progress date, not the clock: the same repository gives the same bytes,
    # so a rebuild that changed nothing here does not change the download.
    workbook.set_properties({"created": datetime.combine(progress.as_of, time())})
    formats = _Formats(workbook)
    taken: set[str] = set()
    try:
        _write_sheet(
            workbook,
            readable_table(unit_summary_table(content, progress), content),
            sheet_title("各单位进度", taken),
            formats,
            {"share-met": "0.0%"},
        )
        _write_sheet(
            workbook,
            readable_table(progress_table(content, progress), content),
            sheet_title("指标进度", taken),
            formats,
        )
        counted = effective(reports, progress)
        for form in content.forms:
            _write_sheet(
                workbook,
                readable_table(report_table(content, form, counted), content),
                sheet_title(form.title or form.id, taken),
                formats,
            )
        for table in reporting_tables(content, progress):  # 报送情况, 催报名单
            readable = readable_table(table, content)
            _write_sheet(workbook, readable, sheet_title(table.title, taken), formats)
    finally:
        workbook.close()


def _write(
    content: Content, reports: Sequence[Report], progress: Progress, out_dir: Path, forms_url: str
) -> None:
    write_workbook(content, reports, progress, out_dir / WORKBOOK)


def _downloads(content: Content) -> list[Download]:
    return [
        Download(
            WORKBOOK,
            "Excel 工作簿",
            Markup(
                "一个文件包含全部内容：各单位进度汇总、每个单位每项指标的进度、"
                "每张表单的填报内容、报送情况与催报名单各占一页，表头已固定并可筛选。"
            ),
        )
    ]


EXPORT = Export("workbook", _write, _downloads)
