"""The local forge: review happens in the form service itself, approval merges directly
into the main branch of a repository on this machine (the embedded default)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from forms import repository
from forms.forges.base import OPEN, ForgeConfig, WebhookEvent
from forms.locks import file_lock

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord


class LocalForge:
    kind = "local"
    full_name = ""

    def __init__(self, remote: Path, committer: repository.Identity, *, main_branch: str = "main"):
        self.remote = remote
        self.committer = committer
        self.main_branch = main_branch

    def open_pull_request(self, record: SubmissionRecord, title: str, body: str) -> tuple[int, str]:
        # No pull request object: the pushed branch is what the reviewer decides on.
        return 0, ""

    def pull_request_state(self, number: int) -> str:
        # Decisions are only ever taken through the service, which records them itself.
        return OPEN

    def merge_pull_request(
        self,
        record: SubmissionRecord,
        number: int,
        title: str,
        message: str,
        reviewer: repository.Identity,
    ) -> None:
        repo = pygit2.Repository(str(self.remote))
        # One merge at a time across workers: concurrent approvals otherwise race on main's
        # compare-and-swap and redo their merges.
        # The compare-and-swap still guards against pushes from outside the service.
        with file_lock(self.remote / "plansite-merge.lock"):
            repository.merge_into(
                repo,
                self.main_branch,
                record.branch,
                f"{title}\n\n{message}".rstrip() + "\n",
                reviewer.signature(),
                self.committer.signature(),
            )

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        # The branch stays as the record of what was submitted; the outbox holds the reason.
        return None

    def branch_exists(self, branch: str) -> bool:
        repo = pygit2.Repository(str(self.remote))
        return repository.resolve(repo, branch) is not None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        return None  # nothing calls in: every webhook for a local forge is refused


def create(
    config: ForgeConfig, *, remote: str, main_branch: str, committer: repository.Identity
) -> LocalForge:
    if "://" in remote:
        # The local forge merges inside the remote repository: it must be on this disk.
        raise ValueError("the local forge needs a remote on this machine (a path)")
    return LocalForge(Path(remote), committer, main_branch=main_branch)
