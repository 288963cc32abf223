"""GitHub (and GitHub Enterprise): REST API pull requests, X-Hub-Signature-256 webhooks."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import ForgeConfig, header, signature_matches
from forms.forges.http import JsonClient
from forms.forges.rest import RestForge

if TYPE_CHECKING:
    from forms.repository import Identity

API_VERSION = "2022-11-28"
PUBLIC_API = "https://api.github.com"
ENTERPRISE_API_PATH = "/api/v3"


def github_api_url(url: str) -> str:
    """The API root: api.github.com for github.com (or nothing given), else GitHub
    Enterprise Server's https://<host>/api/v3, given with or without /api/v3."""
    root = url.strip().rstrip("/")
    if not root:
        return PUBLIC_API
    host = urllib.parse.urlsplit(root).hostname or ""
    if host in ("github.com", "www.github.com", "api.github.com"):
        return PUBLIC_API
    return root if root.endswith(ENTERPRISE_API_PATH) else root + ENTERPRISE_API_PATH


class GitHubForge(RestForge):
    kind = "github"
    # 422 "A pull request already exists".
    already_exists = frozenset({422})
    # 422 "Validation Failed" if closing a merged pull request is ever refused.
    close_refused = frozenset({422})
    merge_method = "PUT"

    def __init__(
        self,
        owner: str,
        repo: str,
        token: str,
        *,
        api_url: str = PUBLIC_API,
        webhook_secret: str = "",
        base_branch: str = "main",
        timeout: float = 15.0,
    ):
        client = JsonClient(
            github_api_url(api_url),
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            timeout=timeout,
        )
        super().__init__(
            client, owner, repo, webhook_secret=webhook_secret, base_branch=base_branch
        )

    def open_pulls(self, branch: str) -> Iterator[list[dict[str, Any]]]:
        # GitHub filters by "owner:branch", so one page holds the answer.
        _, pulls = self.client.request(
            "GET",
            self._repo("pulls"),
            query={"head": f"{self.owner}:{branch}", "state": "open", "per_page": 10},
        )
        yield pulls or []

    def merge_payload(self, title: str, message: str, head: str) -> dict[str, str]:
        # sha: GitHub answers 409 "Head branch was modified" if the head moved.
        return {
            "commit_title": title,
            "commit_message": message,
            "merge_method": "merge",
            "sha": head,
        }

    def known_conflict(self, pull: Mapping[str, Any]) -> bool:
        # mergeable is null while GitHub computes it, false once it found conflicts.
        return pull.get("mergeable") is False and pull.get("mergeable_state") == "dirty"

    def signed_event(self, headers: Mapping[str, str], body: bytes, payload: bytes) -> str | None:
        # GitHub signs the body as delivered, a form delivery included.
        given = header(headers, "X-Hub-Signature-256")
        if not given.startswith("sha256="):
            return None
        if not signature_matches(self.webhook_secret, body, given.removeprefix("sha256=")):
            return None
        return header(headers, "X-GitHub-Event")


def create(
    config: ForgeConfig, *, remote: str, main_branch: str, committer: Identity
) -> GitHubForge:
    return GitHubForge(
        config.owner,
        config.repo,
        config.token,
        api_url=config.api_url,
        webhook_secret=config.webhook_secret,
        base_branch=main_branch,
        timeout=config.timeout,
    )
