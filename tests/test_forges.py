"""Reviewing on a forge: Gitea/Forgejo and GitHub pull requests, through their REST APIs
(served by tests/fake_forge.py over real HTTP) and their signed webhooks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.reports import report_from_document
from forms import repository
from forms.forges.base import (
    ForgeError,
    ReportLabels,
    identifier_labels,
    pull_request_text,
    table_cell,
)
from forms.forges.gitea import GiteaForge
from forms.forges.github import GitHubForge
from forms.outbox import APPROVED, IN_REVIEW, QUEUED, REJECTED, SUPERSEDED, WITHDRAWN
from forms.services import git_config
from forms.settings import load_settings
from forms.submissions import CLOSED_ON_FORGE, ForgeConfig, GitConfig, SubmissionService
from tests.fake_forge import FakeForge, git, make_plan_worktree, sample_report

T0 = 1_700_000_000.0
LABELS = ReportLabels(
    unit_name="甲单位",
    form_title="季度进展表",
    period_title="2022年第一季度",
    field_titles={"count": "数量", "done": "是否完成", "notes": "说明"},
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
    tmp_path: Path, fake: FakeForge, remote: Path, token: str | None = None
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
    return SubmissionService(config, labels=lambda report: LABELS)


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
    assert record.review_url == f"{setup.fake.url}/city-org/plan/pulls/{pulls[0].number}"


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
        GitConfig(tmp_path, tmp_path / "s.git", "/x", forge=ForgeConfig(kind="gitlab"))


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
