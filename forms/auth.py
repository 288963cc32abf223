"""Login, logout, the current account, and login throttling per account and per address."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from forms.accounts import Account
from forms.database import FULL, Database
from forms.services import services

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int  # failures allowed before any delay
    base_delay: float  # seconds after the first failure beyond the free ones, then doubled
    max_delay: float
    window: float  # failures older than this are forgotten


class Throttle:
    """Counts failed logins per key ("account:NAME", "ip:ADDR") in the instance database.

    Stored in sqlite rather than memory so that several worker processes share the count
    and a restart does not reset it.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self.clock = clock
        self._database = Database(path)
        with self._database.transaction(FULL) as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS login_failures (
                    key TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    last_failure REAL NOT NULL,
                    locked_until REAL NOT NULL)"""
            )

    def wait_seconds(self, key: str) -> int:
        """Seconds until the key may try again; 0 when it may try now."""
        with self._database.transaction(FULL) as db:
            row = db.execute(
                "SELECT locked_until FROM login_failures WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return 0
        return max(0, math.ceil(row[0] - self.clock()))

    def record_failure(self, key: str, policy: ThrottlePolicy) -> None:
        now = self.clock()
        with self._database.transaction(FULL) as db:
            row = db.execute(
                "SELECT failures, last_failure FROM login_failures WHERE key = ?", (key,)
            ).fetchone()
            failures = 1
            if row is not None and now - row[1] < policy.window:
                failures = row[0] + 1
            excess = failures - policy.free_attempts
            delay = (
                min(policy.base_delay * 2 ** (excess - 1), policy.max_delay) if excess > 0 else 0
            )
            db.execute(
                "INSERT OR REPLACE INTO login_failures VALUES (?, ?, ?, ?)",
                (key, failures, now, now + delay),
            )

    def reset(self, key: str) -> None:
        with self._database.transaction(FULL) as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))


def _policies() -> tuple[ThrottlePolicy, ThrottlePolicy]:
    config = current_app.config
    account_policy = ThrottlePolicy(
        config["LOGIN_FREE_ATTEMPTS"],
        config["LOGIN_BASE_DELAY"],
        config["LOGIN_MAX_DELAY"],
        config["LOGIN_FAILURE_WINDOW"],
    )
    ip_policy = ThrottlePolicy(
        config["LOGIN_IP_FREE_ATTEMPTS"],
        config["LOGIN_BASE_DELAY"],
        config["LOGIN_MAX_DELAY"],
        config["LOGIN_FAILURE_WINDOW"],
    )
    return account_policy, ip_policy


def current_account() -> Account | None:
    """The logged-in account, re-read on every request so that disabling takes effect at once."""
    if "account" not in g:
        name = session.get("account")
        account = services().accounts.get(name) if isinstance(name, str) else None
        if account is not None and account.disabled:
            account = None
        g.account = account
    return cast("Account | None", g.account)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths under /forms/ (no open redirect via //evil or scheme)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/forms/") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, name="", error=None)

    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")
    store = services()
    throttle = store.throttle
    account_key, ip_key = f"account:{name}", f"ip:{request.remote_addr or '-'}"
    wait = max(throttle.wait_seconds(account_key), throttle.wait_seconds(ip_key))
    if wait:
        minutes = math.ceil(wait / 60)
        message = f"登录失败次数过多，请约 {minutes} 分钟后再试。"
        return render_template("login.html", next_url=next_url, name=name, error=message), 429

    account = store.accounts.authenticate(name, password) if name and password else None
    if account is None:
        account_policy, ip_policy = _policies()
        throttle.record_failure(account_key, account_policy)
        throttle.record_failure(ip_key, ip_policy)
        message = "账号或密码不正确，或账号已停用。"
        return render_template("login.html", next_url=next_url, name=name, error=message), 401

    throttle.reset(account_key)
    # A fresh session on login: nothing chosen before authentication survives it (fixation).
    session.clear()
    session["account"] = account.name
    session.permanent = True
    return redirect(next_url or url_for("portal.index"))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))


def require_account() -> Account:
    account = current_account()
    if account is None:
        abort(401)
    return account
