"""Durability at the speed of one disk flush: a submission's git objects are on disk before
its branch is, and the instance databases keep one connection per thread and process."""

from __future__ import annotations

import errno
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pygit2
import pytest

from forms import repository
from forms.database import FULL, NORMAL, Database
from forms.drafts import DraftStore
from forms.outbox import APPROVED
from forms.repository import StorageFailure
from forms.submissions import EvidenceFile, SubmissionService
from tests.fake_forge import git, make_plan_worktree, sample_report

PDF = b"%PDF-1.4 evidence\n"


@pytest.fixture
def service(tmp_path: Path) -> SubmissionService:
    return SubmissionService.open_default(tmp_path / "instance", make_plan_worktree(tmp_path / "p"))


def loose_objects(git_dir: Path) -> set[str]:
    folder = git_dir / "objects"
    return {
        f"{sub.name}{path.name}"
        for sub in folder.iterdir()
        if len(sub.name) == 2
        for path in sub.iterdir()
    }


def test_every_new_object_and_its_folder_is_synced_before_the_branch_exists(
    service: SubmissionService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service_git = tmp_path / "instance" / "service.git"
    before = loose_objects(service_git)
    branch = service_git / "refs" / "heads" / "submit" / "unit-a" / "r-1"
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def watched_fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), branch.exists()))

    monkeypatch.setattr(os, "fsync", watched_fsync)
    record = service.submit(
        sample_report("r-1"),
        [EvidenceFile("1-a.pdf", "a.pdf", "application/pdf", PDF)],
        "张三",
        "a@example.org",
    )

    new = loose_objects(service_git) - before
    # blob x2, trees on both paths (root, data, reports, form, period, unit, id folder), commit
    assert record.commit in new and len(new) >= 9
    object_files = {str(service_git / "objects" / o[:2] / o[2:]) for o in new}
    folders = {str(service_git / "objects" / o[:2]) for o in new}
    seen = {path for path, _ in synced}
    # A file is synced under its temporary name, before it is linked to the object's name.
    temporary = {path for path in seen if "/tmp_obj_" in path}
    assert len(temporary) == len(new)
    assert folders <= seen
    assert not any(existed for path, existed in synced if "/objects" in path)
    assert not object_files & seen  # never synced after it got its name: before
    assert branch.exists()
    assert not list((service_git / "objects").glob("*/tmp_obj_*"))
    git(service_git, "fsck", "--strict", "--no-dangling")


def test_objects_already_on_disk_are_not_written_again(
    service: SubmissionService, tmp_path: Path
) -> None:
    service_git = tmp_path / "instance" / "service.git"
    evidence = [EvidenceFile("1-a.pdf", "a.pdf", "application/pdf", PDF)]
    service.submit(sample_report("r-1"), evidence, "张三", "a@example.org")
    blob = pygit2.hash(PDF)
    path = service_git / "objects" / str(blob)[:2] / str(blob)[2:]
    stamp = path.stat().st_ino

    service.submit(sample_report("r-2"), evidence, "张三", "a@example.org")

    assert path.stat().st_ino == stamp
    git(service_git, "fsck", "--strict", "--no-dangling")


def test_objects_that_cannot_be_synced_leave_no_branch_and_no_temporary_file(
    service: SubmissionService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = tmp_path / "instance" / "service.git" / "objects"
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if "/tmp_obj_" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, "I/O error")  # the disk gave up
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageFailure):
        service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    monkeypatch.setattr(os, "fsync", real_fsync)

    assert service.get("r-1") is None
    assert "refs/heads/submit/unit-a/r-1" not in service._repo().references
    assert not list(objects.glob("*/tmp_obj_*"))
    # The disk is back: the same submission goes through.
    assert service.submit(sample_report("r-1"), [], "张三", "a@example.org").id == "r-1"


def test_a_submission_reads_back_from_another_process_handle(
    service: SubmissionService, tmp_path: Path
) -> None:
    record = service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    other = pygit2.Repository(str(tmp_path / "instance" / "service.git"))
    commit = other[record.commit].peel(pygit2.Commit)
    path = "data/reports/quarterly/2022-Q1/unit-a/r-1.json"
    assert b'"id": "r-1"' in repository.read_blob(other, str(commit.id), path)
    assert [p.id for p in commit.parents] == [repository.resolve(other, "main").id]


# -- sqlite ------------------------------------------------------------------------------


def test_each_thread_keeps_its_own_connection(tmp_path: Path) -> None:
    database = Database(tmp_path / "d.sqlite")
    with database.transaction() as db:
        db.execute("CREATE TABLE t (n INTEGER)")
    seen: dict[str, int] = {}

    def work(name: str) -> None:
        for n in range(3):
            with database.transaction() as db:
                db.execute("INSERT INTO t VALUES (?)", (n,))
                seen.setdefault(name, id(db))
                assert seen[name] == id(db)  # the same connection on every call

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(seen.values())) == 4
    with database.transaction() as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (12,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _open_together(path: str, barrier: Any, failures: Any) -> None:
    barrier.wait()
    try:
        Database(Path(path))
    except sqlite3.Error as error:
        failures.put(repr(error))


def test_workers_opening_a_new_file_together_all_start(tmp_path: Path) -> None:
    # gunicorn's workers open a new instance's sqlite files at the same moment; switching
    # a file to WAL refused one of them ("database is locked") in a few rounds out of 30,
    # and a worker that fails to boot stops the whole server.
    context = multiprocessing.get_context("fork")
    failures = context.Queue()
    for round_ in range(30):
        path = tmp_path / f"r{round_}.sqlite"
        barrier = context.Barrier(12)
        workers = [
            context.Process(target=_open_together, args=(str(path), barrier, failures))
            for _ in range(12)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert [worker.exitcode for worker in workers] == [0] * 12
        assert failures.empty(), failures.get()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_forked_child_opens_its_own_connection_and_its_writes_are_seen(
    tmp_path: Path,
) -> None:
    drafts = DraftStore(tmp_path / "drafts.sqlite")
    drafts.save("u", "f", "p", {"a": "1"}, "acc")  # the parent has a connection now
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker forked after the app was loaded
        try:
            drafts.save("u", "f", "p", {"a": "2"}, "acc")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    draft = drafts.load("u", "f", "p")
    assert draft is not None and draft.values == {"a": "2"}


def test_a_broken_connection_is_replaced_on_the_next_call(tmp_path: Path) -> None:
    database = Database(tmp_path / "d.sqlite")
    with database.transaction() as db:
        db.execute("CREATE TABLE t (n INTEGER)")
    with pytest.raises(sqlite3.OperationalError), database.transaction() as db:
        first = db
        db.execute("SELECT * FROM missing")
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")  # closed
    with database.transaction() as db:
        assert db is not first
        assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_each_transaction_runs_at_the_durability_it_asks_for(tmp_path: Path) -> None:
    database = Database(tmp_path / "d.sqlite")
    with database.transaction(NORMAL) as db:
        assert db.execute("PRAGMA synchronous").fetchone() == (1,)
    with database.transaction(FULL) as db:
        assert db.execute("PRAGMA synchronous").fetchone() == (2,)


def test_outbox_decisions_are_durable_even_after_a_fast_insert(
    tmp_path: Path, service: SubmissionService
) -> None:
    record = service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    assert service.outbox.decide(record.id, APPROVED, reviewer="王五")
    # Another process (a fresh connection) sees both the row and the decision.
    with sqlite3.connect(tmp_path / "instance" / "submissions.sqlite") as db:
        row = db.execute("SELECT state, reviewer FROM submissions WHERE id = 'r-1'").fetchone()
    assert row == (APPROVED, "王五")


def test_every_fsync_runs_and_the_first_failure_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [tmp_path / f"d{n}" for n in range(6)]
    for folder in folders:
        folder.mkdir()
    synced: list[str] = []
    lock = threading.Lock()
    real_fsync = os.fsync

    def watched_fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        with lock:
            synced.append(path)
        if path.endswith("/d3"):
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    with pytest.raises(OSError) as raised:
        repository._fsync_all(folders)
    assert raised.value.errno == errno.EIO
    assert sorted(synced) == sorted(str(f) for f in folders)
    # The pool still works after a failure.
    synced.clear()
    repository._fsync_all(folders[:3])
    assert sorted(synced) == sorted(str(f) for f in folders[:3])
