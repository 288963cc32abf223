"""GitLab: merge requests through /api/v4, webhooks authenticated by X-Gitlab-Token.

The shared flow (forms.forges.rest) with GitLab's paths and shapes: the project is named by
its URL-encoded path ("group/plan" -> group%2Fplan), a merge request by its `iid`, its state
is "opened", "closed", "merged" (or "locked" while merging), the head commit goes in `sha`
(409 if the source branch moved), and a webhook carries the secret itself in
X-Gitlab-Token instead of a signature.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from forms.forges.base import (
    CLOSED,
    MERGED,
    OPEN,
    ForgeConfig,
    WebhookEvent,
    bounded_body,
    header,
)
from forms.forges.http import JsonClient, path
from forms.forges.rest import RestForge

if TYPE_CHECKING:
    from forms.repository import Identity

API_PATH = "/api/v4"
PUBLIC_SERVER = "https://gitlab.com"
DESCRIPTION_LIMIT = 1_048_576  # GitLab's longest merge request description
# Webhook actions of a merge request, as the events the service acts on name them.
ACTIONS = {"merge": "closed", "close": "closed", "reopen": "reopened", "open": "opened"}


def gitlab_api_url(url: str) -> str:
    """The API root from the server's root (gitlab.com by default; a self-managed GitLab
    may live under a relative URL root such as https://example.org/gitlab)."""
    root = url.strip().rstrip("/") or PUBLIC_SERVER
    return root if root.endswith(API_PATH) else root + API_PATH


class GitLabForge(RestForge):
    kind = "gitlab"
    # 409 "Another open merge request already exists for this source branch".
    already_exists = frozenset({409})
    # 405 "not able to be merged" (e.g. mergeability still being checked), 422 "Branch
    # cannot be merged" while the check runs; 406 means conflicts and is not retried.
    merge_refused_for_now = frozenset({405, 422})
    merge_method = "PUT"
    close_method = "PUT"

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
        client = JsonClient(gitlab_api_url(api_url), {"PRIVATE-TOKEN": token}, timeout=timeout)
        super().__init__(
            client, owner, repo, webhook_secret=webhook_secret, base_branch=base_branch
        )

    def _project(self, *rest: str | int) -> str:
        return path("projects", self.full_name, *rest)

    def pulls_path(self, *rest: str | int) -> str:
        return self._project("merge_requests", *rest)

    def comment_path(self, number: int) -> str:
        return self._project("merge_requests", number, "notes")

    def branch_path(self, branch: str) -> str:
        return self._project("repository", "branches", branch)

    def open_payload(self, branch: str, title: str, body: str) -> dict[str, str]:
        return {
            "source_branch": branch,
            "target_branch": self.base_branch,
            "title": title,
            "description": bounded_body(body, DESCRIPTION_LIMIT),
        }

    def close_payload(self) -> dict[str, str]:
        return {"state_event": "close"}

    def reference(self, pull: Mapping[str, Any]) -> tuple[int, str]:
        return int(pull["iid"]), str(pull.get("web_url", ""))

    def head_branch(self, pull: Mapping[str, Any]) -> str:
        return str(pull.get("source_branch") or "")

    def state_of(self, pull: Mapping[str, Any]) -> str:
        state = pull.get("state")
        if state == "merged":
            return MERGED
        return CLOSED if state == "closed" else OPEN

    def is_ours(self, pull: Mapping[str, Any]) -> bool:
        # A fork's merge request comes from another project.
        return pull.get("source_project_id") == pull.get("target_project_id")

    def known_conflict(self, pull: Mapping[str, Any]) -> bool:
        return pull.get("has_conflicts") is True

    def open_pulls(self, branch: str) -> Iterator[list[dict[str, Any]]]:
        _, pulls = self.client.request(
            "GET",
            self.pulls_path(),
            query={"state": "opened", "source_branch": branch, "per_page": 20},
        )
        yield pulls or []

    def merge_payload(self, title: str, message: str, head: str) -> dict[str, str]:
        return {"merge_commit_message": f"{title}\n\n{message}".rstrip(), "sha": head}

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        given = header(headers, "X-Gitlab-Token")
        if not self.webhook_secret or not hmac.compare_digest(
            given.encode(), self.webhook_secret.encode()
        ):
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return event_from_gitlab(payload) if isinstance(payload, dict) else None


def event_from_gitlab(payload: Mapping[str, Any]) -> WebhookEvent:
    """A merge request or push hook in the terms of the service's events."""
    kind = str(payload.get("object_kind", ""))
    project = _text(payload.get("project"), "path_with_namespace")
    if kind == "merge_request":
        attributes = payload.get("object_attributes")
        merge_request: Mapping[str, Any] = attributes if isinstance(attributes, dict) else {}
        action = str(merge_request.get("action", ""))
        number = merge_request.get("iid")
        return WebhookEvent(
            kind="pull_request",
            action=ACTIONS.get(action, action),
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            branch=str(merge_request.get("source_branch") or ""),
            merged=action == "merge" or merge_request.get("state") == "merged",
            repository=project,
            head_repository=_text(merge_request.get("source"), "path_with_namespace"),
            base_branch=str(merge_request.get("target_branch") or ""),
            commit=str(merge_request.get("merge_commit_sha") or ""),
            actor=_text(payload.get("user"), "username"),
        )
    if kind == "push":
        return WebhookEvent(
            kind="push",
            ref=str(payload.get("ref", "")),
            commit=str(payload.get("after", "")),
            actor=str(payload.get("user_username", "")),
            repository=project,
        )
    return WebhookEvent(kind=kind, repository=project)


def _text(value: Any, key: str) -> str:
    return str(value.get(key) or "") if isinstance(value, dict) else ""


def create(
    config: ForgeConfig, *, remote: str, main_branch: str, committer: Identity
) -> GitLabForge:
    return GitLabForge(
        config.api_url,
        config.owner,
        config.repo,
        config.token,
        webhook_secret=config.webhook_secret,
        base_branch=main_branch,
        timeout=config.timeout,
    )
