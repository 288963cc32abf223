"""What every indicator rule is: the base class the rule modules subclass.

A rule decides four things about an indicator that names it (`Indicator.rule`):

* which keys of the indicator it reads in the plan (`read_inputs`) and what its target
  may look like (`read_target`); the loader calls both and reports every problem;
* how it measures one unit from the unit's reports (`measure`);
* how a value is written for people (`format_number`; None, booleans and dates are written
  the same way for every rule, see builder.rules.format_value);
* how the synthetic generator draws the fields it reads (`draw`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal, Protocol

from builder.documents import Document
from builder.fields import NUMERIC_TYPES
from builder.model import FieldRef, Indicator, Operand, Report, Target, Unit

# The keys an indicator may use to say what it reads; each rule uses some of them.
INPUT_KEYS = ("field", "numerator", "denominator")

# A number, a yes/no answer, or the day something was done (rule done_on).
Value = float | bool | date | None
# One unit's effective reports by form, each form's oldest period first (period end, then
# submission time).
UnitReports = Mapping[str, list[Report]]
# How the synthetic generator draws a field a rule reads: a running total that grows
# towards the target, a level that never falls, or a numerator kept under its denominator.
Draw = Literal["running_total", "level", "ratio"]


@dataclass(frozen=True)
class Inputs:
    """What an indicator reads, as its rule found it in the plan."""

    field: FieldRef | None = None
    numerator: Operand | None = None
    denominator: Operand | None = None


@dataclass(frozen=True)
class Measured:
    """A unit's value on an indicator and the ids of the reports it came from."""

    value: Value
    reports: tuple[str, ...] = ()
    # False when there is nothing to measure (a ratio over a denominator of 0): the
    # indicator does not apply to the unit.
    measurable: bool = True


NOT_REPORTED = Measured(None)


class PlanReader(Protocol):
    """What the plan loader offers a rule that reads an indicator's keys."""

    doc: Document

    def field_ref(self, value: Any, where: str, types: tuple[str, ...]) -> FieldRef | None:
        """A `form-id.field_name` reference to a field of one of `types`; its spelling is
        checked here, the form and the field's type once every file is read."""
        ...

    def operand(self, value: Any, where: str, types: tuple[str, ...]) -> Operand | None:
        """A ratio's numerator or denominator: a unit column or a field of one of `types`."""
        ...


def number(value: object) -> float | None:
    """A numeric report value; anything else (text, a missing value, NaN) is no value."""
    if not isinstance(value, int | float):
        return None
    return None if isinstance(value, float) and math.isnan(value) else value


def plain_number(value: float, decimals: int) -> str:
    """`value` with at most `decimals` decimals and no trailing zeros ("-0" is "0")."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# A form field's title (its label on the form), for texts that name the field.
FieldTitle = Callable[[FieldRef], str]


class Rule:
    """An indicator rule. Subclasses set `name` and implement `read_inputs` and `measure`."""

    name: ClassVar[str]
    draw: ClassVar[Draw] = "level"
    # The form field types the rule reads (its `field`, or the fields of its operands).
    field_types: ClassVar[tuple[str, ...]] = NUMERIC_TYPES
    # The indicator kinds (builder.rules.kinds) the rule's values make sense for.
    kinds: ClassVar[tuple[str, ...]] = ("cumulative", "threshold", "deadline")

    def read_inputs(self, entry: dict[str, Any], path: str, reader: PlanReader) -> Inputs:
        raise NotImplementedError

    def read_target(self, value: Any, where: str, doc: Document) -> Target | None:
        entry = doc.mapping(value, where, "目标")
        if entry is None:
            return None
        doc.keys(entry, {"min", "max", "equals"}, where)
        if not entry.keys() & {"min", "max", "equals"}:
            doc.problem(where, "目标应设置 min、max 或 equals")
            return None
        if "equals" in entry:
            if entry.keys() & {"min", "max"}:
                doc.problem(where, "equals 不能与 min/max 同时设置")
                return None
            return self.equals_target(entry["equals"], f"{where}.equals", doc)
        return self.range_target(entry, where, doc)

    def equals_target(self, value: Any, where: str, doc: Document) -> Target | None:
        equals = doc.number(value, where)
        return None if equals is None else Target(equals=equals)

    def range_target(self, entry: dict[str, Any], where: str, doc: Document) -> Target | None:
        minimum = doc.number(entry["min"], f"{where}.min") if "min" in entry else None
        maximum = doc.number(entry["max"], f"{where}.max") if "max" in entry else None
        if minimum is not None and maximum is not None and minimum > maximum:
            doc.problem(where, "min 大于 max")
            return None
        if ("min" in entry and minimum is None) or ("max" in entry and maximum is None):
            return None
        return Target(minimum=minimum, maximum=maximum)

    def implied_target(self, due: date) -> Target | None:
        """The target of an indicator that writes none: None (tracked only), unless the
        rule's target follows from the due date itself."""
        return None

    def measure(self, indicator: Indicator, unit: Unit, reports: UnitReports) -> Measured:
        raise NotImplementedError

    def describe(self, indicator: Indicator, field_title: FieldTitle) -> str:
        """What the rule reads and how, in Chinese, for the explanation of a status:
        各期“演练次数”之和. A rule that does not say names itself."""
        return f"{self.name} 规则"

    def format_number(self, indicator: Indicator, value: float) -> str:
        text = plain_number(value, 2)
        return f"{text} {indicator.measure}" if indicator.measure else text


class FieldRule(Rule):
    """A rule that reads one form field (`field`) of the unit's reports."""

    # How the rule combines the field, in Chinese, around the field's title ({field}).
    reads: ClassVar[str] = "{field}"

    def describe(self, indicator: Indicator, field_title: FieldTitle) -> str:
        if indicator.field is None:
            return ""
        return self.reads.format(field=f"“{field_title(indicator.field)}”")

    def read_inputs(self, entry: dict[str, Any], path: str, reader: PlanReader) -> Inputs:
        for key in INPUT_KEYS:
            if key != "field" and key in entry:
                reader.doc.problem(f"{path}.{key}", f"{self.name} 规则不使用 {key}")
        if "field" not in entry:
            reader.doc.problem(f"{path}.field", f"{self.name} 规则需要 field")
            return Inputs()
        return Inputs(field=reader.field_ref(entry["field"], f"{path}.field", self.field_types))

    def measure(self, indicator: Indicator, unit: Unit, reports: UnitReports) -> Measured:
        ref = indicator.field
        if ref is None:
            return NOT_REPORTED
        form_reports = reports.get(ref.form)
        if not form_reports:  # nothing reported on the form yet: the common case
            return NOT_REPORTED
        return self.measure_field(form_reports, ref.field)

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        raise NotImplementedError


def sum_of(reports: list[Report], name: str) -> Measured:
    """The field added over every report that has a number in it."""
    total: float = 0
    fed: list[str] = []
    for report in reports:
        value = number(report.values.get(name))
        if value is not None:
            total += value
            fed.append(report.id)
    return Measured(total, tuple(fed)) if fed else NOT_REPORTED


def latest_of(reports: list[Report], name: str, booleans: bool = False) -> Measured:
    """The field in the latest report that has a value of the kind in it."""
    for report in reversed(reports):
        raw = report.values.get(name)
        value = (raw if isinstance(raw, bool) else None) if booleans else number(raw)
        if value is not None:
            return Measured(value, (report.id,))
    return NOT_REPORTED
