"""How values, targets, dates and labels are written on the pages (plain text, unescaped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builder.fields import field_type
from builder.model import AppliesTo, Content, Status, Task
from builder.progress import SEVERITY

# The 督办 colour of a unit as its badge says it (the full meaning is its title and legend).
ESCALATION_SHORT: dict[str, str] = {
    "red": "红色督办",
    "yellow": "黄色督办",
    "blue": "蓝色提醒",
    "none": "无需督办",
}

# Short cell text of the units x tasks matrix; the full label is in the cell's <abbr>.
SHORT_LABELS: dict[Status, str] = {
    Status.MET: "完成",
    Status.ON_TRACK: "正常",
    Status.BEHIND: "滞后",
    Status.NOT_REPORTED: "未报",
    Status.OVERDUE: "逾期",
    Status.NOT_APPLICABLE: "—",
}

# Sort key of a status in sortable tables: worst first when sorted ascending.
STATUS_SORT: dict[Status, int] = {
    **{status: index for index, status in enumerate(SEVERITY)},
    Status.NOT_APPLICABLE: len(SEVERITY),
}


def applies_text(content: Content, applies_to: AppliesTo, flag_labels: Mapping[str, str]) -> str:
    if applies_to.is_all:
        return "全部单位"
    parts = [content.plan.unit_type_label(t) for t in applies_to.unit_types]
    parts += [flag_labels.get(flag, flag) for flag in applies_to.flags]
    return "、".join(parts)


def cell_value(form_field_type: str, value: Any) -> str:
    """A report's value of a form field as its contents table shows it."""
    if value is None or value == "":
        return "—"
    return field_type(form_field_type).shown(value)


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def task_label(task: Task, guarantees_title: str) -> str:
    """How a task is numbered for readers: "任务5" or "组织保障1"."""
    return f"任务{task.number}" if task.kind == "task" else f"{guarantees_title}{task.number}"


def task_sort_key(task: Task) -> str:
    """A task's place in a sortable column: tasks in number order, then the guarantees."""
    return f"{task.number:04d}" if task.kind == "task" else f"9{task.number:03d}"
