"""The generated site's pages as Markdown: home, plan text, tasks, units, matrix, reporting
status, data.

`render_pages` is pure: content, reports and progress in, a list of `GeneratedPage` out.
The MkDocs plugin adds them as virtual files; `plansite build --pages-only` writes them.

One module per page kind renders its Jinja template of `builder/templates/` (`home.md`,
`task.md`, `unit.md`, ...); the cells and rows of the big tables are the macros of
`_macros.html`, each distinct call rendered once per build (`fragments.py`).
Everything a user or a plan editor typed is escaped by the templates (autoescape, plus
the `md` filter in Markdown context); only the plan's own text (task bodies, preamble)
is passed through as Markdown, because it *is* the plan's formatted text, reviewed in
pull requests like code.
"""

from __future__ import annotations

from collections.abc import Iterable

from builder.model import Content, Report
from builder.pages.data import data_page
from builder.pages.home import home_page
from builder.pages.links import form_link, page_url, relative_url
from builder.pages.matrix import matrix_page
from builder.pages.page import BLOCK_TOKEN, GeneratedPage, insert_blocks, nav
from builder.pages.plan import plan_page
from builder.pages.reporting_status import reporting_status_page
from builder.pages.site import Site, SiteOptions
from builder.pages.tasks import task_page, tasks_index_page
from builder.pages.units import unit_page, units_index_page
from builder.progress import Progress

__all__ = [
    "BLOCK_TOKEN",
    "GeneratedPage",
    "SiteOptions",
    "form_link",
    "insert_blocks",
    "nav",
    "page_url",
    "relative_url",
    "render_pages",
]


def render_pages(
    content: Content,
    reports: Iterable[Report],
    progress: Progress,
    options: SiteOptions | None = None,
) -> list[GeneratedPage]:
    """Every page of the site, in navigation order; unit pages last and not in nav."""
    site = Site(content, tuple(reports), progress, options or SiteOptions())
    pages = [home_page(site), plan_page(site), tasks_index_page(site)]
    pages += [task_page(site, task) for task in content.tasks]
    pages += [units_index_page(site), matrix_page(site), reporting_status_page(site)]
    pages += [data_page(site)]
    pages += [unit_page(site, unit) for unit in content.units]
    return pages
