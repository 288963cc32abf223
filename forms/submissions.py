"""The form service's facade over git: submit, review, deliver.

A submission is one commit on its own branch `submit/<unit>/<id>` in the service's bare
repository; the branch existing *is* the acknowledgement. The outbox (sqlite) records
what happened next. `sync()` delivers queued branches to the remote and opens pull
requests, retrying with backoff while the remote or forge is down; approval merges into
the remote's main (local forge) or merges the pull request (Gitea, GitHub).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pygit2

from builder.model import Problem, Report, evidence_dir, is_identifier, report_path
from builder.reports import REPORTS_DIR, parse_report, report_from_document, report_json
from forms import repository
from forms.forges import FORGES, make_forge
from forms.forges.base import (
    CLOSED,
    MERGED,
    Forge,
    ForgeConfig,
    ForgeError,
    ForgeRateLimited,
    ForgeUnavailable,
    PullRequestDecided,
    ReportLabels,
    WebhookEvent,
    identifier_labels,
    pull_request_text,
)
from forms.locks import file_lock
from forms.outbox import (
    APPROVED,
    ENDED_UNDECIDED,
    IN_REVIEW,
    OPEN,
    QUEUED,
    REJECTED,
    SUPERSEDED,
    WITHDRAWN,
    Outbox,
    OutboxEntry,
    SubmissionRecord,
)
from forms.repository import Identity, RemoteUnavailable

__all__ = [
    "EvidenceFile",
    "ForgeConfig",
    "GitConfig",
    "Identity",
    "InvalidState",
    "RemoteUnavailable",
    "SubmissionRecord",
    "SubmissionService",
    "SyncResult",
]

log = logging.getLogger(__name__)

# `<n>-<sanitised name>`: the evidence checker made it safe; we still refuse anything that
# could leave its folder (a slash, a control character, a leading dot, "..").
EVIDENCE_FILE = re.compile(r"^[0-9]{1,6}-[^/\\\x00-\x1f\x7f]{1,200}$")
CLOSED_ON_FORGE = "已在代码托管平台上关闭"
# The comment a pull request gets when it is closed for a submission that ended undecided.
CLOSING_COMMENTS = {
    SUPERSEDED: "该填报已被同一单位、表单和周期的更正取代，合并请求已关闭。",
    WITHDRAWN: "该填报已由填报单位撤回，合并请求已关闭。",
}
# Seconds after which a ref lock is taken for a killed process's leftover (see sync()).
STALE_MAIN_LOCK = 60.0
STALE_PUSH_LOCK = 2.0
# One push carries at most this much: progress is recorded between batches.
PUSH_BATCH_BRANCHES = 50
PUSH_BATCH_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class EvidenceFile:
    file: str  # "<n>-<sanitised>", already checked by forms.evidence
    name: str  # as uploaded, for display
    media_type: str
    data: bytes


@dataclass(frozen=True)
class GitConfig:
    instance_dir: Path
    service_repo: Path  # the service's own bare repository
    remote: str  # path of a local bare repository, or an https URL
    main_branch: str = "main"
    forge: ForgeConfig = field(default_factory=ForgeConfig)
    committer: Identity = field(
        default_factory=lambda: Identity("plansite form service", "plansite@localhost")
    )
    remote_username: str = ""  # https push: user and token (never put them in the URL)
    remote_password: str = ""
    fetch_interval: float = 5.0  # at most one fetch of main per process in this many seconds
    retry_base: float = 5.0  # backoff after a failed delivery: base * 2^(n-1), capped
    retry_cap: float = 600.0
    poll_interval: float = 60.0  # how often an open pull request's state is asked for

    def __post_init__(self) -> None:
        if not is_identifier(self.main_branch):
            raise ValueError(f"main branch must be an identifier: {self.main_branch!r}")
        if self.forge.kind not in FORGES:
            raise ValueError(f"unknown forge kind: {self.forge.kind!r}")

    @property
    def outbox_path(self) -> Path:
        return self.instance_dir / "submissions.sqlite"


def embedded_config(instance_dir: Path, worktree: Path) -> GitConfig:
    """The embedded setup: a local bare `remote.git` seeded from the working tree's
    committed HEAD on first run, the service's own `service.git`, the local forge."""
    remote = instance_dir / "remote.git"
    if not remote.exists():
        repository.seed_bare_from_worktree(worktree, remote, "main")
    return GitConfig(
        instance_dir=instance_dir, service_repo=instance_dir / "service.git", remote=str(remote)
    )


class InvalidState(Exception):
    """The submission is not in a state that allows this (approved twice, unknown id...)."""

    def __init__(self, message: str, user_message: str):
        super().__init__(message)
        self.user_message = user_message

    def __reduce__(self) -> tuple[type[InvalidState], tuple[str, str]]:
        # Raised in a worker process too: it must cross back whole.
        return (InvalidState, (str(self), self.user_message))


@dataclass
class SyncResult:
    recovered: int = 0
    pushed: int = 0
    opened: int = 0
    failed: int = 0
    decided: int = 0
    skipped: bool = False  # another process was syncing


class SubmissionService:
    def __init__(
        self,
        config: GitConfig,
        *,
        labels: Callable[[Report], ReportLabels] | None = None,
        forge: Forge | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.labels = labels or identifier_labels
        self.forge = forge or make_forge(
            config.forge,
            remote=config.remote,
            main_branch=config.main_branch,
            committer=config.committer,
        )
        self.clock = clock
        self.outbox = Outbox(config.outbox_path)
        self._callbacks: builtins.list[Callable[[str], None]] = []
        self._last_fetch = float("-inf")
        self._fetch_lock = threading.Lock()
        self._handles = threading.local()
        repository.enable_durable_writes()
        repository.open_or_init_bare(config.service_repo)
        # Best effort: a service that has a copy of main can accept submissions even if
        # the remote goes away later.
        self._refresh_main()

    @classmethod
    def open_default(
        cls,
        instance_dir: Path,
        worktree: Path,
        *,
        labels: Callable[[Report], ReportLabels] | None = None,
    ) -> SubmissionService:
        """The embedded setup (embedded_config)."""
        return cls(embedded_config(instance_dir, worktree), labels=labels)

    # -- reading -------------------------------------------------------------------------

    def _repo(self) -> pygit2.Repository:
        # One handle per thread and process: libgit2 handles must not be shared across
        # threads or survive a fork. A kept handle sees other processes' writes (refs are
        # read from disk at each lookup, and a missing object makes libgit2 look for new
        # packs).
        handles = self._handles
        if getattr(handles, "pid", None) != os.getpid():
            handles.repo = pygit2.Repository(str(self.config.service_repo))
            handles.pid = os.getpid()
        return handles.repo  # type: ignore[no-any-return]

    def get(self, submission_id: str) -> SubmissionRecord | None:
        if not is_identifier(submission_id):
            return None
        entry = self.outbox.entry(submission_id)
        return entry.record if entry else None

    def list(
        self, *, unit: str | None = None, state: str | None = None
    ) -> builtins.list[SubmissionRecord]:
        """Newest first."""
        return self.outbox.records(unit=unit, state=state)

    def _require(self, submission_id: str) -> OutboxEntry:
        entry = self.outbox.entry(submission_id) if is_identifier(submission_id) else None
        if entry is None:
            raise InvalidState(f"unknown submission {submission_id!r}", "找不到该填报记录")
        return entry

    def read_report(self, submission_id: str) -> Report:
        """The submitted report (builder.reports' checks; ReportError if it fails them)."""
        record = self._require(submission_id).record
        path = report_path(record.form, record.period, record.unit, record.id)
        return _read_report(self._repo(), record.commit, path)

    def read_evidence(self, submission_id: str, file: str) -> bytes:
        record = self._require(submission_id).record
        if not _is_evidence_file(file):
            raise FileNotFoundError(file)
        folder = evidence_dir(record.form, record.period, record.unit, record.id)
        return repository.read_blob(self._repo(), record.commit, f"{folder}/{file}")

    def diff(self, submission_id: str) -> str:
        record = self._require(submission_id).record
        return repository.diff_to_parent(self._repo(), record.commit)

    def main_commit(self) -> str | None:
        """The commit of main as the service last fetched it (at most every
        fetch_interval seconds), None before any copy of main."""
        self._refresh_main()
        main = repository.resolve(self._repo(), self.config.main_branch)
        return str(main.id) if main is not None else None

    def reports_on_main(self, commit: str, folder: str = REPORTS_DIR) -> builtins.list[Report]:
        """The approved reports under `folder` of main at `commit` (a slot's folder, or all
        of data/reports); a file that fails the report checks is logged and left out, as
        the site's build leaves it out."""
        reports = []
        for path, data in repository.files_under(self._repo(), commit, folder, ".json"):
            problems: builtins.list[Problem] = []
            try:
                report = parse_report(path, json.loads(data), None, problems)
            except ValueError:
                report = None
            if report is None:
                log.warning("report %s on main cannot be read: %s", path, problems)
                continue
            reports.append(report)
        return reports

    # -- submitting ----------------------------------------------------------------------

    def submit(
        self,
        report: Mapping[str, Any],
        evidence: Sequence[EvidenceFile],
        author_name: str,
        author_email: str,
    ) -> SubmissionRecord:
        """Commit the report (and its evidence) on a new branch; return once it is on disk.

        Everything is checked before anything is written: a ValueError leaves no trace.
        `report["evidence"]` is rewritten from the files actually stored (size, sha256).
        """
        checked, files = _prepare(report, evidence)
        author = Identity.cleaned(author_name, author_email).signature(checked.submitted_at)
        branch = repository.submission_branch(checked.unit, checked.id)
        self._refresh_main()
        repo = self._repo()
        main = repository.resolve(repo, self.config.main_branch)
        if main is None:
            raise RemoteUnavailable("the service has no copy of main yet and the remote is down")
        message = (
            f"Submit {checked.form} {checked.period} for {checked.unit}\n\n"
            f"Submission: {checked.id}\n"
        )
        oid = repository.commit_on_new_branch(
            repo, branch, main, files, message, author, self.config.committer.signature()
        )
        record = _queued_record(checked, branch, str(oid))
        self._superseded(record, self.outbox.add(record, self.clock()))
        log.info("submission %s committed on %s (%s)", record.id, branch, oid)
        return record

    def _superseded(self, record: SubmissionRecord, ids: Sequence[str]) -> None:
        for submission_id in ids:
            log.info("submission %s superseded by %s", submission_id, record.id)

    def _refresh_main(self, *, force: bool = False) -> str | None:
        """Fetch main from the remote, at most every fetch_interval seconds unless forced.

        A failure is logged, not raised: submissions keep working on the last known main
        while the remote is away.
        """
        with self._fetch_lock:
            now = time.monotonic()
            if not force and now - self._last_fetch < self.config.fetch_interval:
                return None
            for attempt in range(3):
                try:
                    oid = repository.fetch_branch(
                        self._repo(),
                        self.config.remote,
                        self.config.main_branch,
                        self.config.main_branch,
                        username=self.config.remote_username,
                        password=self.config.remote_password,
                    )
                    self._last_fetch = now
                    return str(oid)
                except RemoteUnavailable as error:
                    # Also raised when another process holds the lock on our main ref.
                    log.warning("fetching main failed (attempt %d): %s", attempt + 1, error)
                    time.sleep(0.05 * (attempt + 1))
            return None

    # -- delivering ----------------------------------------------------------------------

    def sync(self, *, now: float | None = None) -> SyncResult:
        """Push queued branches, open their pull requests, poll open ones. Idempotent;
        only one process syncs at a time (the others return at once)."""
        result = SyncResult()
        with self._sync_lock(blocking=False) as locked:
            if not locked:
                result.skipped = True
                return result
            now = self.clock() if now is None else now
            result.recovered = self.recover()
            self._remove_stale_locks(self.outbox.due(QUEUED, now))
            self._refresh_main(force=True)
            self._deliver(self.outbox.due(QUEUED, now), now, result)
            if self.forge.kind != "local":
                self._poll(self.outbox.due(IN_REVIEW, now), now, result)
                self._close_ended_reviews(now, result)
        return result

    def _sync_lock(self, *, blocking: bool) -> contextlib.AbstractContextManager[bool]:
        return file_lock(self.config.instance_dir / "sync.lock", blocking=blocking)

    def recover(self) -> int:
        """Add to the outbox every submission branch it does not know (a crash between the
        ref and the outbox row, or a lost sqlite file): the refs are the truth."""
        known = self.outbox.ids()
        repo = self._repo()
        added = 0
        for name in repo.references:
            parsed = repository.parse_submission_branch(name)
            if parsed is None or parsed[1] in known:
                continue
            record = _record_from_commit(repo, name, *parsed)
            if record is not None:
                self._superseded(record, self.outbox.add(record, self.clock()))
                added += 1
        return added

    def _remove_stale_locks(self, queued: Sequence[OutboxEntry]) -> None:
        """Locks a killed process left on main (a fetch, a merge) or on a submission branch
        in the remote (a push). Submission branches reach the remote only under the sync
        lock, which we hold: their locks are stale after a moment; main's after a minute."""
        main = _ref(self.config.main_branch)
        repository.remove_stale_ref_locks(self.config.service_repo, [main], STALE_MAIN_LOCK)
        if "://" in self.config.remote:
            return  # a remote server looks after its own locks
        remote = Path(self.config.remote)
        repository.remove_stale_ref_locks(remote, [main], STALE_MAIN_LOCK)
        branches = [_ref(e.record.branch) for e in queued if not e.pushed]
        repository.remove_stale_ref_locks(remote, branches, STALE_PUSH_LOCK)

    def _deliver(self, entries: Sequence[OutboxEntry], now: float, result: SyncResult) -> None:
        """Push in small batches, each recorded (and its reviews opened) before the next:
        a unit that sent hundreds of megabytes delays its own delivery, not the
        others', and a failure loses no progress."""
        if not self._open_reviews([e for e in entries if e.pushed], now, result):
            return
        for batch in push_batches([e for e in entries if not e.pushed]):
            pushed = self._push_batch(batch, now, result)
            if pushed is None or not self._open_reviews(pushed, now, result):
                return

    def _push_batch(
        self, batch: Sequence[OutboxEntry], now: float, result: SyncResult
    ) -> builtins.list[OutboxEntry] | None:
        """The entries of `batch` now on the remote; None if the remote is away."""
        try:
            refused = repository.push_branches(
                self._repo(),
                self.config.remote,
                [e.record.branch for e in batch],
                username=self.config.remote_username,
                password=self.config.remote_password,
            )
        except RemoteUnavailable as error:
            log.warning("push of %d branches failed: %s", len(batch), error)
            self._failed([e.record.id for e in batch], str(error), now, result)
            return None
        pushed = [e for e in batch if _ref(e.record.branch) not in refused]
        self.outbox.mark_pushed([e.record.id for e in pushed])
        result.pushed += len(pushed)
        for entry in batch:
            reason = refused.get(_ref(entry.record.branch))
            if reason is not None:
                self._failed([entry.record.id], f"push refused: {reason}", now, result)
        return pushed

    def _open_reviews(self, entries: Sequence[OutboxEntry], now: float, result: SyncResult) -> bool:
        """Open the pull requests of delivered entries; False if the forge is away. While
        its rate limit lasts nothing is opened, but pushing goes on (git, not the API)."""
        if self._forge_paused(now):
            return True
        for position, entry in enumerate(entries):
            try:
                self._open_review(entry.record)
                result.opened += 1
            except ForgeRateLimited as error:
                # Not this submission's fault: no failed attempt, no request until the reset.
                self._pause(error, now)
                return True
            except ForgeUnavailable as error:
                # The forge is down: the rest would fail the same way; try again later.
                log.warning("forge unavailable: %s", error)
                rest = [e.record.id for e in entries[position:]]
                self._failed(rest, str(error), now, result)
                return False
            except ForgeError as error:
                log.error("forge refused pull request for %s: %s", entry.record.id, error)
                self._failed([entry.record.id], str(error), now, result)
                self._push_again_if_gone(entry.record)
        return True

    def _push_again_if_gone(self, record: SubmissionRecord) -> None:
        """A branch deleted from the remote before its pull request opened is refused by
        every attempt to open one: push it again instead (the service keeps its own)."""
        try:
            gone = not self.forge.branch_exists(record.branch)
        except ForgeError as error:
            log.warning("cannot tell whether %s is on the forge: %s", record.branch, error)
            return
        if gone:
            log.warning("branch %s is gone from the remote: pushing it again", record.branch)
            self.outbox.mark_unpushed(record.id)

    def _forge_paused(self, now: float) -> bool:
        return now < self.outbox.forge_paused_until()

    def _pause(self, error: ForgeRateLimited, now: float) -> float:
        until = error.resume_at(now)
        self.outbox.pause_forge(until)
        log.warning("forge rate limit reached, nothing is sent for %.0f s: %s", until - now, error)
        return until

    def _paused_by(self, error: ForgeRateLimited) -> ForgeRateLimited:
        """Record the pause a reviewer's request ran into; the refusal to show them."""
        now = self.clock()
        return ForgeRateLimited.paused(self._pause(error, now), now)

    def _refuse_while_paused(self) -> None:
        """A reviewer's decision while the forge's rate limit lasts: refused, unsent."""
        now = self.clock()
        until = self.outbox.forge_paused_until()
        if now < until:
            raise ForgeRateLimited.paused(until, now)

    def _failed(self, ids: Sequence[str], error: str, now: float, result: SyncResult) -> None:
        self.outbox.mark_failed(ids, error, now, self.config.retry_base, self.config.retry_cap)
        result.failed += len(ids)

    def _open_review(self, record: SubmissionRecord) -> tuple[int | None, str]:
        if self.forge.kind == "local":
            self.outbox.mark_in_review(record.id, None, "")
            return None, ""
        report = self.read_report(record.id)
        text = pull_request_text(report, self.labels(report))
        number, url = self.forge.open_pull_request(record, text.title, text.body)
        if not self.outbox.mark_in_review(record.id, number, url):
            # Ended while we were opening it: do not leave a pull request open.
            current = self.outbox.entry(record.id)
            if current is not None and current.record.state == REJECTED:
                self.forge.close_pull_request(record, number, f"退回原因：{current.record.reason}")
            elif current is not None and current.record.state in ENDED_UNDECIDED:
                # Kept, so that the sync loop closes it should closing fail now.
                self.outbox.record_pull_request(record.id, number, url)
                self._close_ended_review(current.record, number)
        return number, url

    def _close_ended_review(self, record: SubmissionRecord, number: int) -> None:
        self.forge.close_pull_request(record, number, CLOSING_COMMENTS[record.state])
        self.outbox.mark_review_closed(record.id)
        log.info("pull request %s of %s submission %s closed", number, record.state, record.id)

    def _close_ended_reviews(self, now: float, result: SyncResult) -> None:
        """Close the pull requests of superseded and withdrawn submissions: nobody should
        merge an old version in the forge."""
        for entry in self.outbox.open_reviews_to_close(now):
            assert entry.pr_number is not None
            try:
                self._close_ended_review(entry.record, entry.pr_number)
            except ForgeError as error:
                log.warning("closing pull request %s failed: %s", entry.pr_number, error)
                self._failed([entry.record.id], str(error), now, result)
                if isinstance(error, ForgeUnavailable):
                    return

    def _poll(self, entries: Sequence[OutboxEntry], now: float, result: SyncResult) -> None:
        if self._forge_paused(now):
            return
        for entry in entries:
            if entry.pr_number is None:
                continue
            try:
                state = self.forge.pull_request_state(entry.pr_number)
            except ForgeRateLimited as error:
                self._pause(error, now)
                return
            except ForgeError as error:
                log.warning("polling pull request %s failed: %s", entry.pr_number, error)
                self.outbox.schedule(entry.record.id, now + self.config.poll_interval)
                if isinstance(error, ForgeUnavailable):
                    return
                continue
            if self._apply_forge_state(entry.record, state, actor=""):
                result.decided += 1
            else:
                self.outbox.schedule(entry.record.id, now + self.config.poll_interval)

    def _apply_forge_state(self, record: SubmissionRecord, state: str, actor: str) -> bool:
        """Record what happened on the forge; True if it decided the submission."""
        if state == MERGED:
            # Merged in the forge, so it is on main whatever the service thought of it:
            # a superseded or withdrawn one too (shown as what main holds).
            if self.outbox.decide(record.id, APPROVED, reviewer=actor, also_from=ENDED_UNDECIDED):
                self._merged()
                return True
        elif state == CLOSED:
            return self._closed_on_forge(record, actor)
        return False

    def _closed_on_forge(self, record: SubmissionRecord, actor: str) -> bool:
        """Closed without merging: a rejection, unless its head branch was deleted (both
        forges then close the pull request themselves): that submission goes out again."""
        try:
            branch_there = self.forge.branch_exists(record.branch)
        except ForgeError as error:
            # Cannot tell now; polling asks again later.
            log.warning("cannot tell whether %s is on the forge: %s", record.branch, error)
            return False
        if branch_there:
            return self.outbox.decide(record.id, REJECTED, reviewer=actor, reason=CLOSED_ON_FORGE)
        if self.outbox.requeue(record.id):
            log.warning(
                "the branch of %s was deleted on the forge, closing its pull request: "
                "delivering it again",
                record.id,
            )
        return False

    # -- reviewing -----------------------------------------------------------------------

    def approve(
        self,
        submission_id: str,
        reviewer_name: str,
        reviewer_email: str,
        *,
        comment: str = "",
        publish: bool = True,
    ) -> None:
        """Merge the submission into main (local forge) or merge its pull request.

        `comment`, the reviewer's optional words, goes into the merge commit's message and
        the submission's record. `publish=False` leaves the rebuild to the caller's
        `publish_merges()`: a batch of approvals is then published by one build.
        Idempotent after a crash: a branch already contained in main is not merged twice.
        Raises RemoteUnavailable / ForgeUnavailable when the remote cannot be reached.
        """
        if self.forge.kind != "local":
            self._refuse_while_paused()
        reviewer = Identity.cleaned(reviewer_name, reviewer_email)
        with self._deciding(submission_id) as entry:
            record = entry.record
            title = f"Approve submission {record.id} ({record.unit} {record.form} {record.period})"
            comment = review_comment(comment)
            message = f"Reviewed-by: {reviewer.name} <{reviewer.email}>"
            if comment:
                message = f"{comment}\n\n{message}"
            try:
                if record.state == QUEUED:
                    entry = self._deliver_now(entry)
                self.forge.merge_pull_request(
                    record, entry.pr_number or 0, title, message, reviewer
                )
            except PullRequestDecided as closed:
                self._apply_forge_state(record, closed.state, actor="")
                now = self._require(record.id).record.state
                raise InvalidState(
                    str(closed),
                    "该填报的合并请求已在代码托管平台上关闭，未合并；已记为已退回。"
                    if now == REJECTED
                    else "该填报的分支在代码托管平台上被删除，合并请求随之关闭；"
                    "填报已重新排队提交，请稍后再审核。",
                ) from closed
            except ForgeRateLimited as error:
                raise self._paused_by(error) from error
            # False only if the forge's own event recorded the merge first: approved anyway.
            self.outbox.decide(record.id, APPROVED, reviewer=reviewer.name, reason=comment)
        log.info("submission %s approved by %s", record.id, reviewer.name)
        if publish:
            self._merged()

    def publish_merges(self) -> None:
        """Tell the rebuild (and every on_merged callback) about main's newest commit once,
        after approvals made with `publish=False`."""
        self._merged()

    def refusal(self, submission_id: str) -> InvalidState | None:
        """Why the submission cannot be decided now (decided, superseded, withdrawn), or
        None while it may be: asked before a reviewer is shown a confirmation page."""
        entry = self._require(submission_id)
        return None if entry.record.state in OPEN else self._undecidable(submission_id, entry)

    def reject(self, submission_id: str, reviewer_name: str, reason: str) -> None:
        """Close the submission without merging; the reason is shown to the reporter."""
        reviewer = " ".join(reviewer_name.split())
        reason = reason.strip()
        with self._deciding(submission_id) as entry:
            if entry.pr_number is not None and self.forge.kind != "local":
                self._refuse_while_paused()
                try:
                    self.forge.close_pull_request(
                        entry.record, entry.pr_number, f"退回原因：{reason}"
                    )
                except PullRequestDecided as merged:
                    self._apply_forge_state(entry.record, merged.state, actor="")
                    raise InvalidState(
                        str(merged), "该填报已在代码托管平台上合并，无法退回；已记为已通过。"
                    ) from merged
                except ForgeRateLimited as error:
                    raise self._paused_by(error) from error
            if not self.outbox.decide(entry.record.id, REJECTED, reviewer=reviewer, reason=reason):
                # The forge's own event decided it while we closed the pull request.
                raise self._undecidable(entry.record.id)
        log.info("submission %s rejected by %s", entry.record.id, reviewer)

    def withdraw(self, submission_id: str, reporter_name: str) -> None:
        """The reporter takes an undecided submission back: it is never approved; its
        pull request on a remote forge is closed (now, or by the sync loop)."""
        reporter = " ".join(reporter_name.split())
        with self._deciding(submission_id, doing="withdraw") as entry:
            if not self.outbox.decide(entry.record.id, WITHDRAWN, reviewer=reporter):
                raise self._undecidable(entry.record.id, doing="withdraw")
        log.info("submission %s withdrawn by %s", entry.record.id, reporter)
        if entry.pr_number is not None and self.forge.kind != "local":
            try:
                self._close_ended_review(self._require(entry.record.id).record, entry.pr_number)
            except ForgeError as error:
                log.warning(
                    "closing pull request %s failed, sync retries: %s", entry.pr_number, error
                )

    @contextlib.contextmanager
    def _deciding(self, submission_id: str, doing: str = "review") -> Iterator[OutboxEntry]:
        """Hold the submission's claim over a whole decision (forge call and record).

        Without it an approve and a return landing together could both act: the merge
        reaches main while the return is recorded, and the reporter is told "returned"
        about a published report. The claim is given back if the decision fails.
        """
        entry = self._require(submission_id)
        if entry.record.state not in OPEN:
            raise self._undecidable(submission_id, entry, doing)
        if not self.outbox.claim(submission_id, self.clock()):
            raise self._undecidable(submission_id, doing=doing)
        try:
            yield self._require(submission_id)
        except BaseException:
            self.outbox.release(submission_id, self.clock())
            raise

    def _undecidable(
        self, submission_id: str, entry: OutboxEntry | None = None, doing: str = "review"
    ) -> InvalidState:
        entry = entry or self._require(submission_id)
        state = entry.record.state
        message = f"submission {submission_id} is {state}"
        if doing == "withdraw":
            if state in OPEN:
                return InvalidState(message, "审核人正在处理该填报，暂时不能撤回，请稍后刷新页面")
            return InvalidState(message, f"该填报{entry.record.state_label}，不能撤回")
        if state in OPEN:
            return InvalidState(
                f"submission {submission_id} is being decided by another request",
                "该填报正由其他审核人处理，请稍后刷新页面查看结果",
            )
        if state == SUPERSEDED:
            return InvalidState(
                message, "该填报已被更正取代，不能审核；请审核同一单位、表单和周期的最新填报"
            )
        if state == WITHDRAWN:
            return InvalidState(message, "该填报已由填报单位撤回，不能审核")
        return InvalidState(message, f"该填报{entry.record.state_label}，不能重复审核")

    def _deliver_now(self, entry: OutboxEntry) -> OutboxEntry:
        """Deliver one queued submission now (a reviewer is waiting), without waiting for
        the sync loop: its claim keeps the loop away from this one, and a push of other
        units' branches never holds an approval up."""
        current = self._require(entry.record.id)
        if current.record.state != QUEUED:
            return current
        if not current.pushed:
            try:
                self._push_one(current.record)
            except RemoteUnavailable:
                # The sync loop may have been pushing this very branch when we claimed it
                # (it read the queue just before): the ref was locked. Once more, after it.
                time.sleep(0.5)
                if not self._require(entry.record.id).pushed:
                    self._push_one(current.record)
        self._open_review(current.record)
        return self._require(entry.record.id)

    def _push_one(self, record: SubmissionRecord) -> None:
        refused = repository.push_branches(
            self._repo(),
            self.config.remote,
            [record.branch],
            username=self.config.remote_username,
            password=self.config.remote_password,
        )
        if refused:
            raise RemoteUnavailable(f"push refused: {refused}")
        self.outbox.mark_pushed([record.id])

    # -- events --------------------------------------------------------------------------

    def handle_webhook(self, kind: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Act on a forge webhook. False (and nothing done) unless `kind` is the configured
        forge and the signature verifies."""
        if kind != self.forge.kind:
            return False
        event = self.forge.verify_webhook(headers, body)
        if event is None:
            log.warning("refused a %s webhook with a missing or wrong signature", kind)
            return False
        if event.kind == "pull_request":
            entry = self._recorded_pull_request(event)
            if entry is None:
                return True  # signed, but not one of ours: nothing to do
            if event.action == "closed":
                self._apply_forge_state(
                    entry.record, MERGED if event.merged else CLOSED, actor=event.actor
                )
            elif event.action == "reopened" and self.outbox.reopen(
                entry.record.id, CLOSED_ON_FORGE
            ):
                log.info("pull request of %s reopened: in review again", entry.record.id)
        elif event.kind == "push" and event.ref == _ref(self.config.main_branch):
            self._merged()
        return True

    def _recorded_pull_request(self, event: WebhookEvent) -> OutboxEntry | None:
        """The submission whose recorded pull request the event is about: same number, our
        repository, its head in our repository on the submission's branch, into main. A
        branch name alone proves nothing (a fork may use the same name)."""
        if event.number is None:
            return None
        entry = self.outbox.entry_for_pull_request(event.number)
        ours = self.forge.full_name.casefold()
        if (
            entry is None
            or event.repository.casefold() != ours
            or event.head_repository.casefold() != ours
            or event.base_branch != self.config.main_branch
            or event.branch != entry.record.branch
        ):
            log.info(
                "ignored a pull request event not about a recorded submission: #%s %s:%s -> %s:%s",
                event.number,
                event.head_repository,
                event.branch,
                event.repository,
                event.base_branch,
            )
            return None
        return entry

    def on_merged(self, callback: Callable[[str], None]) -> None:
        """Call `callback(new main commit)` after every merge into main this process sees."""
        self._callbacks.append(callback)

    def _merged(self) -> None:
        commit = self._refresh_main(force=True)
        if commit is None:
            main = repository.resolve(self._repo(), self.config.main_branch)
            commit = str(main.id) if main is not None else None
        if commit is None:
            return
        for callback in list(self._callbacks):
            try:
                callback(commit)
            except Exception:
                log.exception("on_merged callback failed")

    def start_background_sync(self, interval: float = 30.0) -> threading.Event:
        """Run sync() every `interval` seconds in a daemon thread; set the event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.sync()
                except Exception:
                    log.exception("background sync failed")
                stop.wait(interval)

        threading.Thread(target=loop, name="plansite-sync", daemon=True).start()
        return stop


def review_comment(text: str) -> str:
    """A reviewer's comment as it is kept: no control characters but line breaks, no
    blank lines at either end (it becomes part of a commit message)."""
    kept = "".join(c for c in text.replace("\r\n", "\n") if c == "\n" or c.isprintable())
    return kept.strip()


def push_batches(entries: Sequence[OutboxEntry]) -> Iterator[builtins.list[OutboxEntry]]:
    """Consecutive batches of at most PUSH_BATCH_BRANCHES branches and, unless a single
    submission is bigger, PUSH_BATCH_BYTES of evidence."""
    batch: builtins.list[OutboxEntry] = []
    size = 0
    for entry in entries:
        weight = entry.record.evidence_bytes
        if batch and (len(batch) >= PUSH_BATCH_BRANCHES or size + weight > PUSH_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += weight
    if batch:
        yield batch


def _ref(branch: str) -> str:
    return repository.branch_ref(branch)


def _is_evidence_file(name: str) -> bool:
    return (
        EVIDENCE_FILE.fullmatch(name) is not None
        and ".." not in name
        and not name.endswith((".", " "))
        and len(name.encode()) <= 240
    )


def _prepare(
    report: Mapping[str, Any], evidence: Sequence[EvidenceFile]
) -> tuple[Report, dict[str, bytes]]:
    """Check a report and its evidence; return the report as committed and the files to
    commit. Pure: raises ValueError before anything touches the repository.

    The report is checked as every report document is (builder.reports); its evidence
    is the files given (their size and SHA-256), whatever `report["evidence"]` says.
    """
    if not isinstance(report, Mapping):
        raise ValueError("report must be a mapping")
    names: set[str] = set()
    for item in evidence:
        if not _is_evidence_file(item.file):
            raise ValueError(f"unsafe evidence file name: {item.file!r}")
        if item.file in names:
            raise ValueError(f"evidence file given twice: {item.file!r}")
        names.add(item.file)
    submitted_at = report.get("submitted_at")
    if isinstance(submitted_at, datetime):
        submitted_at = submitted_at.isoformat()
    stored = [
        {
            "file": item.file,
            "name": item.name,
            "media_type": item.media_type,
            "size": len(item.data),
            "sha256": hashlib.sha256(item.data).hexdigest(),
        }
        for item in evidence
    ]
    checked = report_from_document({**report, "submitted_at": submitted_at, "evidence": stored})
    path = report_path(checked.form, checked.period, checked.unit, checked.id)
    files = {path: report_json(checked).encode()}
    folder = evidence_dir(checked.form, checked.period, checked.unit, checked.id)
    for item in evidence:
        files[f"{folder}/{item.file}"] = item.data
    return checked, files


def _queued_record(report: Report, branch: str, commit: str) -> SubmissionRecord:
    return SubmissionRecord(
        id=report.id,
        unit=report.unit,
        form=report.form,
        period=report.period,
        branch=branch,
        commit=commit,
        state=QUEUED,
        reason="",
        submitted_at=report.submitted_at,
        submitted_by=report.submitted_by.get("account", ""),
        review_url="",
        reviewer="",
        evidence_bytes=sum(item.size for item in report.evidence),
    )


def _read_report(repo: pygit2.Repository, commit: str, path: str) -> Report:
    return report_from_document(json.loads(repository.read_blob(repo, commit, path)), path)


def _record_from_commit(
    repo: pygit2.Repository, ref: str, unit: str, submission_id: str
) -> SubmissionRecord | None:
    commit = repo[repo.references[ref].target].peel(pygit2.Commit)
    suffix = f"/{unit}/{submission_id}.json"
    parent = commit.parents[0].tree if commit.parents else None
    diff = parent.diff_to_tree(commit.tree) if parent is not None else commit.tree.diff_to_tree()
    for delta in diff.deltas:
        path = delta.new_file.path
        if path.startswith("data/reports/") and path.endswith(suffix):
            try:
                report = _read_report(repo, str(commit.id), path)
            except ValueError as error:
                log.error("cannot recover %s: %s", ref, error)
                return None
            return _queued_record(report, ref.removeprefix("refs/heads/"), str(commit.id))
    log.error("cannot recover %s: no report in its commit", ref)
    return None
