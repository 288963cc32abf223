"""CSV files for people: the data package's tables as Excel opens them by double click.

Excel reads a CSV without a byte-order mark in the machine's ANSI code page, which turns
UTF-8 Chinese into garbage: these files start with the UTF-8 BOM. Headers, values and
times are those of builder.exports.readable; formula-like text is neutralised as in
every export.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from markupsafe import Markup

from builder.exports.downloads import Download, Export
from builder.exports.readable import ReadableTable, readable_table
from builder.exports.tables import effective, neutralise, progress_table, report_table
from builder.local_time import MINUTE_FORMAT
from builder.model import Content, Report
from builder.progress import Progress

# Beside the package's progress.csv and reports-<form>.csv, named for whom they are.
PROGRESS_FILE = "progress-excel.csv"


def report_file(form_id: str) -> str:
    return f"reports-{form_id}-excel.csv"


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(MINUTE_FORMAT)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return neutralise(str(value))


def write_readable_csv(table: ReadableTable, path: Path) -> None:
    # utf-8-sig writes the byte-order mark Excel needs to see UTF-8.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise(header) for header in table.headers])
        for row in table.rows():
            writer.writerow([cell_text(value) for value in row])


def _write(
    content: Content, reports: Sequence[Report], progress: Progress, out_dir: Path, forms_url: str
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    counted = effective(reports, progress)
    for form in content.forms:
        table = readable_table(report_table(content, form, counted), content)
        write_readable_csv(table, out_dir / report_file(form.id))
    write_readable_csv(
        readable_table(progress_table(content, progress), content), out_dir / PROGRESS_FILE
    )


def _downloads(content: Content) -> list[Download]:
    return [
        Download(
            PROGRESS_FILE,
            "各单位指标进度（CSV 表格）",
            Markup("每个单位每项指标的当前值和状态，一行一项，可用 Excel 直接打开、筛选和排序。"),
        ),
        *(
            Download(
                report_file(form.id),
                f"{form.title}（CSV 表格）",
                Markup(
                    "各单位已审核通过的填报内容，每个单位每个报送周期一行，可用 Excel 直接打开。"
                ),
            )
            for form in content.forms
        ),
    ]


EXPORT = Export("readable-csv", _write, _downloads)
