"""The reporting status as tables: every unit x form x period with its obligation state
(报送情况) and the units that owe a report (催报名单). The workbook writes them as two
sheets and the data package as the resources `reporting-status` and `owing`; the site's
reporting-status page shows the same obligations (builder.obligations, one source).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from builder.exports.tables import Column, Table
from builder.model import Content, Form, Period
from builder.obligations import STATE_LABELS, Obligation, owing, plan_obligations
from builder.progress import Progress

_UNIT_COLUMNS = (
    Column.of("unit-id", "单位代码", "string", required=True),
    Column.of("unit-name", "单位名称", "string"),
    Column.of("unit-type", "单位类型", "string"),
)
_FORM_PERIOD_COLUMNS = (
    Column.of("form-id", "表单代码", "string", required=True),
    Column.of("form-title", "表单", "string"),
    Column.of("period-id", "报送周期代码", "string", required=True),
    Column.of("period-title", "报送周期", "string"),
    Column.of("due", "截止日期", "date", required=True),
)

REPORTING_STATUS_COLUMNS = (
    *_FORM_PERIOD_COLUMNS,
    *_UNIT_COLUMNS,
    Column.of("state", "状态代码", "string", required=True, enum=list(STATE_LABELS)),
    Column.of("state-label", "状态", "string", required=True, enum=list(STATE_LABELS.values())),
    Column.of("days-overdue", "逾期天数", "integer", "截止日期已过的天数；未到期为 0", minimum=0),
    Column.of("submission-id", "填报编号", "string", "计入统计的已审核填报；无则为空"),
    Column.of("submitted-at", "提交时间", "datetime"),
)

OWING_COLUMNS = (
    *_FORM_PERIOD_COLUMNS,
    *_UNIT_COLUMNS,
    Column.of("days-overdue", "逾期天数", "integer", required=True, minimum=1),
)


def obligations_of(content: Content, progress: Progress) -> dict[str, tuple[Obligation, ...]]:
    """Every unit's obligations as of the progress date (as the site works them out)."""
    return plan_obligations(progress.reporting_states, progress.as_of, content.escalation)


def reporting_status_table(content: Content, progress: Progress) -> Table:
    """Every unit x form x period: by form (plan order), unit (registry order), period."""
    obligations = obligations_of(content, progress)
    forms = {form.id: form for form in content.forms}
    periods = {period.id: period for period in content.periods}

    def rows() -> Iterator[list[Any]]:
        for form in content.forms:
            for unit in content.units:
                for item in obligations.get(unit.id, ()):
                    if item.form != form.id:
                        continue
                    report = item.report
                    yield [
                        *_form_period(item, forms, periods),
                        unit.id,
                        unit.name,
                        content.plan.unit_type_label(unit.type),
                        item.state,
                        item.label,
                        item.days_overdue,
                        report.id if report else None,
                        report.submitted_at if report else None,
                    ]

    return Table(
        name="reporting-status",
        title="报送情况",
        description=(
            f"截至 {progress.as_of.isoformat()} 每个单位每张报表每个报送周期的报送状态"
            "（按已审核通过的填报计算）"
        ),
        columns=REPORTING_STATUS_COLUMNS,
        rows=rows,
        primary_key=("unit-id", "form-id", "period-id"),
    )


def owing_table(content: Content, progress: Progress) -> Table:
    """The 催报名单: every report past due and not reported, by form, period, longest overdue."""
    forms = {form.id: form for form in content.forms}
    periods = {period.id: period for period in content.periods}
    lines = owing(content, obligations_of(content, progress))

    def rows() -> Iterator[list[Any]]:
        for line in lines:
            item, unit = line.obligation, line.unit
            yield [
                *_form_period(item, forms, periods),
                unit.id,
                unit.name,
                content.plan.unit_type_label(unit.type),
                item.days_overdue,
            ]

    return Table(
        name="owing",
        title="催报名单",
        description=f"截至 {progress.as_of.isoformat()} 截止日期已过、尚无已审核填报的报表",
        columns=OWING_COLUMNS,
        rows=rows,
        primary_key=("unit-id", "form-id", "period-id"),
    )


def reporting_tables(content: Content, progress: Progress) -> tuple[Table, Table]:
    """The two tables, in the order the workbook and the package list them."""
    return reporting_status_table(content, progress), owing_table(content, progress)


def _form_period(
    item: Obligation, forms: Mapping[str, Form], periods: Mapping[str, Period]
) -> list[Any]:
    form, period = forms.get(item.form), periods.get(item.period)
    return [
        item.form,
        form.title if form else item.form,
        item.period,
        period.title if period else item.period,
        item.due,
    ]
