"""The rebuild worker: builds main into a new folder in the background and swaps the
`current` link only when the build succeeded; a failed build keeps the last good site."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from forms.rebuild import SOURCE, SiteRebuilder, builds, prune, publish
from forms.submissions import SubmissionService
from tests.fake_forge import git, make_plan_worktree, sample_report


def small_builder(calls: list[Path] | None = None):  # type: ignore[no-untyped-def]
    """A real (if tiny) site generator: one page listing every report file and the title."""

    def build(root: Path, site_dir: Path) -> None:
        if calls is not None:
            calls.append(root)
        reports = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
        title = (root / "content" / "plan.yml").read_text().splitlines()[1]
        if "BROKEN" in title:
            raise RuntimeError("the plan does not validate")
        site_dir.mkdir(parents=True)
        items = "".join(f"<li>{r}</li>" for r in reports)
        (site_dir / "index.html").write_text(f"<h1>{title}</h1><ul>{items}</ul>", "utf-8")

    return build


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    return make_plan_worktree(tmp_path / "plan")


def commit_title(worktree: Path, title: str) -> str:
    (worktree / "content" / "plan.yml").write_text(f"id: test-plan\ntitle: {title}\n")
    git(worktree, "commit", "-qam", f"Retitle {title}")
    return git(worktree, "rev-parse", "HEAD")


def served_page(sites: Path) -> str:
    return (sites / "current" / "index.html").read_text("utf-8")


def test_a_trigger_builds_main_into_a_new_folder_and_points_current_at_it(
    tmp_path: Path, worktree: Path
) -> None:
    sites = tmp_path / "sites"
    head = git(worktree, "rev-parse", "HEAD")
    (worktree / "content" / "plan.yml").write_text("id: x\ntitle: 未提交的修改\n")  # not on main
    rebuilder = SiteRebuilder(worktree, sites, small_builder())

    rebuilder.trigger(head)
    assert rebuilder.wait(timeout=60)

    assert rebuilder.last_error is None
    assert os.readlink(sites / "current") == f"{head[:12]}-1"  # relative link
    assert rebuilder.current == sites / f"{head[:12]}-1"
    assert "<h1>title: 测试计划</h1>" in served_page(sites)  # main's tree, not the worktree
    assert git(worktree, "status", "--porcelain").strip() == "M content/plan.yml"
    # The builds' copy of main's files holds main's tree, and is kept for the next build.
    assert "测试计划" in (sites / SOURCE / "content" / "plan.yml").read_text("utf-8")


def test_a_failed_build_keeps_the_last_good_site_online(tmp_path: Path, worktree: Path) -> None:
    sites = tmp_path / "sites"
    rebuilder = SiteRebuilder(worktree, sites, small_builder())
    good = rebuilder.rebuild()
    assert good is not None

    commit_title(worktree, "BROKEN")
    assert rebuilder.rebuild() is None

    assert rebuilder.current == good
    assert "测试计划" in served_page(sites)
    assert rebuilder.last_error == "RuntimeError: the plan does not validate"
    assert builds(sites) == [good]  # the half-built folder is gone

    commit_title(worktree, "修好了")
    fixed = rebuilder.rebuild()
    assert fixed is not None and rebuilder.current == fixed
    assert rebuilder.last_error is None
    assert "修好了" in served_page(sites)


def test_a_build_that_writes_nothing_is_not_published(tmp_path: Path, worktree: Path) -> None:
    sites = tmp_path / "sites"
    rebuilder = SiteRebuilder(worktree, sites, lambda root, site: site.mkdir())

    assert rebuilder.rebuild() is None

    assert rebuilder.current is None
    assert "wrote nothing" in (rebuilder.last_error or "")


def test_triggers_during_a_build_collapse_into_one_more_build(
    tmp_path: Path, worktree: Path
) -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[Path] = []
    inner = small_builder(calls)

    def slow(root: Path, site_dir: Path) -> None:
        started.set()
        release.wait(60)
        inner(root, site_dir)

    rebuilder = SiteRebuilder(worktree, tmp_path / "sites", slow)
    rebuilder.trigger()
    assert started.wait(60)
    last = ""
    for n in range(5):  # five merges while the first build runs
        last = commit_title(worktree, f"第{n}次")
        rebuilder.trigger(last)
    release.set()

    assert rebuilder.wait(timeout=60)
    assert len(calls) == 2
    assert rebuilder.current is not None and rebuilder.current.name.startswith(last[:12])
    assert "第4次" in served_page(tmp_path / "sites")


def test_only_the_last_three_builds_are_kept(tmp_path: Path, worktree: Path) -> None:
    sites = tmp_path / "sites"
    rebuilder = SiteRebuilder(worktree, sites, small_builder())
    made = []
    for n in range(5):
        commit_title(worktree, f"版本{n}")
        made.append(rebuilder.rebuild())

    assert builds(sites) == made[2:]
    assert [p.name.split("-")[1] for p in builds(sites)] == ["3", "4", "5"]
    assert rebuilder.current == made[-1]


def test_the_served_build_is_never_pruned(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    for name in ("aaaaaaa-1", "bbbbbbb-2", "ccccccc-3", "ddddddd-4"):
        (sites / name).mkdir(parents=True)
    publish(sites, sites / "aaaaaaa-1")  # an operator rolled back to the oldest build

    removed = prune(sites, keep=2)

    assert sorted(p.name for p in removed) == ["bbbbbbb-2"]
    assert [p.name for p in builds(sites)] == ["aaaaaaa-1", "ccccccc-3", "ddddddd-4"]


def test_an_unchanged_main_is_not_built_again(tmp_path: Path, worktree: Path) -> None:
    calls: list[Path] = []
    rebuilder = SiteRebuilder(worktree, tmp_path / "sites", small_builder(calls))
    rebuilder.rebuild()

    assert rebuilder.rebuild() is None
    assert len(calls) == 1
    assert rebuilder.rebuild(force=True) is not None
    assert len(calls) == 2


def test_symbolic_links_in_the_repository_are_not_exported(tmp_path: Path, worktree: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"password": 1}')
    (worktree / "content" / "leak.json").symlink_to(secret)
    git(worktree, "add", "-A")
    git(worktree, "commit", "-qm", "Add a link")
    rebuilder = SiteRebuilder(worktree, tmp_path / "sites", small_builder())

    rebuilder.rebuild()

    assert "leak.json" not in served_page(tmp_path / "sites")


def test_an_approval_rebuilds_the_site_with_the_new_report(tmp_path: Path, worktree: Path) -> None:
    instance = tmp_path / "instance"
    service = SubmissionService.open_default(instance, worktree)
    rebuilder = SiteRebuilder(Path(service.config.remote), instance / "sites", small_builder())
    service.on_merged(rebuilder.trigger)
    rebuilder.rebuild()
    before = rebuilder.current
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    service.approve("r-1", "王五", "w@example.org")
    assert rebuilder.wait(timeout=60)

    assert rebuilder.current != before
    assert "data/reports/quarterly/2022-Q1/unit-a/r-1.json" in served_page(instance / "sites")
