"""content/calendar.yml: the reporting periods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.documents import (
    DATE_KEY,
    IDENTIFIER_KEY,
    TEXT_KEY,
    Document,
    Record,
    dates_in_order,
    duplicates,
    read_yaml_mapping,
)
from builder.model import Period, Problem
from builder.plan.files import CALENDAR_FILE


def _due_after_start(doc: Document, values: dict[str, Any], path: str) -> None:
    dates_in_order(doc, values, path)
    if values["start"] and values["due"] and values["due"] < values["start"]:
        doc.problem(f"{path}.due", "报送截止日期早于周期开始日期")


PERIOD = Record(
    "报送周期",
    {"id": IDENTIFIER_KEY, "title": TEXT_KEY, "start": DATE_KEY, "end": DATE_KEY, "due": DATE_KEY},
    _due_after_start,
)


@dataclass(frozen=True)
class CalendarFile:
    periods: list[Period]  # by end date, then due date
    period_ids: set[str] | None  # None when the calendar is broken (see PlanFile)


def read_calendar(root: Path, problems: list[Problem]) -> CalendarFile:
    before = len(problems)
    read = read_yaml_mapping(root, CALENDAR_FILE, problems)
    if read is None:
        return CalendarFile([], None)
    doc, data = read
    doc.keys(data, {"periods"}, "")
    periods = [Period(**values) for values in PERIOD.read_list(doc, data, "periods", required=True)]
    for repeated in sorted(duplicates([p.id for p in periods])):
        doc.problem("periods", f"报送周期标识“{repeated}”重复")
    period_ids = {p.id for p in periods} if len(problems) == before else None
    return CalendarFile(sorted(periods, key=lambda p: (p.end, p.due)), period_ids)
