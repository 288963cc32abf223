"""A generated page, the placeholders of its HTML blocks, and the site's navigation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import escape


@dataclass(frozen=True)
class GeneratedPage:
    """One page. Its big generated HTML (tables) is kept out of the Markdown: `source` holds
    a placeholder comment per block and `blocks` the finished, escaped HTML. Python-Markdown
    would only hand raw HTML through unchanged, at a cost of one parser callback per tag,
    so the plugin converts `source` and puts the blocks into the converted page;
    `markdown` is the same page as self-contained Markdown for a plain MkDocs build."""

    path: str  # relative to docs_dir, e.g. "units/fgw.md"
    title: str  # plain text
    source: str  # Markdown with a BLOCK_TOKEN in place of each block
    in_nav: bool = True
    blocks: tuple[str, ...] = ()
    # The names the page is searched by (builder.search): set as the page's search tags
    # by the plugin, never written into the Markdown, where a unit name typed by a plan
    # editor would have to survive YAML.
    search_tags: tuple[str, ...] = ()

    @property
    def markdown(self) -> str:
        return insert_blocks(self.source, self.blocks)


# A block's placeholder: an HTML comment, which Python-Markdown passes through untouched
# and the search plugin ignores. Text typed by users is escaped, so it cannot forge one.
BLOCK_TOKEN = "<!--plansite-block-{}-->"
_PLACEHOLDER = re.compile(r"<!--plansite-block-(\d+)-->")


def insert_blocks(text: str, blocks: Sequence[str]) -> str:
    """The text (Markdown or the HTML converted from it) with each placeholder replaced by
    its block; a placeholder with no block (plan text quoting one) stays as it is."""

    def block(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return blocks[index] if index < len(blocks) else match.group(0)

    return _PLACEHOLDER.sub(block, text) if blocks else text


def nav(pages: Sequence[GeneratedPage], forms_url: str | None = None) -> list[Any]:
    """The MkDocs `nav` for the pages: tasks grouped, unit pages left out, and last the
    portal of the form service (去填报) when there is one, so every page links to it."""
    entries: list[Any] = []
    tasks: list[dict[str, str]] = []
    for page in pages:
        if not page.in_nav:
            continue
        if page.path.startswith("tasks/"):
            if not tasks:
                entries.append({"任务": tasks})
            tasks.append({_nav_title(page.title): page.path})
        else:
            entries.append({_nav_title(page.title): page.path})
    if forms_url:
        entries.append({"去填报": forms_url})
    return entries


def _nav_title(title: str) -> str:
    # The theme prints nav titles as HTML without escaping them.
    return str(escape(title))
