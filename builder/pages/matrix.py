"""The units x tasks matrix: each unit's worst status on each task that has indicators."""

from __future__ import annotations

from markupsafe import Markup

from builder.pages.fragments import fill, hole
from builder.pages.page import GeneratedPage
from builder.pages.site import Site
from builder.pages.text import SHORT_LABELS

CELLS = hole("cells")


def matrix_page(site: Site) -> GeneratedPage:
    path = "matrix.md"
    link = site.links(path)
    tasks = [t for t in site.content.tasks if t.indicators]
    rows = []
    for unit in site.content.units:
        cells = []
        for task in tasks:
            item = site.progress.unit_task_rollup(unit.id, task.id)
            cells.append(
                site.fragments("matrix_cell", task.id, item.status, item.met, item.applicable)
            )
        row = site.fragments(
            "matrix_row",
            link(f"units/{unit.id}.md"),
            unit.id,
            unit.name,
            site.standing(unit.id).colour,
            CELLS,
        )
        rows.append(fill(row, cells=Markup("".join(cells))))
    return site.render(
        "matrix.md",
        path,
        "进度矩阵",
        tasks=tasks,
        unit_rows=rows,
        legend=list(SHORT_LABELS.items()),
    )
