"""Login, logout, the current account and its session; logins throttled (forms/throttle.py).

A session holds the account's name, its session epoch and the time of login. It ends when
it idles PERMANENT_SESSION_LIFETIME (Flask's signed cookie), SESSION_ABSOLUTE_LIFETIME after
login however active, and at once for every copy when the account's epoch moves on (logout,
a new password, disabling: forms/accounts.py).

A fill page posted after the session ended is not acted on (forms/fill.py): what was typed
is held server-side under a one-time random key (forms/drafts.py) and the login page
carries only that key; the login puts it in the new session, and the form shows the values
again, unsaved, only if the account may fill that form's unit.
"""

from __future__ import annotations

import math
import re
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
from forms.devices import DeviceCookie, KnownDevice
from forms.drafts import HeldTyping
from forms.services import Services, services
from forms.throttle import LoginAttempt, LoginPolicies, LoginThrottle, ThrottlePolicy

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


def login_throttle(store: Services) -> LoginThrottle:
    settings = store.settings

    def policy(free_attempts: int) -> ThrottlePolicy:
        return ThrottlePolicy(
            free_attempts,
            settings.login_base_delay,
            settings.login_max_delay,
            settings.login_failure_window,
        )

    policies = LoginPolicies(
        pair=policy(settings.login_free_attempts),
        account=policy(settings.login_account_free_attempts),
        address=policy(settings.login_ip_free_attempts),
        known_for=settings.login_known_client_lifetime,
    )
    return LoginThrottle(store.throttle, policies)


def current_account() -> Account | None:
    """The logged-in account, re-read on every request so that disabling takes effect at once."""
    if "account" not in g:
        g.account = _session_account()
    return cast("Account | None", g.account)


def _session_account() -> Account | None:
    name = session.get("account")
    if not isinstance(name, str):
        return None
    store = services()
    account = store.accounts.get(name)
    login_at = session.get("login_at")
    age = store.clock() - login_at if isinstance(login_at, int | float) else -1
    if (
        account is None
        or account.disabled
        or session.get("epoch") != account.session_epoch
        or not 0 <= age < store.settings.session_absolute_lifetime
    ):
        session.clear()  # a session that ended: the browser drops the cookie
        return None
    return account


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


# The session key under which a login leaves the key of typing held for it.
HELD_TYPING_SESSION_KEY = "held_typing"
_HELD_KEY = re.compile(r"[A-Za-z0-9_-]{32}")
EXPIRED_MESSAGE = (
    "登录已过期，请重新登录。您刚才填写的内容已暂存在服务器上，登录后会重新显示在表单中"
    "（尚未保存），请核对后再次保存或提交；已选择但未上传的文件需要重新选择。"
)


def held_key(value: str | None) -> str | None:
    """A well-formed key of held typing (forms/drafts.py), else None."""
    return value if value and _HELD_KEY.fullmatch(value) else None


def ask_to_log_in_again(typing: HeldTyping | None, next_url: str) -> Any:
    """The login page for a form posted without a session, holding what was typed."""
    key = services().drafts.hold(typing) if typing is not None else None
    page = render_template(
        "login.html",
        next_url=_safe_next(next_url),
        name="",
        error=None,
        held=key,
        expired=EXPIRED_MESSAGE if key else "登录已过期，请重新登录。",
    )
    return page, 401


def device_cookie_name(store: Services) -> str:
    return f"{store.settings.session_cookie_name}_device"


def _retry_message(wait: int) -> str:
    if wait < 60:
        return f"登录失败次数过多，请 {wait} 秒后再试。"
    return f"登录失败次数过多，请约 {math.ceil(wait / 60)} 分钟后再试。"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = _safe_next(request.values.get("next"))
    held = held_key(request.form.get("held"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, name="", error=None)

    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")
    store = services()
    settings = store.settings
    now = store.clock()
    cookies = DeviceCookie(store.secret_key)
    device = cookies.read(request.cookies.get(device_cookie_name(store)))
    known_for = settings.login_known_client_lifetime
    known_device = device.id if device and device.knows(name, now, known_for) else None
    attempt = LoginAttempt(name, request.remote_addr or "-", known_device)
    throttle = login_throttle(store)
    wait = throttle.wait_seconds(attempt)
    if wait:
        page = render_template(
            "login.html", next_url=next_url, name=name, error=_retry_message(wait), held=held
        )
        return page, 429, {"Retry-After": str(wait)}

    account = store.accounts.authenticate(name, password) if name and password else None
    if account is None:
        throttle.record_failure(attempt)
        message = "账号或密码不正确，或账号已停用。"
        page = render_template("login.html", next_url=next_url, name=name, error=message, held=held)
        return page, 401

    throttle.record_success(attempt)
    # A fresh session on login: nothing chosen before authentication survives it (fixation).
    session.clear()
    session["account"] = account.name
    session["epoch"] = account.session_epoch
    session["login_at"] = now
    if held:
        # Only the form of the held typing shows it, to an account that may fill it.
        session[HELD_TYPING_SESSION_KEY] = held
    session.permanent = True
    response = redirect(next_url or url_for("portal.index"))
    response.set_cookie(
        device_cookie_name(store),
        cookies.value((device or KnownDevice.new()).with_login(account.name, now)),
        max_age=settings.login_known_client_lifetime,
        path="/forms/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite=settings.session_cookie_samesite,
    )
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    account = current_account()
    if account is not None:
        services().accounts.end_sessions(account.name)  # copies of the cookie end too
    session.clear()
    return redirect(url_for("auth.login"))


def require_account() -> Account:
    account = current_account()
    if account is None:
        abort(401)
    return account
