"""The checks between the plan's files, in a pass of their own after every file is read.

Reading a file (builder.plan.plan, calendar, units, forms, tasks) checks its shape and
notes each reference it holds to another file as a `Reference` or a `FieldUse`; this
module checks them all against what the other files define (`Known`), then decides which
objects survive: a unit row, an indicator or a task with any problem is left out, so that
a `Content` that loads is consistent and nothing downstream guards against dangling ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from builder.model import AppliesTo, FieldRef, Form, Indicator, Problem, Task, Unit
from builder.plan.files import (
    CALENDAR_FILE,
    FORM_SCHEMAS_DIR,
    FORMS_FILE,
    PLAN_FILE,
    UNITS_FILE,
    UNITS_SCHEMA_FILE,
)

Kind = Literal["unit_type", "flag", "attribute", "period", "category", "form"]


@dataclass(frozen=True)
class Reference:
    """An id at `path` of `file` that another file must define."""

    file: str
    path: str
    kind: Kind
    value: str


@dataclass(frozen=True)
class FieldUse:
    """A form field read at `path` of a task file: it must exist, be of one of `types`,
    and its form must be one the task lists."""

    file: str
    path: str
    ref: FieldRef
    types: tuple[str, ...]
    task_forms: tuple[str, ...]


@dataclass
class Known:
    """What the files define. A part that failed to load is None (or, for forms,
    `forms_loaded` is False), so that references into it are not reported a second
    time as dangling: the editor sees the real problem once, not a cascade."""

    categories: set[str] | None = None
    unit_types: set[str] | None = None
    flags: set[str] | None = None
    attributes: set[str] | None = None
    periods: set[str] | None = None
    forms: dict[str, Form] = field(default_factory=dict)
    broken_forms: set[str] = field(default_factory=set)
    forms_loaded: bool = False


_UNDEFINED = {
    "unit_type": lambda v: f"单位类型“{v}”未在 {PLAN_FILE} 的 unit_types 中定义",
    "flag": lambda v: f"单位标记“{v}”不是 {UNITS_SCHEMA_FILE} 中的布尔列",
    "attribute": lambda v: f"单位数据列“{v}”不是 {UNITS_SCHEMA_FILE} 中的整数列",
    "period": lambda v: f"报送周期“{v}”未在 {CALENDAR_FILE} 中定义",
    "category": lambda v: f"类别“{v}”未在 {PLAN_FILE} 中定义",
    "form": lambda v: f"表单 {v} 未在 {FORMS_FILE} 中定义",
}


def _defined(reference: Reference, known: Known) -> bool:
    """Whether the id is defined, or its file is broken (then it is not checked)."""
    if reference.kind == "form":
        value = reference.value
        return value in known.forms or value in known.broken_forms or not known.forms_loaded
    ids = {
        "unit_type": known.unit_types,
        "flag": known.flags,
        "attribute": known.attributes,
        "period": known.periods,
        "category": known.categories,
    }[reference.kind]
    return ids is None or reference.value in ids


def check_references(
    references: Iterable[Reference], known: Known, problems: list[Problem]
) -> None:
    for reference in references:
        if not _defined(reference, known):
            message = _UNDEFINED[reference.kind](reference.value)
            problems.append(Problem(reference.file, reference.path, message))


def check_field_uses(uses: Iterable[FieldUse], known: Known, problems: list[Problem]) -> None:
    for use in uses:
        problems.extend(Problem(use.file, use.path, m) for m in _field_use_problems(use, known))


def _field_use_problems(use: FieldUse, known: Known) -> list[str]:
    ref = use.ref
    if ref.form in known.broken_forms:
        return []
    form = known.forms.get(ref.form)
    if form is None:
        return [f"引用的表单 {ref.form} 不存在"] if known.forms_loaded else []
    form_field = form.field_named(ref.field)
    if form_field is None:
        return [f"引用的表单字段 {ref} 不存在"]
    messages = []
    if form_field.type not in use.types:
        wanted = " 或 ".join(use.types)
        messages.append(f"表单字段 {ref} 的类型是 {form_field.type}，这里需要 {wanted}")
    if ref.form not in use.task_forms:
        messages.append(f"表单 {ref.form} 未列在本任务的 forms 中")
    return messages


def forms_loaded(problems: Sequence[Problem]) -> bool:
    """Whether forms.yml and every form schema loaded without a problem."""
    return not any(
        p.file == FORMS_FILE or p.file.startswith(f"{FORM_SCHEMAS_DIR}/") for p in problems
    )


# ------------------------------------------------------------------ what survives


class Scopes:
    """Which parts of which files have problems: a unit row, an indicator, a whole file."""

    def __init__(self, problems: Iterable[Problem]):
        self._fields: dict[str, list[str]] = {}
        for problem in problems:
            self._fields.setdefault(problem.file, []).append(problem.field)

    def file_is_clean(self, file: str) -> bool:
        return file not in self._fields

    def is_clean(self, file: str, path: str) -> bool:
        """No problem at `path` or inside it (`path.key`, `path: column`)."""
        return not any(
            found == path or (found.startswith(path) and found[len(path)] in ".:")
            for found in self._fields.get(file, ())
        )


def clean_units(rows: Iterable[tuple[int, Unit]], problems: list[Problem]) -> list[Unit]:
    scopes = Scopes(problems)
    return [unit for number, unit in rows if scopes.is_clean(UNITS_FILE, f"row {number}")]


def check_form_coverage(
    file: str,
    task_applies: AppliesTo,
    indicators: Iterable[tuple[str, Indicator]],
    known: Known,
    units: Sequence[Unit],
    problems: list[Problem],
) -> None:
    """Every unit an indicator applies to must fill the forms it reads, or it never gets
    data. Which units an AppliesTo matches depends only on Unit.profile, so the check is
    made once per profile and goes through the units only to name the ones left out."""
    profiles: dict[tuple[str, frozenset[str]], Unit] = {}
    for unit in units:
        profiles.setdefault(unit.profile, unit)
    for path, indicator in indicators:
        for ref in indicator.fields:
            form = known.forms.get(ref.form)
            if form is None or form.applies_to.is_all:
                continue
            scopes = (task_applies, indicator.applies_to)
            if not any(_left_out(unit, scopes, form) for unit in profiles.values()):
                continue
            missing = [unit.id for unit in units if _left_out(unit, scopes, form)]
            examples = "、".join(missing[:3])
            problems.append(
                Problem(
                    file,
                    path,
                    f"有 {len(missing)} 个适用单位不填报表单 {form.id}（如 {examples}），"
                    "该指标无法取得数据",
                )
            )


def _left_out(unit: Unit, scopes: tuple[AppliesTo, AppliesTo], form: Form) -> bool:
    """Whether the unit is in both scopes but is not asked for the form."""
    return all(scope.matches(unit) for scope in scopes) and not form.applies_to.matches(unit)


def check_duplicate_tasks(tasks: Sequence[Task], problems: list[Problem]) -> None:
    """Task ids are unique over all files; numbers among tasks and among guarantees."""
    first_file: dict[str, str] = {}
    for task in tasks:
        if task.id in first_file:
            problems.append(
                Problem(task.source, "id", f"任务标识“{task.id}”与 {first_file[task.id]} 重复")
            )
        else:
            first_file[task.id] = task.source
    for kind in ("task", "guarantee"):
        numbers: dict[int, str] = {}
        for task in tasks:
            if task.kind != kind:
                continue
            if task.number in numbers:
                message = f"编号 {task.number} 与 {numbers[task.number]} 重复"
                problems.append(Problem(task.source, "number", message))
            else:
                numbers[task.number] = task.source
