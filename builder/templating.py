"""The Jinja2 environment of the generated pages and charts, and Markdown escaping.

Every template is autoescaped: a value that reaches a page is HTML-escaped unless the
code marks it as trusted Markup. In the Markdown templates, text typed by users (unit
names, report notes) additionally goes through `md`, so that `[x](javascript:...)` or
`*` stay literal text instead of becoming a link or emphasis.
"""

from __future__ import annotations

import re
from functools import cache

import jinja2
from markupsafe import Markup, escape

# Python-Markdown's backslash-escapable characters (core list plus `|` from the tables
# extension); escaping anything else would leave a visible backslash. `>` and `<` are
# left to HTML escaping, which turns them into entities Markdown never reads as markup.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def html_text(text: str) -> str:
    """HTML-escaped text as a plain str: the characters and entities of markupsafe.escape,
    without building a Markup object for each of the pages' hundreds of thousands of cells."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def markdown_text(value: object) -> Markup:
    """Plain text made safe for inline Markdown: no markup, no HTML, one line."""
    text = " ".join(str(value).split())
    # Backslash-escape first: escaping after HTML escaping would break `&#39;`.
    return Markup(str(escape(_MARKDOWN_SPECIALS.sub(r"\\\1", text))))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("builder", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates are the package's code, not content: no stat() of the template
        # file (and of each include) at every one of thousands of renders.
        auto_reload=False,
        undefined=jinja2.StrictUndefined,
        # `{#id}` is Markdown's heading id syntax (attr_list), not a Jinja comment.
        comment_start_string="{##",
        comment_end_string="##}",
    )
    env.filters["md"] = markdown_text
    return env
