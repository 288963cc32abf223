"""content/calendar.yml: the reporting periods."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from builder.model import Escalation, Period, Problem
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
    escalation: Escalation = field(default_factory=Escalation)


def read_calendar(root: Path, problems: list[Problem]) -> CalendarFile:
    before = len(problems)
    read = read_yaml_mapping(root, CALENDAR_FILE, problems)
    if read is None:
        return CalendarFile([], None)
    doc, data = read
    doc.keys(data, {"periods", "reminders"}, "")
    periods = [Period(**values) for values in PERIOD.read_list(doc, data, "periods", required=True)]
    for repeated in sorted(duplicates([p.id for p in periods])):
        doc.problem("periods", f"报送周期标识“{repeated}”重复")
    period_ids = {p.id for p in periods} if len(problems) == before else None
    escalation = _read_escalation(doc, data.get("reminders"))
    return CalendarFile(sorted(periods, key=lambda p: (p.end, p.due)), period_ids, escalation)


def _read_escalation(doc: Document, value: Any) -> Escalation:
    """The optional `reminders` mapping; each key left out keeps its default."""
    default = Escalation()
    if value is None:
        return default
    data = doc.mapping(value, "reminders", "reminders ")
    if data is None:
        return default
    doc.keys(data, {"due_soon_days", "remind_before", "remind_after"}, "reminders")
    due_soon = data.get("due_soon_days", default.due_soon_days)
    if not _is_days(due_soon):
        doc.problem("reminders.due_soon_days", f"“{due_soon}”应为 0 到 366 之间的整数（天数）")
        due_soon = default.due_soon_days
    before = _read_days(doc, data, "remind_before", default.remind_before)
    after = _read_days(doc, data, "remind_after", default.remind_after)
    return Escalation(due_soon, before, after)


def _is_days(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 366


def _read_days(
    doc: Document, data: dict[str, Any], key: str, default: tuple[int, ...]
) -> tuple[int, ...]:
    if key not in data:
        return default
    values = data[key]
    if not isinstance(values, list) or not all(_is_days(v) for v in values):
        doc.problem(f"reminders.{key}", f"“{values}”应为天数列表，如 [7, 1]（0 到 366 之间的整数）")
        return default
    return tuple(sorted(set(values), reverse=True))
