"""content/plan.yml: the plan's title and dates, principles, unit types and categories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.documents import (
    DATE_KEY,
    IDENTIFIER_KEY,
    OPTIONAL_TEXT_KEY,
    TEXT_KEY,
    Record,
    dates_in_order,
    duplicates,
    read_yaml_mapping,
)
from builder.model import Category, Plan, Principle, Problem, UnitType
from builder.plan.files import PLAN_FILE

PLAN_KEYS = {
    "id", "title", "short_title", "year", "issuer", "period", "demo", "preamble",
    "guiding_ideology", "principles", "unit_types", "categories", "guarantees_title",
}  # fmt: skip
PERIOD = Record("period（起止日期）", {"start": DATE_KEY, "end": DATE_KEY}, dates_in_order)
PRINCIPLE = Record("基本原则", {"title": TEXT_KEY, "text": OPTIONAL_TEXT_KEY})
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
    doc.keys(data, PLAN_KEYS, "")
    plan_id = doc.identifier(data, "id")
    title = doc.text(data, "title")
    short_title = doc.text(data, "short_title", required=False) or title
    year = doc.integer(data, "year")
    issuer = doc.text(data, "issuer", required=False) or ""
    period = PERIOD.read(doc, data.get("period"), "period")
    principles = [Principle(**values) for values in PRINCIPLE.read_list(doc, data, "principles")]

    types_before = len(problems)
    unit_types = [
        UnitType(**values) for values in UNIT_TYPE.read_list(doc, data, "unit_types", required=True)
    ]
    for repeated in sorted(duplicates([t.id for t in unit_types])):
        doc.problem("unit_types", f"单位类型标识“{repeated}”重复")
    types_ok = len(problems) == types_before

    categories_before = len(problems)
    categories = [
        Category(**values) for values in CATEGORY.read_list(doc, data, "categories", required=True)
    ]
    for repeated in sorted(duplicates([c.id for c in categories])):
        doc.problem("categories", f"类别标识“{repeated}”重复")
    categories_ok = len(problems) == categories_before

    guarantees_title = doc.text(data, "guarantees_title", required=False)
    demo = doc.boolean(data, "demo")
    category_ids = {c.id for c in categories} if categories_ok else None
    unit_type_ids = {t.id for t in unit_types} if types_ok else None
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
        guiding_ideology=doc.text(data, "guiding_ideology", required=False) or "",
        principles=tuple(principles),
        unit_types=tuple(unit_types),
        categories=tuple(categories),
        guarantees_title=guarantees_title or "组织保障",
        demo=demo,
    )
    return PlanFile(plan, category_ids, unit_type_ids)
