"""The content model: the plan, its tasks and indicators, units, periods, forms and reports.

Plain frozen dataclasses with no I/O. `builder.plan` loads them from `content/`,
`schemas/` and `data/reports/`; everything downstream (progress rules, pages, exports,
the form service) works on these objects only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

# The only strings that may reach a path, a git ref or a URL. No dots (so no "..",
# no ".lock"), no slashes, no spaces or control characters, bounded length.
IDENTIFIER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# The plan's time zone when plan.yml names none: where its readers are.
DEFAULT_TIMEZONE = "Asia/Shanghai"


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None


class Status(enum.Enum):
    """Progress status of one unit on one indicator. Order = severity for display."""

    MET = "met"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    NOT_REPORTED = "not_reported"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"

    # Members are singletons compared by identity, so identity is a valid hash; Enum's own
    # hashes the name in Python, and statuses are counted by the hundred thousand.
    __hash__ = object.__hash__

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.MET: "已完成",
    Status.ON_TRACK: "进展正常",
    Status.BEHIND: "进度滞后",
    Status.NOT_REPORTED: "未报送",
    Status.OVERDUE: "已逾期",
    Status.NOT_APPLICABLE: "不适用",
}


@dataclass(frozen=True)
class AppliesTo:
    """Which units a task, indicator or form applies to. Empty = all units."""

    unit_types: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def matches(self, unit: Unit) -> bool:
        if self.unit_types and unit.type not in self.unit_types:
            return False
        return all(unit.flags.get(flag, False) for flag in self.flags)

    @property
    def is_all(self) -> bool:
        return not self.unit_types and not self.flags

    def narrowed_by(self, other: AppliesTo) -> AppliesTo:
        """The units both select (an indicator's scope within its task's): types in both
        lists (either's when the other names none), every flag of either."""
        if self.unit_types and other.unit_types:
            types = tuple(t for t in self.unit_types if t in other.unit_types)
        else:
            types = self.unit_types or other.unit_types
        return AppliesTo(types, tuple(dict.fromkeys(self.flags + other.flags)))


ALL_UNITS = AppliesTo()


@dataclass(frozen=True)
class FieldRef:
    """A form field, written `form-id.field_name` in content."""

    form: str
    field: str

    def __str__(self) -> str:
        return f"{self.form}.{self.field}"


Combine = Literal["sum", "latest"]


@dataclass(frozen=True)
class Operand:
    """One side of a ratio: a form field combined over periods, or a unit attribute."""

    field: FieldRef | None = None
    combine: Combine = "latest"
    unit_attribute: str | None = None


@dataclass(frozen=True)
class Target:
    minimum: float | None = None
    maximum: float | None = None
    equals: bool | float | None = None
    # Done on or before this day: the target of an indicator whose value is the day a thing
    # was done (rule done_on), which the loader sets to the indicator's `due`.
    by: date | None = None

    def is_met(self, value: float | bool | date | None) -> bool:
        if value is None:
            return False
        if self.by is not None:
            return isinstance(value, date) and value <= self.by
        if isinstance(value, date):
            return False
        if self.equals is not None:
            return value == self.equals
        if isinstance(value, bool):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


@dataclass(frozen=True)
class Indicator:
    id: str
    task_id: str
    title: str
    rule: str  # a name in builder.rules.RULES (the loader checks it)
    due: date
    # What the rule reads: one form field, or (a ratio) a numerator and a denominator.
    field: FieldRef | None = None
    numerator: Operand | None = None
    denominator: Operand | None = None
    target: Target | None = None
    measure: str = ""  # display unit of the value (个, 次, 人)
    applies_to: AppliesTo = ALL_UNITS  # narrows the task's
    # What the target means over time: a name in builder.rules.kinds.KINDS (cumulative,
    # threshold, deadline); the loader checks it against what the rule accepts.
    kind: str = "cumulative"

    @property
    def fields(self) -> tuple[FieldRef, ...]:
        """Every form field this indicator reads."""
        refs = [self.field] if self.field else []
        for operand in (self.numerator, self.denominator):
            if operand and operand.field:
                refs.append(operand.field)
        return tuple(refs)


@dataclass(frozen=True)
class ChecklistItem:
    title: str
    field: FieldRef | None = None


@dataclass(frozen=True)
class Task:
    id: str
    number: int
    title: str
    body: str  # Markdown, the task's text as the plan states it
    kind: Literal["task", "guarantee"] = "task"
    category: str | None = None
    applies_to: AppliesTo = ALL_UNITS
    forms: tuple[str, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    source: str = ""  # file it was loaded from, relative to the repository


@dataclass(frozen=True)
class Category:
    id: str
    number: str
    title: str
    text: str = ""


@dataclass(frozen=True)
class PlanSection:
    """A section of the plan's full text, its heading written as the plan numbers it
    (e.g. "第一部分：工作目标"). `tasks` places the generated lists: "main" the categories
    with their tasks, "guarantees" the guarantees; the plan decides where and under which
    heading."""

    title: str
    text: str = ""
    anchor: str = ""  # the heading's id on the plan page, e.g. "ps-tasks"
    tasks: str = ""
    sections: tuple[PlanSection, ...] = ()


@dataclass(frozen=True)
class UnitType:
    id: str
    label: str


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    type: str
    flags: dict[str, bool] = field(default_factory=dict)
    attributes: dict[str, int] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # short names readers use ("卫生局"), for search

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def profile(self) -> tuple[str, frozenset[str]]:
        """All that AppliesTo.matches reads of the unit: its type and the flags it has.
        Thousands of units share a handful of profiles, so what depends only on which
        tasks, indicators and forms apply is decided once per profile."""
        return (self.type, frozenset(flag for flag, on in self.flags.items() if on))


@dataclass(frozen=True)
class Period:
    id: str
    title: str
    start: date
    end: date
    due: date


@dataclass(frozen=True)
class Escalation:
    """When an unreported report counts as due soon (the blue of 督办) and when reminders go
    out, in days; content/calendar.yml `reminders`."""

    due_soon_days: int = 14
    remind_before: tuple[int, ...] = (7, 1)  # days before a due date
    remind_after: tuple[int, ...] = (1, 7, 14)  # days after a missed due date


@dataclass(frozen=True)
class FormField:
    """One field of a report form, read from its Frictionless Table Schema."""

    name: str
    type: str  # frictionless type: integer, number, boolean, string, date
    title: str
    description: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class CheckOperand:
    """The other side of a form check: a field of the same form or a unit registry column."""

    field: str | None = None
    unit_column: str | None = None


@dataclass(frozen=True)
class FormCheck:
    """A check across a form's fields, or against the unit's own registry row, declared in
    forms.yml: the sum of `fields` is not above (or equals) `other`. An error refuses the
    values like a constraint; a warning needs the reporter's explanation to be submitted."""

    fields: tuple[str, ...]  # one field, or the fields summed
    relation: Literal["not_above", "equals"]
    other: CheckOperand
    level: Literal["error", "warning"] = "error"
    message: str = ""  # the plan's own words; a message is made from the titles otherwise


@dataclass(frozen=True)
class HistoryCheck:
    """A field compared with the unit's last approved report of the same form (an earlier
    period), declared in forms.yml: a running total that went down, or a figure above
    `max_factor` times the earlier one. Always a warning: a late approval of an earlier
    period can make a figure odd that was not when it was submitted."""

    field: str
    cumulative: bool = False  # a running total: it should not go down
    max_factor: float | None = None  # more than this many times the earlier figure is odd
    message: str = ""
    level: Literal["warning"] = "warning"


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    description: str
    schema_path: str  # relative to the repository root
    fields: tuple[FormField, ...]
    periods: tuple[str, ...]
    applies_to: AppliesTo = ALL_UNITS
    checks: tuple[FormCheck, ...] = ()
    history_checks: tuple[HistoryCheck, ...] = ()
    # The Frictionless Table Schema descriptor as loaded; builder.records reads with it.
    descriptor: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def field_named(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    short_title: str
    year: int
    issuer: str
    start: date
    end: date
    preamble: str
    unit_types: tuple[UnitType, ...]
    categories: tuple[Category, ...]
    sections: tuple[PlanSection, ...] = ()
    tasks_title: str = "任务"  # the main tasks' heading in the task overview
    guarantees_title: str = "组织保障"
    demo: bool = False
    timezone: str = DEFAULT_TIMEZONE  # IANA name: every time a person sees is shown in it

    def unit_type_label(self, type_id: str) -> str:
        return next((t.label for t in self.unit_types if t.id == type_id), type_id)


@dataclass(frozen=True)
class Content:
    """The whole plan as loaded from `content/` and `schemas/`."""

    plan: Plan
    tasks: tuple[Task, ...]  # tasks by number, then guarantees by number
    units: tuple[Unit, ...]
    periods: tuple[Period, ...]  # by end date, then due date
    forms: tuple[Form, ...]
    escalation: Escalation = field(default_factory=Escalation)

    def task(self, task_id: str) -> Task:
        return next(t for t in self.tasks if t.id == task_id)

    def unit(self, unit_id: str) -> Unit:
        return next(u for u in self.units if u.id == unit_id)

    def form(self, form_id: str) -> Form:
        return next(f for f in self.forms if f.id == form_id)

    def period(self, period_id: str) -> Period:
        return next(p for p in self.periods if p.id == period_id)

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for t in self.tasks for i in t.indicators)


@dataclass(frozen=True)
class Evidence:
    file: str  # stored file name, `<n>-<sanitised-name>`
    name: str  # the name the user uploaded, for display only
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Report:
    """One approved submission: one form filled for one unit and one period."""

    id: str
    form: str
    period: str
    unit: str
    submitted_at: datetime
    submitted_by: dict[str, str]
    values: dict[str, Any]
    evidence: tuple[Evidence, ...] = ()
    path: str = ""  # relative to the repository root
    # The reporter's explanation of the form's warnings (数据异常请说明), when there were any.
    explanation: str = ""
    # Why a correction replaces the slot's earlier report (更正原因); "" for a first report.
    correction_reason: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """Reports with the same key replace each other (a correction)."""
        return (self.unit, self.form, self.period)


def report_path(form: str, period: str, unit: str, submission_id: str) -> str:
    """Where a submission lives in the repository, built only from identifiers."""
    for value in (form, period, unit, submission_id):
        if not is_identifier(value):
            raise ValueError(f"not an identifier: {value!r}")
    return f"data/reports/{form}/{period}/{unit}/{submission_id}.json"


def evidence_dir(form: str, period: str, unit: str, submission_id: str) -> str:
    return report_path(form, period, unit, submission_id).removesuffix(".json")


@dataclass(frozen=True)
class Problem:
    """A problem in the plan's files, for plan editors: file, field, Chinese explanation."""

    file: str
    field: str
    message: str
    # A likely mistake rather than an error: `plansite validate` prints it as 警告 and
    # still succeeds. Loading the plan never produces one.
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        prefix = "警告：" if self.warning else ""
        return f"{where}: {prefix}{self.message}"


class ContentError(Exception):
    """The content has problems; a plan with an error must never build silently."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
