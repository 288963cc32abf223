"""The data package: one CSV file per table and a datapackage.json that describes them.

The package is the published, machine-checked form of the data: `frictionless validate
datapackage.json` checks every file against the schema written beside it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from markupsafe import Markup

from builder.exports.downloads import Download, Export
from builder.exports.reporting_status import reporting_tables
from builder.exports.tables import (
    Table,
    effective,
    neutralise,
    progress_table,
    report_table,
)
from builder.model import Content, Report
from builder.progress import Progress

DATAPACKAGE = "datapackage.json"


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
    """Write reports-<form>.csv per form, progress.csv, reporting-status.csv, owing.csv and
    datapackage.json; return the latter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counted = effective(reports, progress)
    tables = [report_table(content, form, counted) for form in content.forms]
    tables.append(progress_table(content, progress))
    tables.extend(reporting_tables(content, progress))  # reporting-status, owing
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


def _write(
    content: Content, reports: Sequence[Report], progress: Progress, out_dir: Path, forms_url: str
) -> None:
    write_data_package(content, reports, progress, out_dir)


def _downloads(content: Content) -> list[Download]:
    return [
        Download(
            "progress.csv",
            "各单位指标进度（机读）",
            Markup("列名为英文标识，状态为代码，比率为小数。"),
            for_programs=True,
        ),
        *(
            Download(
                f"reports-{form.id}.csv",
                f"{form.title}（机读）",
                Markup("列名为表单字段名，日期时间为 ISO 8601 格式。"),
                for_programs=True,
            )
            for form in content.forms
        ),
        Download(
            "reporting-status.csv",
            "报送情况 CSV",
            Markup("每个单位每张报表每个报送周期的报送状态。"),
        ),
        Download("owing.csv", "催报名单 CSV", Markup("截止日期已过、尚未报送的报表及逾期天数。")),
        Download(
            DATAPACKAGE,
            "数据包描述",
            Markup(
                "Frictionless 数据包：各表的字段、类型和约束，可用 "
                "<code>frictionless validate datapackage.json</code> 校验。"
            ),
            save=False,
            for_programs=True,
        ),
    ]


EXPORT = Export("datapackage", _write, _downloads)
