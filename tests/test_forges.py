"""Reviewing on a forge: Gitea/Forgejo and GitHub pull requests, through their REST APIs
(served by tests/fake_forge.py over real HTTP) and their signed webhooks."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builder.reports import report_from_document
from forms import repository
from forms.forges.base import (
    BODY_CUT_NOTE,
    ForgeError,
    ForgeRateLimited,
    HeadMoved,
    ReportLabels,
    identifier_labels,
    pull_request_text,
    table_cell,
)
from forms.forges.gitea import GiteaForge, gitea_api_url
from forms.forges.github import GitHubForge, github_api_url
from forms.outbox import APPROVED, IN_REVIEW, QUEUED, REJECTED, SUPERSEDED, WITHDRAWN
from forms.services import git_config
from forms.settings import load_settings
from forms.submissions import (
    CLOSED_ON_FORGE,
    ForgeConfig,
    GitConfig,
    InvalidState,
    SubmissionService,
)
from tests.fake_forge import FakeForge, git, make_plan_worktree, sample_report

T0 = 1_700_000_000.0
LABELS = ReportLabels(
    unit_name="甲单位",
    form_title="季度进展表",
    period_title="2022年第一季度",
    field_titles={"count": "数量", "done": "是否完成", "notes": "说明"},
    timezone="Asia/Shanghai",
)


# -- the pull request text -------------------------------------------------------------------


def test_the_pull_request_title_names_unit_form_and_period() -> None:
    text = pull_request_text(report_from_document(sample_report("r-1")), LABELS)

    assert text.title == "【填报】甲单位 季度进展表 2022年第一季度"


def test_the_pull_request_body_is_a_table_of_field_titles_and_values() -> None:
    report = sample_report("r-1", values={"count": 3, "done": False, "notes": None})
    report["evidence"] = [
        {
            "file": "1-a.pdf",
            "name": "报告.pdf",
            "media_type": "application/pdf",
            "size": 1,
            "sha256": "0" * 64,
        }
    ]

    body = pull_request_text(report_from_document(report), LABELS).body

    table = "| 项目 | 填报内容 |\n| --- | --- |\n| 数量 | 3 |\n| 是否完成 | 否 |\n| 说明 | — |"
    assert table in body
    assert "**填报人**：张三（unit\\-a）" in body
    assert "**提交时间**：2022\\-10\\-08 09:30  " in body  # the plan's zone, no offset
    assert "- 报告\\.pdf" in body


def test_typed_text_cannot_break_the_table_or_inject_markup() -> None:
    notes = "a | b\nsecond line\r\n<script>alert(1)</script> ![x](http://evil/x.png)"
    report = report_from_document(sample_report("r-1", values={"notes": notes}))

    body = pull_request_text(report, LABELS).body

    row = next(line for line in body.splitlines() if line.startswith("| 说明 |"))
    assert row == (
        "| 说明 | a \\| b<br>second line<br>&lt;script&gt;alert\\(1\\)&lt;/script&gt; "
        "\\!\\[x\\]\\(http://evil/x\\.png\\) |"
    )
    assert "<script>" not in body
    assert table_cell("x|y") == "x\\|y"


def test_a_title_is_one_bounded_line_and_unknown_names_fall_back_to_identifiers() -> None:
    labels = ReportLabels("单位\n名称", "表" * 300, "期")

    report = report_from_document(sample_report("r-1"))
    title = pull_request_text(report, labels).title

    assert "\n" not in title
    assert len(title) <= 250 and title.endswith("…")
    fallback = pull_request_text(report, identifier_labels(report))
    assert fallback.title == "【填报】unit-a quarterly 2022-Q1"


# -- webhook signatures ----------------------------------------------------------------------


@pytest.fixture
def gitea() -> GiteaForge:
    return GiteaForge("http://127.0.0.1:9", "o", "r", "t", webhook_secret="s3cret")


@pytest.fixture
def github() -> GitHubForge:
    return GitHubForge("o", "r", "t", api_url="http://127.0.0.1:9", webhook_secret="s3cret")


BODY = json.dumps(
    {
        "action": "closed",
        "number": 7,
        "pull_request": {
            "number": 7,
            "merged": True,
            "merge_commit_sha": "abc",
            "head": {"ref": "submit/u/x"},
            "merged_by": {"login": "wangwu"},
        },
        "sender": {"login": "wangwu"},
    }
).encode()


def sign(body: bytes, secret: str = "s3cret") -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_gitea_webhook_with_a_valid_signature_is_accepted_and_parsed(gitea: GiteaForge) -> None:
    event = gitea.verify_webhook(
        {"X-Gitea-Event": "pull_request", "X-Gitea-Signature": sign(BODY)}, BODY
    )

    assert event is not None
    assert (event.kind, event.action, event.number, event.merged, event.branch, event.actor) == (
        "pull_request",
        "closed",
        7,
        True,
        "submit/u/x",
        "wangwu",
    )


def test_forgejo_headers_and_any_header_case_are_accepted(gitea: GiteaForge) -> None:
    headers = {"x-forgejo-event": "pull_request", "x-forgejo-signature": sign(BODY).upper()}

    assert gitea.verify_webhook(headers, BODY) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Gitea-Event": "pull_request"},  # missing
        {"X-Gitea-Event": "pull_request", "X-Gitea-Signature": ""},
        {"X-Gitea-Event": "pull_request", "X-Gitea-Signature": sign(BODY, "other")},
        {"X-Gitea-Event": "pull_request", "X-Gitea-Signature": sign(BODY + b" ")},
        {"X-Gitea-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + sign(BODY)},
    ],
)
def test_a_gitea_webhook_without_a_valid_signature_is_refused(
    gitea: GiteaForge, headers: dict[str, str]
) -> None:
    assert gitea.verify_webhook(headers, BODY) is None


def test_a_github_webhook_with_a_valid_signature_is_accepted(github: GitHubForge) -> None:
    headers = {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + sign(BODY)}

    event = github.verify_webhook(headers, BODY)

    assert event is not None and event.merged and event.number == 7


@pytest.mark.parametrize(
    "headers",
    [
        {"X-GitHub-Event": "pull_request"},
        {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(BODY)},  # no "sha256="
        {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + sign(BODY, "x")},
        {"X-GitHub-Event": "pull_request", "X-Hub-Signature": "sha1=" + sign(BODY)},
    ],
)
def test_a_github_webhook_without_a_valid_signature_is_refused(
    github: GitHubForge, headers: dict[str, str]
) -> None:
    assert github.verify_webhook(headers, BODY) is None


FORM_BODY = b"payload=" + urllib.parse.quote_plus(BODY.decode()).encode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_form_encoded_github_delivery_is_signed_over_its_raw_body(github: GitHubForge) -> None:
    good = {
        **FORM,
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": "sha256=" + sign(FORM_BODY),
    }
    over_payload = {**good, "X-Hub-Signature-256": "sha256=" + sign(BODY)}

    event = github.verify_webhook(good, FORM_BODY)

    assert event is not None and event.merged and event.number == 7
    assert github.verify_webhook(over_payload, FORM_BODY) is None


def test_a_form_encoded_gitea_delivery_is_signed_over_its_json_payload(gitea: GiteaForge) -> None:
    good = {**FORM, "X-Gitea-Event": "pull_request", "X-Gitea-Signature": sign(BODY)}
    over_raw_body = {**good, "X-Gitea-Signature": sign(FORM_BODY)}

    event = gitea.verify_webhook(good, FORM_BODY)

    assert event is not None and event.merged and event.number == 7
    assert gitea.verify_webhook(over_raw_body, FORM_BODY) is None


def test_without_a_configured_secret_no_webhook_is_ever_accepted() -> None:
    forge = GiteaForge("http://127.0.0.1:9", "o", "r", "t", webhook_secret="")
    empty_signature = sign(BODY, "")

    assert forge.verify_webhook({"X-Gitea-Signature": empty_signature}, BODY) is None


# -- the service against a forge -------------------------------------------------------------


@dataclass
class Setup:
    service: SubmissionService
    fake: FakeForge
    remote: Path
    merged: list[str]


def make_service(
    tmp_path: Path,
    fake: FakeForge,
    remote: Path,
    token: str | None = None,
    clock: Callable[[], float] = time.time,
) -> SubmissionService:
    config = GitConfig(
        instance_dir=tmp_path / "instance",
        service_repo=tmp_path / "instance" / "service.git",
        remote=str(remote),
        forge=ForgeConfig(
            kind=fake.dialect,
            api_url=fake.url,
            owner=fake.owner,
            repo=fake.repo,
            token=token or fake.token,
            webhook_secret=fake.webhook_secret,
            timeout=5,
        ),
    )
    return SubmissionService(config, labels=lambda report: LABELS, clock=clock)


@pytest.fixture(params=["gitea", "github"])
def setup(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    worktree = make_plan_worktree(tmp_path / "plan")
    remote = tmp_path / "remote.git"
    repository.seed_bare_from_worktree(worktree, remote, "main")
    fake = FakeForge(request.param, remote).start()
    service = make_service(tmp_path, fake, remote)
    merged: list[str] = []
    service.on_merged(merged.append)
    yield Setup(service, fake, remote, merged)
    fake.stop()


def main_tip(setup: Setup) -> str:
    return git(setup.remote, "rev-parse", "refs/heads/main")


def test_sync_opens_one_pull_request_per_submission(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.submit(sample_report("r-2", unit="unit-b"), [], "李四", "b@example.org")

    result = setup.service.sync(now=T0)
    again = setup.service.sync(now=T0 + 1)

    assert (result.pushed, result.opened, again.opened) == (2, 2, 0)
    pulls = sorted(setup.fake.pulls.values(), key=lambda p: p.head)
    assert [(p.head, p.base, p.title) for p in pulls] == [
        ("submit/unit-a/r-1", "main", "【填报】甲单位 季度进展表 2022年第一季度"),
        ("submit/unit-b/r-2", "main", "【填报】甲单位 季度进展表 2022年第一季度"),
    ]
    assert "| 数量 | 3 |" in pulls[0].body
    record = setup.service.get("r-1")
    assert record.state == IN_REVIEW
    web = "pulls" if setup.fake.dialect == "gitea" else "pull"
    assert record.review_url == f"{setup.fake.url}/city-org/plan/{web}/{pulls[0].number}"


def test_approval_merges_the_pull_request_through_the_api(setup: Setup) -> None:
    record = setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    before = main_tip(setup)

    setup.service.approve("r-1", "王五", "wangwu@example.org")

    tip = main_tip(setup)
    assert git(setup.remote, "rev-parse", f"{tip}^1", f"{tip}^2").splitlines() == [
        before,
        record.commit,
    ]
    message = git(setup.remote, "log", "-1", "--format=%B", tip)
    assert message.startswith("Approve submission r-1 (unit-a quarterly 2022-Q1)")
    assert "Reviewed-by: 王五 <wangwu@example.org>" in message
    pull = next(iter(setup.fake.pulls.values()))
    assert pull.merged
    assert setup.service.get("r-1").state == APPROVED
    assert setup.merged == [tip]
    # Approving again changes nothing on the forge.
    with pytest.raises(Exception, match="approved"):
        setup.service.approve("r-1", "王五", "wangwu@example.org")


def test_rejection_closes_the_pull_request_with_the_reason(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    before = main_tip(setup)

    setup.service.reject("r-1", "王五", "附件缺失")

    pull = next(iter(setup.fake.pulls.values()))
    assert (pull.state, pull.merged, pull.comments) == ("closed", False, ["退回原因：附件缺失"])
    assert main_tip(setup) == before
    record = setup.service.get("r-1")
    assert (record.state, record.reason) == (REJECTED, "附件缺失")


def test_a_merge_in_the_forge_reported_by_webhook_approves_the_submission(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    number = setup.service.outbox.entry("r-1").pr_number
    setup.fake.merge_in_ui(number, user="wangwu")
    headers, body = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(number))

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    record = setup.service.get("r-1")
    assert (record.state, record.reviewer) == (APPROVED, "wangwu")
    assert setup.merged == [main_tip(setup)]
    # A repeated delivery is harmless.
    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)
    assert len(setup.merged) == 1


def test_a_pull_request_closed_in_the_forge_rejects_the_submission(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    number = setup.service.outbox.entry("r-1").pr_number
    setup.fake.close_in_ui(number)
    headers, body = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(number))

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    record = setup.service.get("r-1")
    assert (record.state, record.reason) == (REJECTED, CLOSED_ON_FORGE)
    assert setup.merged == []


def test_a_forged_or_misdirected_webhook_changes_nothing(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    number = setup.service.outbox.entry("r-1").pr_number
    payload = setup.fake.pull_request_payload(number)
    payload["pull_request"]["merged"] = True
    forged_headers, forged = setup.fake.webhook("pull_request", payload, secret="guessed")
    good_headers, good = setup.fake.webhook("pull_request", payload)
    other = "github" if setup.fake.dialect == "gitea" else "gitea"

    assert not setup.service.handle_webhook(setup.fake.dialect, forged_headers, forged)
    assert not setup.service.handle_webhook(setup.fake.dialect, {}, good)
    assert not setup.service.handle_webhook(other, good_headers, good)
    assert not setup.service.handle_webhook("local", good_headers, good)

    assert setup.service.get("r-1").state == IN_REVIEW
    assert setup.merged == []


def test_a_push_to_main_reported_by_webhook_triggers_a_rebuild(setup: Setup) -> None:
    tip = main_tip(setup)
    headers, body = setup.fake.webhook("push", {"ref": "refs/heads/main", "after": tip})
    other_headers, other = setup.fake.webhook("push", {"ref": "refs/heads/submit/u/x"})

    assert setup.service.handle_webhook(setup.fake.dialect, other_headers, other)
    assert setup.merged == []
    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)
    assert setup.merged == [tip]


def test_sync_polls_open_pull_requests_when_no_webhook_arrives(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.submit(sample_report("r-2", unit="unit-b"), [], "李四", "b@example.org")
    setup.service.sync(now=T0)
    setup.fake.merge_in_ui(setup.service.outbox.entry("r-1").pr_number)
    setup.fake.close_in_ui(setup.service.outbox.entry("r-2").pr_number)

    assert setup.service.sync(now=T0 + 1).decided == 0  # asked again only after poll_interval
    result = setup.service.sync(now=T0 + 60)

    assert result.decided == 2
    assert setup.service.get("r-1").state == APPROVED
    assert setup.service.get("r-2").state == REJECTED
    assert setup.merged == [main_tip(setup)]


def test_a_forge_that_is_down_then_back_gets_each_pull_request_once(setup: Setup) -> None:
    setup.fake.down = True
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    first = setup.service.sync(now=T0)

    assert (first.pushed, first.opened, first.failed) == (1, 0, 1)
    entry = setup.service.outbox.entry("r-1")
    assert (entry.record.state, entry.pushed, entry.attempts) == (QUEUED, True, 1)
    assert "503" in entry.last_error

    setup.fake.down = False
    second = setup.service.sync(now=T0 + 60)

    assert (second.pushed, second.opened) == (0, 1)
    assert len(setup.fake.pulls) == 1
    assert setup.service.get("r-1").state == IN_REVIEW


def test_a_forge_that_refuses_connections_then_comes_back_is_retried(
    setup: Setup, tmp_path: Path
) -> None:
    setup.fake.stop()
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    assert setup.service.sync(now=T0).failed == 1
    assert setup.service.get("r-1").state == QUEUED

    setup.fake.start()  # same port
    assert setup.service.sync(now=T0 + 60).opened == 1

    assert len(setup.fake.pulls) == 1
    assert setup.service.get("r-1").state == IN_REVIEW


def test_a_pull_request_opened_before_a_crash_is_adopted_not_duplicated(
    setup: Setup, tmp_path: Path
) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    record = setup.service.get("r-1")
    # An earlier run pushed and opened the pull request, then died before recording it.
    repository.push_branches(setup.service._repo(), str(setup.remote), [record.branch])
    number, url = setup.service.forge.open_pull_request(record, "earlier", "body")

    setup.service.sync(now=T0)

    assert len(setup.fake.pulls) == 1
    entry = setup.service.outbox.entry("r-1")
    assert (entry.pr_number, entry.record.review_url) == (number, url)


def test_a_wrong_token_keeps_the_submission_queued_with_the_error(
    setup: Setup, tmp_path: Path
) -> None:
    service = make_service(tmp_path, setup.fake, setup.remote, token="wrong")
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")

    assert service.sync(now=T0).failed == 1

    entry = service.outbox.entry("r-1")
    assert entry.record.state == QUEUED
    assert "401" in entry.last_error
    assert setup.fake.pulls == {}
    with pytest.raises(ForgeError):
        service.forge.pull_request_state(1)


def test_the_environment_selects_the_remote_and_the_forge(setup: Setup, tmp_path: Path) -> None:
    environ = {
        "PLANSITE_REMOTE": str(setup.remote),
        "PLANSITE_FORGE": setup.fake.dialect,
        "PLANSITE_FORGE_URL": setup.fake.url,
        "PLANSITE_FORGE_OWNER": setup.fake.owner,
        "PLANSITE_FORGE_REPO": setup.fake.repo,
        "PLANSITE_FORGE_TOKEN": setup.fake.token,
        "PLANSITE_WEBHOOK_SECRET": setup.fake.webhook_secret,
        "PLANSITE_COMMITTER_NAME": "填报服务",
    }
    settings = load_settings({"INSTANCE": str(tmp_path / "env")}, environ)
    (tmp_path / "env").mkdir()
    service = SubmissionService(git_config(settings))

    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    assert service.sync(now=T0).opened == 1

    assert service.forge.kind == setup.fake.dialect
    assert [p.head for p in setup.fake.pulls.values()] == ["submit/unit-a/r-1"]
    commit = git(
        tmp_path / "env" / "service.git",
        "log",
        "-1",
        "--format=%cn",
        "refs/heads/submit/unit-a/r-1",
    )
    assert commit == "填报服务"


def test_without_a_configured_remote_the_embedded_default_is_used(tmp_path: Path) -> None:
    worktree = make_plan_worktree(tmp_path / "plan")

    settings = load_settings({"ROOT": str(worktree), "INSTANCE": str(tmp_path / "instance")}, {})
    (tmp_path / "instance").mkdir()
    service = SubmissionService(git_config(settings))

    assert service.forge.kind == "local"
    assert Path(service.config.remote) == tmp_path / "instance" / "remote.git"
    with pytest.raises(ValueError, match="on this machine"):
        SubmissionService(GitConfig(tmp_path, tmp_path / "s.git", "https://example.org/plan.git"))
    with pytest.raises(ValueError, match="unknown forge kind"):
        GitConfig(tmp_path, tmp_path / "s.git", "/x", forge=ForgeConfig(kind="bitbucket"))


def test_every_registered_forge_is_made_by_its_own_module() -> None:
    from forms.forges import FORGES, make_forge

    committer = repository.Identity("服务", "service@example.org")
    for kind, create in FORGES.items():
        assert create.__module__ == f"forms.forges.{kind}"
        forge = make_forge(
            ForgeConfig(kind=kind, api_url="http://127.0.0.1:9"),
            remote="/srv/plan.git",
            main_branch="main",
            committer=committer,
        )
        assert forge.kind == kind


# -- merging what was reviewed, and what the forge says meanwhile ----------------------------


def open_review(setup: Setup, submission_id: str = "r-1", **report: Any) -> int:
    setup.service.submit(sample_report(submission_id, **report), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    number = setup.service.outbox.entry(submission_id).pr_number
    assert number is not None
    return number


def test_approval_merges_the_reviewed_commit_not_one_pushed_later(setup: Setup) -> None:
    number = open_review(setup)
    record = setup.service.get("r-1")
    before = main_tip(setup)
    setup.fake.move_branch(record.branch)  # someone pushes onto submit/... on the forge

    with pytest.raises(HeadMoved) as refused:
        setup.service.approve("r-1", "王五", "wangwu@example.org")

    assert "已被改动" in refused.value.user_message and "未合并" in refused.value.user_message
    assert main_tip(setup) == before
    assert not setup.fake.pulls[number].merged
    assert setup.service.get("r-1").state == IN_REVIEW
    assert setup.merged == []


def test_approvals_in_a_row_wait_out_the_forges_mergeability_check(setup: Setup) -> None:
    for n in range(1, 5):
        setup.service.submit(sample_report(f"r-{n}", unit=f"unit-{n}"), [], "张三", "a@x.org")
    setup.service.sync(now=T0)
    setup.fake.check_seconds = 0.3  # every merge makes the others answer 405 for a moment

    for n in range(1, 5):
        setup.service.approve(f"r-{n}", "王五", "wangwu@example.org")

    assert [setup.service.get(f"r-{n}").state for n in range(1, 5)] == [APPROVED] * 4
    assert all(pull.merged for pull in setup.fake.pulls.values())
    refused = [r for r in setup.fake.requests if r[0] in ("PUT", "POST") and r[2] == 405]
    assert refused, "the fake never answered 405: the test would prove nothing"


def test_approving_a_pull_request_closed_on_the_forge_records_the_closure(setup: Setup) -> None:
    number = open_review(setup)
    setup.fake.close_in_ui(number)
    before = main_tip(setup)

    with pytest.raises(InvalidState) as refused:
        setup.service.approve("r-1", "王五", "wangwu@example.org")

    assert "已在代码托管平台上关闭" in refused.value.user_message
    record = setup.service.get("r-1")
    assert (record.state, record.reason) == (REJECTED, CLOSED_ON_FORGE)
    assert main_tip(setup) == before


def test_rejecting_a_pull_request_merged_on_the_forge_records_the_merge(setup: Setup) -> None:
    number = open_review(setup)
    setup.fake.merge_in_ui(number, user="wangwu")

    with pytest.raises(InvalidState) as refused:
        setup.service.reject("r-1", "王五", "附件缺失")

    assert "已在代码托管平台上合并" in refused.value.user_message
    assert setup.service.get("r-1").state == APPROVED
    assert setup.merged == [main_tip(setup)]


def test_a_pull_request_body_over_the_forges_limit_is_cut_with_a_note(setup: Setup) -> None:
    number = open_review(setup, values={"notes": "长" * 70_000})

    body = setup.fake.pulls[number].body
    assert len(body) <= 65_536
    assert body.endswith(BODY_CUT_NOTE)
    assert setup.service.get("r-1").state == IN_REVIEW


# -- rate limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "reset_in"),
    [(403, None, 600), (429, None, 600), (403, 120, 120), (429, 120, 120)],
    ids=["primary-403", "primary-429", "secondary-403", "secondary-429"],
)
def test_a_rate_limited_forge_stops_the_sync_until_the_reset_then_gets_everything(
    setup: Setup, tmp_path: Path, status: int, retry_after: int | None, reset_in: int
) -> None:
    now = [T0]
    setup.fake.clock = lambda: now[0]
    service = make_service(tmp_path / "limited", setup.fake, setup.remote, clock=lambda: now[0])
    for n in range(1, 4):
        service.submit(sample_report(f"r-{n}", unit=f"unit-{n}"), [], "张三", "a@example.org")
    setup.fake.rate_limit(T0 + reset_in, status=status, retry_after=retry_after)

    first = service.sync(now=T0)

    assert first.opened == 0
    assert [r[2] for r in setup.fake.requests] == [status]  # one refusal, then silence
    for moment in (T0 + 1, T0 + reset_in / 2, T0 + reset_in - 1):
        now[0] = moment
        assert service.sync(now=moment).opened == 0
    with pytest.raises(ForgeRateLimited) as refused:
        service.approve("r-1", "王五", "wangwu@example.org")
    assert "请求次数已达上限" in refused.value.user_message
    assert len(setup.fake.requests) == 1  # no request at all while the limit lasts

    now[0] = T0 + reset_in + 1
    later = service.sync(now=now[0])

    assert later.opened == 3
    assert [r.state for r in service.list()] == [IN_REVIEW] * 3
    assert len(setup.fake.pulls) == 3


def test_a_rate_limit_met_by_an_approval_pauses_the_sync_too(setup: Setup, tmp_path: Path) -> None:
    now = [T0]
    setup.fake.clock = lambda: now[0]
    service = make_service(tmp_path / "limited", setup.fake, setup.remote, clock=lambda: now[0])
    service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.fake.rate_limit(T0 + 600)

    with pytest.raises(ForgeRateLimited) as refused:
        service.approve("r-1", "王五", "wangwu@example.org")  # delivers it first: refused

    assert "约 10 分钟后重试" in refused.value.user_message
    sent = len(setup.fake.requests)
    now[0] = T0 + 300
    assert service.sync(now=now[0]).opened == 0
    assert len(setup.fake.requests) == sent
    now[0] = T0 + 601
    assert service.sync(now=now[0]).opened == 1


# -- webhooks: form deliveries, and only our own pull requests count -------------------------


def test_form_encoded_webhooks_are_accepted_as_each_forge_signs_them(setup: Setup) -> None:
    number = open_review(setup)
    setup.fake.merge_in_ui(number, user="wangwu")
    payload = setup.fake.pull_request_payload(number)
    headers, body = setup.fake.webhook("pull_request", payload, content_type="form")
    assert body.startswith(b"payload=")

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    assert setup.service.get("r-1").state == APPROVED


def test_a_closed_pull_request_from_a_fork_with_the_same_branch_changes_nothing(
    setup: Setup,
) -> None:
    open_review(setup)
    branch = setup.service.get("r-1").branch
    fork = setup.fake.open_fork_pull_request("outsider", branch)
    setup.fake.close_in_ui(fork)
    headers, body = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(fork))

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    assert setup.service.get("r-1").state == IN_REVIEW


@pytest.mark.parametrize(
    "mismatch", ["repository", "head repository", "base branch", "head branch"]
)
def test_an_event_for_our_number_but_another_pull_request_changes_nothing(
    setup: Setup, mismatch: str
) -> None:
    number = open_review(setup)
    setup.fake.close_in_ui(number)
    payload = setup.fake.pull_request_payload(number)
    pull = payload["pull_request"]
    if mismatch == "repository":
        payload["repository"]["full_name"] = "someone/plan"
    elif mismatch == "head repository":
        pull["head"]["repo"]["full_name"] = "outsider/plan"
    elif mismatch == "base branch":
        pull["base"]["ref"] = "release"
    else:
        pull["head"]["ref"] = "submit/unit-a/other"
    headers, body = setup.fake.webhook("pull_request", payload)

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    assert setup.service.get("r-1").state == IN_REVIEW


def test_an_event_for_a_pull_request_never_recorded_changes_nothing(setup: Setup) -> None:
    number = open_review(setup)
    setup.fake.close_in_ui(number)
    payload = setup.fake.pull_request_payload(number)
    payload["number"] = payload["pull_request"]["number"] = number + 100
    headers, body = setup.fake.webhook("pull_request", payload)

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    assert setup.service.get("r-1").state == IN_REVIEW


def test_a_pull_request_reopened_on_the_forge_is_in_review_again(setup: Setup) -> None:
    number = open_review(setup)
    setup.fake.close_in_ui(number)
    closed = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(number))
    assert setup.service.handle_webhook(setup.fake.dialect, *closed)
    assert setup.service.get("r-1").state == REJECTED

    setup.fake.reopen_in_ui(number)
    payload = setup.fake.pull_request_payload(number, action="reopened")
    assert setup.service.handle_webhook(
        setup.fake.dialect, *setup.fake.webhook("pull_request", payload)
    )

    assert setup.service.get("r-1").state == IN_REVIEW
    setup.service.approve("r-1", "王五", "wangwu@example.org")
    assert setup.service.get("r-1").state == APPROVED


# -- deleted branches --------------------------------------------------------------------------


@pytest.mark.parametrize("told_by", ["webhook", "polling"])
def test_a_deleted_head_branch_is_not_a_rejection_the_submission_goes_out_again(
    setup: Setup, told_by: str
) -> None:
    number = open_review(setup)
    branch = setup.service.get("r-1").branch
    setup.fake.delete_branch(branch)  # closes the pull request on both forges
    assert setup.fake.pulls[number].state == "closed"

    if told_by == "webhook":
        headers, body = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(number))
        assert setup.service.handle_webhook(setup.fake.dialect, headers, body)
    else:
        setup.service.sync(now=T0 + 60)
    assert setup.service.get("r-1").state == QUEUED
    setup.service.sync(now=T0 + 120)

    entry = setup.service.outbox.entry("r-1")
    assert entry.record.state == IN_REVIEW and entry.pr_number != number
    assert setup.fake.pulls[entry.pr_number].head == branch
    setup.service.approve("r-1", "王五", "wangwu@example.org")
    assert setup.service.get("r-1").state == APPROVED


def test_a_branch_gone_before_its_pull_request_opened_is_pushed_again(setup: Setup) -> None:
    setup.fake.down = True
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)  # pushed, the forge down
    branch = setup.service.get("r-1").branch
    setup.fake.delete_branch(branch)
    setup.fake.down = False

    for minute in range(1, 30):
        setup.service.sync(now=T0 + 60 * minute * 20)
        if setup.service.get("r-1").state == IN_REVIEW:
            break

    assert setup.service.get("r-1").state == IN_REVIEW
    assert [p.head for p in setup.fake.pulls.values()] == [branch]


# -- base URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "https://api.github.com"),
        ("https://api.github.com", "https://api.github.com"),
        ("https://api.github.com/", "https://api.github.com"),
        ("https://github.com", "https://api.github.com"),
        ("https://github.example.org", "https://github.example.org/api/v3"),
        ("https://github.example.org/", "https://github.example.org/api/v3"),
        ("https://github.example.org/api/v3", "https://github.example.org/api/v3"),
        ("https://github.example.org/api/v3/", "https://github.example.org/api/v3"),
    ],
)
def test_github_and_github_enterprise_base_urls(given: str, expected: str) -> None:
    assert github_api_url(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://git.example.org", "https://git.example.org/api/v1"),
        ("https://git.example.org/", "https://git.example.org/api/v1"),
        ("https://example.org/gitea/", "https://example.org/gitea/api/v1"),
        ("https://example.org/gitea/api/v1", "https://example.org/gitea/api/v1"),
        ("https://example.org/gitea/api/v1/", "https://example.org/gitea/api/v1"),
    ],
)
def test_gitea_base_urls_with_and_without_a_subpath(given: str, expected: str) -> None:
    assert gitea_api_url(given) == expected


def test_a_gitea_under_a_subpath_gets_its_pull_requests(tmp_path: Path) -> None:
    worktree = make_plan_worktree(tmp_path / "plan")
    remote = tmp_path / "remote.git"
    repository.seed_bare_from_worktree(worktree, remote, "main")
    fake = FakeForge("gitea", remote, subpath="/code").start()
    try:
        service = make_service(tmp_path, fake, remote)
        service.submit(sample_report("r-1"), [], "张三", "a@example.org")

        assert service.sync(now=T0).opened == 1
        assert fake.url.endswith("/code")
    finally:
        fake.stop()


def test_a_superseded_submissions_pull_request_is_closed_with_a_comment(setup: Setup) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    correction = {**sample_report("r-2"), "submitted_at": "2022-10-09T09:30:00+08:00"}
    setup.service.submit(correction, [], "张三", "a@example.org")
    before = main_tip(setup)

    setup.service.sync(now=T0 + 1)

    pulls = {pull.head: pull for pull in setup.fake.pulls.values()}
    old, new = pulls["submit/unit-a/r-1"], pulls["submit/unit-a/r-2"]
    assert (old.state, old.merged) == ("closed", False)
    assert old.comments == ["该填报已被同一单位、表单和周期的更正取代，合并请求已关闭。"]
    assert new.state == "open"
    assert main_tip(setup) == before
    assert setup.service.get("r-1").state == SUPERSEDED
    # Closed once: a later sync does not ask the forge again.
    asked = len(setup.fake.requests)
    setup.service.sync(now=T0 + 2)
    assert [r for r in setup.fake.requests[asked:] if r[0] != "GET"] == []


def test_a_withdrawn_submissions_pull_request_is_closed_even_after_an_outage(
    setup: Setup,
) -> None:
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    setup.fake.down = True

    setup.service.withdraw("r-1", "张三")  # the forge is away: withdrawn all the same

    assert setup.service.get("r-1").state == WITHDRAWN
    pull = next(iter(setup.fake.pulls.values()))
    assert pull.state == "open"
    setup.fake.down = False
    setup.service.sync(now=T0 + 3600)
    assert (pull.state, pull.comments) == ("closed", ["该填报已由填报单位撤回，合并请求已关闭。"])


def test_a_superseded_pull_request_merged_in_the_forge_shows_as_approved(setup: Setup) -> None:
    """What the submission shows matches main: a merge in the forge's own interface
    publishes the report whatever the service had decided."""
    setup.service.submit(sample_report("r-1"), [], "张三", "a@example.org")
    setup.service.sync(now=T0)
    number = setup.service.outbox.entry("r-1").pr_number
    setup.service.withdraw("r-1", "张三")
    setup.fake.pulls[number].state = "open"  # reopened by someone in the forge
    setup.fake.merge_in_ui(number, user="wangwu")
    headers, body = setup.fake.webhook("pull_request", setup.fake.pull_request_payload(number))

    assert setup.service.handle_webhook(setup.fake.dialect, headers, body)

    assert setup.service.get("r-1").state == APPROVED
