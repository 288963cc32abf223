"""`yes_no`: the latest reported value of a boolean field; its target is equals true/false."""

from __future__ import annotations

from typing import Any, ClassVar

from builder.documents import Document
from builder.fields import YES_NO_TYPES
from builder.model import Report, Target
from builder.rules.base import FieldRule, Measured, latest_of

TARGET_MESSAGE = "yes_no 规则的目标应为 equals: true 或 equals: false"


class YesNoRule(FieldRule):
    name = "yes_no"
    field_types: ClassVar[tuple[str, ...]] = YES_NO_TYPES
    reads: ClassVar[str] = "最近一期的{field}（是/否）"

    def equals_target(self, value: Any, where: str, doc: Document) -> Target | None:
        if not isinstance(value, bool):
            doc.problem(where, TARGET_MESSAGE)
            return None
        return Target(equals=value)

    def range_target(self, entry: dict[str, Any], where: str, doc: Document) -> Target | None:
        doc.problem(where, TARGET_MESSAGE)
        return None

    def measure_field(self, reports: list[Report], name: str) -> Measured:
        return latest_of(reports, name, booleans=True)


RULE = YesNoRule()
