"""Helpers for the reliability suite: the form service run as in production (gunicorn,
several worker processes, `forms.wsgi:app`, configured only by PLANSITE_* environment
variables, on 127.0.0.1) and a small HTTP client that behaves like a browser (cookies,
CSRF token, the fill -> check -> submit and review -> approve cycles).

Everything binds to 127.0.0.1 only; every wait has a deadline; every server started here
is stopped by the test that started it (a context manager), by process group.
"""

from __future__ import annotations

import contextlib
import csv
import html
import http.client
import io
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.validation import as_posted, sample_records, within_checks
from builder.model import Content, Form, Unit
from forms.accounts import AccountStore
from tests.app_fixtures import FIXTURE, git, make_repository

HOST = "127.0.0.1"  # never anything else
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "reliability-" + "p" * 12
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM = re.compile(r'name="confirm" value="([^"]+)"')
SUBMISSION = re.compile(r"/forms/submissions/([A-Za-z0-9_-]+)$")

# PLANSITE_FULL=1 runs the heavy figures; the default keeps CI within its budget.
FULL = os.environ.get("PLANSITE_FULL", "") not in ("", "0")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# -- the plan ---------------------------------------------------------------------------------


def plan_repository(tmp_path: Path, units: int | None = None) -> Path:
    """A git repository with the school-safety test plan, this repository's site
    configuration (without a fixed as-of date, so reports submitted today count on the
    built site) and, when `units` is given, that many units made from the fixture's rows
    (so that a load has a distinct unit x form x period for every submission)."""
    plan = tmp_path / "plan-source"
    shutil.copytree(FIXTURE, plan)
    shutil.copytree(ROOT / "docs", plan / "docs", ignore=shutil.ignore_patterns("screenshots"))
    shutil.copytree(ROOT / "overrides", plan / "overrides")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config.pop("exclude_docs", None)
    config["site_name"] = "2025年校园安全工作计划"
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"].pop("as_of", None)
    (plan / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    if units is not None:
        registry = plan / "content" / "units.csv"
        rows = list(csv.DictReader(io.StringIO(registry.read_text(encoding="utf-8"))))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for n in range(units):
            row = dict(rows[n % len(rows)])
            row["id"], row["name"] = f"{row['id']}-{n:03d}", f"{row['name']}{n:03d}"
            writer.writerow(row)
        registry.write_text(out.getvalue(), encoding="utf-8")
        # The fixture's reports name the original units, which no longer exist.
        shutil.rmtree(plan / "data")
        (plan / "data" / "reports").mkdir(parents=True)
        (plan / "data" / "reports" / ".gitkeep").write_text("", "utf-8")
    return make_repository(tmp_path / "repo", plan)


@dataclass(frozen=True)
class Slot:
    """One thing to report: a unit, a form, a period (and where its pages are)."""

    unit: str
    form: Form
    period: str

    @property
    def fill_url(self) -> str:
        return f"/forms/units/{self.unit}/{self.form.id}/{self.period}/"


def slots(content: Content) -> list[Slot]:
    """Every unit x form x period the plan asks for, in the plan's order."""
    return [
        Slot(unit.id, form, period)
        for unit in content.units
        for form in content.forms
        if form.applies_to.matches(unit)
        for period in form.periods
    ]


def valid_values(form: Form, count: int, seed: int, units: Sequence[Unit]) -> list[dict[str, str]]:
    """`count` records that pass the form's schema and its checks for every unit of `units`,
    as an HTML form posts them."""
    return [
        {
            name: as_posted(value)
            for name, value in within_checks(form, record, units).items()
            if value is not None
        }
        for record in sample_records(form, count, seed)
    ]


def add_accounts(instance: Path, accounts: Mapping[str, tuple[str, str | None]]) -> None:
    """name -> (role, unit) with the shared test password, before the server starts."""
    store = AccountStore(instance / "accounts.sqlite")
    for name, (role, unit) in accounts.items():
        store.add(name, role, PASSWORD, unit=unit, display_name=f"{name}测试")


# -- the server -------------------------------------------------------------------------------


@dataclass
class Server:
    """gunicorn serving forms.wsgi:app; its own process group so that it can be killed whole."""

    env: dict[str, str]
    log: Path
    workers: int
    threads: int
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 120) -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--bind",
            f"{HOST}:{self.port}",
            "--chdir",
            str(ROOT),
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            # No control socket: its default path is shared by every gunicorn of the user.
            "--no-control-socket",
            "--log-level",
            "info",
            "forms.wsgi:app",
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=output, stderr=output, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}: {self.tail()}")
            # Another test's server may have taken the port between free_port() and our
            # bind, and would answer for it: only a port our own master listens on counts.
            listening = f"Listening at: http://{HOST}:{self.port} ({self.process.pid})"
            try:
                status, _, _ = Client(self.port).request("GET", "/forms/login")
                if status == 200 and listening in self.tail(size=1 << 20):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer on port {self.port}: {self.tail()}")

    def tail(self, size: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-size:]

    def worker_pids(self) -> list[int]:
        """The worker processes of the running master (children in /proc)."""
        assert self.process is not None
        master = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces: the fields after its closing parenthesis.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == master and fields[0] != "Z":
                found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a crash of the whole server)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), SIGKILL if it does not end in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        # Workers a killed master left behind end with their group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None


def service_env(repo: Path, instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a production start: only PLANSITE_* variables configure it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PLANSITE_")}
    env.update(
        {
            "PLANSITE_ROOT": str(repo),
            "PLANSITE_INSTANCE": str(instance),
            "PLANSITE_SECRET_KEY": "reliability-" + "k" * 32,
            "PLANSITE_TIMEZONE": "Asia/Shanghai",
            "PLANSITE_SYNC_INTERVAL": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"PLANSITE_{key}": value for key, value in settings.items()})
    return env


@contextlib.contextmanager
def running(
    repo: Path,
    instance: Path,
    *,
    workers: int = 4,
    threads: int = 4,
    log: Path | None = None,
    **settings: str,
) -> Iterator[Server]:
    instance.mkdir(parents=True, exist_ok=True)
    server = Server(
        service_env(repo, instance, **settings),
        log or instance.parent / "gunicorn.log",
        workers,
        threads,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the client -------------------------------------------------------------------------------


class Client:
    """One browser: one cookie jar, a fresh connection per request (gunicorn may close)."""

    def __init__(self, port: int, timeout: float = 120):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(
        self, method: str, path: str, body: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        """(status, Location, body text)."""
        headers = {"Host": f"{HOST}:{self.port}", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, content = value.split(";", 1)[0].partition("=")
                self.cookies[key.strip()] = content
        return response.status, response.getheader("Location", ""), text

    def get(self, path: str) -> tuple[int, str, str]:
        return self.request("GET", path)

    def post(self, path: str, body: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """POST with the session's CSRF token (Flask-WTF tokens last the whole session)."""
        if not self.token:
            self.refresh_token()
        return self.request("POST", path, {**(body or {}), "csrf_token": self.token})

    def refresh_token(self, path: str = "/forms/login") -> None:
        status, _, text = self.get(path)
        match = TOKEN.search(text)
        if match is None:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        self.token = match.group(1)

    def login(self, name: str, password: str = PASSWORD) -> None:
        self.refresh_token()
        status, _location, _ = self.post("/forms/login", {"name": name, "password": password})
        if status != 302:
            raise RuntimeError(f"login as {name}: {status}")
        self.refresh_token()  # a fresh session on login: the old token is gone

    def submit(self, slot: Slot, values: Mapping[str, str]) -> tuple[int, str | None, str]:
        """Fill, continue, submit. (status of the final POST, acknowledged id or None, page)."""
        status, location, text = self.post(slot.fill_url, {**values, "action": "continue"})
        if status != 302 or not location.endswith("/check"):
            return status, None, text
        # A figure far from the unit's earlier report needs a sentence (history checks), a
        # correction its reason; the service reads each only then.
        status, location, text = self.post(
            slot.fill_url + "check", {"explanation": EXPLAINED, "correction_reason": CORRECTED}
        )
        match = SUBMISSION.search(urllib.parse.urlparse(location).path) if location else None
        if status == 302 and match:
            return status, match.group(1), text
        return status, None, text

    def approve(self, submission_id: str) -> bool:
        """Approve as a reviewer; True only when the service says it was approved."""
        url = f"/forms/review/{submission_id}/approve"
        status, location, text = self.post(url)
        confirm = CONFIRM.search(text) if status == 200 else None
        if confirm is not None:  # the confirmation page: its button
            status, location, _ = self.post(url, {"confirm": html.unescape(confirm.group(1))})
        return status == 302 and urllib.parse.urlparse(location).path == "/forms/review/"


EXPLAINED = "按实际情况填报。"
CORRECTED = "更正此前填报的数据。"


def logged_in(port: int, name: str) -> Client:
    client = Client(port)
    client.login(name)
    return client


# -- git --------------------------------------------------------------------------------------


def fsck(repo: Path) -> str:
    """`git fsck --strict`: must exit 0. Dangling objects (a loser of a race, a commit whose
    process was killed before its ref) are allowed; anything broken is not."""
    done = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--strict", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    bad = [line for line in output.splitlines() if not line.startswith("dangling ")]
    assert not bad, output
    return output


def refs(repo: Path, prefix: str = "refs/heads/") -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(tuple(line.split(" ", 1)) for line in out.splitlines()) if out else {}


def submission_branches(repo: Path) -> dict[str, str]:
    """submission id -> tip commit of its `submit/<unit>/<id>` branch."""
    found: dict[str, str] = {}
    for ref, commit in refs(repo, "refs/heads/submit/").items():
        found[ref.rsplit("/", 1)[1]] = commit
    return found


def files_on(repo: Path, branch: str = "main", under: str = "data/reports") -> set[str]:
    out = git(repo, "ls-tree", "-r", "--name-only", branch, "--", under)
    return set(out.splitlines())


def wait_for(check: Any, timeout: float, interval: float = 0.5, what: str = "") -> Any:
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or check}")
        time.sleep(interval)


@dataclass
class Tally:
    """What the clients saw: acknowledged ids (with what they sent), refusals, errors."""

    acknowledged: dict[str, tuple[Slot, dict[str, str]]] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def shuffled(items: list[Any], seed: int) -> list[Any]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy
