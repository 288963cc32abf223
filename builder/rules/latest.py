"""`latest`: the field in the latest report that has it (by period end, then submission)."""

from __future__ import annotations

from typing import ClassVar

from builder.model import Report
from builder.rules.base import FieldRule, Measured, latest_of


class LatestRule(FieldRule):
    name = "latest"
    reads: ClassVar[str] = "最近一期的{field}"

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        return latest_of(reports, name)


RULE = LatestRule()
