"""Chinese search: keep unit names whole in the search index.

Material's search plugin segments Chinese text with jieba's default tokenizer at build
time and the browser matches whole tokens. jieba would cut "市发展和改革委员会" into
"发展", "改革", "委员会", so a reader typing the unit's name would match many pages
instead of the unit's own; registering every unit name as a word keeps it whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import jieba

from builder.model import Content

# jieba logs its dictionary loading at DEBUG to its own stderr handler; keep builds quiet.
jieba.setLogLevel(logging.WARNING)


def search_words(content: Content) -> list[str]:
    """The words that must stay whole: unit names, without duplicates or blanks."""
    words = (" ".join(unit.name.split()) for unit in content.units)
    return sorted({w for w in words if w})


def add_words(words: Iterable[str]) -> None:
    """Register the words with jieba's default tokenizer, the one Material's search uses."""
    for word in words:
        # freq from suggest_freq: just high enough that the whole word wins over its parts.
        jieba.add_word(word, freq=jieba.suggest_freq(word, False))
