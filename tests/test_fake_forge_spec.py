"""The fake forge (tests/fake_forge.py) checked point by point against what GitHub's and
Gitea's documentation publish: the example payloads in tests/fixtures/forges (sources named
in its README), the documented status codes, messages and headers. A fake that drifts from
the real forges makes every forge test prove less; these tests keep it honest."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forms import repository
from forms.forges.base import event_from_payload
from forms.forges.gitea import GiteaForge
from forms.forges.github import GitHubForge
from tests.fake_forge import FakeForge, git, make_plan_worktree

FIXTURES = Path(__file__).parent / "fixtures" / "forges"

# Every field of a pull request the adapters read (forms/forges/rest.py, base.py).
READ_FIELDS = [
    ("number",),
    ("state",),
    ("merged",),
    ("merge_commit_sha",),
    ("merged_by",),
    ("html_url",),
    ("mergeable",),
    ("head", "ref"),
    ("head", "sha"),
    ("head", "repo", "full_name"),
    ("base", "ref"),
    ("base", "repo", "full_name"),
]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def dig(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        assert isinstance(document, dict) and key in document, f"missing {'.'.join(path)}"
        document = document[key]
    return document


def json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class Api:
    """Plain HTTP against the fake, as the documentation describes the calls."""

    def __init__(self, fake: FakeForge):
        self.fake = fake

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.fake.url.removesuffix(self.fake.subpath) + self.fake.api_prefix + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"token {self.fake.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None, response.headers
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None, error.headers

    def repo(self, method: str, rest: str, payload: Any = None) -> tuple[int, Any, Any]:
        return self.call(method, f"/repos/{self.fake.owner}/{self.fake.repo}/{rest}", payload)


@pytest.fixture(params=["github", "gitea"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    worktree = make_plan_worktree(tmp_path / "plan")
    remote = tmp_path / "remote.git"
    repository.seed_bare_from_worktree(worktree, remote, "main")
    for branch in ("topic-a", "topic-b"):
        git(remote, "branch", branch, "main")
    fake = FakeForge(request.param, remote).start()
    yield Api(fake)
    fake.stop()


def github(api: Api) -> bool:
    return api.fake.dialect == "github"


def open_pull(api: Api, head: str = "topic-a", body: str = "body") -> dict[str, Any]:
    status, pull, _ = api.repo(
        "POST", "pulls", {"head": head, "base": "main", "title": "t", "body": body}
    )
    assert status == 201
    assert isinstance(pull, dict)
    return pull


# -- payload shapes ----------------------------------------------------------------------------


def test_a_pull_request_has_every_documented_field_the_service_reads_with_its_type(
    api: Api,
) -> None:
    documented = fixture(f"{api.fake.dialect}-pull-request.json")
    pull = open_pull(api)

    for path in READ_FIELDS:
        ours, theirs = dig(pull, path), dig(documented, path)
        # merged_by / merge_commit_sha are null until merged; mergeable may be null.
        assert json_type(ours) == json_type(theirs) or None in (ours, theirs), path


def test_a_pull_request_event_has_the_documented_shape(api: Api) -> None:
    documented = fixture(f"{api.fake.dialect}-pull-request-closed-event.json")
    number = open_pull(api)["number"]
    api.fake.merge_in_ui(number)

    ours = api.fake.pull_request_payload(number)

    assert set(documented) >= {"action", "number", "pull_request", "repository", "sender"}
    assert set(ours) >= {"action", "number", "pull_request", "repository", "sender"}
    for path in READ_FIELDS:
        assert json_type(dig(ours["pull_request"], path)) == json_type(
            dig(documented["pull_request"], path)
        ) or None in (dig(ours["pull_request"], path), dig(documented["pull_request"], path))
    assert dig(ours, ("repository", "full_name")) == "city-org/plan"


@pytest.mark.parametrize("dialect", ["github", "gitea"])
def test_the_documented_example_event_reads_as_a_merged_pull_request(dialect: str) -> None:
    documented = fixture(f"{dialect}-pull-request-closed-event.json")

    event = event_from_payload("pull_request", documented)

    pull = documented["pull_request"]
    assert (event.action, event.number, event.merged) == ("closed", pull["number"], True)
    assert event.branch == pull["head"]["ref"]
    assert event.repository == documented["repository"]["full_name"]
    assert event.head_repository == pull["head"]["repo"]["full_name"]
    assert event.base_branch == pull["base"]["ref"]
    assert event.actor == pull["merged_by"]["login"]


def test_a_forks_pull_request_names_the_fork_as_head_repository(api: Api) -> None:
    number = api.fake.open_fork_pull_request("outsider", "topic-a")

    status, pull, _ = api.repo("GET", f"pulls/{number}")

    assert status == 200
    assert pull["head"]["repo"]["full_name"] == "outsider/plan"
    assert pull["head"]["repo"]["fork"] is True
    assert pull["base"]["repo"]["full_name"] == "city-org/plan"
    assert pull["head"]["label"] == "outsider:topic-a"


# -- status codes and messages -----------------------------------------------------------------


def test_merging_a_closed_pull_request_answers_as_documented(api: Api) -> None:
    statuses = fixture(f"{api.fake.dialect}-statuses.json")["merge"]
    number = open_pull(api)["number"]
    api.fake.close_in_ui(number)

    status, answer, _ = merge(api, number)

    if github(api):
        assert (status, answer["message"]) == (405, statuses["405"]["message"])
    else:
        assert (status, answer["message"]) == (404, statuses["404 closed"]["message"])


def test_merging_a_merged_pull_request_answers_405(api: Api) -> None:
    number = open_pull(api)["number"]
    api.fake.merge_in_ui(number)

    status, _, _ = merge(api, number)

    assert status == 405


def test_merging_with_a_head_that_moved_answers_409(api: Api) -> None:
    statuses = fixture(f"{api.fake.dialect}-statuses.json")["merge"]
    pull = open_pull(api)
    api.fake.move_branch("topic-a")

    status, answer, _ = merge(api, pull["number"], head=pull["head"]["sha"])

    expected = statuses["409"] if github(api) else statuses["409 head moved"]
    assert (status, answer["message"]) == (409, expected["message"])
    assert not api.fake.pulls[pull["number"]].merged


def test_after_a_merge_the_other_pull_requests_answer_405_for_a_moment(api: Api) -> None:
    statuses = fixture(f"{api.fake.dialect}-statuses.json")["merge"]
    first, second = open_pull(api)["number"], open_pull(api, "topic-b")["number"]
    api.fake.check_seconds = 3600
    assert merge(api, first)[0] == 200

    status, answer, _ = merge(api, second)

    if github(api):
        expected = statuses["405 while the base moves (observed, not in the reference)"]
    else:
        expected = statuses["405 checking"]
    assert (status, answer["message"]) == (405, expected["message"])
    api.fake.check_seconds = 0
    api.fake.pulls[second].checking_until = 0
    assert merge(api, second)[0] == 200


def test_a_successful_merge_answers_as_documented(api: Api) -> None:
    number = open_pull(api)["number"]

    status, answer, _ = merge(api, number)

    assert status == 200
    if github(api):
        documented = fixture("github-statuses.json")["merge"]["200"]
        assert set(answer) == set(documented) and answer["merged"] is True
    else:
        assert answer is None  # Gitea: an empty 200


def test_closing_a_merged_pull_request(api: Api) -> None:
    number = open_pull(api)["number"]
    api.fake.merge_in_ui(number)

    status, answer, _ = api.repo("PATCH", f"pulls/{number}", {"state": "closed"})

    if github(api):
        assert status == 200 and answer["merged"] is True
    else:
        documented = fixture("gitea-statuses.json")["edit"]["412 merged"]
        assert (status, answer["message"]) == (412, documented["message"])


def test_opening_without_a_head_branch_or_twice_or_too_long(api: Api) -> None:
    statuses = fixture(f"{api.fake.dialect}-statuses.json")["create"]

    missing = api.repo("POST", "pulls", {"head": "gone", "base": "main", "title": "t"})
    open_pull(api)
    twice = api.repo("POST", "pulls", {"head": "topic-a", "base": "main", "title": "t"})
    long = api.repo(
        "POST", "pulls", {"head": "topic-b", "base": "main", "title": "t", "body": "x" * 65_537}
    )

    if github(api):
        assert (missing[0], missing[1]["errors"]) == (422, statuses["422 head"]["errors"])
        assert twice[0] == 422 and "already exists" in twice[1]["errors"][0]["message"]
        assert (long[0], long[1]["errors"]) == (422, statuses["422 body"]["errors"])
    else:
        assert (missing[0], missing[1]["message"]) == (404, statuses["404 head"]["message"])
        assert (twice[0], twice[1]["message"]) == (409, statuses["409 exists"]["message"])
        assert long[0] == 201


def test_deleting_a_head_branch_closes_its_pull_request(api: Api) -> None:
    number = open_pull(api)["number"]

    api.fake.delete_branch("topic-a")

    status, pull, _ = api.repo("GET", f"pulls/{number}")
    assert (status, pull["state"], pull["merged"]) == (200, "closed", False)
    assert api.repo("GET", "branches/topic-a")[0] == 404
    assert api.repo("GET", "branches/topic-b")[0] == 200


def test_lists_are_paged_with_a_link_header(api: Api) -> None:
    for branch in ("topic-a", "topic-b"):
        open_pull(api, branch)
    size = "limit" if api.fake.dialect == "gitea" else "per_page"

    status, first, headers = api.repo("GET", f"pulls?state=open&{size}=1&page=1")
    _, last, last_headers = api.repo("GET", f"pulls?state=open&{size}=1&page=2")

    assert status == 200 and len(first) == len(last) == 1
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    assert last_headers.get("Link") is None


# -- rate limits -------------------------------------------------------------------------------


def test_github_sends_its_rate_limit_headers_on_every_answer(api: Api) -> None:
    if not github(api):
        pytest.skip("Gitea has no API rate limit headers")
    documented = fixture("github-statuses.json")["every_answer_headers"]

    _, _, headers = api.repo("GET", "pulls")

    assert all(headers.get(name) is not None for name in documented)
    assert int(headers["x-ratelimit-remaining"]) < int(headers["x-ratelimit-limit"])


@pytest.mark.parametrize("status", [403, 429])
def test_a_used_up_primary_rate_limit_answers_as_documented(api: Api, status: int) -> None:
    if not github(api):
        pytest.skip("Gitea has no primary rate limit; a proxy in front answers 429")
    documented = fixture("github-statuses.json")["rate_limit"]["primary"]
    reset = int(api.fake.clock()) + 600
    api.fake.rate_limit(reset, status=status)

    answer_status, answer, headers = api.repo("GET", "pulls")

    assert answer_status in documented["statuses"] and answer_status == status
    assert all(headers.get(name) is not None for name in documented["headers"])
    assert headers["x-ratelimit-remaining"] == documented["remaining"]
    assert int(headers["x-ratelimit-reset"]) == reset
    assert "rate limit exceeded" in answer["message"]
    api.fake.rate_limit(0)
    assert api.repo("GET", "pulls")[0] == 200


def test_a_secondary_rate_limit_answers_with_retry_after(api: Api) -> None:
    documented = fixture("github-statuses.json")["rate_limit"]["secondary"]
    api.fake.rate_limit(api.fake.clock() + 60, status=429, retry_after=60)

    status, answer, headers = api.repo("GET", "pulls")

    assert status in documented["statuses"]
    assert headers["retry-after"] == "60"
    assert "secondary rate limit" in answer["message"]


# -- webhook deliveries ------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["json", "form"])
def test_deliveries_carry_the_documented_headers_and_signatures(
    api: Api, content_type: str
) -> None:
    documented = fixture(f"{api.fake.dialect}-statuses.json")
    number = open_pull(api)["number"]
    payload = api.fake.pull_request_payload(number)

    headers, body = api.fake.webhook("pull_request", payload, content_type=content_type)

    assert set(documented["webhook_headers"]) <= set(headers)
    text = json.dumps(payload).encode()
    if content_type == "form":
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert urllib.parse.parse_qs(body.decode())["payload"] == [text.decode()]
    else:
        assert body == text
    key = api.fake.webhook_secret.encode()
    if github(api):
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature-256"] == expected
        forge: GitHubForge | GiteaForge = GitHubForge(
            "city-org", "plan", "t", webhook_secret=api.fake.webhook_secret
        )
    else:
        assert headers["X-Gitea-Signature"] == hmac.new(key, text, hashlib.sha256).hexdigest()
        forge = GiteaForge(
            "http://x", "city-org", "plan", "t", webhook_secret=api.fake.webhook_secret
        )
    event = forge.verify_webhook(headers, body)
    assert event is not None and event.number == number


def merge(api: Api, number: int, head: str | None = None) -> tuple[int, Any, Any]:
    if github(api):
        payload: dict[str, str] = {"merge_method": "merge", "commit_title": "m"}
        if head:
            payload["sha"] = head
        return api.repo("PUT", f"pulls/{number}/merge", payload)
    payload = {"Do": "merge", "MergeTitleField": "m"}
    if head:
        payload["head_commit_id"] = head
    return api.repo("POST", f"pulls/{number}/merge", payload)
