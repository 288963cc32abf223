"""content/plan.yml: the plan's title, dates and time zone, the sections of its full text,
unit types and categories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from builder.documents import (
    DATE_KEY,
    IDENTIFIER_KEY,
    OPTIONAL_TEXT_KEY,
    TEXT_KEY,
    Document,
    Record,
    dates_in_order,
    duplicates,
    join_path,
    read_yaml_mapping,
)
from builder.model import DEFAULT_TIMEZONE, Category, Plan, PlanSection, Problem, UnitType
from builder.plan.files import PLAN_FILE

PLAN_KEYS = {
    "id", "title", "short_title", "year", "issuer", "period", "demo", "preamble",
    "sections", "unit_types", "categories", "tasks_title", "guarantees_title", "timezone",
}  # fmt: skip
# Keys of an earlier plan.yml whose headings were fixed in the template; their text now
# goes into `sections` under the plan's own headings.
FORMER_KEYS = ("guiding_ideology", "principles")
SECTION_KEYS = {"id", "title", "text", "tasks", "sections"}
# What a section may place after its text, with its heading's id on the plan page (the
# task pages link to them).
TASK_LISTS = {"main": "ps-tasks", "guarantees": "ps-guarantees"}
SECTION_DEPTH = 2  # ## and ###: the categories of the main tasks are the next level
PERIOD = Record("period（起止日期）", {"start": DATE_KEY, "end": DATE_KEY}, dates_in_order)
UNIT_TYPE = Record("单位类型", {"id": IDENTIFIER_KEY, "label": TEXT_KEY})
CATEGORY = Record(
    "类别",
    {"id": IDENTIFIER_KEY, "number": TEXT_KEY, "title": TEXT_KEY, "text": OPTIONAL_TEXT_KEY},
)


@dataclass(frozen=True)
class PlanFile:
    """plan.yml as read. The ids other files may refer to are None when their list is
    broken: references into it are then not reported a second time."""

    plan: Plan | None
    category_ids: set[str] | None
    unit_type_ids: set[str] | None


def read_plan(root: Path, problems: list[Problem]) -> PlanFile:
    before = len(problems)
    read = read_yaml_mapping(root, PLAN_FILE, problems)
    if read is None:
        return PlanFile(None, None, None)
    doc, data = read
    _check_keys(doc, data)
    plan_id = doc.identifier(data, "id")
    title = doc.text(data, "title")
    short_title = doc.text(data, "short_title", required=False) or title
    year = doc.integer(data, "year")
    issuer = doc.text(data, "issuer", required=False) or ""
    period = PERIOD.read(doc, data.get("period"), "period")
    timezone = _timezone(doc, data)
    sections = _sections(doc, data, "", 1)
    _check_task_lists(doc, sections)

    unit_types, unit_type_ids = _unit_types(doc, data)
    categories, category_ids = _categories(doc, data)
    tasks_title = doc.text(data, "tasks_title", required=False)
    guarantees_title = doc.text(data, "guarantees_title", required=False)
    demo = doc.boolean(data, "demo")
    if len(problems) > before:
        return PlanFile(None, category_ids, unit_type_ids)
    assert plan_id and title and short_title and year is not None and period
    plan = Plan(
        id=plan_id,
        title=title,
        short_title=short_title,
        year=year,
        issuer=issuer,
        start=period["start"],
        end=period["end"],
        preamble=doc.text(data, "preamble", required=False) or "",
        unit_types=tuple(unit_types),
        categories=tuple(categories),
        sections=sections,
        tasks_title=tasks_title or "任务",
        guarantees_title=guarantees_title or "组织保障",
        demo=demo,
        timezone=timezone,
    )
    return PlanFile(plan, category_ids, unit_type_ids)


def _check_keys(doc: Document, data: dict[str, Any]) -> None:
    """Only known keys; the former ones are named with where their text goes now."""
    for key in FORMER_KEYS:
        if key in data:
            doc.problem(
                key,
                f"{key} 已不再使用：请把这段文字连同它的标题写进 sections"
                "（每节 title、text，见 content/README.md）",
            )
    doc.keys({k: v for k, v in data.items() if k not in FORMER_KEYS}, PLAN_KEYS, "")


_Identified = TypeVar("_Identified", UnitType, Category)


def _unit_types(doc: Document, data: dict[str, Any]) -> tuple[list[UnitType], set[str] | None]:
    """The unit types, and their ids (None when the list has a problem)."""
    return _identified(doc, data, "unit_types", UNIT_TYPE, UnitType, "单位类型标识")


def _categories(doc: Document, data: dict[str, Any]) -> tuple[list[Category], set[str] | None]:
    """The categories, and their ids (None when the list has a problem)."""
    return _identified(doc, data, "categories", CATEGORY, Category, "类别标识")


def _identified(
    doc: Document,
    data: dict[str, Any],
    key: str,
    shape: Record,
    kind: type[_Identified],
    noun: str,
) -> tuple[list[_Identified], set[str] | None]:
    """The entries of list `key`, each with a unique id, and their ids (None when the list
    has a problem)."""
    before = len(doc.problems)
    entries = [kind(**values) for values in shape.read_list(doc, data, key, required=True)]
    for repeated in sorted(duplicates([entry.id for entry in entries])):
        doc.problem(key, f"{noun}“{repeated}”重复")
    return entries, {entry.id for entry in entries} if len(doc.problems) == before else None


def _timezone(doc: Document, data: dict[str, Any]) -> str:
    name = doc.text(data, "timezone", required=False) or DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        doc.problem("timezone", f"未知的时区“{name}”，应写成 IANA 时区名，例如 Asia/Shanghai")
        return DEFAULT_TIMEZONE
    return name


def _sections(
    doc: Document, data: dict[str, Any], path: str, depth: int
) -> tuple[PlanSection, ...]:
    """The sections listed under `sections` of `data`, each with its own sections."""
    where = join_path(path, "sections")
    sections = []
    for index, item in enumerate(doc.items(data, "sections", path, required=depth == 1)):
        at = f"{where}[{index}]"
        entry = doc.mapping(item, at, "方案的一节")
        if entry is None:
            continue
        doc.keys(entry, SECTION_KEYS, at)
        title = doc.text(entry, "title", at)
        text = doc.text(entry, "text", at, required=False) or ""
        section_id = doc.identifier(entry, "id", at) if "id" in entry else None
        tasks = doc.text(entry, "tasks", at, required=False) or ""
        if tasks and tasks not in TASK_LISTS:
            doc.problem(
                join_path(at, "tasks"), f"应为 main（任务）或 guarantees（保障措施），不是“{tasks}”"
            )
        if "sections" in entry and depth >= SECTION_DEPTH:
            doc.problem(join_path(at, "sections"), f"方案全文最多分 {SECTION_DEPTH} 级")
        subsections = _sections(doc, entry, at, depth + 1) if depth < SECTION_DEPTH else ()
        if title is None:
            continue
        anchor = TASK_LISTS.get(tasks) or (f"ps-{section_id}" if section_id else "")
        sections.append(PlanSection(title, text, anchor, tasks, subsections))
    return tuple(sections)


def _check_task_lists(doc: Document, sections: tuple[PlanSection, ...]) -> None:
    """The main tasks are placed exactly once, the guarantees at most once."""
    placed = [s.tasks for s in sections if s.tasks]
    placed += [sub.tasks for s in sections for sub in s.sections if sub.tasks]
    if sections and "main" not in placed:
        doc.problem("sections", "没有一节写明 tasks: main，任务无处列出")
    for tasks in sorted({t for t in placed if placed.count(t) > 1}):
        doc.problem("sections", f"tasks: {tasks} 只能出现在一节中")
