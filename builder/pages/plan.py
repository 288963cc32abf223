"""The plan's full text, as its editors wrote it, with a link to each task's page."""

from __future__ import annotations

from markupsafe import Markup

from builder.model import Task
from builder.pages.page import GeneratedPage
from builder.pages.site import Site


def plan_page(site: Site) -> GeneratedPage:
    by_category: dict[str, list[Task]] = {c.id: [] for c in site.plan.categories}
    for task in site.main_tasks:
        by_category.setdefault(task.category or "", []).append(task)
    return site.render(
        "plan.md", "plan.md", "方案全文", by_category=by_category, trusted=trusted_markdown
    )


def trusted_markdown(text: str) -> Markup:
    """The plan's own text is Markdown written by plan editors and reviewed in pull
    requests, so it is rendered as Markdown; nothing a unit submits ever goes here."""
    return Markup(text.strip())
