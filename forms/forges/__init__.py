"""Where submissions are reviewed: the service itself (local) or a Gitea/Forgejo or GitHub
pull request. One `Forge` interface, chosen by configuration."""

from __future__ import annotations

from forms.forges.base import (
    Forge,
    ForgeError,
    ForgeUnavailable,
    PullRequestText,
    WebhookEvent,
    pull_request_text,
)

__all__ = [
    "Forge",
    "ForgeError",
    "ForgeUnavailable",
    "PullRequestText",
    "WebhookEvent",
    "pull_request_text",
]
