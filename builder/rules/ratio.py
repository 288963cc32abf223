"""`ratio`: numerator / denominator, each a form field (summed or latest) or a unit column.

Values are fractions (1.0 = 100%) and are written as percentages. A denominator of 0
leaves nothing to measure: the indicator does not apply to that unit.
"""

from __future__ import annotations

from typing import Any, ClassVar

from builder.model import Indicator, Operand, Unit
from builder.rules.base import (
    NOT_REPORTED,
    Draw,
    FieldTitle,
    Inputs,
    Measured,
    PlanReader,
    Rule,
    UnitReports,
    latest_of,
    number,
    plain_number,
    sum_of,
)


class RatioRule(Rule):
    name = "ratio"
    draw: ClassVar[Draw] = "ratio"

    def read_inputs(self, entry: dict[str, Any], path: str, reader: PlanReader) -> Inputs:
        for key in ("numerator", "denominator"):
            if key not in entry:
                reader.doc.problem(f"{path}.{key}", f"ratio 规则需要 {key}")
        if "field" in entry:
            reader.doc.problem(
                f"{path}.field", "ratio 规则不使用 field，请设置 numerator 和 denominator"
            )
        operands = {
            key: reader.operand(entry[key], f"{path}.{key}", self.field_types)
            for key in ("numerator", "denominator")
            if key in entry
        }
        return Inputs(numerator=operands.get("numerator"), denominator=operands.get("denominator"))

    def measure(self, indicator: Indicator, unit: Unit, reports: UnitReports) -> Measured:
        denominator = _operand(indicator.denominator, unit, reports)
        if denominator.value == 0:
            return Measured(None, denominator.reports, measurable=False)
        numerator = _operand(indicator.numerator, unit, reports)
        fed = tuple(dict.fromkeys(numerator.reports + denominator.reports))
        above, below = number(numerator.value), number(denominator.value)
        if above is None or below is None:
            return Measured(None, fed)
        return Measured(above / below, fed)

    def format_number(self, indicator: Indicator, value: float) -> str:
        return f"{plain_number(value * 100, 1)}%"

    def describe(self, indicator: Indicator, field_title: FieldTitle) -> str:
        parts = (
            _operand_text(o, field_title) for o in (indicator.numerator, indicator.denominator)
        )
        return " ÷ ".join(parts)


def _operand_text(operand: Operand | None, field_title: FieldTitle) -> str:
    if operand is None:
        return "—"
    if operand.unit_attribute is not None:
        return f"单位名录“{operand.unit_attribute}”"
    if operand.field is None:
        return "—"
    title = f"“{field_title(operand.field)}”"
    return f"各期{title}之和" if operand.combine == "sum" else f"最近一期的{title}"


def _operand(operand: Operand | None, unit: Unit, reports: UnitReports) -> Measured:
    if operand is None:
        return NOT_REPORTED
    if operand.unit_attribute is not None:
        return Measured(number(unit.attributes.get(operand.unit_attribute)))
    if operand.field is None:
        return NOT_REPORTED
    ref = operand.field
    form_reports = reports.get(ref.form, [])
    if operand.combine == "sum":
        measured = sum_of(form_reports, ref.field)
    else:
        measured = latest_of(form_reports, ref.field)
    return Measured(None if isinstance(measured.value, bool) else measured.value, measured.reports)


RULE = RatioRule()
