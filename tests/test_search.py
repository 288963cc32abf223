"""What the search index is given beyond the pages' text: unit aliases from units.csv,
each unit's and task's names as its page's search tags, and an entity page boost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from builder import search
from builder.model import Task, Unit
from builder.pagecache import page_digest, page_key
from builder.pages import GeneratedPage
from builder.plan import load_content

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"


def test_a_units_aliases_are_read_from_its_aliases_cell_and_may_be_left_empty() -> None:
    units = {unit.id: unit for unit in load_content(FIXTURE).units}
    assert units["shiyan-ms"].aliases == ("实验中", "市实验中学")
    assert units["hongqi-ps"].aliases == ()


def test_a_units_search_tags_are_its_name_then_its_aliases() -> None:
    unit = Unit("u", "市教育局", "organ", aliases=("教育局", "市教育局"))
    assert search.unit_terms(unit) == ["市教育局", "教育局"]


def test_a_tasks_search_tags_are_its_title_then_the_terms_its_text_quotes() -> None:
    body = "严格落实“三会一课”制度，开展“主题党日”。落实“三会一课”。引用“" + "长" * 20 + "”。"
    task = Task("t", 1, "加强支部建设", body)
    assert search.task_terms(task) == ["加强支部建设", "三会一课", "主题党日"]


def test_a_page_is_searched_by_its_tags_with_a_boost() -> None:
    assert search.page_meta(["市教育局", "教育局"]) == {
        "tags": ["市教育局", "教育局"],
        "search": {"boost": search.ENTITY_PAGE_BOOST},
    }


def test_a_page_whose_search_tags_change_is_not_taken_from_the_page_cache() -> None:
    # Aliases appear nowhere in the page's Markdown: the cache key must see them.
    before = GeneratedPage("units/a.md", "市教育局", "# 市教育局", search_tags=("市教育局",))
    after = replace(before, search_tags=("市教育局", "教育局"))
    assert page_key("", page_digest(before)) != page_key("", page_digest(after))


def test_one_character_words_are_joined_to_the_word_before_them() -> None:
    # Material's search cuts a query at the index's words: a one-character word (党, 三)
    # would turn "发展党员" into "发展* 党*", matching every word that starts with 党.
    zw = "\u200b"
    text = zw.join(["开展", "的", "工作", "（", "三", "）", "党", "员"])
    assert search.join_one_character_words(text) == zw.join(["开展的", "工作", "（三", "）党员"])
    assert search.join_one_character_words(zw.join(["党", "员"])) == "党员"
    assert search.join_one_character_words("三会一课") == "三会一课"


def test_a_term_is_also_indexed_without_its_last_character() -> None:
    # The browser looks a full query up at its longest word ending before its last
    # character: "三会一" must be a word for "三会一课" to be looked up as "三会一*".
    assert search.search_tags(["三会一课", "二中", "教育局"]) == [
        "三会一课", "二中", "教育局", "三会一", "教育"
    ]  # fmt: skip
