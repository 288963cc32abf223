"""The macros of `templates/_macros.html` as the pages call them: each distinct call rendered
once per build.

The big tables (a row per unit on every task page, dozens of rows on each of thousands of
unit pages) repeat the same few cells and rows over and over, and a Jinja macro call costs
far more than the tags it writes. So a macro is rendered once per distinct arguments and
its HTML reused. A row that differs from unit to unit only in a few texts (the unit's id,
a report's submission time) is rendered with a `hole` in place of each of those, and
`fill` puts the texts in: for one row, or once for a whole table of one unit's rows.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from markupsafe import Markup

from builder.templating import html_text

_HOLE = "<!--plansite-hole-{}-->"


def hole(name: str) -> Markup:
    """A macro argument that `fill` replaces later. The macro must print it as it is
    (`{{ name }}`), never test or filter it. It is an HTML comment, which no escaped text
    can forge."""
    return Markup(_HOLE.format(name))


def fill(html: str, **texts: str) -> str:
    """The HTML with each hole replaced by its text, escaped as Jinja would (a Markup value
    is put in as it is)."""
    for name, text in texts.items():
        # str.replace, not Markup.replace, which would escape the hole and the text again.
        html = str.replace(
            html, _HOLE.format(name), text if isinstance(text, Markup) else html_text(text)
        )
    return html


class Fragments:
    """Calls of the macros in a module made from `_macros.html`."""

    def __init__(self, macros: Any):
        self.macros = macros
        self._html: dict[tuple[Hashable, ...], Markup] = {}

    def __call__(self, macro: str, *args: Hashable) -> Markup:
        """The HTML of `macro(*args)`. The arguments are plain values (text, numbers, dates,
        statuses, ids, holes): the call is described by them."""
        key = (macro, *args)
        html = self._html.get(key)
        if html is None:
            html = self._html[key] = Markup(getattr(self.macros, macro)(*args))
        return html
