"""The pull request flow Gitea, Forgejo and GitHub share over their REST APIs.

Subclasses supply only what differs: the client (API prefix, auth headers), the status codes
that mean "a pull request for this branch already exists", how open pull requests are
listed, the merge request and how a webhook's signature and event name are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import CLOSED, MERGED, OPEN, ForgeError, WebhookEvent, event_from_payload
from forms.forges.http import JsonClient, path

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord
    from forms.repository import Identity


class RestForge:
    kind = ""
    # Statuses the forge answers when the branch already has an open pull request.
    already_exists: frozenset[int] = frozenset()
    merge_method = "POST"

    def __init__(
        self,
        client: JsonClient,
        owner: str,
        repo: str,
        *,
        webhook_secret: str = "",
        base_branch: str = "main",
    ):
        self.client = client
        self.owner = owner
        self.repo = repo
        self.webhook_secret = webhook_secret
        self.base_branch = base_branch

    def _repo(self, *rest: str | int) -> str:
        return path("repos", self.owner, self.repo, *rest)

    # What differs between forges.

    def open_pulls(self, branch: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of open pull requests that may include `branch`'s."""
        raise NotImplementedError

    def merge_payload(self, title: str, message: str) -> dict[str, str]:
        raise NotImplementedError

    def signed_event(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The event name if the delivery's signature is valid, None otherwise."""
        raise NotImplementedError

    # The shared flow.

    def open_pull_request(self, record: SubmissionRecord, title: str, body: str) -> tuple[int, str]:
        payload = {"head": record.branch, "base": self.base_branch, "title": title, "body": body}
        try:
            _, pull = self.client.request("POST", self._repo("pulls"), payload)
        except ForgeError as error:
            # A pull request for this branch is already open (we opened it and crashed
            # before recording it); adopt it instead of failing forever.
            if error.status not in self.already_exists:
                raise
            found = self.find_pull_request(record.branch)
            if found is None:
                raise
            return found
        return int(pull["number"]), str(pull.get("html_url", ""))

    def find_pull_request(self, branch: str) -> tuple[int, str] | None:
        for pulls in self.open_pulls(branch):
            for pull in pulls:
                if (pull.get("head") or {}).get("ref") == branch:
                    return int(pull["number"]), str(pull.get("html_url", ""))
        return None

    def pull_request_state(self, number: int) -> str:
        _, pull = self.client.request("GET", self._repo("pulls", number))
        if pull.get("merged"):
            return MERGED
        return CLOSED if pull.get("state") == "closed" else OPEN

    def merge_pull_request(
        self, record: SubmissionRecord, number: int, title: str, message: str, reviewer: Identity
    ) -> None:
        # The forge merges as the token's user; the reviewer is named in the message.
        if self.pull_request_state(number) == MERGED:
            return
        self.client.request(
            self.merge_method,
            self._repo("pulls", number, "merge"),
            self.merge_payload(title, message),
        )

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        if comment:
            self.client.request("POST", self._repo("issues", number, "comments"), {"body": comment})
        self.client.request("PATCH", self._repo("pulls", number), {"state": "closed"})

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        kind = self.signed_event(headers, body)
        if kind is None:
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return event_from_payload(kind, payload)
