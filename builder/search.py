"""Search that finds: what the site's search index holds beyond the pages' text.

Material's search plugin segments Chinese text with jieba's default tokenizer at build
time; the browser cuts a query into the index's own words, keeping only its prefixes that
are words of the index (a query is never looked up whole), and matches each piece as the
start of a word. So a query like "卫生局" becomes "卫生*", which matches every page that
mentions health unless some page has a word that *starts* with the query and weighs
more. Two things make the right page that one:

- each unit's and task's names go into its page's `tags`, which Material indexes whole
  (tags are not segmented) with a weight of 10^6 against 10^3 for titles: a unit's name
  and its aliases (units.csv `aliases`), a task's title and the terms its own text puts in
  quotation marks (“安全月”), which is how a plan names its key terms;
- task and unit pages get a page boost, so that when only their text matches (a query
  with no tag behind it) they still rank above the overview pages that repeat that text.

jieba also keeps unit names and aliases whole in titles and text: it would cut
"市交通运输委员会" into "交通", "运输", "委员会". And no word of the index is a single
Chinese character: the browser would cut "培训会员" at the word "会" into "培训* 会*",
and "会*" matches every page with a word starting with 会; each such character is joined
to the word before it ("开展的"), which a query for that word still matches as a prefix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import jieba

from builder.model import Content, Task, Unit

# jieba logs its dictionary loading at DEBUG to its own stderr handler; keep builds quiet.
jieba.setLogLevel(logging.WARNING)

# How much more a task or unit page weighs than an overview page that repeats its text.
ENTITY_PAGE_BOOST = 2

# Material's search plugin separates the words jieba cut with zero-width spaces.
WORD_BREAK = "\u200b"
_ONE_CHINESE_CHARACTER = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

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


def page_meta(tags: Sequence[str]) -> dict[str, Any]:
    """The page metadata Material's search plugin reads: the tags and the page boost."""
    return {"tags": list(tags), "search": {"boost": ENTITY_PAGE_BOOST}}


def search_tags(terms: Sequence[str]) -> list[str]:
    """The terms, then each term without its last character. The browser cuts a query at
    the longest word of the index that starts it and *ends before its last character*
    (it never looks the whole query up): "安全月报" typed in full is looked up as "安全月*"
    when that is a word, else at a shorter one ("安全*", or "安*" matching every word that
    starts with 安). Indexing the term less its last character makes the full term find
    its own page and few others."""
    shortened = [term[:-1] for term in terms if len(term) > 2]
    return _unique([*terms, *shortened])


def join_one_character_words(text: str) -> str:
    """The segmented text with each one-character Chinese word joined to the word before
    it (to the word after it at the start)."""
    if WORD_BREAK not in text:
        return text
    words: list[str] = []
    leading = ""
    for word in text.split(WORD_BREAK):
        if len(word) == 1 and _ONE_CHINESE_CHARACTER.match(word):
            if words:
                words[-1] += word
            else:
                leading += word
            continue
        words.append(leading + word)
        leading = ""
    if leading:
        words.append(leading)
    return WORD_BREAK.join(words)


def join_one_character_words_of(entries: Iterable[dict[str, Any]]) -> None:
    """Apply join_one_character_words to the titles and texts of search index entries."""
    for entry in entries:
        for key in ("title", "text"):
            value = entry.get(key)
            if isinstance(value, str):
                entry[key] = join_one_character_words(value)


def _unique(terms: Iterable[str]) -> list[str]:
    cleaned = (" ".join(term.split()) for term in terms)
    return list(dict.fromkeys(term for term in cleaned if term))
