"""`sum`: the field added over every period's report (a count over the year)."""

from __future__ import annotations

from typing import ClassVar

from builder.model import Report
from builder.rules.base import Draw, FieldRule, Measured, sum_of


class SumRule(FieldRule):
    name = "sum"
    draw: ClassVar[Draw] = "running_total"
    reads: ClassVar[str] = "各期{field}之和"

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        return sum_of(reports, name)


RULE = SumRule()
