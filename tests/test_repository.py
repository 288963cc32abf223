"""The git layer of the form service: every submission is one commit on its own branch in
a bare repository, written without a working tree, safely from many processes at once;
approval merges into the remote's main without losing anyone's commits."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import threading
from pathlib import Path

import pygit2
import pytest

from builder.reports import report_document
from forms import repository
from forms.outbox import APPROVED, IN_REVIEW, QUEUED, REJECTED
from forms.repository import MergeConflict, RefExists
from forms.submissions import EvidenceFile, InvalidState, SubmissionService
from tests.fake_forge import git, make_plan_worktree, sample_report

PDF = b"%PDF-1.4 evidence\n"


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    return make_plan_worktree(tmp_path / "plan")


@pytest.fixture
def service(tmp_path: Path, worktree: Path) -> SubmissionService:
    return SubmissionService.open_default(tmp_path / "instance", worktree)


def fsck(repo: Path) -> None:
    done = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stderr.lower()


def refs(repo: Path, prefix: str = "refs/") -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ") for line in out.splitlines() if line)


def objects(repo: Path) -> set[str]:
    out = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return set(out.splitlines())


def main_files(repo: Path) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", "refs/heads/main").splitlines())


# -- submitting ----------------------------------------------------------------------------


def test_a_submission_is_one_commit_on_a_new_branch_off_main(
    service: SubmissionService, tmp_path: Path
) -> None:
    service_git = tmp_path / "instance" / "service.git"
    record = service.submit(
        sample_report("20221008093000-1a2b3c4d"),
        [EvidenceFile("1-report.pdf", "报告.pdf", "application/pdf", PDF)],
        "张三",
        "unit-a@example.org",
    )

    assert record.branch == "submit/unit-a/20221008093000-1a2b3c4d"
    assert record.state == QUEUED
    assert refs(service_git)["refs/heads/" + record.branch] == record.commit
    main = refs(service_git)["refs/heads/main"]
    assert git(service_git, "rev-parse", f"{record.commit}^@") == main  # one parent: main
    added = git(service_git, "diff-tree", "--no-commit-id", "--name-status", "-r", record.commit)
    assert added.splitlines() == [
        "A\tdata/reports/quarterly/2022-Q1/unit-a/20221008093000-1a2b3c4d.json",
        "A\tdata/reports/quarterly/2022-Q1/unit-a/20221008093000-1a2b3c4d/1-report.pdf",
    ]
    commit = git(service_git, "cat-file", "-p", record.commit)
    assert "\nauthor 张三 <unit-a@example.org> " in commit
    assert "\ncommitter plansite form service <plansite@localhost> " in commit
    assert "Submission: 20221008093000-1a2b3c4d" in commit
    # Nothing reached the remote yet: delivery is the outbox's job.
    assert not refs(tmp_path / "instance" / "remote.git", "refs/heads/submit/")
    fsck(service_git)


def test_the_committed_report_lists_the_stored_evidence(service: SubmissionService) -> None:
    report = sample_report("r-1")
    report["evidence"] = [{"file": "bogus", "size": 1}]  # replaced by what is really stored
    service.submit(
        report,
        [
            EvidenceFile("1-a.pdf", "甲.pdf", "application/pdf", PDF),
            EvidenceFile("2-b.png", "乙.png", "image/png", b"\x89PNG"),
        ],
        "张三",
        "a@example.org",
    )

    stored = report_document(service.read_report("r-1"))
    assert stored["values"] == {"count": 3, "done": True, "notes": "说明"}
    assert stored["evidence"] == [
        {
            "file": "1-a.pdf",
            "name": "甲.pdf",
            "media_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
        },
        {
            "file": "2-b.png",
            "name": "乙.png",
            "media_type": "image/png",
            "size": 4,
            "sha256": hashlib.sha256(b"\x89PNG").hexdigest(),
        },
    ]
    assert service.read_evidence("r-1", "1-a.pdf") == PDF
    assert service.read_evidence("r-1", "2-b.png") == b"\x89PNG"


def test_the_diff_against_the_base_shows_exactly_the_added_files(
    service: SubmissionService,
) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    diff = service.diff("r-1")

    assert diff.startswith("diff --git a/data/reports/quarterly/2022-Q1/unit-a/r-1.json")
    assert "new file mode 100644" in diff
    assert '+  "unit": "unit-a",' in diff
    assert diff.count("diff --git") == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", "../../etc"),
        ("id", "a/b"),
        ("id", "x.lock"),
        ("id", ""),
        ("id", "中文"),
        ("id", "-leading"),
        ("unit", "a b"),
        ("unit", "a..b"),
        ("form", "refs/heads/main"),
        ("period", "2022.Q1"),
        ("period", None),
        ("id", "a" * 65),
    ],
)
def test_a_non_identifier_is_refused_before_anything_is_written(
    service: SubmissionService, tmp_path: Path, key: str, value: object
) -> None:
    service_git = tmp_path / "instance" / "service.git"
    before_refs, before_objects = refs(service_git), objects(service_git)
    report = sample_report("r-1")
    report[key] = value

    with pytest.raises(ValueError):
        service.submit(report, [], "张三", "a@example.org")

    assert refs(service_git) == before_refs
    assert objects(service_git) == before_objects
    assert service.list() == []


@pytest.mark.parametrize(
    "file", ["../x.pdf", "1-a/b.pdf", "report.pdf", "1-..", "1-a\\b", "1-a\nb", "1-x."]
)
def test_an_unsafe_evidence_name_is_refused_before_anything_is_written(
    service: SubmissionService, tmp_path: Path, file: str
) -> None:
    service_git = tmp_path / "instance" / "service.git"
    before = objects(service_git)

    with pytest.raises(ValueError):
        service.submit(
            sample_report("r-1"),
            [EvidenceFile(file, "x", "application/pdf", PDF)],
            "张三",
            "a@example.org",
        )

    assert objects(service_git) == before
    assert service.get("r-1") is None


def test_an_id_used_twice_is_refused_and_the_first_submission_stays(
    service: SubmissionService,
) -> None:
    first = service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    with pytest.raises(RefExists):
        service.submit(sample_report("r-1", values={"count": 9}), [], "李四", "b@example.org")

    assert service.get("r-1") == first
    assert service.read_report("r-1").values["count"] == 3


def test_author_text_that_would_break_the_signature_is_cleaned(
    service: SubmissionService, tmp_path: Path
) -> None:
    record = service.submit(sample_report("r-1"), [], "Eve <evil@x>\n", "e<v>e@example.org")

    commit = git(tmp_path / "instance" / "service.git", "cat-file", "-p", record.commit)
    assert "\nauthor Eve evil@x <eve@example.org> " in commit


def test_a_submission_branches_off_the_remotes_current_main(tmp_path: Path, worktree: Path) -> None:
    instance = tmp_path / "instance"
    first = SubmissionService.open_default(instance, worktree)
    first.submit(sample_report("r-1"), [], "张三", "a@example.org")
    # A plan editor pushes a content change to the remote's main.
    (worktree / "content" / "plan.yml").write_text("id: test-plan\ntitle: 改过的\n")
    git(worktree, "commit", "-qam", "Edit the plan")
    git(worktree, "push", "-q", str(instance / "remote.git"), "HEAD:refs/heads/main")
    edited = git(worktree, "rev-parse", "HEAD")
    # A fresh process (no fetch throttle yet) sees it before committing.
    second = SubmissionService.open_default(instance, worktree)

    record = second.submit(sample_report("r-2"), [], "张三", "a@example.org")

    assert git(instance / "service.git", "rev-parse", f"{record.commit}^") == edited


def test_the_default_setup_seeds_the_remote_from_the_committed_head_only(
    tmp_path: Path, worktree: Path
) -> None:
    head = git(worktree, "rev-parse", "HEAD")
    (worktree / "content" / "plan.yml").write_text("uncommitted edit\n")
    (worktree / "content" / "new.md").write_text("untracked\n")

    SubmissionService.open_default(tmp_path / "instance", worktree)

    remote = tmp_path / "instance" / "remote.git"
    assert refs(remote) == {"refs/heads/main": head}
    assert git(remote, "show", "main:content/plan.yml") == "id: test-plan\ntitle: 测试计划"
    status = [line.strip() for line in git(worktree, "status", "--porcelain").splitlines()]
    assert status == ["M content/plan.yml", "?? content/new.md"]  # the working tree untouched
    fsck(remote)


# -- many processes at once ----------------------------------------------------------------


def _submit_many(instance: str, worktree: str, worker: int, count: int) -> list[tuple[str, str]]:
    service = SubmissionService.open_default(Path(instance), Path(worktree))
    done = []
    for n in range(count):
        report = sample_report(f"w{worker}-{n}", unit=f"unit-{n % 5}", values={"count": n})
        record = service.submit(report, [], f"worker {worker}", "w@example.org")
        done.append((record.id, record.commit))
    return done


def _submit_same_ids(instance: str, worktree: str, ids: list[str]) -> list[str]:
    service = SubmissionService.open_default(Path(instance), Path(worktree))
    won = []
    for submission_id in ids:
        try:
            service.submit(sample_report(submission_id), [], "x", "x@example.org")
            won.append(submission_id)
        except RefExists:
            pass
    return won


@pytest.mark.slow
def test_eight_processes_submitting_at_once_lose_and_duplicate_nothing(
    tmp_path: Path, worktree: Path
) -> None:
    instance = tmp_path / "instance"
    SubmissionService.open_default(instance, worktree)  # first run creates the repositories
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        results = pool.starmap(
            _submit_many, [(str(instance), str(worktree), w, 25) for w in range(8)]
        )

    acknowledged = dict(pair for result in results for pair in result)
    assert len(acknowledged) == 200
    service_git = instance / "service.git"
    branches = refs(service_git, "refs/heads/submit/")
    assert len(branches) == 200
    repo = pygit2.Repository(str(service_git))
    for submission_id, commit in acknowledged.items():
        _worker, n = submission_id.removeprefix("w").split("-")
        branch = f"refs/heads/submit/unit-{int(n) % 5}/{submission_id}"
        assert branches[branch] == commit
        path = f"data/reports/quarterly/2022-Q1/unit-{int(n) % 5}/{submission_id}.json"
        assert json.loads(repository.read_blob(repo, commit, path))["values"] == {"count": int(n)}
    service = SubmissionService.open_default(instance, worktree)
    assert sorted(r.id for r in service.list()) == sorted(acknowledged)
    fsck(service_git)


def test_processes_racing_for_the_same_ids_each_win_each_id_once(
    tmp_path: Path, worktree: Path
) -> None:
    instance = tmp_path / "instance"
    SubmissionService.open_default(instance, worktree)
    ids = [f"same-{n}" for n in range(10)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(_submit_same_ids, [(str(instance), str(worktree), ids)] * 4)

    winners = [i for result in results for i in result]
    assert sorted(winners) == sorted(ids)  # every id acknowledged exactly once
    assert len(refs(instance / "service.git", "refs/heads/submit/")) == 10
    fsck(instance / "service.git")


# -- review ----------------------------------------------------------------------------------


def test_approval_merges_into_the_remotes_main_and_names_submission_and_reviewer(
    service: SubmissionService, tmp_path: Path
) -> None:
    remote = tmp_path / "instance" / "remote.git"
    merged: list[str] = []
    service.on_merged(merged.append)
    record = service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.sync()
    assert service.get("r-1").state == IN_REVIEW
    before = refs(remote)["refs/heads/main"]

    service.approve("r-1", "审核员 王五", "wangwu@example.org")

    main = refs(remote)["refs/heads/main"]
    assert git(remote, "rev-parse", f"{main}^1", f"{main}^2").splitlines() == [
        before,
        record.commit,
    ]
    message = git(remote, "log", "-1", "--format=%B", main)
    assert message.startswith("Approve submission r-1 (unit-a quarterly 2022-Q1)\n\n")
    assert "Reviewed-by: 审核员 王五 <wangwu@example.org>" in message
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn", main) == (
        "审核员 王五 <wangwu@example.org>|plansite form service"
    )
    assert "data/reports/quarterly/2022-Q1/unit-a/r-1.json" in main_files(remote)
    approved = service.get("r-1")
    assert (approved.state, approved.reviewer) == (APPROVED, "审核员 王五")
    assert merged == [main]
    assert refs(remote)["refs/heads/submit/unit-a/r-1"] == record.commit  # kept as a record
    fsck(remote)


def test_approving_a_queued_submission_delivers_it_first(
    service: SubmissionService, tmp_path: Path
) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    service.approve("r-1", "王五", "w@example.org")

    assert "data/reports/quarterly/2022-Q1/unit-a/r-1.json" in main_files(
        tmp_path / "instance" / "remote.git"
    )
    assert service.get("r-1").state == APPROVED


def test_a_decided_submission_cannot_be_decided_again(service: SubmissionService) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.submit(sample_report("r-2", unit="unit-b"), [], "张三", "a@example.org")
    service.approve("r-1", "王五", "w@example.org")
    service.reject("r-2", "王五", "数据有误")

    for submission_id in ("r-1", "r-2"):
        with pytest.raises(InvalidState) as error:
            service.approve(submission_id, "王五", "w@example.org")
        assert "不能重复审核" in error.value.user_message
        with pytest.raises(InvalidState):
            service.reject(submission_id, "王五", "again")
    with pytest.raises(InvalidState) as error:
        service.approve("no-such-id", "王五", "w@example.org")
    assert error.value.user_message == "找不到该填报记录"


def test_rejection_keeps_main_unchanged_and_records_the_reason(
    service: SubmissionService, tmp_path: Path
) -> None:
    remote = tmp_path / "instance" / "remote.git"
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.sync()
    before = refs(remote)["refs/heads/main"]

    service.reject("r-1", "王五", "  数量与附件不符  ")

    assert refs(remote)["refs/heads/main"] == before
    record = service.get("r-1")
    assert (record.state, record.reason, record.reviewer) == (REJECTED, "数量与附件不符", "王五")


def test_a_conflicting_submission_is_not_merged(service: SubmissionService, tmp_path: Path) -> None:
    remote = tmp_path / "instance" / "remote.git"
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.sync()
    # Someone commits a different file at the very same path directly to main.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    path = clone / "data/reports/quarterly/2022-Q1/unit-a/r-1.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}\n")
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "Clash")
    git(clone, "push", "-q", "origin", "main")
    before = refs(remote)["refs/heads/main"]

    with pytest.raises(MergeConflict):
        service.approve("r-1", "王五", "w@example.org")

    assert refs(remote)["refs/heads/main"] == before
    assert service.get("r-1").state == IN_REVIEW


def _approve_all(instance: str, worktree: str, ids: list[str]) -> None:
    service = SubmissionService.open_default(Path(instance), Path(worktree))
    for submission_id in ids:
        service.approve(submission_id, f"reviewer {submission_id}", "r@example.org")


def _edit_content(remote: str, clone: str, edits: int) -> list[str]:
    git(Path(clone).parent, "clone", "-q", remote, clone)
    made = []
    for n in range(edits):
        page = Path(clone) / "content" / f"edit-{n}.md"
        page.write_text(f"edit {n}\n")
        git(Path(clone), "add", "-A")
        git(
            Path(clone),
            "-c",
            "user.name=editor",
            "-c",
            "user.email=e@x",
            "commit",
            "-qm",
            f"Edit {n}",
        )
        while True:  # a plan editor's push races the approvals: rebase and retry
            try:
                git(Path(clone), "push", "-q", "origin", "HEAD:main")
                break
            except subprocess.CalledProcessError:
                git(
                    Path(clone),
                    "-c",
                    "user.name=editor",
                    "-c",
                    "user.email=e@x",
                    "pull",
                    "-q",
                    "--rebase",
                    "origin",
                    "main",
                )
        made.append(f"content/edit-{n}.md")
    return made


@pytest.mark.slow
def test_concurrent_approvals_and_content_pushes_lose_nothing(
    tmp_path: Path, worktree: Path
) -> None:
    instance = tmp_path / "instance"
    service = SubmissionService.open_default(instance, worktree)
    ids = [f"m-{n}" for n in range(24)]
    for n, submission_id in enumerate(ids):
        # Each in a slot of its own: one live submission per unit x form x period.
        report = sample_report(submission_id, unit=f"unit-{n % 3}", period=f"2022-P{n}")
        service.submit(report, [], "x", "x@x.org")
    service.sync()
    remote = instance / "remote.git"
    context = multiprocessing.get_context("spawn")
    with context.Pool(5) as pool:
        approvals = [
            pool.apply_async(_approve_all, (str(instance), str(worktree), ids[w::4]))
            for w in range(4)
        ]
        edits = pool.apply_async(_edit_content, (str(remote), str(tmp_path / "editor"), 8))
        for result in approvals:
            result.get(timeout=300)
        edited = edits.get(timeout=300)

    files = main_files(remote)
    for n, submission_id in enumerate(ids):
        assert f"data/reports/quarterly/2022-P{n}/unit-{n % 3}/{submission_id}.json" in files
    assert set(edited) <= files
    log = git(remote, "log", "--format=%s", "main")
    assert sum(line.startswith("Approve submission m-") for line in log.splitlines()) == 24
    assert all(r.state == APPROVED for r in service.list())
    fsck(remote)


# -- the plumbing itself ---------------------------------------------------------------------


def test_a_tree_with_new_files_keeps_every_existing_entry(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    base = repo[repository.tree_with_files(repo, None, {"a/x.txt": b"x", "b.txt": b"b"})]

    tree = repo[repository.tree_with_files(repo, base, {"a/y.txt": b"y", "c/d/e.txt": b"e"})]

    names = sorted(
        f"{top.name}/{sub.name}" if top.type_str == "tree" else top.name
        for top in tree
        for sub in (repo[top.id] if top.type_str == "tree" else [top])
    )
    assert names == ["a/x.txt", "a/y.txt", "b.txt", "c/d"]
    assert repo[tree["c/d/e.txt"].id].data == b"e"
    with pytest.raises(repository.PathExists):
        repository.tree_with_files(repo, tree, {"a/x.txt": b"other"})
    with pytest.raises(ValueError):
        repository.tree_with_files(repo, tree, {"a/../b.txt": b"z"})


def test_a_kept_handle_reads_a_submission_another_process_committed(
    service: SubmissionService, tmp_path: Path, worktree: Path
) -> None:
    kept = service._repo()  # opened before the other process writes anything
    other = SubmissionService.open_default(tmp_path / "instance", worktree)
    record = other.submit(sample_report("r-2"), [], "李四", "b@example.org")
    assert service._repo() is kept
    assert service.read_report(record.id).id == "r-2"
    assert f"refs/heads/{record.branch}" in kept.references


def test_each_thread_and_each_forked_process_opens_its_own_handle(
    service: SubmissionService,
) -> None:
    main = service._repo()
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(service._repo()))
    thread.start()
    thread.join()
    assert seen and seen[0] is not main
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a handle of its own, which works
        try:
            fresh = service._repo() is not main and service.list() == []
            os.write(
                writer, b"1" if fresh and "refs/heads/main" in service._repo().references else b"0"
            )
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 1)
    os.waitpid(pid, 0)
    os.close(reader)
    assert answer == b"1"
