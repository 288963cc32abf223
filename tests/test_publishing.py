"""Publishing after a merge (issue 16): the long-lived build process renders only the pages
whose inputs changed and publishes them at once, with the last downloads linked in; the
downloads of the same commit follow in a step of their own. What is finally served is,
byte for byte, what a full build of the commit writes, whatever sequence of approvals
led there."""

from __future__ import annotations

import json
import os
import random
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from builder.build import build_site
from forms import repository
from forms.rebuild import DOWNLOADS, BuildFailed, BuildProcess, SiteRebuilder, default_exports
from tests.fake_forge import git
from tests.test_incremental_build import commit_plan, differences, shared, unit_page
from tests.test_plugin import _second_plan

pytestmark = pytest.mark.slow


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    plan = _second_plan(tmp_path)
    commit_plan(plan)
    return plan


def downloads(site: Path) -> dict[str, bytes]:
    """The export files of a site (its data/ folder also holds the downloads page)."""
    return {
        p.name: p.read_bytes()
        for p in (site / DOWNLOADS).iterdir()
        if p.is_file() and p.suffix != ".html"
    }


def full_build_of(plan: Path, commit: str, out: Path) -> Path:
    """A full build (pages and downloads, no cache) of `commit`'s files."""
    files = out.with_name(f"{out.name}-files")
    repository.export_tree(pygit2.Repository(str(plan)), commit, files)
    build_site(files, out)
    return out


def head(plan: Path) -> str:
    return git(plan, "rev-parse", "HEAD")


def approve_random(plan: Path, rng: random.Random, number: int) -> dict[str, object]:
    """One approval as the service merges it: a later report for the same unit, form and
    period as a random approved one; its counts changed or not, submitted before the
    site's as-of date or after it (then listed apart, counting nothing)."""
    paths = sorted((plan / "data" / "reports").rglob("*.json"))
    path = rng.choice(paths)
    report = json.loads(path.read_text(encoding="utf-8"))
    late = rng.random() < 0.25
    # After every report of the plan (the last is of 2025-09-03), before or after its
    # as-of date (2025-09-30); each approval a minute after the one before.
    day = "2025-10-15" if late else "2025-09-20"
    report["id"] = f"{day.replace('-', '')}09{number:02d}00-{rng.getrandbits(32):08x}"
    report["submitted_at"] = f"{day}T09:{number:02d}:00+08:00"
    counts = [k for k, v in report["values"].items() if type(v) is int]
    if counts and rng.random() < 0.8:
        name = rng.choice(counts)
        report["values"][name] = max(0, report["values"][name] + rng.randint(-3, 5))
    target = path.parent / f"{report['id']}.json"
    target.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    git(plan, "add", "-A")
    git(plan, "commit", "-qm", f"Approve {report['id']}")
    return report


@pytest.mark.parametrize("seed", [1, 2])
def test_after_any_sequence_of_approvals_the_site_equals_a_full_build_of_the_commit(
    tmp_path: Path, plan: Path, seed: int
) -> None:
    rng = random.Random(seed)
    rebuilder = SiteRebuilder(plan, tmp_path / "sites")
    try:
        served = rebuilder.rebuild()
        assert served is not None
        for number in range(3):
            report = approve_random(plan, rng, number)
            before = served
            served = rebuilder.rebuild()

            assert served is not None and rebuilder.current == served
            full = full_build_of(plan, head(plan), tmp_path / f"full-{number}")
            assert differences(served, full) == [], (seed, number)
            page = unit_page(str(report["unit"]))
            assert str(report["id"]) in (served / page).read_text(encoding="utf-8")
            # Files no approval can change are shared with the last site, not written again.
            assets = [p for p in (served / "assets").rglob("*") if p.is_file()]
            assert assets and all(
                shared(before, served, p.relative_to(served).as_posix()) for p in assets
            )
    finally:
        rebuilder.close()


def test_the_pages_are_published_before_the_downloads_are_written(
    tmp_path: Path, plan: Path
) -> None:
    seen: list[tuple[Path | None, str, bytes]] = []

    def exports(root: Path, out: Path, stop: Callable[[], bool]) -> bool:
        """The real export step, looking at what is served while it runs."""
        live = rebuilder.current
        page = (live / unit_page(unit)).read_text("utf-8") if live else ""
        workbook = sorted((live / DOWNLOADS).glob("*.xlsx")) if live else []
        seen.append((live, page, workbook[0].read_bytes() if workbook else b""))
        return default_exports(root, out, stop)

    rebuilder = SiteRebuilder(plan, tmp_path / "sites", None, exports=exports)
    try:
        unit = "binjiang-ps"
        first = rebuilder.rebuild()
        assert first is not None
        old_downloads = downloads(first)
        report = approve_random(plan, random.Random(7), 0)
        unit = str(report["unit"])

        final = rebuilder.rebuild()
    finally:
        rebuilder.close()

    assert rebuilder.last_error is None
    assert final is not None and len(seen) == 2
    pages, page, workbook = seen[1]
    # While the downloads were written, the new report's page was already served, with
    # the last downloads (linked, not copied) beside it.
    assert pages == final != first
    assert str(report["id"]) in page
    assert workbook == old_downloads[next(n for n in old_downloads if n.endswith(".xlsx"))]
    # Then this commit's downloads took their place: the folder equals a full build.
    assert differences(final, full_build_of(plan, head(plan), tmp_path / "full")) == []
    assert not any(shared(first, final, f"{DOWNLOADS}/{name}") for name in old_downloads)
    # The previous site's downloads were not written through the links.
    assert downloads(first) == old_downloads


def test_a_merge_during_the_downloads_stops_them_and_the_pages_stay_served(
    tmp_path: Path, plan: Path
) -> None:
    rebuilder = SiteRebuilder(plan, tmp_path / "sites")
    try:
        first = rebuilder.rebuild()
        assert first is not None
        report = approve_random(plan, random.Random(3), 0)

        pages = rebuilder.rebuild(stop_exports=lambda: True)
        assert pages is not None and rebuilder.current == pages
        assert str(report["id"]) in (pages / unit_page(str(report["unit"]))).read_text("utf-8")
        # The last downloads stay downloadable until the next build's are written.
        carried = downloads(first)
        assert carried and all(shared(first, pages, f"{DOWNLOADS}/{n}") for n in carried)

        approve_random(plan, random.Random(4), 1)
        final = rebuilder.rebuild()
    finally:
        rebuilder.close()

    assert final is not None
    assert differences(final, full_build_of(plan, head(plan), tmp_path / "full")) == []


def test_downloads_stopped_by_the_merge_already_built_are_written_by_the_next_trigger(
    tmp_path: Path, plan: Path
) -> None:
    # The merge that stops the downloads may be the very commit the pages were built
    # from (it moved the branch before the build read it): the next build has no newer
    # commit to build, and must still bring the downloads up to date.
    rebuilder = SiteRebuilder(plan, tmp_path / "sites")
    try:
        first = rebuilder.rebuild()
        assert first is not None
        approve_random(plan, random.Random(5), 0)
        pages = rebuilder.rebuild(stop_exports=lambda: True)
        assert pages is not None
        stale = downloads(pages)
        assert stale == downloads(first)

        again = rebuilder.rebuild()
    finally:
        rebuilder.close()

    assert again == pages == rebuilder.current
    assert downloads(pages) != stale
    assert differences(pages, full_build_of(plan, head(plan), tmp_path / "full")) == []
    # Once they are written, a further trigger has nothing to do.
    assert rebuilder.rebuild() is None


def test_a_failed_build_is_reported_and_the_build_process_keeps_serving(
    tmp_path: Path, plan: Path
) -> None:
    process = BuildProcess()
    try:
        process(plan, tmp_path / "sites" / "one")
        broken = tmp_path / "broken"
        repository.export_tree(pygit2.Repository(str(plan)), head(plan), broken)
        (broken / "content" / "units.csv").write_text("id,name\n!!,坏\n", encoding="utf-8")

        with pytest.raises(BuildFailed, match=r"units\.csv"):
            process(broken, tmp_path / "sites" / "two")
        process(plan, tmp_path / "sites" / "three")
    finally:
        process.close()

    assert shared(tmp_path / "sites" / "one", tmp_path / "sites" / "three", "index.html")


def test_a_build_process_that_has_ended_is_replaced_without_failing_the_build(
    tmp_path: Path, plan: Path
) -> None:
    """Killed, or ended after being idle: the next build starts a new process at once."""
    process = BuildProcess()
    try:
        process(plan, tmp_path / "sites" / "one")
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

        process(plan, tmp_path / "sites" / "two")
        assert process.pid not in (None, pid)
    finally:
        process.close()

    assert (tmp_path / "sites" / "two" / "index.html").is_file()


def test_an_idle_build_process_ends_by_itself() -> None:
    """Each server process keeps a build process; one idle for long ends, not holding a
    build's peak memory all night."""
    from builder.build_worker import serve

    read, write = os.pipe()
    started = time.monotonic()
    with os.fdopen(read) as requests, os.fdopen(write, "w"), tempfile.TemporaryFile("w+") as out:
        serve(requests, out, idle_exit=0.3)  # returns: nobody asked for anything

    assert 0.3 <= time.monotonic() - started < 10
