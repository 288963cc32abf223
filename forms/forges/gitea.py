"""Gitea and Forgejo: pull requests through /api/v1, webhooks signed with HMAC-SHA256."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from forms.forges.base import (
    CLOSED,
    MERGED,
    OPEN,
    ForgeError,
    WebhookEvent,
    event_from_payload,
    header,
    signature_matches,
)
from forms.forges.http import JsonClient, path

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord
    from forms.repository import Identity


class GiteaForge:
    kind = "gitea"

    def __init__(
        self,
        api_url: str,
        owner: str,
        repo: str,
        token: str,
        *,
        webhook_secret: str = "",
        base_branch: str = "main",
        timeout: float = 15.0,
    ):
        # api_url is the server's root (https://git.example.org), /api/v1 is added here.
        self.client = JsonClient(
            api_url.rstrip("/") + "/api/v1",
            {"Authorization": f"token {token}"},
            timeout=timeout,
        )
        self.owner = owner
        self.repo = repo
        self.webhook_secret = webhook_secret
        self.base_branch = base_branch

    def _repo(self, *rest: str | int) -> str:
        return path("repos", self.owner, self.repo, *rest)

    def open_pull_request(
        self, record: SubmissionRecord, title: str, body: str
    ) -> tuple[int, str]:
        payload = {"head": record.branch, "base": self.base_branch, "title": title, "body": body}
        try:
            _, pull = self.client.request("POST", self._repo("pulls"), payload)
        except ForgeError as error:
            # 409: a pull request for this branch is already open (we opened it and
            # crashed before recording it); adopt it instead of failing forever.
            if error.status not in (409, 422):
                raise
            found = self.find_pull_request(record.branch)
            if found is None:
                raise
            return found
        return int(pull["number"]), str(pull.get("html_url", ""))

    def find_pull_request(self, branch: str) -> tuple[int, str] | None:
        page = 1
        while True:
            _, pulls = self.client.request(
                "GET", self._repo("pulls"), query={"state": "open", "page": page, "limit": 50}
            )
            if not pulls:
                return None
            for pull in pulls:
                if (pull.get("head") or {}).get("ref") == branch:
                    return int(pull["number"]), str(pull.get("html_url", ""))
            page += 1

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
            "POST",
            self._repo("pulls", number, "merge"),
            {"Do": "merge", "MergeTitleField": title, "MergeMessageField": message},
        )

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        if comment:
            self.client.request(
                "POST", self._repo("issues", number, "comments"), {"body": comment}
            )
        self.client.request("PATCH", self._repo("pulls", number), {"state": "closed"})

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        given = header(headers, "X-Gitea-Signature") or header(headers, "X-Forgejo-Signature")
        if not signature_matches(self.webhook_secret, body, given):
            return None
        kind = header(headers, "X-Gitea-Event") or header(headers, "X-Forgejo-Event")
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return event_from_payload(kind, payload)
