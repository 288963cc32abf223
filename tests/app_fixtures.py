"""Shared setup for the form service tests: a real git repository holding a small plan
(the school-safety fixture, unrelated to the seed plan), the real git layer, a real app."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from forms.app import create_app
from forms.services import Services, build_services
from forms.settings import load_settings
from forms.submissions import SubmissionService

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"
PASSWORD = "correct horse battery"

# Accounts every test app has: two reporters of different units, a reviewer, an admin.
ACCOUNTS = {
    "dongfeng": ("reporter", "dongfeng-ps", "王老师"),
    "shiyan": ("reporter", "shiyan-ms", "李老师"),
    "checker": ("reviewer", None, "赵审核"),
    "boss": ("admin", None, "钱管理"),
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return result.stdout


def make_repository(path: Path, fixture: Path = FIXTURE) -> Path:
    """A git working tree with the plan committed on main."""
    shutil.copytree(fixture, path)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.name", "Plan Editor")
    git(path, "config", "user.email", "editor@example.invalid")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "Add the plan")
    return path


@dataclass
class Setup:
    app: Flask
    repo: Path
    instance: Path
    submissions: SubmissionService

    @property
    def services(self) -> Services:
        return self.app.extensions["plansite"]

    def client(self) -> FlaskClient:
        return self.app.test_client()


def make_setup(
    tmp_path: Path,
    *,
    clock: Callable[[], float] = time.time,
    fixture: Path = FIXTURE,
    **config: Any,
) -> Setup:
    """The app as `plansite serve` wires it (forms.services), without the rebuild worker,
    on a fresh copy of the fixture plan; `config` overrides settings (UPPERCASE keys)."""
    repo = make_repository(tmp_path / "repo", fixture)
    instance = tmp_path / "instance"
    overrides: dict[str, Any] = {
        "ROOT": str(repo),
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret",
        "AS_OF": "2025-08-01",
        "TIMEZONE": "Asia/Shanghai",
        **config,
    }
    settings = load_settings(overrides, environ={})
    store = build_services(settings, rebuild_site=False, clock=clock)
    app = create_app(store)
    for name, (role, unit, display) in ACCOUNTS.items():
        store.accounts.add(name, role, PASSWORD, unit=unit, display_name=display)
    return Setup(app, repo, instance, store.submissions)


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient) -> str:
    """A valid token for the client's current session (any page with a form carries one)."""
    page = client.get("/forms/login").get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, "no CSRF token on the login page"
    return match.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post(
        "/forms/login", data={"name": name, "password": password, "csrf_token": token}
    )


def logged_in(setup: Setup, name: str) -> FlaskClient:
    client = setup.client()
    response = login(client, name)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# What a check page post says when its test is not about corrections: a correction needs a
# reason (更正原因), the service ignores one given for a first report.
ANY_CORRECTION_REASON = "更正测试数据"


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST with the session's CSRF token added; to a check page, a correction reason too
    unless the test gives one (an empty one to post none)."""
    payload = dict(data or {})
    payload["csrf_token"] = csrf_token(client)
    if url.endswith("/check"):
        payload.setdefault("correction_reason", ANY_CORRECTION_REASON)
    return client.post(url, data=payload, **kwargs)


INSPECTION_OK = {
    "inspected_on": "2025-07-05",
    "extinguishers_checked": "60",
    "hazards_found": "3",
    "hazards_fixed": "2",
    "exits_clear": "true",
    "night_patrol": "false",
    "responsibility_signed": "true",
    "rating": "基本合格",
    "notes": "北楼消防通道已清理。",
}
FILL_URL = "/forms/units/dongfeng-ps/inspection/2025-T2/"


CONFIRM_INPUT = re.compile(r'name="confirm" value="([^"]+)"')


def confirm_token(page: str) -> str:
    """The confirmation token of a decision's confirmation page."""
    match = CONFIRM_INPUT.search(page)
    assert match, "no confirmation form on the page"
    return match.group(1)


def decide(
    client: FlaskClient,
    submission_id: str,
    decision: str,
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Approve or reject as a reviewer does: the decision's form, then its confirmation
    page's button. Returns the answer to the confirmation (a redirect when it was taken),
    or the first answer when that was no confirmation page (a refusal)."""
    url = f"/forms/review/{submission_id}/{decision}"
    asked = post(client, url, data)
    page = asked.get_data(as_text=True)
    if asked.status_code != 200 or not CONFIRM_INPUT.search(page):
        return post(client, url, data, **kwargs) if kwargs else asked
    return post(client, url, {**(data or {}), "confirm": confirm_token(page)}, **kwargs)


def submitted(store: Services, unit: str, form: str, period: str, n: int) -> str:
    """Submission n of the fixture plan with valid values, straight through the service
    (no browser): for tests that need many submissions in review."""
    sid = f"20251009100000-{n:08x}"
    values = (
        {"inspected_on": "2025-10-09", "extinguishers_checked": 0, "hazards_found": 0}
        | {"hazards_fixed": 0, "responsibility_signed": True, "rating": "合格"}
        if form == "inspection"
        else {"drills_held": 1, "participants": 10, "duration_minutes": 3.0}
    )
    store.submissions.submit(
        {
            "id": sid,
            "form": form,
            "period": period,
            "unit": unit,
            "submitted_at": f"2025-10-09T10:{n // 60:02d}:{n % 60:02d}+08:00",
            "submitted_by": {"account": unit, "name": "填报人"},
            "values": values,
        },
        [],
        "填报人",
        "reporter@example.invalid",
    )
    return sid
