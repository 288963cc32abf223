"""Accounts, login, sessions, throttling and the users command."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from forms.accounts import AccountError, AccountStore
from forms.cli import create_demo_accounts
from forms.proxies import client_address, trusted_networks
from forms.settings import ConfigError
from forms.throttle import Throttle, ThrottlePolicy
from tests.app_fixtures import (
    PASSWORD,
    Setup,
    csrf_token,
    logged_in,
    login,
    make_setup,
    post,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def setup(tmp_path: Path, clock: Clock):
    return make_setup(tmp_path, clock=clock)


def test_passwords_are_stored_as_scrypt_hashes(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.sqlite")
    store.add("alice", "reviewer", "a long secret", display_name="爱丽丝")
    with sqlite3.connect(tmp_path / "accounts.sqlite") as db:
        stored = db.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert stored.startswith("scrypt:")
    assert "a long secret" not in stored
    assert store.authenticate("alice", "a long secret") is not None
    assert store.authenticate("alice", "a long secreT") is None
    assert store.authenticate("nobody", "a long secret") is None


def test_a_reporter_must_be_bound_to_a_unit_and_names_are_identifiers(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.sqlite")
    with pytest.raises(AccountError, match="必须绑定一个单位"):
        store.add("bob", "reporter", "a long secret")
    with pytest.raises(AccountError, match="账号名无效"):
        store.add("../bob", "reviewer", "a long secret")
    with pytest.raises(AccountError, match="至少需要"):
        store.add("bob", "reviewer", "short")
    store.add("bob", "reviewer", "a long secret")
    with pytest.raises(AccountError, match="账号已存在"):
        store.add("bob", "admin", "a long secret")


def test_login_page_is_chinese_and_login_redirects_to_the_own_portal(setup) -> None:
    client = setup.client()
    page = client.get("/forms/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "登录填报系统" in page
    response = login(client, "dongfeng")
    assert response.status_code == 302
    assert client.get("/forms/").headers["Location"] == "/forms/units/dongfeng-ps/"


def test_reviewer_lands_on_the_review_queue(setup) -> None:
    client = logged_in(setup, "checker")
    assert client.get("/forms/").headers["Location"] == "/forms/review/"


def test_pages_require_login(setup) -> None:
    client = setup.client()
    for url in ("/forms/", "/forms/units/dongfeng-ps/", "/forms/review/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/forms/login?next=")


def test_login_follows_next_only_within_the_form_service(setup) -> None:
    client = setup.client()
    token = csrf_token(client)
    data = {"name": "dongfeng", "password": PASSWORD, "csrf_token": token}
    response = client.post("/forms/login?next=/forms/units/dongfeng-ps/", data=data)
    assert response.headers["Location"] == "/forms/units/dongfeng-ps/"
    for evil in ("https://evil.example/", "//evil.example/forms/", "/forms/\\evil"):
        client = setup.client()
        data["csrf_token"] = csrf_token(client)
        response = client.post("/forms/login", data={**data, "next": evil})
        assert response.headers["Location"] == "/forms/"


def test_wrong_password_gives_a_chinese_message_and_keeps_the_name(setup) -> None:
    client = setup.client()
    response = login(client, "dongfeng", "wrong password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "账号或密码不正确" in page
    assert 'value="dongfeng"' in page


def test_login_replaces_the_session(setup) -> None:
    client = setup.client()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "dongfeng")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["account"] == "dongfeng"


def _session_cookie(setup: Setup) -> tuple[str, str]:
    client = logged_in(setup, "dongfeng")
    name = setup.services.settings.session_cookie_name
    cookie = client.get_cookie(name)
    assert cookie is not None
    return name, cookie.value


def _opens_portal(setup: Setup, name: str, cookie: str) -> bool:
    client = setup.client()
    client.set_cookie(name, cookie)
    return client.get("/forms/units/dongfeng-ps/").status_code == 200


def test_a_tampered_session_cookie_opens_no_session(setup) -> None:
    name, cookie = _session_cookie(setup)
    assert _opens_portal(setup, name, cookie)
    payload, _, signature = cookie.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert not _opens_portal(setup, name, forged)


def test_a_session_expires_its_lifetime_after_the_last_activity(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    real = time.time
    lifetime = setup.services.settings.permanent_session_lifetime
    monkeypatch.setattr(time, "time", lambda: real() - lifetime - 60)
    name, old = _session_cookie(setup)  # last used "a lifetime and a minute ago"
    monkeypatch.setattr(time, "time", real)
    assert not _opens_portal(setup, name, old)
    monkeypatch.setattr(time, "time", lambda: real() - lifetime + 60)
    name, recent = _session_cookie(setup)  # a minute short of its lifetime: still valid
    monkeypatch.setattr(time, "time", real)
    assert _opens_portal(setup, name, recent)


def test_session_and_device_cookies_are_httponly_lax_and_secure_when_configured(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path, SESSION_COOKIE_SECURE=True)
    client = setup.client()
    response = login(client, "dongfeng")
    cookies = {cookie.split("=", 1)[0]: cookie for cookie in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"plansite_session", "plansite_session_device"}
    for cookie in cookies.values():
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" in cookie
    assert "Path=/forms/" in cookies["plansite_session_device"]


def test_logout_needs_a_post_with_csrf_and_ends_the_session(setup) -> None:
    client = logged_in(setup, "dongfeng")
    assert client.get("/forms/logout").status_code == 405
    assert client.post("/forms/logout").status_code == 400
    response = post(client, "/forms/logout")
    assert response.status_code == 302
    assert client.get("/forms/units/dongfeng-ps/").status_code == 302


def test_post_without_csrf_token_is_refused_in_chinese(setup) -> None:
    client = setup.client()
    response = client.post("/forms/login", data={"name": "dongfeng", "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


# Addresses of the throttling tests (documentation ranges, RFC 5737).
OFFICE, ATTACKER, HOME, FAR = "198.51.100.2", "203.0.113.7", "192.0.2.44", "192.0.2.99"


def at(setup: Setup, address: str, client: FlaskClient | None = None) -> FlaskClient:
    """A browser (new, or `client` moved) whose requests come from `address`."""
    client = client or setup.client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def refused_for_seconds(response: Any) -> int:
    """The wait a 429 answer names, after checking it says so in Chinese."""
    assert response.status_code == 429, response.status_code
    assert "登录失败次数过多" in response.get_data(as_text=True)
    return int(response.headers["Retry-After"])


def test_failures_delay_one_account_from_one_address_growing_with_each(setup, clock: Clock) -> None:
    settings = setup.services.settings
    base = settings.login_base_delay
    guesser = at(setup, ATTACKER)
    for _ in range(settings.login_free_attempts):
        assert login(guesser, "dongfeng", "wrong password").status_code == 401
    waits = []
    for _ in range(3):
        assert login(guesser, "dongfeng", "wrong password").status_code == 401
        # Delayed: even the right password is refused there, and not even checked.
        waits.append(refused_for_seconds(login(guesser, "dongfeng")))
        clock.now += waits[-1]  # wait out the delay, then fail again
    assert waits == [base, base * 2, base * 4]
    # Only that pair is delayed: the same account from another address logs in at once.
    assert login(at(setup, HOME), "dongfeng").status_code == 302
    clock.now += base * 8
    assert login(guesser, "dongfeng").status_code == 302  # the delay over, it passes


def test_an_account_locked_by_guesses_from_everywhere_still_lets_its_own_people_in(
    setup, clock: Clock
) -> None:
    settings = setup.services.settings
    device = at(setup, OFFICE)
    assert login(device, "dongfeng").status_code == 302  # the known device and address
    # Guesses from many addresses, a few each: no pair is delayed, the account is.
    for n in range(settings.login_account_free_attempts + 1):
        assert login(at(setup, f"203.0.113.{100 + n}"), "dongfeng", "wrong").status_code == 401
    assert refused_for_seconds(login(at(setup, HOME), "dongfeng")) > 0  # unknown: locked
    # The rightful user passes: the device that logged in before, wherever it is now...
    assert login(at(setup, HOME, device), "dongfeng").status_code == 302
    # ...and any browser at the address that logged in before.
    assert login(at(setup, OFFICE), "dongfeng").status_code == 302
    # Another account's device cookie, or a forged one, vouches for nothing.
    other = at(setup, OFFICE)
    assert login(other, "shiyan").status_code == 302
    assert login(at(setup, FAR, other), "dongfeng").status_code == 429
    name = setup.services.settings.session_cookie_name + "_device"
    cookie = device.get_cookie(name, path="/forms/")
    assert cookie is not None
    forged = at(setup, FAR)
    forged.set_cookie(name, cookie.value[:-2] + "xx", path="/forms/")
    assert login(forged, "dongfeng").status_code == 429


def test_spraying_from_one_address_slows_unknown_accounts_not_its_known_users(
    setup, clock: Clock
) -> None:
    # Behind a shared address (an office's NAT, a proxy): a known user, then a spray.
    settings = setup.services.settings
    device = at(setup, OFFICE)
    assert login(device, "dongfeng").status_code == 302
    sprayer = at(setup, OFFICE)
    for n in range(settings.login_ip_free_attempts + 1):
        assert login(sprayer, f"made-up-{n}", "wrong password").status_code == 401
    # An account never used from there waits, told so in Chinese with a retry time.
    assert refused_for_seconds(login(at(setup, OFFICE), "shiyan")) == settings.login_base_delay
    # The known device and any browser of the user who logged in there before pass.
    assert login(device, "dongfeng").status_code == 302
    assert login(at(setup, OFFICE), "dongfeng").status_code == 302
    # The spray keeps slowing down: every further failure doubles the wait.
    assert login(sprayer, "made-up-x", "wrong password").status_code == 429
    clock.now += settings.login_base_delay
    assert login(sprayer, "made-up-y", "wrong password").status_code == 401
    assert refused_for_seconds(login(sprayer, "shiyan")) == settings.login_base_delay * 2


PROXY = "10.0.0.1"


def via_proxy(setup: Setup, forwarded_for: str, peer: str = PROXY) -> FlaskClient:
    client = at(setup, peer)
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(
    tmp_path: Path, clock: Clock
) -> None:
    setup = make_setup(
        tmp_path, clock=clock, TRUSTED_PROXIES=f"{PROXY}, 10.1.0.0/16", LOGIN_IP_FREE_ATTEMPTS=5
    )
    for n in range(6):
        assert login(via_proxy(setup, ATTACKER), f"made-up-{n}", "wrong").status_code == 401
    assert login(via_proxy(setup, ATTACKER), "shiyan").status_code == 429
    # Everybody else behind the same proxy keeps their own address.
    assert login(via_proxy(setup, HOME), "shiyan").status_code == 302
    # A client's own X-Forwarded-For is the left part; the proxies append the real one.
    assert login(via_proxy(setup, f"{HOME}, {ATTACKER}, 10.1.2.3"), "checker").status_code == 429
    # From a peer that is no trusted proxy the header is ignored: no escape by spoofing it.
    for n in range(6):
        spoofer = via_proxy(setup, f"192.0.2.{n}", peer="198.51.100.9")
        assert login(spoofer, f"made-up-{n}", "wrong").status_code == 401
    assert login(via_proxy(setup, HOME, peer="198.51.100.9"), "checker").status_code == 429


def test_the_client_address_is_the_first_hop_from_the_right_that_is_no_trusted_proxy() -> None:
    # Without trusted proxies the header is not read at all.
    assert client_address("203.0.113.7", "192.0.2.1", trusted_networks("")) == "203.0.113.7"
    trusted = trusted_networks("10.0.0.1,10.1.0.0/16 ,::1")
    assert client_address("10.0.0.1", "192.0.2.1, 203.0.113.7", trusted) == "203.0.113.7"
    assert client_address("10.1.9.9", "203.0.113.7, 10.0.0.1", trusted) == "203.0.113.7"
    assert client_address("::1", "2001:db8::7", trusted) == "2001:db8::7"
    assert client_address("10.0.0.1", "", trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", "not-an-address", trusted) == "10.0.0.1"
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        trusted_networks("10.0.0.1, proxy.example")


def test_a_disabled_account_cannot_log_in_and_loses_its_session(setup) -> None:
    client = logged_in(setup, "dongfeng")
    setup.services.accounts.disable("dongfeng")
    assert client.get("/forms/units/dongfeng-ps/").status_code == 302
    assert login(setup.client(), "dongfeng").status_code == 401


def copy_of_session(setup: Setup, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (a stolen one)."""
    name = setup.services.settings.session_cookie_name
    cookie = client.get_cookie(name)
    assert cookie is not None
    copy = setup.client()
    copy.set_cookie(name, cookie.value)
    return copy


def opens_portal(client: FlaskClient) -> bool:
    return bool(client.get("/forms/units/dongfeng-ps/").status_code == 200)


def test_logout_ends_every_session_of_the_account_copies_included(setup) -> None:
    client = logged_in(setup, "dongfeng")
    copy = copy_of_session(setup, client)
    other_device = logged_in(setup, "dongfeng")
    assert opens_portal(copy) and opens_portal(other_device)
    assert post(client, "/forms/logout").status_code == 302
    assert not opens_portal(copy)
    assert not opens_portal(other_device)
    assert opens_portal(logged_in(setup, "dongfeng"))  # logging in again works


def test_a_password_change_by_the_users_command_ends_every_session(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.cli import main

    client = logged_in(setup, "dongfeng")
    copy = copy_of_session(setup, client)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new secret\n"))
    command = ["users", "--instance", str(setup.instance), "passwd", "dongfeng"]
    assert main([*command, "--password-stdin"]) == 0
    assert not opens_portal(client)
    assert not opens_portal(copy)
    assert login(setup.client(), "dongfeng").status_code == 401
    assert opens_portal(logged_in_with(setup, "dongfeng", "a brand new secret"))


def logged_in_with(setup: Setup, name: str, password: str) -> FlaskClient:
    client = setup.client()
    assert login(client, name, password).status_code == 302
    return client


def test_disabling_ends_every_session_for_good_even_once_enabled_again(setup) -> None:
    client = logged_in(setup, "dongfeng")
    setup.services.accounts.disable("dongfeng")
    setup.services.accounts.enable("dongfeng")
    assert not opens_portal(client)
    assert opens_portal(logged_in(setup, "dongfeng"))


def test_a_session_ends_its_absolute_lifetime_after_login_however_busy(setup, clock) -> None:
    lifetime = setup.services.settings.session_absolute_lifetime
    assert lifetime < 24 * 3600
    client = logged_in(setup, "dongfeng")
    used = 0
    while used + 3600 < lifetime:  # used every hour: it never idles out
        clock.now += 3600
        used += 3600
        assert opens_portal(client), used
    clock.now += lifetime - used  # the lifetime after login, to the second
    assert not opens_portal(client)
    assert client.get("/forms/units/dongfeng-ps/").headers["Location"].startswith("/forms/login")


def test_an_accounts_file_from_before_session_epochs_is_upgraded_in_place(tmp_path: Path) -> None:
    from werkzeug.security import generate_password_hash

    path = tmp_path / "accounts.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            """CREATE TABLE accounts (
                name TEXT PRIMARY KEY, role TEXT NOT NULL, unit TEXT,
                display_name TEXT NOT NULL, password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)"""
        )
        digest = generate_password_hash("a long secret", method="scrypt")
        db.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, 0, ?)",
            ("alice", "reviewer", None, "爱丽丝", digest, "2025-01-01T00:00:00+00:00"),
        )
    store = AccountStore(path)
    account = store.authenticate("alice", "a long secret")
    assert account is not None and account.session_epoch == 0
    store.end_sessions("alice")
    assert store.get("alice").session_epoch == 1
    store.add("bob", "reviewer", "a long secret")
    assert store.get("bob").session_epoch == 0


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, SECRET_KEY=None)
    key_file = setup.instance / "secret_key"
    assert key_file.is_file()
    assert setup.app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_config_file_and_environment(tmp_path: Path) -> None:
    from forms.settings import ConfigError, load_settings

    config_file = tmp_path / "plansite.toml"
    config_file.write_text('login_free_attempts = 7\nemail_domain = "example.org"\n')
    environ = {"PLANSITE_CONFIG": str(config_file), "PLANSITE_EMAIL_DOMAIN": "env.example"}
    settings = load_settings({"ROOT": str(tmp_path)}, environ)
    assert settings.login_free_attempts == 7
    assert settings.email_domain == "env.example"  # the environment wins over the file
    python_file = tmp_path / "plansite.py"
    python_file.write_text("SESSION_COOKIE_SECURE = True\nPREFERRED_URL_SCHEME = 'https'\n")
    settings = load_settings({}, {"PLANSITE_CONFIG": str(python_file), "PLANSITE_INSTANCE": "x"})
    assert settings.session_cookie_secure is True
    assert settings.instance_path == Path("x").resolve()
    assert settings.flask_config("k")["PREFERRED_URL_SCHEME"] == "https"  # Flask's own key
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings({}, {"PLANSITE_CONFIG": str(tmp_path / "missing.toml")})


def test_environment_values_are_read_as_their_setting_s_type(tmp_path: Path) -> None:
    from datetime import date

    from forms.settings import load_settings

    environ = {
        "PLANSITE_SESSION_COOKIE_SECURE": "yes",
        "PLANSITE_EVIDENCE_MAX_FILES": "2",
        "PLANSITE_AS_OF": "2022-10-20",
        "PLANSITE_TIMEZONE": "",
        "PLANSITE_REMOTE": "https://git.example.org/plan.git",
        "PLANSITE_FORGE": "gitea",
    }
    settings = load_settings({}, environ)
    assert settings.session_cookie_secure is True
    assert settings.evidence_max_files == 2
    assert settings.as_of == date(2022, 10, 20)
    assert settings.timezone is None
    assert (settings.remote, settings.forge) == ("https://git.example.org/plan.git", "gitea")
    assert load_settings({}, {}).sync_interval == 30


def test_users_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from builder.cli import main

    instance = str(tmp_path / "instance")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long secret\n"))
    assert (
        main(
            [
                "users",
                "--instance",
                instance,
                "add",
                "fgw",
                "--role",
                "reporter",
                "--unit",
                "fgw",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert "已添加账号 fgw" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long secret\n"))
    assert (
        main(
            [
                "users",
                "--instance",
                instance,
                "add",
                "fgw",
                "--role",
                "reviewer",
                "--password-stdin",
            ]
        )
        == 1
    )
    assert "账号已存在" in capsys.readouterr().err
    assert main(["users", "--instance", instance, "list"]) == 0
    assert "fgw\treporter\tfgw" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another secret\n"))
    assert main(["users", "--instance", instance, "passwd", "fgw", "--password-stdin"]) == 0
    store = AccountStore(Path(instance) / "accounts.sqlite")
    assert store.authenticate("fgw", "another secret") is not None
    assert main(["users", "--instance", instance, "disable", "fgw"]) == 0
    assert store.authenticate("fgw", "another secret") is None
    assert main(["users", "--instance", instance, "disable", "nobody"]) == 1


def test_users_add_refuses_a_unit_the_plan_does_not_have(setup, monkeypatch, capsys) -> None:
    from builder.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("a long secret\n"))
    code = main(
        [
            "users",
            "--instance",
            str(setup.instance),
            "--root",
            str(setup.repo),
            "add",
            "x",
            "--role",
            "reporter",
            "--unit",
            "no-such-unit",
            "--password-stdin",
        ]
    )
    assert code == 1
    assert "单位不存在" in capsys.readouterr().err


def test_demo_accounts_are_created_once_with_random_passwords(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.sqlite")
    units = [("u1", "一号单位"), ("u2", "二号单位"), ("u3", "三号单位"), ("u4", "四号单位")]
    created = create_demo_accounts(store, units)
    assert set(created) == {"u1", "u2", "u3", "reviewer", "admin"}
    assert len(set(created.values())) == 5
    assert store.authenticate("u2", created["u2"]).unit == "u2"
    assert store.get("u2").display_name == "二号单位填报人"
    assert store.authenticate("admin", created["admin"]).role == "admin"
    assert create_demo_accounts(store, units) == {}


def test_failures_past_their_window_are_deleted_so_a_spray_cannot_grow_the_file(
    tmp_path: Path, clock: Clock
) -> None:
    throttle = Throttle(tmp_path / "accounts.sqlite", clock)
    policy = ThrottlePolicy(free_attempts=3, base_delay=30, max_delay=3600, window=3600)
    for n in range(100):
        throttle.record_failure(f"account:made-up-{n}", policy)
    clock.now += 3600 + 1
    throttle.record_failure("account:dongfeng", policy)
    with sqlite3.connect(tmp_path / "accounts.sqlite") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM login_failures")]
    assert keys == ["account:dongfeng"]
