"""Reviewing through the form service's pages while submissions live as pull requests on a
forge (tests/fake_forge.py over real HTTP): what the reviewer sees when the forge needs a
moment, refuses a moved head or is rate-limited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from forms import repository
from forms.outbox import APPROVED, IN_REVIEW
from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    Setup,
    decide,
    logged_in,
    make_repository,
    make_setup,
    post,
)
from tests.fake_forge import FakeForge, git
from tests.reliability_support import slots, valid_values

ERROR_NOTICE = re.compile(r'<div class="notice notice-error"[^>]*>([^<]*)</div>')


@dataclass
class ForgeSetup:
    app: Setup
    fake: FakeForge
    remote: Path


@pytest.fixture
def gitea(tmp_path: Path) -> Iterator[ForgeSetup]:
    remote = tmp_path / "remote.git"
    repository.seed_bare_from_worktree(make_repository(tmp_path / "plan"), remote, "main")
    fake = FakeForge("gitea", remote).start()
    app = make_setup(
        tmp_path / "app",
        REMOTE=str(remote),
        FORGE="gitea",
        FORGE_URL=fake.url,
        FORGE_OWNER=fake.owner,
        FORGE_REPO=fake.repo,
        FORGE_TOKEN=fake.token,
        WEBHOOK_SECRET=fake.webhook_secret,
    )
    yield ForgeSetup(app, fake, remote)
    fake.stop()


def submit(setup: Setup) -> str:
    client = logged_in(setup, "dongfeng")
    post(client, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    return str(post(client, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1])


def approve(setup: Setup, submission_id: str) -> tuple[list[str], str]:
    """The error notices the reviewer is shown after approving, and the page."""
    page = decide(
        logged_in(setup, "checker"), submission_id, "approve", follow_redirects=True
    ).get_data(as_text=True)
    return ERROR_NOTICE.findall(page), page


def test_twenty_approvals_in_a_row_merge_while_gitea_rechecks_mergeability(
    gitea: ForgeSetup,
) -> None:
    # 20 different slots: a second submission for a slot would supersede the first.
    content = gitea.app.services.content
    clerk = logged_in(gitea.app, "boss")
    ids = []
    for n, slot in enumerate(slots(content)[:20]):
        values = valid_values(slot.form, 1, n, content.units)[0]
        post(clerk, slot.fill_url, {**values, "action": "continue"})
        # A figure far from the unit's earlier report needs a sentence (history checks).
        done = post(clerk, slot.fill_url + "check", {"explanation": "按实际情况填报。"})
        ids.append(str(done.headers["Location"]).rsplit("/", 1)[1])
    gitea.app.submissions.sync()
    # After each merge Gitea re-checks every other open pull request and answers
    # 405 "Please try again later" meanwhile (long enough to outlast the reviewer's next
    # approval, two requests since the confirmation step).
    gitea.fake.check_seconds = 3.0

    shown = [approve(gitea.app, sid)[0] for sid in ids]

    assert shown == [[]] * 20
    assert [gitea.app.submissions.get(sid).state for sid in ids] == [APPROVED] * 20
    assert sum(pull.merged for pull in gitea.fake.pulls.values()) == 20
    merges = git(gitea.remote, "rev-list", "--merges", "--count", "refs/heads/main")
    assert merges == "20"
    waited = [r for r in gitea.fake.requests if r[0] == "POST" and r[2] == 405]
    met = {path for _, path, _ in waited}
    print(f"\n20 approvals: {len(met)} met 405 'Please try again later', {len(waited)} in all")
    assert len(met) >= 15, "the forge hardly ever answered 405: the test proves little"


def test_a_head_moved_on_the_forge_is_not_merged_and_the_reviewer_is_told(
    gitea: ForgeSetup,
) -> None:
    sid = submit(gitea.app)
    gitea.app.submissions.sync()
    gitea.fake.move_branch(gitea.app.submissions.get(sid).branch)

    errors, _ = approve(gitea.app, sid)

    assert len(errors) == 1 and "已被改动" in errors[0] and "未合并" in errors[0]
    assert gitea.app.submissions.get(sid).state == IN_REVIEW
    assert not any(pull.merged for pull in gitea.fake.pulls.values())


def test_a_rate_limited_forge_tells_the_reviewer_when_to_come_back(gitea: ForgeSetup) -> None:
    sid = submit(gitea.app)
    gitea.app.submissions.sync()
    gitea.fake.rate_limit(gitea.fake.clock() + 600, status=429, retry_after=600)

    errors, _ = approve(gitea.app, sid)

    assert len(errors) == 1 and "请求次数已达上限" in errors[0]
    assert gitea.app.submissions.get(sid).state == IN_REVIEW
