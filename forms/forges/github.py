"""GitHub (and GitHub Enterprise): REST API pull requests, X-Hub-Signature-256 webhooks."""

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

API_VERSION = "2022-11-28"


class GitHubForge:
    kind = "github"

    def __init__(
        self,
        owner: str,
        repo: str,
        token: str,
        *,
        api_url: str = "https://api.github.com",
        webhook_secret: str = "",
        base_branch: str = "main",
        timeout: float = 15.0,
    ):
        self.client = JsonClient(
            api_url,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
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
            # 422 "A pull request already exists": we opened it before a crash; adopt it.
            if error.status != 422:
                raise
            found = self.find_pull_request(record.branch)
            if found is None:
                raise
            return found
        return int(pull["number"]), str(pull.get("html_url", ""))

    def find_pull_request(self, branch: str) -> tuple[int, str] | None:
        _, pulls = self.client.request(
            "GET",
            self._repo("pulls"),
            query={"head": f"{self.owner}:{branch}", "state": "open", "per_page": 10},
        )
        for pull in pulls or []:
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
            "PUT",
            self._repo("pulls", number, "merge"),
            {"commit_title": title, "commit_message": message, "merge_method": "merge"},
        )

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        if comment:
            self.client.request(
                "POST", self._repo("issues", number, "comments"), {"body": comment}
            )
        self.client.request("PATCH", self._repo("pulls", number), {"state": "closed"})

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        given = header(headers, "X-Hub-Signature-256")
        if not given.startswith("sha256="):
            return None
        if not signature_matches(self.webhook_secret, body, given.removeprefix("sha256=")):
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return event_from_payload(header(headers, "X-GitHub-Event"), payload)
