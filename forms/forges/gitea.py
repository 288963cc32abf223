"""Gitea and Forgejo: pull requests through /api/v1, webhooks signed with HMAC-SHA256."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import ForgeConfig, header, signature_matches
from forms.forges.http import JsonClient
from forms.forges.rest import RestForge

if TYPE_CHECKING:
    from forms.repository import Identity


class GiteaForge(RestForge):
    kind = "gitea"
    # 409 (or 422 on validation): the branch already has an open pull request.
    already_exists = frozenset({409, 422})

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
        client = JsonClient(
            api_url.rstrip("/") + "/api/v1",
            {"Authorization": f"token {token}"},
            timeout=timeout,
        )
        super().__init__(
            client, owner, repo, webhook_secret=webhook_secret, base_branch=base_branch
        )

    def open_pulls(self, branch: str) -> Iterator[list[dict[str, Any]]]:
        # Gitea cannot filter by head branch: walk the open pull requests page by page.
        page = 1
        while True:
            _, pulls = self.client.request(
                "GET", self._repo("pulls"), query={"state": "open", "page": page, "limit": 50}
            )
            if not pulls:
                return
            yield pulls
            page += 1

    def merge_payload(self, title: str, message: str) -> dict[str, str]:
        return {"Do": "merge", "MergeTitleField": title, "MergeMessageField": message}

    def signed_event(self, headers: Mapping[str, str], body: bytes) -> str | None:
        given = header(headers, "X-Gitea-Signature") or header(headers, "X-Forgejo-Signature")
        if not signature_matches(self.webhook_secret, body, given):
            return None
        return header(headers, "X-Gitea-Event") or header(headers, "X-Forgejo-Event")


def create(
    config: ForgeConfig, *, remote: str, main_branch: str, committer: Identity
) -> GiteaForge:
    return GiteaForge(
        config.api_url,
        config.owner,
        config.repo,
        config.token,
        webhook_secret=config.webhook_secret,
        base_branch=main_branch,
        timeout=config.timeout,
    )
