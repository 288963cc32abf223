"""Load the plan from `content/` and `schemas/`; the format is in content/README.md.

Reading never stops at the first problem: every problem is collected with its file, field
and a Chinese message for the plan editor, and `load_content` raises `ContentError` with
all of them. It goes in two passes: each file is read and its shape checked (one module
per file: plan, calendar, units, forms, tasks), then the references between files are
checked (builder.plan.references) and whatever has a problem is left out. A `Content`
that loads is consistent: nothing downstream guards against dangling ids.
"""

from __future__ import annotations

from pathlib import Path

from builder.documents import duplicates, sort_problems
from builder.model import Content, ContentError, Plan, Problem, Task, Unit
from builder.plan.calendar import read_calendar
from builder.plan.files import PLAN_FILE
from builder.plan.forms import read_forms
from builder.plan.plan import read_plan
from builder.plan.references import (
    Known,
    Scopes,
    check_duplicate_tasks,
    check_field_uses,
    check_form_coverage,
    check_references,
    clean_units,
    forms_loaded,
)
from builder.plan.tasks import TaskFile, read_tasks
from builder.plan.units import read_units

__all__ = ["load_content", "read_content", "sort_problems"]


def read_content(root: Path) -> tuple[Content | None, list[Problem]]:
    """Load the plan, collecting every problem; Content is None when the plan cannot be built.

    With problems the Content (if any) holds only the parts that loaded; use
    `load_content` unless you are reporting problems.
    """
    root = Path(root)
    problems: list[Problem] = []
    plan_file = read_plan(root, problems)
    calendar = read_calendar(root, problems)
    units_file = read_units(root, problems)
    forms_file = read_forms(root, problems)
    task_files = read_tasks(root, problems)

    known = Known(
        categories=plan_file.category_ids,
        unit_types=plan_file.unit_type_ids,
        flags=units_file.flags,
        attributes=units_file.attributes,
        periods=calendar.period_ids,
    )
    check_references(units_file.references, known, problems)
    units = clean_units(units_file.rows, problems)
    check_references(forms_file.references, known, problems)
    known.forms = {form.id: form for form in forms_file.forms}
    known.broken_forms = forms_file.broken
    known.forms_loaded = forms_loaded(problems)
    tasks = _check_tasks(task_files, known, units, problems)
    if plan_file.plan is None:
        return None, problems
    _check_guarantees_placed(plan_file.plan, tasks, problems)
    content = Content(
        plan=plan_file.plan,
        tasks=tuple(sorted(tasks, key=lambda t: (t.kind != "task", t.number, t.id))),
        units=tuple(units),
        periods=tuple(calendar.periods),
        forms=tuple(forms_file.forms),
        escalation=calendar.escalation,
    )
    return content, problems


def _check_tasks(
    task_files: list[TaskFile], known: Known, units: list[Unit], problems: list[Problem]
) -> list[Task]:
    """The tasks whose files have no problem once their references are checked."""
    for read in task_files:
        check_references(read.references, known, problems)
        check_field_uses(read.field_uses, known, problems)
    scopes = Scopes(problems)
    for read in task_files:
        indicators = [(path, i) for path, i in read.indicators if scopes.is_clean(read.file, path)]
        check_form_coverage(read.file, read.applies_to, indicators, known, units, problems)
        for repeated in sorted(duplicates([i.id for _, i in indicators])):
            message = f"指标标识“{repeated}”在本任务中重复"
            problems.append(Problem(read.file, "indicators", message))
    scopes = Scopes(problems)
    tasks = [
        read.task
        for read in task_files
        if read.task is not None and scopes.file_is_clean(read.file)
    ]
    check_duplicate_tasks(tasks, problems)
    return tasks


def _check_guarantees_placed(plan: Plan, tasks: list[Task], problems: list[Problem]) -> None:
    """Guarantees need a section of the plan's text to stand in, or the plan page has none."""
    placed = {s.tasks for s in plan.sections} | {
        sub.tasks for s in plan.sections for sub in s.sections
    }
    if "guarantees" not in placed and any(t.kind != "task" for t in tasks):
        message = "content/guarantees/ 中有保障措施，但没有一节写明 tasks: guarantees"
        problems.append(Problem(PLAN_FILE, "sections", message))


def load_content(root: Path) -> Content:
    """The plan in `root` (content/ and schemas/); raises ContentError with every problem."""
    content, problems = read_content(root)
    if problems or content is None:
        raise ContentError(sort_problems(problems))
    return content
