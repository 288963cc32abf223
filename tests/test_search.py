"""What the search index is given beyond the pages' text: unit aliases from units.csv,
each unit's and task's names as its page's search tags, and an entity page boost."""

from __future__ import annotations

from pathlib import Path

import yaml

from builder import search
from builder.model import Task, Unit
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


def test_front_matter_keeps_whatever_a_plan_editor_typed() -> None:
    hostile = ['名称: "引号" # 不是注释', "- 列表？"]
    meta = yaml.safe_load(f"---\nhide: [toc]\n{search.front_matter(hostile)}\n")
    assert meta["tags"] == hostile
    assert meta["search"] == {"boost": search.ENTITY_PAGE_BOOST}
