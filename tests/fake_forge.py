"""A local stand-in for Gitea/Forgejo and GitHub (Enterprise): the documented REST endpoints
the form service uses, over real HTTP on 127.0.0.1, with token checks, merging for real in a
bare git repository (with the git CLI, independently of the code under test).

It answers as the published documentation and the Gitea sources say (tests/fixtures/forges
keeps the documented examples it is checked against, tests/test_fake_forge_spec.py):

  GitHub under /api/v3 (as GitHub Enterprise Server; the client is configured with the
  server root), Gitea under [subpath]/api/v1.
  POST   /repos/{owner}/{repo}/pulls                open; head must exist (GitHub 422, Gitea
                                                    404); a duplicate open head: GitHub 422,
                                                    Gitea 409; GitHub refuses a body over
                                                    65,536 characters (422)
  GET    /repos/{owner}/{repo}/pulls                list (state, head=owner:branch, page,
                                                    per_page / limit; `Link` rel="next")
  GET    /repos/{owner}/{repo}/pulls/{n}            one pull request (head.repo, base.repo)
  PATCH  /repos/{owner}/{repo}/pulls/{n}            {"state": "closed"}; Gitea 412 on a merged one
  PUT    /repos/{owner}/{repo}/pulls/{n}/merge      GitHub merge: 405 not mergeable (closed,
                                                    merged, conflicts, and "Base branch was
                                                    modified" while mergeability is computed),
                                                    409 when `sha` is not the head
  POST   /repos/{owner}/{repo}/pulls/{n}/merge      Gitea merge ({"Do": "merge"}): 404 closed,
                                                    405 merged / "Please try again later"
                                                    while checking, 409 "head out of date"
  POST   /repos/{owner}/{repo}/issues/{n}/comments  comment
  GET    /repos/{owner}/{repo}/branches/{branch}    200 or 404

Rate limits (rate_limit()): 403 with x-ratelimit-remaining: 0 and x-ratelimit-reset (primary)
or 403/429 with Retry-After (secondary); GitHub sends x-ratelimit-* on every answer.
After every merge the other open pull requests are "being checked" for `check_seconds`.
Deleting a branch closes the open pull requests it heads (both forges do).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GITHUB_BODY_LIMIT = 65536
GITHUB_RATE_LIMIT = 5000

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class PullRequest:
    number: int
    title: str
    body: str
    head: str
    base: str
    head_owner: str  # the head repository's owner: a fork's owner for a fork's pull request
    head_sha: str = ""  # a fork's head commit (ours is read from the repository)
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    comments: list[str] = field(default_factory=list)
    checking_until: float = 0.0  # mergeability is being (re)computed until then


def git(repo: Path, *args: str, input: str | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Forge Bot",
        "GIT_AUTHOR_EMAIL": "bot@forge.test",
        "GIT_COMMITTER_NAME": "Forge Bot",
        "GIT_COMMITTER_EMAIL": "bot@forge.test",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip()


class FakeForge:
    def __init__(
        self,
        dialect: str,
        repository: Path,
        *,
        owner: str = "city-org",
        repo: str = "plan",
        token: str = "forge-token",
        webhook_secret: str = "hook-secret",
        subpath: str = "",
        clock: Callable[[], float] = time.time,
    ):
        assert dialect in ("gitea", "github", "gitlab")
        self.dialect = dialect
        self.repository = repository
        self.owner = owner
        self.repo = repo
        self.token = token
        self.webhook_secret = webhook_secret
        self.subpath = subpath.rstrip("/")  # Gitea served under a path (ROOT_URL)
        self.clock = clock
        self.pulls: dict[int, PullRequest] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self.down = False  # answer every request with 503
        self.check_seconds = 0.0  # how long mergeability is recomputed after each merge
        self.used = 0  # requests counted against the GitHub rate limit this window
        self._limited_until = 0.0
        self._limit_status = 403
        self._retry_after: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeForge:
        handler = _handler_for(self)
        server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until start() again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """What an administrator configures: the server's root URL (GitHub Enterprise: the
        web root, the API is under /api/v3; Gitea: ROOT_URL, the API is under /api/v1)."""
        return f"http://127.0.0.1:{self._port}{self.subpath}"

    @property
    def api_prefix(self) -> str:
        version = {"gitea": "/api/v1", "github": "/api/v3", "gitlab": "/api/v4"}
        return self.subpath + version[self.dialect]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    # -- what a person (or the forge itself) does ----------------------------------------

    def merge_in_ui(self, number: int, user: str = "reviewer1") -> str:
        with self._lock:
            return self._merge(self.pulls[number], "Merge pull request", "", user)

    def close_in_ui(self, number: int) -> None:
        with self._lock:
            self.pulls[number].state = "closed"

    def reopen_in_ui(self, number: int) -> None:
        with self._lock:
            self.pulls[number].state = "open"

    def delete_branch(self, branch: str) -> None:
        """Delete a branch; both forges close the open pull requests it is the head of."""
        with self._lock:
            git(self.repository, "update-ref", "-d", f"refs/heads/{branch}")
            for pull in self.pulls.values():
                if pull.head == branch and pull.head_owner == self.owner and pull.state == "open":
                    pull.state = "closed"

    def move_branch(self, branch: str) -> str:
        """Someone pushes one more commit onto `branch`; returns the new head."""
        with self._lock:
            old = git(self.repository, "rev-parse", f"refs/heads/{branch}")
            tree = git(self.repository, "rev-parse", f"{old}^{{tree}}")
            new = git(self.repository, "commit-tree", tree, "-p", old, input="Pushed later\n")
            git(self.repository, "update-ref", f"refs/heads/{branch}", new, old)
            return new

    def open_fork_pull_request(self, fork_owner: str, branch: str, title: str = "fork") -> int:
        """An outsider's pull request from their fork `fork_owner/<repo>`."""
        with self._lock:
            pull = PullRequest(
                len(self.pulls) + 1, title, "", branch, "main", fork_owner, head_sha="f" * 40
            )
            self.pulls[pull.number] = pull
            return pull.number

    def rate_limit(
        self, until: float, *, status: int = 403, retry_after: int | None = None
    ) -> None:
        """Answer every API request with a rate-limit refusal until `until` (this forge's
        clock): the primary limit's headers, or a secondary limit's Retry-After."""
        with self._lock:
            self._limited_until, self._limit_status, self._retry_after = (
                until,
                status,
                retry_after,
            )

    def webhook(
        self,
        event: str,
        payload: dict[str, Any],
        secret: str | None = None,
        *,
        content_type: str = "json",
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a delivery, signed as this forge signs them: GitHub over the
        raw body, Gitea and Forgejo over the JSON payload (also in a form delivery)."""
        if self.dialect == "gitlab":
            # GitLab sends JSON only, with the secret itself as a token (no signature).
            hook = {"pull_request": "Merge Request Hook", "push": "Push Hook"}.get(event, event)
            return {
                "Content-Type": "application/json",
                "X-Gitlab-Event": hook,
                "X-Gitlab-Token": secret if secret is not None else self.webhook_secret,
                "X-Gitlab-Instance": self.url,
                "X-Gitlab-Webhook-UUID": "1e9e0c1f-2fbb-4d0e-8b8a-5b8a1c0f3d2e",
                "X-Gitlab-Event-UUID": "6f1c6c7e-8f3a-4a43-9a4c-0c9f0b5a1e11",
                "User-Agent": "GitLab/16.6.0",
            }, json.dumps(payload).encode()
        key = (secret if secret is not None else self.webhook_secret).encode()
        text = json.dumps(payload)
        if content_type == "form":
            body = urllib.parse.urlencode({"payload": text}).encode()
            media_type = "application/x-www-form-urlencoded"
        else:
            body = text.encode()
            media_type = "application/json"
        signed = body if self.dialect == "github" else text.encode()
        digest = hmac.new(key, signed, hashlib.sha256).hexdigest()
        sha1 = hmac.new(key, signed, hashlib.sha1).hexdigest()
        headers = {
            "Content-Type": media_type,
            "X-GitHub-Event": event,
            "X-Hub-Signature": f"sha1={sha1}",
            "X-Hub-Signature-256": f"sha256={digest}",
        }
        if self.dialect == "gitea":
            headers.update(
                {
                    "X-Gitea-Event": event,
                    "X-Gitea-Event-Type": event,
                    "X-Gitea-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
                    "X-Gitea-Signature": digest,
                    "X-Gogs-Event": event,
                    "X-Gogs-Signature": digest,
                    "User-Agent": "Go-http-client/1.1",
                }
            )
        else:
            headers.update(
                {
                    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                    "X-GitHub-Hook-ID": "292430182",
                    "User-Agent": "GitHub-Hookshot/044aadd",
                }
            )
        return headers, body

    def pull_request_payload(self, number: int, action: str = "closed") -> dict[str, Any]:
        """A `pull_request` delivery as both forges send it (base repository in
        `repository`, the head's in `pull_request.head.repo`)."""
        pull = self.pulls[number]
        if self.dialect == "gitlab":
            return self._gitlab_hook(pull, action)
        return {
            "action": action,
            "number": number,
            "pull_request": self._json(pull),
            "repository": self._repo_json(self.owner),
            "sender": {"login": pull.merged_by or "reviewer1", "id": 2},
        }

    # -- the API -------------------------------------------------------------------------

    def _repo_json(self, owner: str) -> dict[str, Any]:
        web = f"{self.url}/{owner}/{self.repo}"
        return {
            "id": 1 if owner == self.owner else 2,
            "name": self.repo,
            "full_name": f"{owner}/{self.repo}",
            "owner": {"login": owner, "id": 1},
            "html_url": web,
            "fork": owner != self.owner,
            "default_branch": "main",
        }

    def _head_sha(self, pull: PullRequest) -> str:
        if pull.head_owner != self.owner:
            return pull.head_sha
        try:
            return git(self.repository, "rev-parse", "--verify", f"refs/heads/{pull.head}")
        except subprocess.CalledProcessError:
            return pull.head_sha  # deleted: the last known head

    def _json(self, pull: PullRequest) -> dict[str, Any]:
        sha = self._head_sha(pull)
        pull.head_sha = sha
        base_sha = git(self.repository, "rev-parse", f"refs/heads/{pull.base}")
        checking = pull.state == "open" and self.clock() < pull.checking_until
        web = "pulls" if self.dialect == "gitea" else "pull"
        return {
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "state": pull.state,
            "merged": pull.merged,
            "merge_commit_sha": pull.merge_commit_sha,
            "merged_by": {"login": pull.merged_by} if pull.merged_by else None,
            # GitHub: null while mergeability is computed; Gitea: false while checking.
            "mergeable": (None if self.dialect == "github" else False) if checking else True,
            "html_url": f"{self.url}/{self.owner}/{self.repo}/{web}/{pull.number}",
            "user": {"login": pull.head_owner},
            "head": {
                "label": f"{pull.head_owner}:{pull.head}",
                "ref": pull.head,
                "sha": sha,
                "repo": self._repo_json(pull.head_owner),
            },
            "base": {
                "label": f"{self.owner}:{pull.base}",
                "ref": pull.base,
                "sha": base_sha,
                "repo": self._repo_json(self.owner),
            },
        }

    def _branch_exists(self, branch: str) -> bool:
        try:
            git(self.repository, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
            return True
        except subprocess.CalledProcessError:
            return False

    def _merge(self, pull: PullRequest, title: str, message: str, user: str) -> str:
        base_ref = f"refs/heads/{pull.base}"
        old = git(self.repository, "rev-parse", base_ref)
        tree = git(self.repository, "merge-tree", "--write-tree", old, f"refs/heads/{pull.head}")
        head = git(self.repository, "rev-parse", f"refs/heads/{pull.head}")
        text = f"{title}\n\n{message}".strip() + "\n"
        new = git(
            self.repository, "commit-tree", tree.splitlines()[0], "-p", old, "-p", head, input=text
        )
        git(self.repository, "update-ref", base_ref, new, old)
        pull.state, pull.merged, pull.merge_commit_sha, pull.merged_by = ("closed", True, new, user)
        pull.head_sha = head
        # A merge into the base queues a new mergeability check of every other open one.
        until = self.clock() + self.check_seconds
        for other in self.pulls.values():
            if other.state == "open" and other.base == pull.base:
                other.checking_until = until
        return new

    def _rate_headers(self) -> dict[str, str]:
        if self.dialect != "github":
            return {}
        return {
            "x-ratelimit-limit": str(GITHUB_RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, GITHUB_RATE_LIMIT - self.used)),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(int(self.clock()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _error(self, status: int, message: str, **extra: Any) -> Answer:
        if self.dialect == "gitea":
            return status, {"message": message, "url": f"{self.url}/api/swagger", **extra}, {}
        docs = "https://docs.github.com/rest"
        return status, {"message": message, "documentation_url": docs, **extra}, {}

    def _limited(self) -> Answer | None:
        now = self.clock()
        if now >= self._limited_until:
            return None
        if self.dialect == "gitlab":
            # GitLab: 429 with RateLimit-* and Retry-After (docs: user/admin_area/settings).
            return (
                429,
                {"message": "Retry later"},
                {
                    "RateLimit-Limit": "600",
                    "RateLimit-Observed": "601",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(int(self._limited_until)),
                    "Retry-After": str(max(1, int(self._limited_until - now))),
                },
            )
        if self._retry_after is not None:
            status, answer, _ = self._error(
                self._limit_status, "You have exceeded a secondary rate limit."
            )
            return status, answer, {"retry-after": str(self._retry_after)}
        status, answer, _ = self._error(self._limit_status, "API rate limit exceeded for user.")
        return (
            status,
            answer,
            {
                "x-ratelimit-limit": str(GITHUB_RATE_LIMIT),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(GITHUB_RATE_LIMIT),
                "x-ratelimit-reset": str(int(self._limited_until)),
                "x-ratelimit-resource": "core",
            },
        )

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Answer:
        if self.down:
            return 503, {"message": "service unavailable"}, {}
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        prefix = self.api_prefix
        if not parsed.path.startswith(prefix + "/"):
            # Outside the API: the web interface's HTML, as a misconfigured base URL sees.
            return 404, "<!DOCTYPE html><title>Page Not Found</title>", {}
        segments = [urllib.parse.unquote(s) for s in parsed.path[len(prefix) + 1 :].split("/")]
        if self.dialect == "gitlab":
            if headers.get("PRIVATE-TOKEN", "") != self.token:
                return 401, {"message": "401 Unauthorized"}, {}
        else:
            accepted = {f"token {self.token}"}
            if self.dialect == "github":
                accepted.add(f"Bearer {self.token}")
            if headers.get("Authorization", "") not in accepted:
                return self._error(401, "Bad credentials")
        with self._lock:
            limited = self._limited()
            if limited is not None:
                return limited
            self.used += 1
            if self.dialect == "gitlab":
                # The project is named by its URL-encoded path: one segment, group%2Fname.
                if segments[:2] != ["projects", self.full_name]:
                    return 404, {"message": "404 Project Not Found"}, {}
                payload = json.loads(body) if body else {}
                return self._gitlab_route(method, segments[2:], query, payload)
            if segments[:3] != ["repos", self.owner, self.repo]:
                status, answer, extra = self._error(404, "Not Found")
            else:
                payload = json.loads(body) if body else {}
                status, answer, extra = self._route(method, segments[3:], query, payload)
            return status, answer, {**self._rate_headers(), **extra}

    def _route(self, method: str, rest: list[str], query: dict[str, str], payload: Any) -> Answer:
        if rest == ["pulls"] and method == "POST":
            return self._open(payload)
        if rest == ["pulls"] and method == "GET":
            return self._list(query)
        if len(rest) >= 2 and rest[0] == "branches" and method == "GET":
            branch = "/".join(rest[1:])
            if not self._branch_exists(branch):
                return self._error(404, "Branch not found")
            sha = git(self.repository, "rev-parse", f"refs/heads/{branch}")
            return 200, {"name": branch, "commit": {"id": sha, "sha": sha}}, {}
        if len(rest) >= 2 and rest[0] in ("pulls", "issues") and rest[1].isdigit():
            pull = self.pulls.get(int(rest[1]))
            if pull is None:
                return self._error(404, "Not Found")
            tail = rest[2:]
            if rest[0] == "issues" and tail == ["comments"] and method == "POST":
                pull.comments.append(payload.get("body", ""))
                return 201, {"id": len(pull.comments), "body": payload.get("body", "")}, {}
            if rest[0] == "pulls" and not tail and method == "GET":
                return 200, self._json(pull), {}
            if rest[0] == "pulls" and not tail and method == "PATCH":
                return self._edit(pull, payload)
            merge_method = "PUT" if self.dialect == "github" else "POST"
            if rest[0] == "pulls" and tail == ["merge"] and method == merge_method:
                if self.dialect == "github":
                    return self._github_merge(pull, payload)
                return self._gitea_merge(pull, payload)
        return self._error(404, "Not Found")

    def _open(self, payload: dict[str, Any]) -> Answer:
        head, base = payload.get("head", ""), payload.get("base", "")
        body = payload.get("body") or ""
        if not payload.get("title"):
            return self._error(422, "Validation Failed")
        if not self._branch_exists(head):
            if self.dialect == "gitea":
                return self._error(404, "The target couldn't be found.")
            invalid = {"resource": "PullRequest", "field": "head", "code": "invalid"}
            return self._error(422, "Validation Failed", errors=[invalid])
        if self.dialect == "github" and len(body) > GITHUB_BODY_LIMIT:
            too_long = {
                "resource": "Issue",
                "code": "custom",
                "field": "body",
                "message": f"body is too long (maximum is {GITHUB_BODY_LIMIT} characters)",
            }
            return self._error(422, "Validation Failed", errors=[too_long])
        if any(
            p.head == head and p.head_owner == self.owner and p.state == "open"
            for p in self.pulls.values()
        ):
            if self.dialect == "gitea":
                return self._error(409, "pull request already exists for these targets")
            exists = {
                "resource": "PullRequest",
                "code": "custom",
                "message": f"A pull request already exists for {self.owner}:{head}.",
            }
            return self._error(422, "Validation Failed", errors=[exists])
        number = len(self.pulls) + 1
        pull = PullRequest(number, payload["title"], body, head, base, self.owner)
        self.pulls[number] = pull
        return 201, self._json(pull), {}

    def _list(self, query: dict[str, str]) -> Answer:
        state = query.get("state", "open")
        pulls = [p for p in self.pulls.values() if state == "all" or p.state == state]
        if "head" in query:
            owner, _, branch = query["head"].partition(":")
            pulls = [p for p in pulls if p.head_owner == owner and p.head == branch]
        size = int(query.get("limit", query.get("per_page", 30)))
        page = int(query.get("page", 1))
        headers = {}
        if page * size < len(pulls):
            following = urllib.parse.urlencode({**query, "page": page + 1})
            headers["Link"] = f'<{self.url}{self.api_prefix}/pulls?{following}>; rel="next"'
        if self.dialect == "gitea":
            headers["X-Total-Count"] = str(len(pulls))
        return 200, [self._json(p) for p in pulls[(page - 1) * size : page * size]], headers

    def _edit(self, pull: PullRequest, payload: dict[str, Any]) -> Answer:
        wanted = payload.get("state")
        if wanted is not None and pull.merged and self.dialect == "gitea":
            return self._error(
                412, "cannot change state of this pull request, it was already merged"
            )
        if not pull.merged and wanted in ("open", "closed"):
            pull.state = wanted
        return (201 if self.dialect == "gitea" else 200), self._json(pull), {}

    def _github_merge(self, pull: PullRequest, payload: dict[str, Any]) -> Answer:
        if pull.merged or pull.state != "open":
            return self._error(405, "Pull Request is not mergeable")
        sha = payload.get("sha")
        if sha and sha != self._head_sha(pull):
            return self._error(409, "Head branch was modified. Review and try the merge again.")
        if self.clock() < pull.checking_until:
            return self._error(405, "Base branch was modified. Review and try the merge again.")
        new = self._merge(
            pull, payload.get("commit_title", ""), payload.get("commit_message", ""), "token-user"
        )
        return 200, {"sha": new, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _gitea_merge(self, pull: PullRequest, payload: dict[str, Any]) -> Answer:
        # CheckPullMergeable first (closed: 404, merged: 405, checking: 405), then Merge.
        if pull.merged:
            return self._error(405, "")
        if pull.state != "open":
            return self._error(404, "The target couldn't be found.")
        if self.clock() < pull.checking_until:
            return self._error(405, "Please try again later")
        if payload.get("Do") != "merge":
            return self._error(405, f"{payload.get('Do')} is not allowed an allowed merge style")
        wanted = payload.get("head_commit_id")
        if wanted and wanted != self._head_sha(pull):
            return self._error(409, "head out of date")
        self._merge(
            pull,
            payload.get("MergeTitleField", ""),
            payload.get("MergeMessageField", ""),
            "token-user",
        )
        return 200, None, {}

    # -- GitLab (docs.gitlab.com/ee/api/merge_requests.html) --------------------------

    def _gitlab_project(self, owner: str) -> dict[str, Any]:
        return {
            "id": 1 if owner == self.owner else 2,
            "name": self.repo,
            "path_with_namespace": f"{owner}/{self.repo}",
            "web_url": f"{self.url}/{owner}/{self.repo}",
            "default_branch": "main",
        }

    def _gitlab_json(self, pull: PullRequest) -> dict[str, Any]:
        sha = self._head_sha(pull)
        pull.head_sha = sha
        checking = pull.state == "open" and self.clock() < pull.checking_until
        state = "merged" if pull.merged else ("opened" if pull.state == "open" else "closed")
        return {
            "id": 100 + pull.number,
            "iid": pull.number,
            "project_id": 1,
            "title": pull.title,
            "description": pull.body,
            "state": state,
            "merged_by": {"username": pull.merged_by} if pull.merged_by else None,
            "merge_user": {"username": pull.merged_by} if pull.merged_by else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "sha": sha,
            "source_branch": pull.head,
            "target_branch": pull.base,
            "source_project_id": 1 if pull.head_owner == self.owner else 2,
            "target_project_id": 1,
            "has_conflicts": False,
            "merge_status": "checking" if checking else "can_be_merged",
            "detailed_merge_status": "checking" if checking else "mergeable",
            "web_url": f"{self.url}/{self.owner}/{self.repo}/-/merge_requests/{pull.number}",
        }

    def _gitlab_hook(self, pull: PullRequest, action: str) -> dict[str, Any]:
        if action == "closed":
            action = "merge" if pull.merged else "close"
        else:
            action = {"reopened": "reopen", "opened": "open"}.get(action, action)
        attributes = {
            **self._gitlab_json(pull),
            "action": action,
            "source": self._gitlab_project(pull.head_owner),
            "target": self._gitlab_project(self.owner),
            "last_commit": {"id": pull.head_sha},
        }
        return {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": {"id": 2, "username": pull.merged_by or "reviewer1", "name": "Reviewer"},
            "project": self._gitlab_project(self.owner),
            "object_attributes": attributes,
            "repository": {"name": self.repo, "homepage": f"{self.url}/{self.full_name}"},
        }

    def _gitlab_route(
        self, method: str, rest: list[str], query: dict[str, str], payload: Any
    ) -> Answer:
        if rest == ["merge_requests"] and method == "POST":
            source, target = payload.get("source_branch", ""), payload.get("target_branch", "")
            if not payload.get("title") or not self._branch_exists(source):
                return 422, {"message": ["Source branch does not exist"]}, {}
            for other in self.pulls.values():
                if (
                    other.head == source
                    and other.head_owner == self.owner
                    and other.state == "open"
                ):
                    exists = "Another open merge request already exists for this source branch"
                    return 409, {"message": [f"{exists}: !{other.number}"]}, {}
            number = len(self.pulls) + 1
            pull = PullRequest(
                number,
                payload["title"],
                payload.get("description") or "",
                source,
                target,
                self.owner,
            )
            self.pulls[number] = pull
            return 201, self._gitlab_json(pull), {}
        if rest == ["merge_requests"] and method == "GET":
            state = {"opened": "open", "closed": "closed"}.get(query.get("state", ""), "")
            pulls = [
                p
                for p in self.pulls.values()
                if (not state or (p.state == state and not p.merged))
                and ("source_branch" not in query or p.head == query["source_branch"])
            ]
            return 200, [self._gitlab_json(p) for p in pulls], {}
        if len(rest) >= 3 and rest[:2] == ["repository", "branches"] and method == "GET":
            branch = "/".join(rest[2:])
            if not self._branch_exists(branch):
                return 404, {"message": "404 Branch Not Found"}, {}
            return 200, {"name": branch, "commit": {"id": self._git_sha(branch)}}, {}
        if len(rest) >= 2 and rest[0] == "merge_requests" and rest[1].isdigit():
            pull = self.pulls.get(int(rest[1]))
            if pull is None:
                return 404, {"message": "404 Not found"}, {}
            tail = rest[2:]
            if not tail and method == "GET":
                return 200, self._gitlab_json(pull), {}
            if not tail and method == "PUT":
                event = payload.get("state_event")
                if not pull.merged and event in ("close", "reopen"):
                    pull.state = "closed" if event == "close" else "open"
                return 200, self._gitlab_json(pull), {}
            if tail == ["notes"] and method == "POST":
                pull.comments.append(payload.get("body", ""))
                return 201, {"id": len(pull.comments), "body": payload.get("body", "")}, {}
            if tail == ["merge"] and method == "PUT":
                if pull.merged or pull.state != "open":
                    return 405, {"message": "405 Method Not Allowed"}, {}
                head = self._head_sha(pull)
                if payload.get("sha") and payload["sha"] != head:
                    return 409, {"message": f"SHA does not match HEAD of source branch: {head}"}, {}
                if self.clock() < pull.checking_until:
                    return 422, {"message": "Branch cannot be merged"}, {}
                title, _, message = str(payload.get("merge_commit_message", "")).partition("\n\n")
                self._merge(pull, title, message, "token-user")
                return 200, self._gitlab_json(pull), {}
        return 404, {"message": "404 Not found"}, {}

    def _git_sha(self, branch: str) -> str:
        return git(self.repository, "rev-parse", f"refs/heads/{branch}")


def _handler_for(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, headers = forge.handle(self.command, self.path, self.headers, body)
            forge.requests.append((self.command, self.path, status))
            if isinstance(answer, str):
                data, media_type = answer.encode(), "text/html; charset=utf-8"
            else:
                data = b"" if answer is None else json.dumps(answer).encode()
                media_type = "application/json; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


# -- repositories and reports for the git-layer tests ----------------------------------------


def make_plan_worktree(path: Path) -> Path:
    """A small plan repository with a working tree and one commit on main."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "content").mkdir()
    (path / "content" / "plan.yml").write_text("id: test-plan\ntitle: 测试计划\n")
    (path / "data" / "reports").mkdir(parents=True)
    (path / "data" / "reports" / ".keep").write_text("")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Start the plan")
    return path


def sample_report(
    submission_id: str,
    *,
    unit: str = "unit-a",
    form: str = "quarterly",
    period: str = "2022-Q1",
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": submission_id,
        "form": form,
        "period": period,
        "unit": unit,
        "submitted_at": "2022-10-08T09:30:00+08:00",
        "submitted_by": {"account": unit, "name": "张三"},
        "values": values if values is not None else {"count": 3, "done": True, "notes": "说明"},
        "evidence": [],
    }
