"""The tables every export writes: columns (their Frictionless descriptors) and rows.

A table is a list of columns plus a generator of rows of plain Python values, so nothing
holds a whole table in memory and the CSV, the package schema and the workbook can never
disagree on the columns. Everything plan-specific (forms, fields, titles) comes from
`Content`; nothing here knows the plan.

Spreadsheet formula injection: a unit name or a report note typed as `=HYPERLINK(...)` must
not become a formula in whoever opens the file. Every text cell that starts with one of
`= + - @ TAB CR` is written with a leading `'` in CSV and as an explicit string cell with
Excel's quote prefix in the workbook.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from builder.fields import FIELD_TYPES
from builder.model import Content, Form, Report, Status
from builder.progress import Progress
from builder.reporting import effective_reports
from builder.rules import format_value

# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Statuses counted in the per-unit summary, in display order (not applicable is not counted).
COUNTED_STATUSES = tuple(s for s in Status if s is not Status.NOT_APPLICABLE)


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """The text as it must appear in a CSV cell so that no spreadsheet evaluates it."""
    return "'" + text if is_formula_like(text) else text


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
        columns.append(
            Column(descriptor["name"], descriptor.get("title") or descriptor["name"], descriptor)
        )
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
    kind = FIELD_TYPES.get(descriptor.get("type", "string"))
    return kind.exported(value, descriptor) if kind is not None else value


def report_table(content: Content, form: Form, reports: Iterable[Report]) -> Table:
    """Effective approved reports of one form, by period then unit order of the content."""
    field_columns = _report_field_columns(form)
    unit_order = {u.id: i for i, u in enumerate(content.units)}
    unit_names = {u.id: u.name for u in content.units}
    period_order = {p.id: i for i, p in enumerate(content.periods)}
    # Sorting the Report references is cheap; the rows themselves are produced lazily.
    ordered = sorted(
        (r for r in reports if r.form == form.id),
        key=lambda r: (
            period_order.get(r.period, len(period_order)),
            unit_order.get(r.unit, len(unit_order)),
            r.unit,
            r.period,
        ),
    )

    def rows() -> Iterator[list[Any]]:
        for report in ordered:
            row: list[Any] = [
                report.id,
                report.unit,
                unit_names.get(report.unit, ""),
                report.period,
                report.submitted_at,
            ]
            row.extend(
                _typed_for_field(report.values.get(c.name), c.descriptor) for c in field_columns
            )
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
    Column.of(
        "value",
        "值",
        "number",
        "比率为小数（1 = 100%），是/否指标 1 = 是、0 = 否；完成日期类指标为空，日期见“值（显示）”；"
        "空 = 尚无数据",
    ),
    Column.of("value-text", "值（显示）", "string"),
    Column.of("status", "状态代码", "string", required=True, enum=[s.value for s in Status]),
    Column.of("status-label", "状态", "string", required=True, enum=[s.label for s in Status]),
)


def progress_table(content: Content, progress: Progress) -> Table:
    """Every unit x indicator result, in unit order then the plan's indicator order."""
    indicators = {i.id: i for i in content.indicators}

    def rows() -> Iterator[list[Any]]:
        for unit in content.units:
            for result in progress.for_unit(unit.id):
                indicator = indicators[result.indicator]
                value = result.value
                number: float | None
                if isinstance(value, date):  # a day done (done_on): in the shown value only
                    number = None
                else:
                    number = int(value) if isinstance(value, bool) else value
                yield [
                    unit.id,
                    unit.name,
                    result.task,
                    result.indicator,
                    indicator.title,
                    number,
                    format_value(indicator, value),
                    result.status.value,
                    result.status.label,
                ]

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
            yield [
                unit.id,
                unit.name,
                content.plan.unit_type_label(unit.type),
                rollup.share,
                rollup.applicable,
                *(rollup.counts.get(s, 0) for s in COUNTED_STATUSES),
            ]

    return Table(
        name="units",
        title="各单位进度",
        description=f"截至 {progress.as_of.isoformat()} 各单位适用指标的完成情况",
        columns=UNIT_SUMMARY_COLUMNS,
        rows=rows,
    )


def effective(reports: Iterable[Report], progress: Progress) -> list[Report]:
    """The reports that count: per unit x form x period the last approved one."""
    return list(effective_reports(reports, progress.as_of).values())
