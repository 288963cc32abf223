"""Incremental rebuilds: with a page cache, a build renders only the pages whose inputs
changed and takes the others over from the previous build's folder. What it publishes must
be exactly what a full build writes, search index included; anything the cache cannot
vouch for is built in full."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from mkdocs.exceptions import PluginError

from builder.build import build_site
from builder.pagecache import PageCache
from forms.rebuild import PAGE_CACHE, SiteRebuilder
from tests.fake_forge import git
from tests.test_plugin import _second_plan

pytestmark = pytest.mark.slow


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ in content or exist on one side only (recursive)."""

    def walk(comparison: filecmp.dircmp[str], prefix: str) -> list[str]:
        # dircmp compares by size and time first; equal sizes with other times are read.
        found = [prefix + name for name in comparison.left_only + comparison.right_only]
        found += [
            prefix + name
            for name in comparison.common_files
            if not filecmp.cmp(
                Path(comparison.left) / name, Path(comparison.right) / name, shallow=False
            )
        ]
        for name, sub in comparison.subdirs.items():
            found += walk(sub, f"{prefix}{name}/")
        return found

    return walk(filecmp.dircmp(left, right), "")


def shared(first: Path, second: Path, page: str) -> bool:
    """Whether both builds hold the very same file (taken over, not rendered again)."""
    return os.stat(first / page).st_ino == os.stat(second / page).st_ino


def unit_page(unit: str) -> str:
    return f"units/{unit}/index.html"


def approve_correction(root: Path, *, change_value: bool) -> dict[str, object]:
    """A later report of the same unit, form and period, as the service merges it."""
    path = sorted((root / "data" / "reports").rglob("*.json"))[0]
    report = json.loads(path.read_text(encoding="utf-8"))
    report["id"] = "20250801090000-0badcafe"
    report["submitted_at"] = "2025-08-01T09:00:00+08:00"
    if change_value:
        name, value = next(
            (k, v)
            for k, v in report["values"].items()
            if isinstance(v, int) and not isinstance(v, bool)
        )
        report["values"][name] = value + 1
    target = path.parent / f"{report['id']}.json"
    target.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return _second_plan(tmp_path)


def test_a_rebuild_after_one_report_renders_only_what_changed_and_equals_a_full_build(
    tmp_path: Path, plan: Path
) -> None:
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "before", cache=cache, strict=True)
    report = approve_correction(plan, change_value=True)

    build_site(plan, tmp_path / "after", cache=cache, strict=True)
    build_site(plan, tmp_path / "full", strict=True)

    assert differences(tmp_path / "after", tmp_path / "full") == []
    after = (tmp_path / "after" / unit_page(str(report["unit"]))).read_text(encoding="utf-8")
    assert str(report["id"]) in after
    units = sorted(p.parent.name for p in (tmp_path / "full" / "units").glob("*/index.html"))
    others = [u for u in units if u != report["unit"]]
    assert others, "the plan has more than one unit"
    # The unit's page was rendered again; a page the report cannot touch was taken over.
    assert not shared(tmp_path / "before", tmp_path / "after", unit_page(str(report["unit"])))
    assert all(shared(tmp_path / "before", tmp_path / "after", unit_page(u)) for u in others)
    # The search index is whole: every page's entries, in page order, as a full build has.
    index = json.loads((tmp_path / "after" / "search" / "search_index.json").read_text("utf-8"))
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert {f"units/{u}/" for u in units} <= locations


def test_the_cache_describes_the_last_successful_build(tmp_path: Path, plan: Path) -> None:
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "one", cache=cache)
    first = PageCache.load(cache)
    assert first is not None and first.site_dir == (tmp_path / "one").resolve()

    approve_correction(plan, change_value=False)
    build_site(plan, tmp_path / "two", cache=cache)
    second = PageCache.load(cache)
    assert second is not None and second.site_dir == (tmp_path / "two").resolve()
    assert second.pages.keys() == first.pages.keys()
    assert all(page.entries for page in second.pages.values() if page.dest.startswith("units/"))


def test_a_failed_build_keeps_the_cache_of_the_last_good_one(tmp_path: Path, plan: Path) -> None:
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "good", cache=cache)
    saved = cache.read_bytes()
    (plan / "content" / "units.csv").write_text("id,name\n!!,坏\n", encoding="utf-8")

    with pytest.raises(PluginError):
        build_site(plan, tmp_path / "bad", cache=cache)

    assert cache.read_bytes() == saved


def test_a_changed_site_configuration_renders_every_page_again(tmp_path: Path, plan: Path) -> None:
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "before", cache=cache)
    config = yaml.safe_load((plan / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = "另一个名称"
    (plan / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")

    build_site(plan, tmp_path / "after", cache=cache)
    build_site(plan, tmp_path / "full")

    assert differences(tmp_path / "after", tmp_path / "full") == []
    pages = [
        p.relative_to(tmp_path / "after").as_posix()
        for p in (tmp_path / "after").rglob("index.html")
    ]
    assert not any(shared(tmp_path / "before", tmp_path / "after", page) for page in pages)
    assert "另一个名称" in (tmp_path / "after" / unit_page("binjiang-ps")).read_text("utf-8")


@pytest.mark.parametrize(
    "damage", ["previous folder removed", "cache unreadable", "target not empty"]
)
def test_anything_the_cache_cannot_vouch_for_gives_a_full_build(
    tmp_path: Path, plan: Path, damage: str
) -> None:
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "before", cache=cache)
    target = tmp_path / "after"
    if damage == "previous folder removed":
        shutil.rmtree(tmp_path / "before")
    elif damage == "cache unreadable":
        cache.write_text("{not json", encoding="utf-8")
    else:
        target.mkdir()
        (target / "stale.html").write_text("<p>old</p>", encoding="utf-8")

    build_site(plan, target, cache=cache)
    build_site(plan, tmp_path / "full")

    assert differences(target, tmp_path / "full") == []
    if damage != "previous folder removed":
        assert not shared(tmp_path / "before", target, unit_page("binjiang-ps"))


def commit_plan(plan: Path) -> None:
    """The plan as the first commit of main, as the rebuild worker reads it."""
    git(plan, "init", "-q", "-b", "main")
    git(plan, "add", "-A")
    git(plan, "commit", "-qm", "Plan")


def test_the_rebuild_worker_takes_unchanged_pages_over_from_the_served_build(
    tmp_path: Path, plan: Path
) -> None:
    commit_plan(plan)
    sites = tmp_path / "sites"
    rebuilder = SiteRebuilder(plan, sites)
    first = rebuilder.rebuild()
    report = approve_correction(plan, change_value=True)
    git(plan, "add", "-A")
    git(plan, "commit", "-qm", "Approve a correction")

    second = rebuilder.rebuild()

    assert first is not None and second is not None and rebuilder.current == second
    assert (sites / PAGE_CACHE).is_file()
    assert str(report["id"]) in (second / unit_page(str(report["unit"]))).read_text("utf-8")
    others = [
        p.parent.name
        for p in (second / "units").glob("*/index.html")
        if p.parent.name != report["unit"]
    ]
    assert others and all(shared(first, second, unit_page(u)) for u in others)


def test_plansite_build_takes_a_cache_file(tmp_path: Path, plan: Path) -> None:
    cache = tmp_path / "pages.json"
    for site in ("one", "two"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "builder.cli",
                "build",
                "--root",
                str(plan),
                "--site-dir",
                str(tmp_path / site),
                "--cache",
                str(cache),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    assert shared(tmp_path / "one", tmp_path / "two", unit_page("binjiang-ps"))
    assert differences(tmp_path / "one", tmp_path / "two") == []


def test_a_change_in_an_inherited_configuration_renders_every_page_again(
    tmp_path: Path, plan: Path
) -> None:
    config = yaml.safe_load((plan / "mkdocs.yml").read_text(encoding="utf-8"))
    (plan / "base.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    (plan / "mkdocs.yml").write_text("INHERIT: base.yml\n", encoding="utf-8")
    cache = tmp_path / "pages.json"
    build_site(plan, tmp_path / "before", cache=cache)
    config["site_name"] = "继承来的新名称"
    (plan / "base.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")

    build_site(plan, tmp_path / "after", cache=cache)

    page = unit_page("binjiang-ps")
    assert not shared(tmp_path / "before", tmp_path / "after", page)
    assert "继承来的新名称" in (tmp_path / "after" / page).read_text(encoding="utf-8")


def test_builds_and_their_cache_can_move_together(tmp_path: Path, plan: Path) -> None:
    sites = tmp_path / "sites"
    build_site(plan, sites / "one", cache=sites / "pages.json")
    moved = tmp_path / "elsewhere"
    sites.rename(moved)

    build_site(plan, moved / "two", cache=moved / "pages.json")

    assert shared(moved / "one", moved / "two", unit_page("binjiang-ps"))


def test_a_report_approved_after_the_as_of_date_is_listed_on_the_rebuilt_unit_page_only(
    tmp_path: Path, plan: Path
) -> None:
    commit_plan(plan)
    rebuilder = SiteRebuilder(plan, tmp_path / "sites")
    first = rebuilder.rebuild()
    # A correction submitted after the site's as_of (2025-09-30), as the service merges it.
    path = sorted((plan / "data" / "reports").rglob("*.json"))[0]
    report = json.loads(path.read_text(encoding="utf-8"))
    report.update(id="20251015090000-0badf00d", submitted_at="2025-10-15T09:00:00+08:00")
    (path.parent / f"{report['id']}.json").write_text(
        json.dumps(report, ensure_ascii=False), encoding="utf-8"
    )
    git(plan, "add", "-A")
    git(plan, "commit", "-qm", "Approve a late correction")

    second = rebuilder.rebuild()

    assert first is not None and second is not None
    page = unit_page(str(report["unit"]))
    after = (second / page).read_text(encoding="utf-8")
    start = after.index('<h2 id="ps-reports-after"')
    end = after.index("<h2", start + 1)
    section = after[start:end]
    assert "统计日期后收到的填报" in section and "（统计截至 2025-09-30）" in section
    assert 'data-report="20251015090000-0badf00d"' in section and "2025-10-15 09:00" in section
    # Nothing else changes: the rest of the page's content (statuses, values, the reports
    # that count), and every other page, taken over from the served build.
    before = (first / page).read_text(encoding="utf-8")
    content = after[after.index('<h1 id="ps-unit"') : after.index("</article>")]
    assert content.replace(section, "") in before
    others = [p.relative_to(second).as_posix() for p in second.rglob("index.html")]
    assert all(shared(first, second, other) for other in others if other != page)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def test_the_rebuild_worker_builds_in_one_process_of_its_own_at_a_lower_priority(
    tmp_path: Path, plan: Path
) -> None:
    """Issue 16: a build in a thread of the server took the portal's p99 from 4.5 to 44-51
    ms. The build's CPU is spent by a child process, niced, not by the server's; and the
    child is kept from one build to the next, so that it starts and warms up only once."""
    import resource

    commit_plan(plan)
    rebuilder = SiteRebuilder(plan, tmp_path / "sites")
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        first = rebuilder.rebuild()
        assert rebuilder.build_process is not None
        pid = rebuilder.build_process.pid
        approve_correction(plan, change_value=True)
        git(plan, "add", "-A")
        git(plan, "commit", "-qm", "Approve a correction")
        second = rebuilder.rebuild()
        own = resource.getrusage(resource.RUSAGE_SELF)

        assert pid is not None and rebuilder.build_process.pid == pid
        assert niceness(pid) >= 10
        build_cpu = cpu_seconds(pid)
    finally:
        rebuilder.close()

    assert first is not None and second is not None and (second / "index.html").is_file()
    own_cpu = own.ru_utime - own_before.ru_utime
    assert build_cpu > 1.0 and own_cpu < build_cpu / 5, (own_cpu, build_cpu)


def test_the_same_commit_built_on_another_day_gives_the_same_bytes(
    tmp_path: Path, plan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's "last modified" in the sitemap (and the time gzip keeps in sitemap.xml.gz)
    is the date progress counts to, not the day of the build: a page taken over from
    yesterday's build is as new as one rendered today, and an incremental build that runs
    over midnight still equals a full build of its commit."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01, MkDocs' build date
    build_site(plan, tmp_path / "one")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767312000")  # 2026-01-02
    build_site(plan, tmp_path / "two")

    assert differences(tmp_path / "one", tmp_path / "two") == []
    gzip_header = (tmp_path / "two" / "sitemap.xml.gz").read_bytes()[:8]
    as_of = datetime(2025, 9, 30, tzinfo=UTC)  # the plan's as_of
    assert int.from_bytes(gzip_header[4:8], "little") == int(as_of.timestamp())


def test_one_process_reads_the_plan_again_only_when_a_file_of_it_changed(
    tmp_path: Path, plan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The long-lived build process keeps the loaded plan between builds: approvals change
    data/ only. A changed plan file, even of the same size, is read again."""
    from builder import plugin

    reads: list[Path] = []
    real_load = plugin.load_content

    def counted(root: Path):  # type: ignore[no-untyped-def]
        reads.append(root)
        return real_load(root)

    monkeypatch.setattr(plugin, "load_content", counted)
    build_site(plan, tmp_path / "one")
    approve_correction(plan, change_value=True)
    build_site(plan, tmp_path / "two")
    assert reads == [plan.resolve()]

    units = plan / "content" / "units.csv"
    text = units.read_text(encoding="utf-8")
    name = text.splitlines()[1].split(",")[1]
    units.write_text(text.replace(name, "新" + name[1:], 1), encoding="utf-8")
    build_site(plan, tmp_path / "three")

    assert reads == [plan.resolve()] * 2
    pages = (tmp_path / "three" / "units").glob("*/index.html")
    assert any("新" + name[1:] in p.read_text("utf-8") for p in pages)
