"""The units x tasks matrix: each unit's worst status on each task that has indicators.

On paper the matrix is printed again in bands of task columns (shown only in print, on
landscape pages), each band repeating the unit names, so that every task is printed
however many there are."""

from __future__ import annotations

from markupsafe import Markup

from builder.pages.fragments import fill, hole
from builder.pages.page import GeneratedPage
from builder.pages.site import Site
from builder.pages.text import SHORT_LABELS

CELLS = hole("cells")
# Task columns one landscape A4 page holds at print size, unit names included.
PRINT_BAND_TASKS = 15


def print_bands(count: int, most: int = PRINT_BAND_TASKS) -> list[range]:
    """`count` columns split into as few bands of at most `most` as can be, evened out."""
    if count == 0:
        return []
    bands = -(-count // most)
    size = -(-count // bands)
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def matrix_page(site: Site) -> GeneratedPage:
    path = "matrix.md"
    link = site.links(path)
    tasks = [t for t in site.content.tasks if t.indicators]
    bands = print_bands(len(tasks))
    rows = []
    band_rows: list[list[str]] = [[] for _ in bands]
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
        for band, into in zip(bands, band_rows, strict=True):
            into.append(fill(row, cells=Markup("".join(cells[i] for i in band))))
    return site.render(
        "matrix.md",
        path,
        "进度矩阵",
        tasks=tasks,
        unit_rows=rows,
        print_bands=[
            ([tasks[i] for i in band], into) for band, into in zip(bands, band_rows, strict=True)
        ],
        legend=list(SHORT_LABELS.items()),
    )
