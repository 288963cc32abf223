"""Reliability when things break, through HTTP against gunicorn (`forms.wsgi:app`, several
worker processes, configured by PLANSITE_* variables, on 127.0.0.1): the remote or the
forge away, the service killed with SIGKILL at random moments, a full or read-only disk,
a broken plan pushed to main. Real git, real builder, real filesystems where possible
(tmpfs and read-only bind mounts need root; without it those tests are skipped and
tests/test_app_fill.py's ENOSPC wrapper is what remains).
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.plan import load_content
from forms.outbox import IN_REVIEW, QUEUED, SUPERSEDED, Outbox
from tests.fake_forge import FakeForge
from tests.reliability_support import (
    CORRECTED,
    FULL,
    Client,
    add_accounts,
    fsck,
    git,
    logged_in,
    plan_repository,
    running,
    slots,
    submission_branches,
    valid_values,
    wait_for,
)

pytestmark = pytest.mark.slow

QUEUED_LABEL = "已提交，等待审核"


# These tests send far more than a unit's hourly quota (forms.quotas) from few units.
QUOTA_FREE = {"SUBMISSIONS_PER_HOUR": "1000000"}


def reporters(repo: Path) -> dict[str, tuple[str, str | None]]:
    """One reporter account per unit, named after the unit (an identifier already)."""
    return {unit.id: ("reporter", unit.id) for unit in load_content(repo).units}


def clone_bare(repo: Path, dest: Path) -> Path:
    git(repo.parent, "clone", "-q", "--bare", str(repo), str(dest))
    return dest


# -- the remote or the forge unreachable for a while ------------------------------------------


@contextlib.contextmanager
def unreachable(kind: str, remote: Path, forge: FakeForge) -> Iterator[None]:
    """The remote repository gone (moved away) or the forge's API refusing connections."""
    away = remote.with_name(remote.name + ".away")
    if kind == "remote":
        remote.rename(away)
    else:
        forge.stop()
    try:
        yield
    finally:
        if kind == "remote":
            away.rename(remote)
        else:
            forge.start()


@pytest.mark.parametrize("kind", ["remote", "forge"])
def test_while_the_remote_or_forge_is_away_submissions_are_accepted_queued_then_delivered(
    tmp_path: Path, kind: str
) -> None:
    repo = plan_repository(tmp_path)
    content = load_content(repo)
    remote = clone_bare(repo, tmp_path / "remote.git")
    forge = FakeForge("gitea", remote).start()
    instance = tmp_path / "instance"
    add_accounts(instance, reporters(repo))
    settings = {"REMOTE": str(remote)}
    if kind == "forge":
        settings.update(
            FORGE="gitea",
            FORGE_URL=forge.url,
            FORGE_OWNER=forge.owner,
            FORGE_REPO=forge.repo,
            FORGE_TOKEN=forge.token,
        )
    work = slots(content)[::2]  # every unit, a few forms and periods each
    values = {form.id: valid_values(form, len(work), 5, content.units) for form in content.forms}
    try:
        with running(
            repo, instance, workers=2, threads=4, SYNC_INTERVAL="1", **settings, **QUOTA_FREE
        ) as server:
            acknowledged: dict[str, str] = {}
            with unreachable(kind, remote, forge):
                for n, slot in enumerate(work):
                    browser = logged_in(server.port, slot.unit)
                    status, submission_id, page = browser.submit(slot, values[slot.form.id][n])
                    assert submission_id is not None, (status, page[:2000])
                    acknowledged[submission_id] = slot.unit
                    # The confirmation and the portal say "waiting to sync", not an error.
                    status, _, page = browser.get(f"/forms/submissions/{submission_id}")
                    assert status == 200 and QUEUED_LABEL in page
                    status, _, page = browser.get(f"/forms/units/{slot.unit}/")
                    assert status == 200 and QUEUED_LABEL in page
                outbox = Outbox(instance / "submissions.sqlite")
                # The sync loop has tried and failed, and keeps everything queued.
                wait_for(
                    lambda: all(outbox.entry(i).attempts > 0 for i in acknowledged),
                    60,
                    what="failed delivery attempts",
                )
                assert {r.id for r in outbox.records(state=QUEUED)} == set(acknowledged)
                if kind == "forge":
                    assert forge.pulls == {}
            wait_for(
                lambda: {r.id for r in outbox.records(state=IN_REVIEW)} == set(acknowledged),
                180,
                what="every submission delivered",
            )
            assert set(submission_branches(remote)) == set(acknowledged)
            if kind == "forge":  # one pull request per submission, none twice
                heads = [pull.head for pull in forge.pulls.values()]
                assert len(heads) == len(set(heads)) == len(acknowledged)
            fsck(remote)
            fsck(instance / "service.git")
    finally:
        forge.stop()
    print(f"\n{kind} away: {len(acknowledged)} submissions queued, then all delivered")


# -- SIGKILL at random moments ----------------------------------------------------------------

KILLS = 200 if FULL else 50


def test_the_service_killed_50_times_during_submissions_loses_nothing_it_acknowledged(
    tmp_path: Path,
) -> None:
    repo = plan_repository(tmp_path)
    content = load_content(repo)
    instance = tmp_path / "instance"
    add_accounts(instance, {**reporters(repo), "checker": ("reviewer", None)})
    work = slots(content)
    values = {form.id: valid_values(form, 200, 7, content.units) for form in content.forms}
    rng = random.Random(11)
    acknowledged: set[str] = set()
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    kinds = {"worker": 0, "server": 0}

    with running(repo, instance, workers=2, threads=2, SYNC_INTERVAL="1", **QUOTA_FREE) as server:

        def reporter(unit: str) -> None:
            mine = [s for s in work if s.unit == unit]
            browser: Client | None = None
            n = 0
            while not stop.is_set():
                n += 1
                slot = mine[n % len(mine)]
                try:
                    if browser is None:
                        browser = logged_in(server.port, unit)
                    browser.port = server.port  # the server may have been restarted
                    _, submission_id, _ = browser.submit(slot, values[slot.form.id][n % 200])
                except (OSError, http.client.HTTPException, RuntimeError) as error:
                    # A killed worker or server: nothing was acknowledged, try again.
                    with lock:
                        failures.append(type(error).__name__)
                    browser = None
                    time.sleep(0.05)
                    continue
                if submission_id is not None:
                    with lock:
                        acknowledged.add(submission_id)

        threads = [threading.Thread(target=reporter, args=(u.id,)) for u in content.units]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        try:
            for _ in range(KILLS):
                # Each kill lands during traffic: once the service acknowledges again, at a
                # random moment of the submissions that follow.
                seen = len(acknowledged)
                wait_for(
                    lambda seen=seen: len(acknowledged) > seen,
                    120,
                    interval=0.02,
                    what="a submission after the last kill",
                )
                time.sleep(rng.uniform(0.0, 0.3))
                workers = server.worker_pids()
                if workers and rng.random() < 0.5:
                    kinds["worker"] += 1
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(workers), signal.SIGKILL)  # gunicorn starts another
                else:
                    kinds["server"] += 1
                    server.kill()
                    server.start()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=300)
        elapsed = time.monotonic() - start
        assert len(acknowledged) > KILLS  # the kills came during real traffic

        # A clean restart: every acknowledged submission is there, pushes resume.
        server.stop()
        server.start()
        service_git, remote = instance / "service.git", instance / "remote.git"
        outbox = Outbox(instance / "submissions.sqlite")
        branches = submission_branches(service_git)
        assert acknowledged <= set(branches)
        wait_for(lambda: set(branches) <= outbox.ids(), 60, what="recovery of every branch")
        # Each reporter cycles through its slots: a newer submission for a slot supersedes
        # the pending one (issue 13), which is not delivered. Every other one is in review.
        wait_for(
            lambda: (
                not outbox.records(state=QUEUED)
                and {r.id for r in outbox.records(state=IN_REVIEW)}
                | {r.id for r in outbox.records(state=SUPERSEDED)}
                == set(branches)
            ),
            300,
            what="every queued push completed",
        )
        live = {r.id for r in outbox.records(state=IN_REVIEW)}
        assert live and live <= set(submission_branches(remote))
        latest = {(r.unit, r.form, r.period): r.id for r in reversed(outbox.records())}
        assert live == set(latest.values())  # exactly the newest of each slot is live
        for name in (service_git, remote):
            fsck(name)
        # Neither repository is wedged by a lock a killed process left: approving merges.
        reviewer = logged_in(server.port, "checker")
        for submission_id in sorted(live)[:3]:
            assert reviewer.approve(submission_id)
        fsck(remote)
    print(
        f"\nkills: {KILLS} ({kinds['worker']} workers, {kinds['server']} whole server) in "
        f"{elapsed:.0f} s; {len(acknowledged)} acknowledged, {len(branches)} stored, "
        f"{len(failures)} requests cut off"
    )


# -- a full or read-only disk -----------------------------------------------------------------


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {done.stderr.strip()}")


def umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=False, capture_output=True)
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True)
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        umount(path)


@contextlib.contextmanager
def bind_mounted(path: Path) -> Iterator[Path]:
    """`path` bind-mounted over itself, so that it can be made read-only and writable again
    while the service has files open in it (an unmount would be refused as busy)."""
    mount("--bind", str(path), str(path))
    try:
        yield path
    finally:
        umount(path)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The bind mount at `path` read-only: even root cannot write there."""
    mount("-o", "remount,bind,ro", str(path))
    try:
        yield
    finally:
        mount("-o", "remount,bind,rw", str(path))


def fill_up(folder: Path) -> Path:
    """Write until the filesystem says ENOSPC; the file is what to delete to free it."""
    filler = folder / "filler"
    with filler.open("wb") as handle:
        chunk = b"\0" * 65536
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def assert_refused_with_a_chinese_503(browser: Client, url: str, *, says_draft: bool) -> None:
    # The slot has an approved report: the submit is a correction and names its reason.
    status, location, page = browser.post(url, {"correction_reason": CORRECTED})
    assert status == 503, (status, location, page[:2000])
    assert "存储空间不足或不可写" in page and 'lang="zh-CN"' in page
    # The submit page itself explains that the draft is kept: the account store and the
    # drafts stay readable (their connections stay open), only the commit fails.
    assert ("您填写的内容已作为草稿保留" in page) == says_draft


@pytest.mark.parametrize("fault", ["disk-full", "read-only"])
def test_a_full_or_read_only_disk_is_a_clear_503_and_nothing_unstored_is_acknowledged(
    tmp_path: Path, fault: str
) -> None:
    repo = plan_repository(tmp_path)
    content = load_content(repo)
    slot = slots(content)[0]
    values = valid_values(slot.form, 1, 9, content.units)[0]
    remote = clone_bare(repo, tmp_path / "remote.git")
    with contextlib.ExitStack() as stack:
        if fault == "disk-full":
            # The instance folder (service repository, sqlite files) on its own small disk.
            instance = stack.enter_context(small_tmpfs(tmp_path / "disk", "16m")) / "instance"
        else:
            # The service's repository on its own mount, made read-only below.
            instance = tmp_path / "instance"
            git(
                tmp_path,
                "init",
                "-q",
                "--bare",
                "--initial-branch=main",
                str(instance / "service.git"),
            )
            stack.enter_context(bind_mounted(instance / "service.git"))
        add_accounts(instance, reporters(repo))
        server = stack.enter_context(
            running(
                repo,
                instance,
                workers=2,
                threads=2,
                log=tmp_path / "gunicorn.log",
                SYNC_INTERVAL="3600",
                REMOTE=str(remote),
                **QUOTA_FREE,
            )
        )
        browser = logged_in(server.port, slot.unit)
        status, location, _ = browser.post(slot.fill_url, {**values, "action": "continue"})
        assert status == 302 and location.endswith("/check")
        service_git = instance / "service.git"

        if fault == "disk-full":
            filler = fill_up(instance.parent)
            assert_refused_with_a_chinese_503(browser, slot.fill_url + "check", says_draft=True)
            filler.unlink()
        else:
            with read_only(service_git):
                assert_refused_with_a_chinese_503(browser, slot.fill_url + "check", says_draft=True)

        # Nothing was acknowledged, and nothing half-stored was left behind.
        assert submission_branches(service_git) == {}
        assert Outbox(instance / "submissions.sqlite").records() == []
        fsck(service_git)
        # The draft was kept: once the disk is back, the same submit goes through.
        status, submission_id, page = browser.submit(slot, values)
        assert submission_id is not None, (status, page[:2000])
        assert set(submission_branches(service_git)) == {submission_id}
        fsck(service_git)
        server.stop()


# -- a broken plan pushed to main -------------------------------------------------------------


BREAKAGES = {
    # A task whose front matter is not YAML.
    "task-yaml": ("content/tasks/01-fire-equipment.md", "---\nid: task-01\nnumber: [1\n---\n"),
    # A form schema that is not JSON.
    "schema-json": ("schemas/forms/drill.json", '{"fields": [\n'),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_plan_on_main_is_refused_naming_the_file_and_the_last_good_site_stays(
    tmp_path: Path, breakage: str
) -> None:
    broken_file, broken_text = BREAKAGES[breakage]
    repo = plan_repository(tmp_path)
    content = load_content(repo)
    instance = tmp_path / "instance"
    add_accounts(instance, {**reporters(repo), "checker": ("reviewer", None)})
    work = [s for s in slots(content) if s.unit == content.units[0].id][:2]
    values = {form.id: valid_values(form, 2, 13, content.units) for form in content.forms}
    with running(
        repo, instance, workers=2, threads=2, SYNC_INTERVAL="3600", **QUOTA_FREE
    ) as server:
        reporter = logged_in(server.port, work[0].unit)
        ids = []
        for n, slot in enumerate(work):
            _, submission_id, _ = reporter.submit(slot, values[slot.form.id][n])
            assert submission_id is not None
            ids.append(submission_id)
        reviewer = logged_in(server.port, "checker")
        remote = instance / "remote.git"
        assert reviewer.approve(ids[0])
        good = wait_for(
            lambda: published_build(instance, remote), 300, interval=1, what="the first site"
        )
        status, _, good_page = Client(server.port).get("/")
        assert status == 200

        # A plan editor pushes a broken file to main; the next approval triggers a rebuild.
        editor = tmp_path / "editor"
        git(tmp_path, "clone", "-q", str(remote), str(editor))
        (editor / broken_file).write_text(broken_text, encoding="utf-8")
        git(
            editor,
            "-c",
            "user.name=Plan Editor",
            "-c",
            "user.email=e@example.invalid",
            "commit",
            "-qam",
            "Break the plan",
        )
        git(editor, "push", "-q", "origin", "HEAD:main")
        assert reviewer.approve(ids[1])

        # The rebuild refuses it, saying which file; the last good site stays published.
        wait_for(
            lambda: "the last good site stays online" in server.tail(200_000),
            300,
            interval=1,
            what="the failed rebuild",
        )
        log = server.tail(200_000)
        failure = log[log.index("the last good site stays online") :]
        assert broken_file in failure
        assert current_build(instance) == good
        status, _, page = Client(server.port).get("/")
        assert status == 200 and page == good_page

        # Deployed to the service's working tree, the plan is refused at start, naming the file.
        git(repo, "pull", "-q", "--no-rebase", str(remote), "main")
        server.stop()
        before = len(server.tail(10**9))
        with pytest.raises(RuntimeError):
            server.start(timeout=120)
        refused = server.log.read_text(encoding="utf-8", errors="replace")[before:]
        assert broken_file in refused
        assert current_build(instance) == good


def current_build(instance: Path) -> str | None:
    current = instance / "sites" / "current"
    return current.resolve().name if current.is_symlink() else None


def published_build(instance: Path, remote: Path) -> str | None:
    """The published build's name once it is the build of main's current tip."""
    tip = git(remote, "rev-parse", "main").strip()
    name = current_build(instance)
    return name if name and name.startswith(tip[:12] + "-") else None


def test_lock_files_a_killed_push_or_merge_left_do_not_wedge_delivery_or_approval(
    tmp_path: Path,
) -> None:
    """What SIGKILL leaves at the worst moment, made deterministic: the lock file of a
    submission branch in the remote (push) and of main in the remote (merge)."""
    from forms.submissions import SubmissionService
    from tests.fake_forge import make_plan_worktree, sample_report

    service = SubmissionService.open_default(
        tmp_path / "instance", make_plan_worktree(tmp_path / "plan")
    )
    record = service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    remote = Path(service.config.remote)
    stale = time.time() - 3600
    for ref in (f"refs/heads/{record.branch}", "refs/heads/main"):
        lock = remote / f"{ref}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_bytes(b"")
        os.utime(lock, (stale, stale))

    service.sync()
    assert service.get("r-1").state == IN_REVIEW
    service.approve("r-1", "王五", "w@example.org")
    assert "data/reports/quarterly/2022-Q1/unit-a/r-1.json" in git(
        remote, "ls-tree", "-r", "--name-only", "main"
    )
    fsck(remote)
