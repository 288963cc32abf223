"""Gitea and Forgejo: pull requests through /api/v1, webhooks signed with HMAC-SHA256."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import ForgeConfig, header, signature_matches
from forms.forges.http import JsonClient
from forms.forges.rest import RestForge

if TYPE_CHECKING:
    from forms.repository import Identity


API_PATH = "/api/v1"


def gitea_api_url(url: str) -> str:
    """The API root from the server's root URL (Gitea's ROOT_URL, which may have a subpath:
    https://example.org/gitea), given with or without /api/v1."""
    root = url.strip().rstrip("/")
    return root if root.endswith(API_PATH) else root + API_PATH


class GiteaForge(RestForge):
    kind = "gitea"
    # 409 (or 422 on validation): the branch already has an open pull request.
    already_exists = frozenset({409, 422})
    # 412 "cannot change state of this pull request, it was already merged".
    close_refused = frozenset({412})

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
            gitea_api_url(api_url),
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

    def merge_payload(self, title: str, message: str, head: str) -> dict[str, str]:
        # head_commit_id: Gitea answers 409 "head out of date" if the head moved.
        return {
            "Do": "merge",
            "MergeTitleField": title,
            "MergeMessageField": message,
            "head_commit_id": head,
        }

    def signed_event(self, headers: Mapping[str, str], body: bytes, payload: bytes) -> str | None:
        # Gitea and Forgejo sign the JSON payload, also when it is delivered as a form.
        given = header(headers, "X-Gitea-Signature") or header(headers, "X-Forgejo-Signature")
        if not signature_matches(self.webhook_secret, payload, given):
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
