"""The tasks index and one page per task: its text, indicators and every applicable unit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup

from builder import search
from builder.model import Task, Unit
from builder.pages.fragments import fill, hole
from builder.pages.page import GeneratedPage
from builder.pages.plan import trusted_markdown
from builder.pages.site import Site
from builder.pages.text import applies_text
from builder.progress import rollup
from builder.rules import format_value, target_text

CELLS = hole("cells")


def tasks_index_page(site: Site) -> GeneratedPage:
    return site.render(
        "tasks_index.md",
        "tasks/index.md",
        "任务总览",
        groups=[
            (site.plan.tasks_title, site.main_tasks),
            (site.plan.guarantees_title, site.guarantees),
        ],
        applicable_count={t.id: len(site.task_units[t.id]) for t in site.content.tasks},
    )


def task_page(site: Site, task: Task) -> GeneratedPage:
    units = site.task_units[task.id]
    path = f"tasks/{task.id}.md"
    flag_labels = site.options.flag_labels
    indicators = [
        {
            "indicator": indicator,
            "target": target_text(indicator),
            "applies": applies_text(
                site.content, task.applies_to.narrowed_by(indicator.applies_to), flag_labels
            ),
            "rollup": rollup(site.progress.for_indicator(indicator.id)),
        }
        for indicator in task.indicators
    ]
    return site.render(
        "task.md",
        path,
        f"{site.label(task)} {task.title}",
        task=task,
        search_tags=search.search_tags(search.task_terms(task)),
        label=site.label(task),
        category=site.categories.get(task.category or ""),
        applies=applies_text(site.content, task.applies_to, flag_labels),
        forms=[site.forms[f] for f in task.forms if f in site.forms],
        indicators=indicators,
        task_rollup=site.progress.task_rollup(task.id),
        unit_count=len(units),
        unit_rows=_unit_rows(site, site.links(path), task, units),
        trusted=trusted_markdown,
    )


def _unit_rows(
    site: Site, link: Callable[[str], str], task: Task, units: Sequence[Unit]
) -> list[str]:
    """A row per unit: its value and status on each indicator, then its share met."""
    fragments, progress = site.fragments, site.progress
    rows = []
    for unit in units:
        cells = []
        for indicator in task.indicators:
            result = progress.result(unit.id, indicator.id)
            value = format_value(indicator, result.value)
            why = site.status_why(result)
            cells.append(fragments("value_cell", indicator.id, result.status, value, why))
        if task.indicators:
            item = progress.unit_task_rollup(unit.id, task.id)
            cells.append(fragments("rollup_cells", item.share, item.status))
        row = fragments(
            "task_unit_row",
            link(f"units/{unit.id}.md"),
            unit.id,
            unit.name,
            site.type_label(unit),
            CELLS,
        )
        rows.append(fill(row, cells=Markup("".join(cells))))
    return rows
