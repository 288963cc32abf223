"""The fast path of the build: generated HTML blocks bypass Python-Markdown and the search
index, yet the built pages and the self-contained Markdown are the same; `write_pages`
rewrites only the files whose content changed."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from builder.build import build_site, write_if_changed, write_pages
from builder.pages import BLOCK_TOKEN, GeneratedPage, insert_blocks
from builder.plan import load_content

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "school-safety-2025"


# --------------------------------------------------------------------------- blocks


def test_a_page_is_markdown_with_its_blocks_put_back() -> None:
    page = GeneratedPage(
        path="units/a.md",
        title="甲",
        source=f"# 甲\n\n{BLOCK_TOKEN.format(0)}\n\n正文\n\n{BLOCK_TOKEN.format(1)}\n",
        blocks=("<table><tr><td>1</td></tr></table>", "<ul><li>二</li></ul>"),
    )
    assert page.markdown == (
        "# 甲\n\n<table><tr><td>1</td></tr></table>\n\n正文\n\n<ul><li>二</li></ul>\n"
    )


def test_a_placeholder_without_its_block_is_left_alone() -> None:
    text = f"引用 {BLOCK_TOKEN.format(3)} 与 {BLOCK_TOKEN.format(0)}"
    assert insert_blocks(text, ["<b>x</b>"]) == f"引用 {BLOCK_TOKEN.format(3)} 与 <b>x</b>"
    assert insert_blocks(text, []) == text


# --------------------------------------------------------------------------- a real build


def _plan(tmp: Path) -> Path:
    root = tmp / "plan"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(ROOT / "docs" / "assets", root / "docs" / "assets")
    shutil.copytree(ROOT / "overrides", root / "overrides")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"]["as_of"] = date(2025, 9, 30)
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("fast-path")
    root = _plan(tmp)
    site = tmp / "site"
    build_site(root, site, strict=True)
    return root, site


@pytest.mark.slow
def test_built_pages_hold_every_table_and_no_placeholder(built: tuple[Path, Path]) -> None:
    root, site = built
    content = load_content(root)
    for page in site.rglob("*.html"):
        assert "plansite-block" not in page.read_text(encoding="utf-8"), page
    units = (site / "units" / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<tr data-unit="', units)) == len(content.units)
    matrix = (site / "matrix" / "index.html").read_text(encoding="utf-8")
    assert matrix.count('class="ps-cell ps-cell--') >= len(content.units)


@pytest.mark.slow
def test_search_index_has_titles_and_prose_but_not_table_cells(built: tuple[Path, Path]) -> None:
    root, site = built
    content = load_content(root)
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    docs = index["docs"]
    units_index = " ".join(
        d["title"] + d["text"]
        for d in docs
        if d["location"].startswith("units/") and d["location"].rstrip("/").count("/") == 0
    ).replace("\u200b", "")
    assert "单位总览" in units_index and "共" in units_index  # the page's prose
    names_in_table = [u.name for u in content.units if u.name in units_index]
    assert names_in_table == []  # the table of every unit is not indexed
    for unit in content.units:  # a unit is found through its own page's title
        own = [d for d in docs if d["location"] == f"units/{unit.id}/"]
        assert own and unit.name in own[0]["title"].replace("\u200b", "")


# --------------------------------------------------------------------------- pages-only


def test_write_if_changed_leaves_an_identical_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "page.md"
    assert write_if_changed(path, "# 页\n")
    first = path.stat().st_mtime_ns
    assert not write_if_changed(path, "# 页\n")
    assert path.stat().st_mtime_ns == first
    assert write_if_changed(path, "# 页面\n")
    assert path.read_text(encoding="utf-8") == "# 页面\n"


@pytest.mark.slow
def test_pages_only_rewrites_only_the_pages_a_new_report_changes(tmp_path: Path) -> None:
    root = _plan(tmp_path)
    out = tmp_path / "pages"
    pages = write_pages(root, out)
    stamps = {p.path: (out / "docs" / p.path).stat().st_mtime_ns for p in pages}
    write_pages(root, out)
    assert {p.path: (out / "docs" / p.path).stat().st_mtime_ns for p in pages} == stamps

    report_file = next((root / "data" / "reports").rglob("*.json"))
    report = json.loads(report_file.read_text(encoding="utf-8"))
    report["id"] = "20250929090000-0badcafe"
    report["submitted_at"] = "2025-09-29T09:00:00+08:00"
    report_file.with_name(f"{report['id']}.json").write_text(
        json.dumps(report, ensure_ascii=False), encoding="utf-8"
    )
    write_pages(root, out)
    changed = {
        p.path for p in pages if (out / "docs" / p.path).stat().st_mtime_ns != stamps[p.path]
    }
    assert f"units/{report['unit']}.md" in changed
    assert report["id"] in (out / "docs" / "units" / f"{report['unit']}.md").read_text("utf-8")
    others = {f"units/{u.id}.md" for u in load_content(root).units if u.id != report["unit"]}
    assert not changed & others  # no other unit's page was touched


# The placeholders as a regular expression: the definition insert_blocks must follow.
PLACEHOLDER = re.compile(r"<!--plansite-block-(\d+)-->")


def insert_blocks_by_pattern(text: str, blocks: list[str]) -> str:
    def block(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return blocks[index] if index < len(blocks) else match.group(0)

    return PLACEHOLDER.sub(block, text) if blocks else text


# Placeholder-like tokens: any short run of digits (Unicode ones too) or not-quite digits.
TOKENS = st.text(alphabet="0129٣²x-", max_size=3).map(lambda n: f"<!--plansite-block-{n}-->")


@given(
    parts=st.lists(
        TOKENS
        | st.sampled_from(
            [
                "<!--plansite-block-",
                "-->",
                "0",
                "12",
                "٣",
                "²",
                "<!--",
                "-",
                "\n",
                "表",
                BLOCK_TOKEN.format(0),
                BLOCK_TOKEN.format(1),
            ]
        ),
        max_size=12,
    ),
    blocks=st.lists(
        st.sampled_from(["<b>甲</b>", "", "-->", "<!--plansite-block-0-->"]), max_size=3
    ),
)
def test_blocks_are_inserted_exactly_where_the_placeholder_pattern_matches(
    parts: list[str], blocks: list[str]
) -> None:
    text = "".join(parts)
    assert insert_blocks(text, blocks) == insert_blocks_by_pattern(text, blocks)
