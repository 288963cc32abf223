"""Search that finds: what the site's search index holds beyond the pages' text.

Material's search plugin segments Chinese text with jieba's default tokenizer at build
time; the browser cuts a query into the index's own words, keeping only its prefixes that
are words of the index (a query is never looked up whole), and matches each piece as the
start of a word. So a query like "教育局" becomes "教育*", which matches every page that
mentions education unless some page has a word that *starts* with the query and weighs
more. Two things make the right page that one:

- each unit's and task's names go into its page's `tags`, which Material indexes whole
  (tags are not segmented) with a weight of 10^6 against 10^3 for titles: a unit's name
  and its aliases (units.csv `aliases`), a task's title and the terms its own text puts in
  quotation marks (“三会一课”), which is how a plan names its key terms;
- task and unit pages get a page boost, so that when only their text matches (a query
  with no tag behind it) they still rank above the overview pages that repeat that text.

jieba also keeps unit names and aliases whole in titles and text: it would cut
"市发展和改革委员会" into "发展", "改革", "委员会".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence

import jieba
from markupsafe import Markup

from builder.model import Content, Task, Unit

# jieba logs its dictionary loading at DEBUG to its own stderr handler; keep builds quiet.
jieba.setLogLevel(logging.WARNING)

# How much more a task or unit page weighs than an overview page that repeats its text.
ENTITY_PAGE_BOOST = 2

# A term the plan puts in Chinese quotation marks: short enough to be a name, not a quote.
_QUOTED_TERM = re.compile(r"“([^“”\n]{2,12})”")


def search_words(content: Content) -> list[str]:
    """The words that must stay whole: unit names and aliases, without duplicates or
    blanks."""
    words = (" ".join(w.split()) for unit in content.units for w in (unit.name, *unit.aliases))
    return sorted({w for w in words if w})


def add_words(words: Iterable[str]) -> None:
    """Register the words with jieba's default tokenizer, the one Material's search uses."""
    for word in words:
        # freq from suggest_freq: just high enough that the whole word wins over its parts.
        jieba.add_word(word, freq=jieba.suggest_freq(word, False))


def unit_terms(unit: Unit) -> list[str]:
    """The names a reader looks a unit up by: its name, then its aliases."""
    return _unique([unit.name, *unit.aliases])


def task_terms(task: Task) -> list[str]:
    """The names a reader looks a task up by: its title, then the key terms its text
    quotes, in the order they first appear."""
    return _unique([task.title, *_QUOTED_TERM.findall(task.body)])


def front_matter(terms: Sequence[str]) -> Markup:
    """YAML front matter lines (to go between a page template's `---` lines) that give a
    page its search tags and boost. Each term is written as a JSON string, which YAML
    reads as it is whatever a plan editor typed (colons, quotes, `#`)."""
    lines = [f"search:\n  boost: {ENTITY_PAGE_BOOST}"]
    if terms:
        lines.append("tags:")
        lines += [f"  - {json.dumps(term, ensure_ascii=False)}" for term in terms]
    return Markup("\n".join(lines))


def _unique(terms: Iterable[str]) -> list[str]:
    cleaned = (" ".join(term.split()) for term in terms)
    return list(dict.fromkeys(term for term in cleaned if term))
