"""A local stand-in for Gitea/Forgejo and GitHub: the documented REST endpoints the form
service uses, with token checks, over real HTTP on 127.0.0.1, merging for real in a bare
git repository (with the git CLI, independently of the code under test).

Endpoints (GitHub at the root, Gitea under /api/v1):
  POST   /repos/{owner}/{repo}/pulls                 open (head must exist; duplicate open
                                                     head -> GitHub 422 / Gitea 409)
  GET    /repos/{owner}/{repo}/pulls                 list (state, head=owner:branch, page)
  GET    /repos/{owner}/{repo}/pulls/{n}             one pull request
  PATCH  /repos/{owner}/{repo}/pulls/{n}             {"state": "closed"}
  PUT    /repos/{owner}/{repo}/pulls/{n}/merge       GitHub merge
  POST   /repos/{owner}/{repo}/pulls/{n}/merge       Gitea merge ({"Do": "merge"})
  POST   /repos/{owner}/{repo}/issues/{n}/comments   comment
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class PullRequest:
    number: int
    title: str
    body: str
    head: str
    base: str
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    comments: list[str] = field(default_factory=list)


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
    ):
        assert dialect in ("gitea", "github")
        self.dialect = dialect
        self.repository = repository
        self.owner = owner
        self.repo = repo
        self.token = token
        self.webhook_secret = webhook_secret
        self.pulls: dict[int, PullRequest] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self.down = False  # answer every request with 503
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
        """What the forge client is configured with (Gitea: server root, GitHub: API root)."""
        return f"http://127.0.0.1:{self._port}"

    # -- what a person does in the forge's web interface ---------------------------------

    def merge_in_ui(self, number: int, user: str = "reviewer1") -> str:
        with self._lock:
            return self._merge(self.pulls[number], "Merge pull request", "", user)

    def close_in_ui(self, number: int) -> None:
        with self._lock:
            self.pulls[number].state = "closed"

    def webhook(
        self, event: str, payload: dict[str, Any], secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a delivery, signed as this forge signs them."""
        body = json.dumps(payload).encode()
        digest = hmac.new(
            (secret if secret is not None else self.webhook_secret).encode(),
            body,
            hashlib.sha256,
        ).hexdigest()
        if self.dialect == "gitea":
            headers = {
                "X-Gitea-Event": event,
                "X-Gitea-Signature": digest,
                "Content-Type": "application/json",
            }
        else:
            headers = {
                "X-GitHub-Event": event,
                "X-Hub-Signature-256": f"sha256={digest}",
                "Content-Type": "application/json",
            }
        return headers, body

    def pull_request_payload(self, number: int, action: str = "closed") -> dict[str, Any]:
        return {
            "action": action,
            "number": number,
            "pull_request": self._json(self.pulls[number]),
            "sender": {"login": self.pulls[number].merged_by or "reviewer1"},
        }

    # -- the API -------------------------------------------------------------------------

    def _json(self, pull: PullRequest) -> dict[str, Any]:
        return {
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "state": pull.state,
            "merged": pull.merged,
            "merge_commit_sha": pull.merge_commit_sha,
            "merged_by": {"login": pull.merged_by} if pull.merged_by else None,
            "html_url": f"{self.url}/{self.owner}/{self.repo}/pulls/{pull.number}",
            "head": {"ref": pull.head, "label": f"{self.owner}:{pull.head}"},
            "base": {"ref": pull.base},
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
        return new

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        if self.down:
            return 503, {"message": "service unavailable"}
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        prefix = "/api/v1" if self.dialect == "gitea" else ""
        if not parsed.path.startswith(prefix + "/"):
            return 404, {"message": "not found"}
        segments = [urllib.parse.unquote(s) for s in parsed.path[len(prefix) + 1 :].split("/")]
        auth = headers.get("Authorization", "")
        accepted = {f"token {self.token}"}
        if self.dialect == "github":
            accepted.add(f"Bearer {self.token}")
        if auth not in accepted:
            return 401, {"message": "Bad credentials"}
        if segments[:3] != ["repos", self.owner, self.repo]:
            return 404, {"message": "Not Found"}
        rest = segments[3:]
        payload = json.loads(body) if body else {}
        with self._lock:
            return self._route(method, rest, query, payload)

    def _route(
        self, method: str, rest: list[str], query: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        duplicate = 422 if self.dialect == "github" else 409
        if rest == ["pulls"] and method == "POST":
            head, base = payload.get("head", ""), payload.get("base", "")
            if not payload.get("title") or not self._branch_exists(head):
                return 422, {"message": "Validation Failed"}
            if any(p.head == head and p.state == "open" for p in self.pulls.values()):
                return duplicate, {"message": "A pull request already exists"}
            pull = PullRequest(
                len(self.pulls) + 1, payload["title"], payload.get("body", ""), head, base
            )
            self.pulls[pull.number] = pull
            return 201, self._json(pull)
        if rest == ["pulls"] and method == "GET":
            state = query.get("state", "open")
            pulls = [p for p in self.pulls.values() if state == "all" or p.state == state]
            if "head" in query:
                owner, _, branch = query["head"].partition(":")
                pulls = [p for p in pulls if owner == self.owner and p.head == branch]
            size = int(query.get("limit", query.get("per_page", 30)))
            page = int(query.get("page", 1))
            return 200, [self._json(p) for p in pulls[(page - 1) * size : page * size]]
        if len(rest) >= 2 and rest[0] in ("pulls", "issues") and rest[1].isdigit():
            number = int(rest[1])
            pull = self.pulls.get(number)
            if pull is None:
                return 404, {"message": "Not Found"}
            tail = rest[2:]
            if rest[0] == "issues" and tail == ["comments"] and method == "POST":
                pull.comments.append(payload.get("body", ""))
                return 201, {"id": len(pull.comments), "body": payload.get("body", "")}
            if rest[0] == "pulls" and not tail and method == "GET":
                return 200, self._json(pull)
            if rest[0] == "pulls" and not tail and method == "PATCH":
                if payload.get("state") == "closed" and not pull.merged:
                    pull.state = "closed"
                return 201 if self.dialect == "gitea" else 200, self._json(pull)
            merge_method = "PUT" if self.dialect == "github" else "POST"
            if rest[0] == "pulls" and tail == ["merge"] and method == merge_method:
                if pull.merged or pull.state != "open":
                    return 405, {"message": "Pull Request is not mergeable"}
                if self.dialect == "github":
                    sha = self._merge(
                        pull,
                        payload.get("commit_title", ""),
                        payload.get("commit_message", ""),
                        "token-user",
                    )
                    return 200, {"sha": sha, "merged": True, "message": "merged"}
                if payload.get("Do") != "merge":
                    return 422, {"message": "unsupported merge style"}
                self._merge(
                    pull,
                    payload.get("MergeTitleField", ""),
                    payload.get("MergeMessageField", ""),
                    "token-user",
                )
                return 200, None
        return 404, {"message": "Not Found"}


def _handler_for(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = forge.handle(self.command, self.path, self.headers, body)
            forge.requests.append((self.command, self.path, status))
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
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
