"""The MkDocs build: real `mkdocs build --strict` of this repository and of the second
plan, the pages-only output, hostile content, and a broken plan that must not build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from mkdocs.exceptions import PluginError

from builder.build import build_site, write_pages
from builder.plan import load_content
from builder.plugin import flag_labels

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "school-safety-2025"
MKDOCS = [sys.executable, "-m", "mkdocs"]
HOSTILE_NAME = "</title><script>alert(1)</script>[x](javascript:0)东风"
HOSTILE_NOTE = "<img src=x onerror=alert(3)> [点我](javascript:alert(4))"

pytestmark = pytest.mark.slow


def _second_plan(tmp: Path, *, hostile: bool = False) -> Path:
    """The second plan as its own repository: its content plus this site's mkdocs.yml."""
    root = tmp / "school-safety"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(ROOT / "docs" / "assets", root / "docs" / "assets")
    shutil.copytree(ROOT / "overrides", root / "overrides")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = "2025年校园安全工作计划"
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"]["as_of"] = date(2025, 9, 30)
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    if hostile:
        units = root / "content" / "units.csv"
        units.write_text(
            units.read_text(encoding="utf-8").replace("东风路小学", HOSTILE_NAME), encoding="utf-8"
        )
        report = next((root / "data" / "reports" / "drill").rglob("*.json"))
        data = json.loads(report.read_text(encoding="utf-8"))
        data["values"]["notes"] = HOSTILE_NOTE
        report.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return root


def _pages(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*.html")}


def _mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's end-of-life banner
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


# --------------------------------------------------------------------------- this plan


@pytest.fixture(scope="module")
def repository_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("repository") / "site"
    result = _mkdocs_build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert 'not included in the "nav"' not in result.stderr  # nothing stray in docs/
    return site


def test_repository_builds_strict_with_every_page(repository_site: Path) -> None:
    content = load_content(ROOT)
    pages = _pages(repository_site)
    expected = {
        "index.html",
        "plan/index.html",
        "tasks/index.html",
        "units/index.html",
        "matrix/index.html",
        "reporting/index.html",
        "data/index.html",
    }
    expected |= {f"tasks/{t.id}/index.html" for t in content.tasks}
    expected |= {f"units/{u.id}/index.html" for u in content.units}
    assert expected <= pages


def test_the_owing_list_the_review_queue_links_to_is_on_the_published_page(
    repository_site: Path, tmp_path: Path
) -> None:
    from builder.pages import reporting_status
    from forms.site import published_page_url

    (tmp_path / "current").symlink_to(repository_site)
    url = published_page_url(tmp_path, reporting_status.PATH)
    assert url == "/reporting/"
    page = (repository_site / url.strip("/") / "index.html").read_text(encoding="utf-8")
    assert f'id="{reporting_status.OWING_ANCHOR}"' in page
    heading = page.split(f'id="{reporting_status.OWING_ANCHOR}"', 1)[1].split("</h2>", 1)[0]
    assert "催报名单" in heading


def test_repository_site_has_the_downloads(repository_site: Path) -> None:
    data = repository_site / "data"
    package = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        assert (data / resource["path"]).is_file()
    assert (data / "progress.xlsx").stat().st_size > 0


def test_unit_pages_are_built_but_left_out_of_the_navigation(repository_site: Path) -> None:
    content = load_content(ROOT)
    html = (repository_site / "index.html").read_text(encoding="utf-8")
    sidebar = html[html.index("md-nav--primary") : html.index('<div class="md-content"')]
    assert 'href="units/"' in sidebar
    for unit in content.units:
        assert f'href="units/{unit.id}/"' not in sidebar
        assert (repository_site / "units" / unit.id / "index.html").is_file()


def test_the_site_loads_nothing_from_other_origins(repository_site: Path) -> None:
    for page in repository_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|img|iframe)[^>]+src="(https?:)?//', html), page
        assert not re.search(r'<link[^>]+href="(https?:)?//', html), page
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


def test_sortable_tables_are_wired(repository_site: Path) -> None:
    html = (repository_site / "units" / "index.html").read_text(encoding="utf-8")
    assert "assets/vendor/tablesort/tablesort.min.js" in html
    assert "assets/plansite.js" in html
    assert (repository_site / "assets" / "vendor" / "tablesort" / "LICENCE").is_file()
    assert "document$.subscribe" in (repository_site / "assets" / "plansite.js").read_text()


def test_every_page_links_to_the_portal_and_the_status_page_loads_its_filters(
    repository_site: Path,
) -> None:
    for page in repository_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert re.search(
            r'<a href="/forms/" class="md-nav__link">\s*(<span[^>]*>\s*)?去填报', html
        ), page
    status = (repository_site / "reporting" / "index.html").read_text(encoding="utf-8")
    assert "assets/reporting-status.js" in status and "assets/obligations.css" in status
    assert (repository_site / "assets" / "reporting-status.js").is_file()


def test_search_index_keeps_unit_names_whole(repository_site: Path) -> None:
    content = load_content(ROOT)
    index = json.loads((repository_site / "search" / "search_index.json").read_text("utf-8"))
    assert index["config"]["lang"] == ["zh"]
    texts = {doc["location"]: doc["title"] + "\u200b" + doc["text"] for doc in index["docs"]}
    for unit in content.units:
        page = texts[f"units/{unit.id}/"]
        tokens = re.split(r"[\u200b\s]+", page)
        assert unit.name in tokens, unit.name


# --------------------------------------------------------------------------- second plan


def test_second_plan_builds_strict_with_no_code_change(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    site = tmp_path / "site"
    build_site(root, site, strict=True)
    content = load_content(root)
    pages = _pages(site)
    assert {f"units/{u.id}/index.html" for u in content.units} <= pages
    assert {f"tasks/{t.id}/index.html" for t in content.tasks} <= pages
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "2025年××区中小学校园安全工作计划" in home
    assert "基层党建" not in home
    dormitory = next(t for t in content.tasks if t.applies_to.flags)
    task = (site / "tasks" / dormitory.id / "index.html").read_text(encoding="utf-8")
    label = flag_labels(root)[dormitory.applies_to.flags[0]]
    assert label in task  # a flag is shown by the title the units schema gives it


def test_as_of_decides_what_counts(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    before, after = tmp_path / "before", tmp_path / "after"
    build_site(root, before, as_of=date(2025, 1, 15))
    build_site(root, after, as_of=date(2025, 12, 31))
    early = (before / "index.html").read_text(encoding="utf-8")
    late = (after / "index.html").read_text(encoding="utf-8")
    assert "2025-01-15" in early and "2025-12-31" in late
    share = re.compile(r'data-ps="plan-share">([^<]+)<')
    assert share.search(early).group(1) == "0%"  # nothing was reported yet
    assert share.search(late).group(1) != "0%"


def test_without_an_as_of_date_a_report_already_dated_tomorrow_in_its_zone_counts(
    tmp_path: Path,
) -> None:
    # The service dates reports in the organisation's zone (+08:00); from 00:00 to 08:00 in
    # Beijing that is tomorrow for a build machine kept in UTC. "As of today" must count it.
    root = _second_plan(tmp_path)
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"].pop("as_of")
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    path = sorted((root / "data" / "reports" / "inspection").rglob("dongfeng-ps/*.json"))[-1]
    report = json.loads(path.read_text(encoding="utf-8"))
    tomorrow = date.today() + timedelta(days=1)
    report["id"] = f"{tomorrow:%Y%m%d}003000-00c0ffee"
    report["submitted_at"] = f"{tomorrow.isoformat()}T00:30:00+08:00"
    report["values"]["extinguishers_checked"] = 48
    path.unlink()
    path.with_name(f"{report['id']}.json").write_text(
        json.dumps(report, ensure_ascii=False), encoding="utf-8"
    )
    site = tmp_path / "site"
    build_site(root, site)
    page = (site / "units" / "dongfeng-ps" / "index.html").read_text(encoding="utf-8")
    assert tomorrow.isoformat() in page  # the date progress counts to
    assert "统计日期后收到的填报" not in page
    assert "75%" in page  # 48 of 64 extinguishers: the report counts


def test_hostile_unit_names_and_notes_stay_text_in_the_built_site(tmp_path: Path) -> None:
    root = _second_plan(tmp_path, hostile=True)
    site = tmp_path / "site"
    build_site(root, site, strict=True)
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html, page
        assert "<img src=x" not in html, page
        assert 'href="javascript' not in html, page
        assert "</title><script>" not in html, page
    unit_page = (site / "units" / "dongfeng-ps" / "index.html").read_text(encoding="utf-8")
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in unit_page
    assert "[x](javascript:0)东风" in unit_page


def test_pages_only_and_a_plain_mkdocs_build_give_the_same_pages(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    with_plugin = tmp_path / "with-plugin"
    build_site(root, with_plugin, strict=True)
    out = tmp_path / "pages"
    pages = write_pages(root, out)
    config = yaml.safe_load((out / "mkdocs.yml").read_text(encoding="utf-8"))
    assert not any("plansite" in str(p) for p in config["plugins"])
    assert (out / "docs" / "units" / "dongfeng-ps.md").is_file()
    plain = tmp_path / "plain"
    result = _mkdocs_build(out / "mkdocs.yml", plain)
    assert result.returncode == 0, result.stderr
    assert _pages(plain) == _pages(with_plugin)
    assert len(pages) == len({p.path for p in pages})
    for name in ("units/dongfeng-ps/index.html", "tasks/index.html", "matrix/index.html"):
        assert _article(plain / name) == _article(with_plugin / name), name
    assert (plain / "data" / "datapackage.json").is_file()


def _article(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    return html[html.index("<article") : html.index("</article>")]


# --------------------------------------------------------------------------- broken plan


def test_a_broken_plan_does_not_build_and_names_the_file(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    task = next((root / "content" / "tasks").glob("*.md"))
    task.write_text(
        re.sub(
            r"(?m)^category: .*$", "category: no-such-category", task.read_text(encoding="utf-8")
        ),
        encoding="utf-8",
    )
    site = tmp_path / "site"
    with pytest.raises(PluginError) as error:
        build_site(root, site)
    assert f"content/tasks/{task.name}" in str(error.value)
    assert not (site / "index.html").exists()
    result = _mkdocs_build(root / "mkdocs.yml", tmp_path / "cli-site")
    assert result.returncode != 0
    assert f"content/tasks/{task.name}" in result.stderr


def test_cli_build_reports_problems_and_exit_code(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "--root",
            str(root),
            "--site-dir",
            str(tmp_path / "s"),
            "--strict",
            "--as-of",
            "2025-09-30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "s" / "index.html").is_file()
    (root / "content" / "units.csv").write_text("id,name\n", encoding="utf-8")
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "--root",
            str(root),
            "--site-dir",
            str(tmp_path / "t"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert broken.returncode == 1
    assert "content/units.csv" in broken.stderr and "生成失败" in broken.stderr


def test_progress_bar_only_when_asked_for(tmp_path: Path) -> None:
    root = _second_plan(tmp_path)
    quiet = _mkdocs_build(root / "mkdocs.yml", tmp_path / "quiet")  # stderr is a pipe
    assert quiet.returncode == 0 and "生成页面" not in quiet.stderr
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"]["progress_bar"] = True
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    forced = _mkdocs_build(root / "mkdocs.yml", tmp_path / "forced")
    assert forced.returncode == 0 and "生成页面" in forced.stderr


def test_readme_screenshots_are_not_published(repository_site: Path) -> None:
    screenshots = {p.name for p in (ROOT / "docs" / "screenshots").iterdir()}
    assert screenshots  # the README's images are there to leave out
    published = {p.relative_to(repository_site).as_posix() for p in repository_site.rglob("*")}
    assert not [p for p in published if "screenshots" in p or "README" in p]
    assert not [p for p in published if p.rsplit("/", 1)[-1] in screenshots]


def test_pages_carry_no_generator_footer(repository_site: Path) -> None:
    for page in repository_site.rglob("*.html"):
        assert "Made with" not in page.read_text(encoding="utf-8"), page


def test_no_page_shows_a_time_with_an_offset_or_in_iso_form(repository_site: Path) -> None:
    pattern = re.compile(r"UTC[+-]|[+-]0\d:\d\d\b|\d{4}-\d\d-\d\dT\d\d:\d\d")
    checked = 0
    for page in repository_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not pattern.findall(html), (page.relative_to(repository_site), pattern.findall(html))
        checked += 1
    assert checked > 50
    # Times are there to be checked: the unit pages list when each report came in.
    assert re.search(r"<td>2022-\d\d-\d\d \d\d:\d\d</td>", html_of_any_unit(repository_site))


def html_of_any_unit(site: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in (site / "units").glob("*/index.html"))
