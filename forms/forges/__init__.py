"""Where submissions are reviewed: the service itself (local), a Gitea/Forgejo or GitHub
pull request or a GitLab merge request. One `Forge` interface (forms.forges.base), one
module per forge, and the registry below that the `FORGE` setting names a forge from.

Adding a forge: a module here with a `Forge` class and a `create` function, and its line
in FORGES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from forms.forges import gitea, github, gitlab, local
from forms.forges.base import (
    Forge,
    ForgeConfig,
    ForgeError,
    ForgeUnavailable,
    PullRequestText,
    WebhookEvent,
    pull_request_text,
)

if TYPE_CHECKING:
    from forms.repository import Identity


class ForgeFactory(Protocol):
    """A forge module's `create`: a ValueError says what in the settings does not fit."""

    def __call__(
        self, config: ForgeConfig, *, remote: str, main_branch: str, committer: Identity
    ) -> Forge: ...


FORGES: dict[str, ForgeFactory] = {
    "local": local.create,
    "gitea": gitea.create,
    "github": github.create,
    "gitlab": gitlab.create,
}


def make_forge(config: ForgeConfig, *, remote: str, main_branch: str, committer: Identity) -> Forge:
    """The forge `config.kind` names; ValueError for an unknown kind or unfit settings."""
    create = FORGES.get(config.kind)
    if create is None:
        raise ValueError(f"unknown forge kind: {config.kind!r}")
    return create(config, remote=remote, main_branch=main_branch, committer=committer)


__all__ = [
    "FORGES",
    "Forge",
    "ForgeConfig",
    "ForgeError",
    "ForgeFactory",
    "ForgeUnavailable",
    "PullRequestText",
    "WebhookEvent",
    "make_forge",
    "pull_request_text",
]
