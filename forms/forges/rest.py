"""The pull request flow Gitea, Forgejo, GitHub and GitLab share over their REST APIs.

Subclasses supply only what differs: the client (API prefix, auth headers), the status codes
that mean "a pull request for this branch already exists", how open pull requests are
listed, the merge request and how a webhook's signature and event name are read; GitLab
also its paths and the shape of its merge requests (the defaults are GitHub's and Gitea's).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import (
    CLOSED,
    MERGED,
    OPEN,
    ForgeError,
    HeadMoved,
    NotMergeable,
    PullRequestDecided,
    WebhookEvent,
    bounded_body,
    delivery_payload,
    event_from_delivery,
)
from forms.forges.http import JsonClient, path

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord
    from forms.repository import Identity

log = logging.getLogger(__name__)

# Waits between merge attempts the forge refuses for now (405 while it re-checks whether
# the pull request can be merged; every merge into main re-queues that check for every
# other open one). About 15 s in all: a reviewer is waiting.
MERGE_RETRY_DELAYS = (0.2, 0.4, 0.8, 1.6, 3.0, 4.0, 5.0)


class RestForge:
    kind = ""
    # Statuses the forge answers when the branch already has an open pull request.
    already_exists: frozenset[int] = frozenset()
    # Statuses closing a pull request answers when it was merged meanwhile.
    close_refused: frozenset[int] = frozenset()
    # Statuses of a merge refused for now, retried while the pull request is open.
    merge_refused_for_now = frozenset({404, 405})
    merge_method = "POST"
    close_method = "PATCH"

    def __init__(
        self,
        client: JsonClient,
        owner: str,
        repo: str,
        *,
        webhook_secret: str = "",
        base_branch: str = "main",
        merge_retry_delays: tuple[float, ...] = MERGE_RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.owner = owner
        self.repo = repo
        self.full_name = f"{owner}/{repo}"
        self.webhook_secret = webhook_secret
        self.base_branch = base_branch
        self.merge_retry_delays = merge_retry_delays
        self.sleep = sleep

    def _repo(self, *rest: str | int) -> str:
        return path("repos", self.owner, self.repo, *rest)

    # What differs between forges.

    def open_pulls(self, branch: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of open pull requests that may include `branch`'s."""
        raise NotImplementedError

    def merge_payload(self, title: str, message: str, head: str) -> dict[str, str]:
        """The merge request, naming `head` as the only commit it may merge."""
        raise NotImplementedError

    def signed_event(self, headers: Mapping[str, str], body: bytes, payload: bytes) -> str | None:
        """The event name if the delivery's signature is valid, None otherwise. `payload`
        is the JSON document: `body` itself, or a form delivery's `payload` field."""
        raise NotImplementedError

    def known_conflict(self, pull: Mapping[str, Any]) -> bool:
        """Whether the pull request as read says it cannot be merged (not just "not yet")."""
        return False

    # Where things are and how a pull request reads (GitHub's and Gitea's by default).

    def pulls_path(self, *rest: str | int) -> str:
        return self._repo("pulls", *rest)

    def comment_path(self, number: int) -> str:
        return self._repo("issues", number, "comments")

    def branch_path(self, branch: str) -> str:
        return self._repo("branches", branch)

    def open_payload(self, branch: str, title: str, body: str) -> dict[str, str]:
        return {
            "head": branch,
            "base": self.base_branch,
            "title": title,
            "body": bounded_body(body),
        }

    def close_payload(self) -> dict[str, str]:
        return {"state": "closed"}

    def reference(self, pull: Mapping[str, Any]) -> tuple[int, str]:
        """(number, web address) of a pull request as the API returns it."""
        return int(pull["number"]), str(pull.get("html_url", ""))

    def head_branch(self, pull: Mapping[str, Any]) -> str:
        return str((pull.get("head") or {}).get("ref") or "")

    def state_of(self, pull: Mapping[str, Any]) -> str:
        if pull.get("merged"):
            return MERGED
        return CLOSED if pull.get("state") == "closed" else OPEN

    def is_ours(self, pull: Mapping[str, Any]) -> bool:
        """Whether the pull request's head lives in our repository (not in a fork)."""
        repo = (pull.get("head") or {}).get("repo")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        return name is None or str(name).casefold() == self.full_name.casefold()

    # The shared flow.

    def open_pull_request(self, record: SubmissionRecord, title: str, body: str) -> tuple[int, str]:
        payload = self.open_payload(record.branch, title, body)
        try:
            _, pull = self.client.request("POST", self.pulls_path(), payload)
        except ForgeError as error:
            # A pull request for this branch is already open (we opened it and crashed
            # before recording it); adopt it instead of failing forever.
            if error.status not in self.already_exists:
                raise
            found = self.find_pull_request(record.branch)
            if found is None:
                raise
            return found
        return self.reference(pull)

    def find_pull_request(self, branch: str) -> tuple[int, str] | None:
        for pulls in self.open_pulls(branch):
            for pull in pulls:
                if self.is_ours(pull) and self.head_branch(pull) == branch:
                    return self.reference(pull)
        return None

    def read_pull(self, number: int) -> dict[str, Any]:
        _, pull = self.client.request("GET", self.pulls_path(number))
        if not isinstance(pull, dict):
            raise ForgeError(f"pull request {number}: unexpected answer")
        return pull

    def pull_request_state(self, number: int) -> str:
        return self.state_of(self.read_pull(number))

    def merge_pull_request(
        self, record: SubmissionRecord, number: int, title: str, message: str, reviewer: Identity
    ) -> None:
        # The forge merges as the token's user; the reviewer is named in the message.
        # Each attempt reads the pull request first: what happened on the forge meanwhile
        # (merged, closed) decides, not a status code that means several things.
        for delay in (*self.merge_retry_delays, None):
            pull = self.read_pull(number)
            state = self.state_of(pull)
            if state == MERGED:
                return
            if state == CLOSED:
                raise PullRequestDecided(f"pull request {number} is closed", CLOSED)
            if self.known_conflict(pull):
                raise NotMergeable(f"pull request {number} has conflicts", 405)
            try:
                self.client.request(
                    self.merge_method,
                    self.pulls_path(number, "merge"),
                    self.merge_payload(title, message, record.commit),
                )
                return
            except ForgeError as error:
                if error.status == 409:
                    raise HeadMoved(str(error), 409) from error
                # 405: not mergeable now (being checked, base just moved, or merged or
                # closed a moment ago); Gitea answers 404 for a closed one.
                if error.status not in self.merge_refused_for_now:
                    raise
                if delay is None:
                    raise NotMergeable(str(error), error.status) from error
                log.info("merge of pull request %s refused for now: %s", number, error)
                self.sleep(delay)
        raise AssertionError("unreachable")  # the last round returns or raises

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        if self.state_of(self.read_pull(number)) == MERGED:
            raise PullRequestDecided(f"pull request {number} is merged", MERGED)
        if comment:
            self.client.request("POST", self.comment_path(number), {"body": comment})
        try:
            _, pull = self.client.request(
                self.close_method, self.pulls_path(number), self.close_payload()
            )
        except ForgeError as error:
            # Gitea: 412 "it was already merged" (merged between our read and the close).
            if error.status not in self.close_refused:
                raise
            pull = self.read_pull(number)
        if isinstance(pull, dict) and self.state_of(pull) == MERGED:
            raise PullRequestDecided(f"pull request {number} is merged", MERGED)

    def branch_exists(self, branch: str) -> bool:
        try:
            self.client.request("GET", self.branch_path(branch))
        except ForgeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        payload = delivery_payload(headers, body)
        if payload is None:
            return None
        kind = self.signed_event(headers, body, payload)
        if kind is None:
            return None
        return event_from_delivery(kind, payload)
