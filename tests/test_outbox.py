"""The durable outbox: an acknowledged submission is delivered eventually, whatever happens
to the remote or to the service process in between; the refs are the truth."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from forms import repository
from forms.outbox import (
    APPROVED,
    IN_REVIEW,
    QUEUED,
    REJECTED,
    SUPERSEDED,
    WITHDRAWN,
    Outbox,
    SubmissionRecord,
    retry_delay,
)
from forms.submissions import InvalidState, RemoteUnavailable, SubmissionService
from tests.fake_forge import git, make_plan_worktree, sample_report

T0 = 1_700_000_000.0


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    return make_plan_worktree(tmp_path / "plan")


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def service(instance: Path, worktree: Path) -> SubmissionService:
    return SubmissionService.open_default(instance, worktree)


def remote_branches(instance: Path) -> set[str]:
    out = git(instance / "remote.git", "for-each-ref", "--format=%(refname)", "refs/heads/submit/")
    return set(out.splitlines())


def entry(service: SubmissionService, submission_id: str):  # type: ignore[no-untyped-def]
    found = service.outbox.entry(submission_id)
    assert found is not None
    return found


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [retry_delay(n, base=5, cap=600) for n in range(0, 10)]

    assert delays == [0, 5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert retry_delay(10_000, base=5, cap=600) == 600  # no overflow after a long outage


def test_a_healthy_remote_gets_every_queued_branch_in_one_sync(
    service: SubmissionService, instance: Path
) -> None:
    for n in range(3):
        service.submit(sample_report(f"r-{n}", period=f"2022-Q{n + 1}"), [], "张三", "a@")
    assert {r.state for r in service.list()} == {QUEUED}

    result = service.sync(now=T0)

    assert (result.pushed, result.opened, result.failed) == (3, 3, 0)
    assert remote_branches(instance) == {f"refs/heads/submit/unit-a/r-{n}" for n in range(3)}
    assert {r.state for r in service.list()} == {IN_REVIEW}
    assert service.sync(now=T0).pushed == 0  # idempotent


def test_a_missing_remote_keeps_submissions_queued_and_retries_with_backoff(
    service: SubmissionService, instance: Path
) -> None:
    remote, away = instance / "remote.git", instance / "remote.away"
    remote.rename(away)

    record = service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    first = service.sync(now=T0)

    assert record.state == QUEUED  # acknowledged although the remote is gone
    assert first.failed == 1
    failed = entry(service, "r-1")
    assert (failed.record.state, failed.pushed, failed.attempts) == (QUEUED, False, 1)
    assert failed.next_attempt == T0 + 5
    assert "push to remote failed" in failed.last_error
    # Before the backoff expires nothing is attempted.
    assert service.sync(now=T0 + 4).failed == 0
    assert service.sync(now=T0 + 5).failed == 1
    assert entry(service, "r-1").next_attempt == T0 + 5 + 10

    away.rename(remote)
    delivered = service.sync(now=T0 + 15)

    assert delivered.pushed == 1
    after = entry(service, "r-1")
    assert (after.record.state, after.attempts, after.last_error) == (IN_REVIEW, 0, "")
    assert remote_branches(instance) == {"refs/heads/submit/unit-a/r-1"}


def test_a_remote_that_refuses_the_branch_is_retried_until_it_accepts(
    service: SubmissionService, instance: Path
) -> None:
    # The remote cannot create refs/heads/submit/...: a file stands where the folder goes.
    blocker = instance / "remote.git" / "refs" / "heads" / "submit"
    blocker.write_text("not a folder\n")
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    assert service.sync(now=T0).failed == 1
    assert entry(service, "r-1").record.state == QUEUED
    assert entry(service, "r-1").attempts == 1

    blocker.unlink()
    assert service.sync(now=T0 + 60).pushed == 1
    assert entry(service, "r-1").record.state == IN_REVIEW


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_remote_is_retried_until_it_is_writable(
    service: SubmissionService, instance: Path
) -> None:
    remote = instance / "remote.git"
    modes = {p: p.stat().st_mode for p in [remote, *remote.rglob("*")] if p.is_dir()}
    for path in modes:
        path.chmod(0o555)
    try:
        service.submit(sample_report("r-1"), [], "张三", "a@example.org")
        assert service.sync(now=T0).failed == 1
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert service.sync(now=T0 + 60).pushed == 1


def test_a_restarted_service_delivers_what_an_earlier_process_acknowledged(
    instance: Path, worktree: Path
) -> None:
    remote, away = instance / "remote.git", instance / "remote.away"
    before = SubmissionService.open_default(instance, worktree)
    remote.rename(away)
    before.submit(sample_report("r-1"), [], "张三", "a@example.org")
    before.sync(now=T0)
    del before  # the process ends

    away.rename(remote)
    after = SubmissionService.open_default(instance, worktree)
    after.sync(now=T0 + 3600)

    assert after.get("r-1").state == IN_REVIEW
    assert remote_branches(instance) == {"refs/heads/submit/unit-a/r-1"}


def test_a_branch_the_outbox_does_not_know_is_recovered_from_git(
    service: SubmissionService, instance: Path
) -> None:
    # A crash between creating the ref and writing the outbox row.
    repo = service._repo()
    main = repository.resolve(repo, "main")
    sig = repository.Identity("张三", "a@example.org").signature()
    text = (
        '{"id": "lost-1", "form": "quarterly", "period": "2022-Q1", "unit": "unit-b",'
        ' "submitted_at": "2022-10-08T09:30:00+08:00",'
        ' "submitted_by": {"account": "unit-b", "name": "李四"}, "values": {}}'
    )
    repository.commit_on_new_branch(
        repo,
        "submit/unit-b/lost-1",
        main,
        {"data/reports/quarterly/2022-Q1/unit-b/lost-1.json": text.encode()},
        "Submit",
        sig,
        sig,
    )
    assert service.get("lost-1") is None

    result = service.sync(now=T0)

    assert result.recovered == 1
    record = service.get("lost-1")
    assert (record.unit, record.form, record.period, record.submitted_by) == (
        "unit-b",
        "quarterly",
        "2022-Q1",
        "unit-b",
    )
    assert record.state == IN_REVIEW
    assert "refs/heads/submit/unit-b/lost-1" in remote_branches(instance)


def test_a_lost_outbox_file_is_rebuilt_from_the_refs(instance: Path, worktree: Path) -> None:
    first = SubmissionService.open_default(instance, worktree)
    for n in range(3):
        first.submit(sample_report(f"r-{n}"), [], "张三", "a@example.org")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{instance / 'submissions.sqlite'}{suffix}").unlink(missing_ok=True)

    second = SubmissionService.open_default(instance, worktree)
    assert second.list() == []
    assert second.sync(now=T0).recovered == 3

    assert sorted(r.id for r in second.list()) == ["r-0", "r-1", "r-2"]


def test_only_one_process_syncs_at_a_time(service: SubmissionService, instance: Path) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    with (instance / "sync.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker is syncing
        result = service.sync(now=T0)
        fcntl.flock(held, fcntl.LOCK_UN)

    assert result.skipped
    assert service.get("r-1").state == QUEUED
    assert not service.sync(now=T0).skipped
    assert service.get("r-1").state == IN_REVIEW


def test_the_background_sync_delivers_without_being_asked(service: SubmissionService) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    delivered = threading.Event()
    stop = service.start_background_sync(interval=0.05)
    try:
        for _ in range(200):
            if service.get("r-1").state == IN_REVIEW:
                delivered.set()
                break
            stop.wait(0.05)
    finally:
        stop.set()

    assert delivered.is_set()


def record(submission_id: str, unit: str, submitted_at: str) -> SubmissionRecord:
    return SubmissionRecord(
        id=submission_id,
        unit=unit,
        form="f",
        period="p",
        branch=f"submit/{unit}/{submission_id}",
        commit="0" * 40,
        state=QUEUED,
        reason="",
        submitted_at=datetime.fromisoformat(submitted_at),
        submitted_by=unit,
        review_url="",
        reviewer="",
    )


def test_records_list_newest_first_across_time_zones_and_filter(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    with sqlite3.connect(tmp_path / "o.sqlite") as db:  # readers never wait for a writer
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    outbox.add(record("a", "u1", "2022-10-08T09:00:00+08:00"))  # 01:00 UTC
    # Another period of the same unit: a newer submission of the same slot would
    # supersede "a" (see below).
    later_period = dataclasses.replace(record("b", "u1", "2022-10-08T02:00:00+00:00"), period="p2")
    outbox.add(later_period)  # 02:00 UTC
    outbox.add(record("c", "u2", "2022-10-08T08:30:00+08:00"))  # 00:30 UTC

    assert [r.id for r in outbox.records()] == ["b", "a", "c"]
    assert [r.id for r in outbox.records(unit="u1")] == ["b", "a"]
    assert outbox.decide("a", APPROVED, reviewer="王五")
    assert not outbox.decide("a", REJECTED, reason="late")  # decided once only
    assert [r.id for r in outbox.records(state=APPROVED)] == ["a"]
    assert outbox.entry("a").record.submitted_at == datetime.fromisoformat(
        "2022-10-08T09:00:00+08:00"
    )
    assert outbox.entry("a").record.state_label == "已通过"
    assert outbox.entry("b").record.state_label == "已提交，等待审核"


def test_a_submission_rejected_before_delivery_is_never_delivered(
    service: SubmissionService, instance: Path
) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.reject("r-1", "王五", "填错了单位")

    assert service.sync(now=T0).pushed == 0

    assert remote_branches(instance) == set()
    assert service.get("r-1").state == REJECTED


def reports_on_main(instance: Path) -> set[str]:
    out = git(instance / "remote.git", "ls-tree", "-r", "--name-only", "main", "data/reports/")
    return {line.rsplit("/", 1)[-1] for line in out.splitlines() if line.endswith(".json")}


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_an_approve_and_a_return_at_the_same_moment_leave_one_consistent_decision(
    service: SubmissionService, instance: Path, first: str
) -> None:
    """Security finding 14.1: the merge reached main while the return was recorded, so the
    reporter was told "returned" about a published report. Whichever decision starts
    first wins; the other is refused and changes nothing."""
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.sync(now=T0)
    inside, go_on = threading.Event(), threading.Event()
    # Hold the first decision where it is slowest: the merge, or (the local forge has no
    # pull request to close) just before the return is recorded.
    owner, slow = (
        (service.forge, "merge_pull_request") if first == "approve" else (service.outbox, "decide")
    )
    original = getattr(owner, slow)

    def held(*args: object, **kwargs: object) -> object:
        inside.set()  # the first decision is under way: now the second one lands
        assert go_on.wait(10)
        return original(*args, **kwargs)

    setattr(owner, slow, held)
    outcome: list[BaseException | None] = []

    def decide_first() -> None:
        try:
            if first == "approve":
                service.approve("r-1", "王五", "w@example.org")
            else:
                service.reject("r-1", "王五", "数字有误")
            outcome.append(None)
        except BaseException as error:  # reported by the assertion below
            outcome.append(error)

    thread = threading.Thread(target=decide_first)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(InvalidState) as refused:
        if first == "approve":
            service.reject("r-1", "赵六", "数字有误")
        else:
            service.approve("r-1", "赵六", "z@example.org")
    go_on.set()
    thread.join(10)
    setattr(owner, slow, original)

    assert outcome == [None]
    assert "其他审核人" in refused.value.user_message
    expected = APPROVED if first == "approve" else REJECTED
    assert service.get("r-1").state == expected
    published = reports_on_main(instance) == {"r-1.json"}
    assert published == (expected == APPROVED)


def test_a_decision_that_fails_at_the_forge_can_be_made_again(
    service: SubmissionService, instance: Path
) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.sync(now=T0)
    original = service.forge.merge_pull_request

    def unreachable(*args: object, **kwargs: object) -> None:
        raise RemoteUnavailable("the remote went away")

    service.forge.merge_pull_request = unreachable  # type: ignore[method-assign]
    with pytest.raises(RemoteUnavailable):
        service.approve("r-1", "王五", "w@example.org")
    service.forge.merge_pull_request = original  # type: ignore[method-assign]

    service.approve("r-1", "王五", "w@example.org")  # the claim was given back

    assert service.get("r-1").state == APPROVED
    assert reports_on_main(instance) == {"r-1.json"}


def test_approving_never_waits_for_another_units_push(
    service: SubmissionService, instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Security finding 14.4: a push of one unit's large submissions held the sync lock
    for minutes, and approving an unrelated small submission waited 99 s for it."""
    service.submit(sample_report("r-big", unit="unit-b"), [], "李四", "b@example.org")
    service.submit(sample_report("r-small"), [], "张三", "a@example.org")
    pushing, finish = threading.Event(), threading.Event()
    real_push = repository.push_branches

    def slow_push(repo, remote, branches, **kwargs):  # type: ignore[no-untyped-def]
        if any("unit-b" in branch for branch in branches):
            pushing.set()  # the big push is under way, holding the sync lock
            assert finish.wait(20)
        return real_push(repo, remote, branches, **kwargs)

    monkeypatch.setattr(repository, "push_branches", slow_push)
    syncing = threading.Thread(target=service.sync, kwargs={"now": T0})
    syncing.start()
    assert pushing.wait(10)

    approving = threading.Thread(target=service.approve, args=("r-small", "王五", "w@x.org"))
    approving.start()
    approving.join(5)
    approved_during_the_push = not approving.is_alive()
    finish.set()
    syncing.join(20)
    approving.join(20)

    assert approved_during_the_push
    assert service.get("r-small").state == APPROVED
    assert reports_on_main(instance) == {"r-small.json"}
    assert service.get("r-big").state == IN_REVIEW  # the sync finished its own work


def test_a_backlog_is_pushed_in_batches_each_recorded_before_the_next(
    service: SubmissionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forms import submissions

    monkeypatch.setattr(submissions, "PUSH_BATCH_BRANCHES", 2)
    for n in range(5):
        service.submit(sample_report(f"r-{n}", period=f"2022-P{n}"), [], "张三", "a@")
    calls: list[int] = []
    real_push = repository.push_branches

    def counted(repo, remote, branches, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(branches))
        if len(calls) == 3:
            raise repository.RemoteUnavailable("the remote went away mid-backlog")
        return real_push(repo, remote, branches, **kwargs)

    monkeypatch.setattr(repository, "push_branches", counted)

    result = service.sync(now=T0)

    assert calls == [2, 2, 1]
    assert (result.pushed, result.opened, result.failed) == (4, 4, 1)
    assert [r.state for r in sorted(service.list(), key=lambda r: r.id)] == [IN_REVIEW] * 4 + [
        QUEUED
    ]


# -- one live submission per unit x form x period ---------------------------------------------


def report_at(submission_id: str, submitted_at: str, **kwargs: Any) -> dict[str, Any]:
    return {**sample_report(submission_id, **kwargs), "submitted_at": submitted_at}


def test_a_newer_submission_for_the_same_slot_supersedes_the_pending_one(
    service: SubmissionService, instance: Path
) -> None:
    """Issue 13: two pending submissions of one slot could both be approved and both be
    published. The newer one now supersedes the older, which cannot be approved."""
    service.submit(report_at("r-1", "2022-10-08T09:30:00+08:00"), [], "张三", "a@example.org")
    service.sync(now=T0)
    service.submit(report_at("r-2", "2022-10-08T10:00:00+08:00"), [], "张三", "a@example.org")
    # Another unit's and another period's pending submissions are left alone.
    service.submit(report_at("r-3", "2022-10-08T09:00:00+08:00", unit="unit-b"), [], "李四", "b@")
    service.submit(report_at("r-4", "2022-10-08T09:00:00+08:00", period="2022-Q2"), [], "张", "a@")

    states = {r.id: r.state for r in service.list()}
    assert states == {"r-1": SUPERSEDED, "r-2": QUEUED, "r-3": QUEUED, "r-4": QUEUED}
    assert service.get("r-1").state_label == "已被更正取代"
    with pytest.raises(InvalidState) as refused:
        service.approve("r-1", "王五", "w@example.org")
    assert (
        refused.value.user_message
        == "该填报已被更正取代，不能审核；请审核同一单位、表单和周期的最新填报"
    )
    assert reports_on_main(instance) == set()
    service.approve("r-2", "王五", "w@example.org")
    assert reports_on_main(instance) == {"r-2.json"}


def test_an_older_submission_recovered_from_git_is_superseded_at_once(
    instance: Path, worktree: Path
) -> None:
    service = SubmissionService.open_default(instance, worktree)
    service.submit(report_at("r-1", "2022-10-08T09:30:00+08:00"), [], "张三", "a@example.org")
    service.submit(report_at("r-2", "2022-10-08T10:00:00+08:00"), [], "张三", "a@example.org")
    (instance / "submissions.sqlite").unlink()  # every row is rebuilt from the refs

    rebuilt = SubmissionService.open_default(instance, worktree)
    rebuilt.sync(now=T0)

    assert {r.id: r.state for r in rebuilt.list()} == {"r-1": SUPERSEDED, "r-2": IN_REVIEW}


def test_a_submission_being_approved_is_not_superseded_under_the_reviewer(
    service: SubmissionService, instance: Path
) -> None:
    """A correction arriving during the merge must not turn a published report into a
    "superseded" one: the approval finishes, the correction waits for its own review."""
    service.submit(report_at("r-1", "2022-10-08T09:30:00+08:00"), [], "张三", "a@example.org")
    service.sync(now=T0)
    original = service.forge.merge_pull_request

    def merge_then_correction_arrives(*args: object, **kwargs: object) -> object:
        service.submit(report_at("r-2", "2022-10-08T10:00:00+08:00"), [], "张三", "a@")
        return original(*args, **kwargs)

    service.forge.merge_pull_request = merge_then_correction_arrives  # type: ignore[method-assign]
    service.approve("r-1", "王五", "w@example.org")

    assert {r.id: r.state for r in service.list()} == {"r-1": APPROVED, "r-2": QUEUED}
    assert reports_on_main(instance) == {"r-1.json"}


def test_a_failed_approval_of_an_older_submission_leaves_it_superseded(
    service: SubmissionService,
) -> None:
    service.submit(report_at("r-1", "2022-10-08T09:30:00+08:00"), [], "张三", "a@example.org")
    service.sync(now=T0)

    def correction_then_failure(*args: object, **kwargs: object) -> None:
        service.submit(report_at("r-2", "2022-10-08T10:00:00+08:00"), [], "张三", "a@")
        raise RemoteUnavailable("the remote went away")

    service.forge.merge_pull_request = correction_then_failure  # type: ignore[method-assign]
    with pytest.raises(RemoteUnavailable):
        service.approve("r-1", "王五", "w@example.org")

    assert {r.id: r.state for r in service.list()} == {"r-1": SUPERSEDED, "r-2": QUEUED}


def test_a_reporter_withdraws_a_pending_submission_and_it_is_never_delivered(
    service: SubmissionService, instance: Path
) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    service.withdraw("r-1", "张三")

    record = service.get("r-1")
    assert (record.state, record.state_label, record.reviewer) == (WITHDRAWN, "已撤回", "张三")
    assert service.sync(now=T0).pushed == 0
    assert remote_branches(instance) == set()
    with pytest.raises(InvalidState) as refused:
        service.approve("r-1", "王五", "w@example.org")
    assert refused.value.user_message == "该填报已由填报单位撤回，不能审核"
    with pytest.raises(InvalidState):
        service.withdraw("r-1", "张三")  # once


def test_a_decided_submission_cannot_be_withdrawn(service: SubmissionService) -> None:
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    service.approve("r-1", "王五", "w@example.org")

    with pytest.raises(InvalidState) as refused:
        service.withdraw("r-1", "张三")

    assert refused.value.user_message == "该填报已通过，不能撤回"
    assert service.get("r-1").state == APPROVED


def test_adding_a_newer_submission_supersedes_the_pending_one_in_the_same_transaction(
    tmp_path: Path,
) -> None:
    """The 50-kill test found two live submissions in one slot: the service was killed
    between adding the newer row and superseding the older, and nothing did it later."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    first = record("a", "u1", "2022-10-08T09:00:00+08:00")
    newer = record("b", "u1", "2022-10-08T09:05:00+08:00")

    assert outbox.add(first, T0) == []
    assert outbox.add(newer, T0) == ["a"]

    assert outbox.entry("a").record.state == SUPERSEDED
    assert outbox.entry("b").record.state == QUEUED
    assert outbox.add(newer, T0) == []  # recovery adding it again changes nothing
