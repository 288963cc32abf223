"""The generated site's pages as Markdown: home, plan text, tasks, units, matrix, reporting
status, data.

`render_pages` is pure: content, reports and progress in, a list of `GeneratedPage` out;
`iter_pages` gives the same pages one at a time. The MkDocs plugin adds them as virtual
files; `plansite build --pages-only` writes them.

One module per page kind renders its Jinja template of `builder/templates/` (`home.md`,
`task.md`, `unit.md`, ...); the cells and rows of the big tables are the macros of
`_macros.html`, each distinct call rendered once per build (`fragments.py`).
Everything a user or a plan editor typed is escaped by the templates (autoescape, plus
the `md` filter in Markdown context); only the plan's own text (task bodies, preamble)
is passed through as Markdown, because it *is* the plan's formatted text, reviewed in
pull requests like code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
    "iter_pages",
    "nav",
    "page_url",
    "relative_url",
    "render_pages",
]


def iter_pages(
    content: Content,
    reports: Iterable[Report],
    progress: Progress,
    options: SiteOptions | None = None,
) -> Iterator[GeneratedPage]:
    """Every page of the site, in navigation order, unit pages last and not in nav; each
    rendered when it is asked for, so that a caller that puts a page away before taking
    the next holds one page's tables at a time, not the whole site's."""
    site = Site(content, tuple(reports), progress, options or SiteOptions())
    yield home_page(site)
    yield plan_page(site)
    yield tasks_index_page(site)
    for task in content.tasks:
        yield task_page(site, task)
    yield units_index_page(site)
    yield matrix_page(site)
    yield reporting_status_page(site)
    yield data_page(site)
    for unit in content.units:
        yield unit_page(site, unit)


def render_pages(
    content: Content,
    reports: Iterable[Report],
    progress: Progress,
    options: SiteOptions | None = None,
) -> list[GeneratedPage]:
    """Every page of the site, in navigation order; unit pages last and not in nav."""
    return list(iter_pages(content, reports, progress, options))
