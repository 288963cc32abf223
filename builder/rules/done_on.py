"""`done_on`: the day a thing was done, from a date field (the latest report that has it).

Its target is the indicator's `due` (done on or before it); it is a `deadline` item only:
a date is neither an amount that grows nor a level to keep. The plan writes no target.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from builder.documents import Document
from builder.model import Report, Target
from builder.rules.base import NOT_REPORTED, FieldRule, Measured

TARGET_MESSAGE = "done_on 规则以 due 为完成期限（当日或之前完成即为已完成），不设置 target"


def day(value: object) -> date | None:
    """A report's date value (ISO text in the report file); anything else is no value."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class DoneOnRule(FieldRule):
    name = "done_on"
    field_types: ClassVar[tuple[str, ...]] = ("date",)
    kinds: ClassVar[tuple[str, ...]] = ("deadline",)
    reads: ClassVar[str] = "最近一期报送的{field}（完成日期）"

    def read_target(self, value: Any, where: str, doc: Document) -> Target | None:
        doc.problem(where, TARGET_MESSAGE)
        return None

    def implied_target(self, due: date) -> Target | None:
        return Target(by=due)

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        for report in reversed(reports):
            done = day(report.values.get(name))
            if done is not None:
                return Measured(done, (report.id,))
        return NOT_REPORTED


RULE = DoneOnRule()
