"""GitHub (and GitHub Enterprise): REST API pull requests, X-Hub-Signature-256 webhooks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import ForgeConfig, header, signature_matches
from forms.forges.http import JsonClient
from forms.forges.rest import RestForge

if TYPE_CHECKING:
    from forms.repository import Identity

API_VERSION = "2022-11-28"


class GitHubForge(RestForge):
    kind = "github"
    # 422 "A pull request already exists".
    already_exists = frozenset({422})
    merge_method = "PUT"

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
        client = JsonClient(
            api_url,
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

    def merge_payload(self, title: str, message: str) -> dict[str, str]:
        return {"commit_title": title, "commit_message": message, "merge_method": "merge"}

    def signed_event(self, headers: Mapping[str, str], body: bytes) -> str | None:
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
        api_url=config.api_url or "https://api.github.com",
        webhook_secret=config.webhook_secret,
        base_branch=main_branch,
        timeout=config.timeout,
    )
