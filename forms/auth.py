"""Login, logout, the current account; logins throttled per account and per address."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from forms.accounts import Account
from forms.services import services
from forms.throttle import ThrottlePolicy

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


def _policies() -> tuple[ThrottlePolicy, ThrottlePolicy]:
    settings = services().settings
    account_policy = ThrottlePolicy(
        settings.login_free_attempts,
        settings.login_base_delay,
        settings.login_max_delay,
        settings.login_failure_window,
    )
    ip_policy = ThrottlePolicy(
        settings.login_ip_free_attempts,
        settings.login_base_delay,
        settings.login_max_delay,
        settings.login_failure_window,
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
    if not target.isprintable():
        return None  # CR/LF and other controls: no header injection, no 500 from Werkzeug
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
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))


def require_account() -> Account:
    account = current_account()
    if account is None:
        abort(401)
    return account
