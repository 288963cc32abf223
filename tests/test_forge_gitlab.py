"""GitLab as a forge: merge requests through /api/v4 (served by tests/fake_forge.py over
real HTTP, GitLab dialect) and webhooks carrying X-Gitlab-Token; the same guarantees as
Gitea and GitHub (tests/test_forges.py): the reviewed commit is what gets merged, a merge
refused for the moment is waited out, rate limits pause the sync, only our own merge
requests count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from forms import repository
from forms.forges.base import ForgeRateLimited, HeadMoved
from forms.forges.gitlab import GitLabForge, event_from_gitlab, gitlab_api_url
from forms.outbox import APPROVED, IN_REVIEW, REJECTED
from forms.submissions import (
    CLOSED_ON_FORGE,
    ForgeConfig,
    GitConfig,
    InvalidState,
    SubmissionService,
)
from tests.fake_forge import FakeForge, git, make_plan_worktree, sample_report

T0 = 1_700_000_000.0
FIXTURES = Path(__file__).parent / "fixtures" / "forges"


@dataclass
class GitLab:
    service: SubmissionService
    fake: FakeForge
    remote: Path
    now: list[float]
    merged: list[str]


@pytest.fixture
def gitlab(tmp_path: Path) -> Iterator[GitLab]:
    worktree = make_plan_worktree(tmp_path / "plan")
    remote = tmp_path / "remote.git"
    repository.seed_bare_from_worktree(worktree, remote, "main")
    now = [T0]
    fake = FakeForge("gitlab", remote, subpath="/gitlab").start()
    config = GitConfig(
        instance_dir=tmp_path / "instance",
        service_repo=tmp_path / "instance" / "service.git",
        remote=str(remote),
        forge=ForgeConfig(
            kind="gitlab",
            api_url=fake.url,  # a self-managed GitLab under a relative URL root
            owner=fake.owner,
            repo=fake.repo,
            token=fake.token,
            webhook_secret=fake.webhook_secret,
            timeout=5,
        ),
    )
    service = SubmissionService(config, clock=lambda: now[0])
    merged: list[str] = []
    service.on_merged(merged.append)
    yield GitLab(service, fake, remote, now, merged)
    fake.stop()


def open_review(gitlab: GitLab, submission_id: str = "r-1", unit: str = "unit-a") -> int:
    gitlab.service.submit(sample_report(submission_id, unit=unit), [], "张三", "a@example.org")
    gitlab.service.sync(now=gitlab.now[0])
    number = gitlab.service.outbox.entry(submission_id).pr_number
    assert number is not None
    return number


def main_tip(gitlab: GitLab) -> str:
    return git(gitlab.remote, "rev-parse", "refs/heads/main")


def test_sync_opens_one_merge_request_per_submission(gitlab: GitLab) -> None:
    number = open_review(gitlab)

    assert gitlab.service.sync(now=T0 + 1).opened == 0
    pull = gitlab.fake.pulls[number]
    assert (pull.head, pull.base) == ("submit/unit-a/r-1", "main")
    assert pull.title == "【填报】unit-a quarterly 2022-Q1"
    assert "| count | 3 |" in pull.body
    record = gitlab.service.get("r-1")
    assert record.review_url == f"{gitlab.fake.url}/city-org/plan/-/merge_requests/{number}"


def test_approval_merges_the_merge_request_and_rejection_closes_one_with_a_note(
    gitlab: GitLab,
) -> None:
    first = open_review(gitlab)
    second = open_review(gitlab, "r-2", "unit-b")
    record = gitlab.service.get("r-1")

    gitlab.service.approve("r-1", "王五", "wangwu@example.org")
    gitlab.service.reject("r-2", "王五", "附件缺失")

    tip = main_tip(gitlab)
    assert git(gitlab.remote, "rev-parse", f"{tip}^2") == record.commit
    assert "Reviewed-by: 王五 <wangwu@example.org>" in git(
        gitlab.remote, "log", "-1", "--format=%B"
    )
    assert gitlab.fake.pulls[first].merged
    assert (gitlab.fake.pulls[second].state, gitlab.fake.pulls[second].comments) == (
        "closed",
        ["退回原因：附件缺失"],
    )
    assert gitlab.service.get("r-1").state == APPROVED
    assert gitlab.service.get("r-2").state == REJECTED
    assert gitlab.merged == [tip]


def test_a_source_branch_moved_on_gitlab_is_not_merged(gitlab: GitLab) -> None:
    number = open_review(gitlab)
    gitlab.fake.move_branch(gitlab.service.get("r-1").branch)

    with pytest.raises(HeadMoved):
        gitlab.service.approve("r-1", "王五", "wangwu@example.org")

    assert not gitlab.fake.pulls[number].merged
    assert gitlab.service.get("r-1").state == IN_REVIEW


def test_approvals_in_a_row_wait_out_gitlabs_mergeability_check(gitlab: GitLab) -> None:
    gitlab.fake.clock = time.time  # the check lasts real seconds
    for n in range(1, 4):
        open_review(gitlab, f"r-{n}", f"unit-{n}")
    gitlab.fake.check_seconds = 0.3

    for n in range(1, 4):
        gitlab.service.approve(f"r-{n}", "王五", "wangwu@example.org")

    assert [gitlab.service.get(f"r-{n}").state for n in range(1, 4)] == [APPROVED] * 3
    assert any(r[0] == "PUT" and r[2] == 422 for r in gitlab.fake.requests)


def test_a_rate_limited_gitlab_pauses_the_sync_until_the_reset(gitlab: GitLab) -> None:
    gitlab.fake.clock = lambda: gitlab.now[0]
    gitlab.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    gitlab.fake.rate_limit(T0 + 300)

    assert gitlab.service.sync(now=T0).opened == 0
    sent = len(gitlab.fake.requests)
    gitlab.now[0] = T0 + 200
    assert gitlab.service.sync(now=T0 + 200).opened == 0
    with pytest.raises(ForgeRateLimited):
        gitlab.service.approve("r-1", "王五", "wangwu@example.org")
    assert len(gitlab.fake.requests) == sent == 1

    gitlab.now[0] = T0 + 301
    assert gitlab.service.sync(now=T0 + 301).opened == 1


def test_merge_request_hooks_decide_only_our_own_merge_requests(gitlab: GitLab) -> None:
    number = open_review(gitlab)
    branch = gitlab.service.get("r-1").branch
    fork = gitlab.fake.open_fork_pull_request("outsider", branch)
    gitlab.fake.close_in_ui(fork)
    from_fork = gitlab.fake.webhook("pull_request", gitlab.fake.pull_request_payload(fork))
    assert gitlab.service.handle_webhook("gitlab", *from_fork)
    assert gitlab.service.get("r-1").state == IN_REVIEW

    gitlab.fake.close_in_ui(number)
    closed = gitlab.fake.webhook("pull_request", gitlab.fake.pull_request_payload(number))
    wrong_token = gitlab.fake.webhook(
        "pull_request", gitlab.fake.pull_request_payload(number), secret="guessed"
    )
    assert not gitlab.service.handle_webhook("gitlab", *wrong_token)
    assert gitlab.service.get("r-1").state == IN_REVIEW
    assert gitlab.service.handle_webhook("gitlab", *closed)

    record = gitlab.service.get("r-1")
    assert (record.state, record.reason) == (REJECTED, CLOSED_ON_FORGE)


def test_a_merge_on_gitlab_reported_by_its_hook_approves(gitlab: GitLab) -> None:
    number = open_review(gitlab)
    gitlab.fake.merge_in_ui(number, user="wangwu")
    headers, body = gitlab.fake.webhook("pull_request", gitlab.fake.pull_request_payload(number))
    assert headers["X-Gitlab-Event"] == "Merge Request Hook"

    assert gitlab.service.handle_webhook("gitlab", headers, body)

    record = gitlab.service.get("r-1")
    assert (record.state, record.reviewer) == (APPROVED, "wangwu")
    assert gitlab.merged == [main_tip(gitlab)]


def test_closing_a_merge_request_merged_meanwhile_records_the_merge(gitlab: GitLab) -> None:
    number = open_review(gitlab)
    gitlab.fake.merge_in_ui(number)

    with pytest.raises(InvalidState):
        gitlab.service.reject("r-1", "王五", "附件缺失")

    assert gitlab.service.get("r-1").state == APPROVED


def test_the_documented_merge_request_hook_example_reads_as_an_opened_merge_request() -> None:
    documented = json.loads((FIXTURES / "gitlab-merge-request-event.json").read_text())

    event = event_from_gitlab(documented)

    assert (event.kind, event.action, event.number) == ("pull_request", "opened", 1)
    assert (event.branch, event.base_branch) == ("ms-viewport", "master")
    assert event.repository == "gitlabhq/gitlab-test"
    assert event.head_repository == "awesome_space/awesome_project"
    assert event.actor == "root" and not event.merged


def test_the_fakes_hook_has_the_documented_fields_the_adapter_reads(gitlab: GitLab) -> None:
    documented = json.loads((FIXTURES / "gitlab-merge-request-event.json").read_text())
    ours = gitlab.fake.pull_request_payload(open_review(gitlab), action="opened")

    for path in [
        ("object_kind",),
        ("user", "username"),
        ("project", "path_with_namespace"),
        ("object_attributes", "iid"),
        ("object_attributes", "action"),
        ("object_attributes", "state"),
        ("object_attributes", "source_branch"),
        ("object_attributes", "target_branch"),
        ("object_attributes", "source", "path_with_namespace"),
        ("object_attributes", "last_commit", "id"),
    ]:
        theirs_value, ours_value = documented, ours
        for key in path:
            theirs_value, ours_value = theirs_value[key], ours_value[key]
        assert type(ours_value) is type(theirs_value), path
    assert ours["object_attributes"]["action"] == documented["object_attributes"]["action"]


def test_without_the_right_token_no_gitlab_hook_is_accepted() -> None:
    forge = GitLabForge("http://127.0.0.1:9", "o", "r", "t", webhook_secret="s3cret")
    unset = GitLabForge("http://127.0.0.1:9", "o", "r", "t", webhook_secret="")
    body = json.dumps({"object_kind": "push", "ref": "refs/heads/main"}).encode()

    assert forge.verify_webhook({"X-Gitlab-Token": "s3cret"}, body) is not None
    assert forge.verify_webhook({"X-Gitlab-Token": "s3cre"}, body) is None
    assert forge.verify_webhook({}, body) is None
    assert unset.verify_webhook({"X-Gitlab-Token": ""}, body) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "https://gitlab.com/api/v4"),
        ("https://gitlab.com/", "https://gitlab.com/api/v4"),
        ("https://example.org/gitlab", "https://example.org/gitlab/api/v4"),
        ("https://example.org/gitlab/api/v4/", "https://example.org/gitlab/api/v4"),
    ],
)
def test_gitlab_base_urls(given: str, expected: str) -> None:
    assert gitlab_api_url(given) == expected
