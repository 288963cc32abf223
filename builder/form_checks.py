"""A form's checks across its fields, against the unit's registry row and against the
unit's last approved report of the form (forms.yml `checks`), applied to one submission's
typed values.

The same function serves the form service (fill and check pages, review) and `plansite
validate` (report files in data/), so that 900 trained of 196 members is refused, or needs
an explanation, wherever the figures are entered or read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.model import CheckOperand, Content, Form, FormCheck, HistoryCheck, Period, Unit
from builder.records import format_bound

# What the reporter is asked for when a warning applies; the explanation is stored with
# the report (Report.explanation) and shown to the reviewer.
EXPLANATION_PROMPT = "数据异常请说明"
EXPLANATION_MAX_LENGTH = 500


def explanation_error(explanation: str) -> str | None:
    """What is wrong with an explanation as typed (stripped), None when it will do."""
    if not explanation:
        return f"{EXPLANATION_PROMPT}：请用一句话说明这些数据为何如此"
    if len(explanation) > EXPLANATION_MAX_LENGTH:
        return f"说明不能超过 {EXPLANATION_MAX_LENGTH} 个字"
    return None


@dataclass(frozen=True)
class Finding:
    """One check a submission fails: the field it concerns and a Chinese message with the
    figures compared."""

    check: FormCheck | HistoryCheck
    field: str
    message: str

    @property
    def is_warning(self) -> bool:
        return self.check.level == "warning"


@dataclass(frozen=True)
class EarlierReport:
    """The typed values of the unit's last approved report of the same form, from the
    nearest earlier period that has one: what history checks compare with."""

    period: Period
    values: Mapping[str, Any]


def periods_before(content: Content, form: Form, period_id: str) -> list[Period]:
    """The form's periods that come before `period_id` in the calendar, nearest first:
    where the unit's earlier report of the form is looked for."""
    periods = [p for p in content.periods if p.id in form.periods]
    position = next((i for i, p in enumerate(periods) if p.id == period_id), 0)
    return periods[:position][::-1]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _other(operand: CheckOperand, values: Mapping[str, Any], unit: Unit) -> float | None:
    if operand.unit_column is not None:
        return _number(unit.attributes.get(operand.unit_column))
    return _number(values.get(operand.field or ""))


def _title(form: Form, name: str) -> str:
    field = form.field_named(name)
    return field.title if field is not None and field.title else name


def _other_title(form: Form, operand: CheckOperand) -> str:
    if operand.unit_column is not None:
        return f"单位名录“{operand.unit_column}”"
    return f"“{_title(form, operand.field or '')}”"


def _message(form: Form, check: FormCheck, total: float, other: float) -> str:
    left = "、".join(f"“{_title(form, name)}”" for name in check.fields)
    if len(check.fields) > 1:
        left += "之和"
    right = _other_title(form, check.other)
    relation = "不能大于" if check.relation == "not_above" else "应等于"
    said = check.message or f"{left}{relation}{right}"
    return f"{said}（填报 {format_bound(total)}，{right}为 {format_bound(other)}）"


def _history_message(
    form: Form, check: HistoryCheck, figure: float, before: float, earlier: EarlierReport
) -> str | None:
    title = f"“{_title(form, check.field)}”"
    report = f"上次批准的填报（{earlier.period.title}）"
    if check.cumulative and figure < before:
        said = check.message or f"{title}是累计数，不应比{report}少"
        return f"{said}（填报 {format_bound(figure)}，上次为 {format_bound(before)}）"
    # From zero any figure is an endless factor: only a drop can be judged then.
    if check.max_factor is not None and before > 0 and figure > check.max_factor * before:
        said = check.message or f"{title}与{report}相比变化过大"
        return (
            f"{said}（填报 {format_bound(figure)}，超过{report}"
            f"{format_bound(before)} 的 {format_bound(check.max_factor)} 倍）"
        )
    return None


def _history_findings(
    form: Form, values: Mapping[str, Any], earlier: EarlierReport
) -> list[Finding]:
    findings = []
    for check in form.history_checks:
        figure = _number(values.get(check.field))
        before = _number(earlier.values.get(check.field))
        if figure is None or before is None:
            continue
        message = _history_message(form, check, figure, before, earlier)
        if message is not None:
            findings.append(Finding(check, check.field, message))
    return findings


def check_values(
    form: Form, values: Mapping[str, Any], unit: Unit, earlier: EarlierReport | None = None
) -> list[Finding]:
    """The form's checks the values fail, in the order the plan declares them, then its
    history checks against `earlier` (none without an earlier report). A check with a
    missing figure is skipped: the field's own message (required, type) says so."""
    findings = []
    for check in form.checks:
        figures = [_number(values.get(name)) for name in check.fields]
        other = _other(check.other, values, unit)
        if other is None or any(figure is None for figure in figures):
            continue
        total = sum(figure for figure in figures if figure is not None)
        failed = total > other if check.relation == "not_above" else total != other
        if failed:
            findings.append(Finding(check, check.fields[0], _message(form, check, total, other)))
    if earlier is not None:
        findings.extend(_history_findings(form, values, earlier))
    return findings


def check_errors(findings: list[Finding]) -> dict[str, str]:
    """The error findings as a message per field, like a field's own constraint errors
    (the first finding of a field wins)."""
    errors: dict[str, str] = {}
    for finding in findings:
        if not finding.is_warning:
            errors.setdefault(finding.field, finding.message)
    return errors


def check_warnings(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.is_warning]
