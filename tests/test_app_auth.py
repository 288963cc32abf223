"""Accounts, login, sessions, throttling and the users command."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from forms.accounts import AccountError, AccountStore
from forms.cli import create_demo_accounts
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


def test_session_cookie_is_httponly_lax_and_secure_when_configured(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, SESSION_COOKIE_SECURE=True)
    client = setup.client()
    response = login(client, "dongfeng")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


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


def test_account_is_locked_after_repeated_failures_then_unlocks(setup, clock: Clock) -> None:
    free = setup.services.settings.login_free_attempts
    client = setup.client()
    for _ in range(free + 1):
        assert login(client, "dongfeng", "wrong password").status_code == 401
    # Locked: even the right password is refused, with a Chinese message and no check.
    response = login(client, "dongfeng")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    clock.now += setup.services.settings.login_base_delay + 1
    assert login(client, "dongfeng").status_code == 302


def test_delay_grows_with_every_further_failure(setup, clock: Clock) -> None:
    throttle = setup.services.throttle
    base = setup.services.settings.login_base_delay
    client = setup.client()
    waits = []
    for _ in range(setup.services.settings.login_free_attempts + 3):
        clock.now += 10_000 if waits and waits[-1] > 10_000 else 0
        login(client, "shiyan", "wrong password")
        waits.append(throttle.wait_seconds("account:shiyan"))
        clock.now += waits[-1]  # wait out the lock, then fail again
    delays = [w for w in waits if w]
    assert delays == [base, base * 2, base * 4]


def test_failures_from_one_address_lock_that_address_for_every_account(
    tmp_path: Path, clock: Clock
) -> None:
    setup = make_setup(
        tmp_path, clock=clock, LOGIN_IP_FREE_ATTEMPTS=4, LOGIN_FREE_ATTEMPTS=100
    )
    client = setup.client()
    for name in ("a1", "a2", "a3", "a4", "a5"):
        login(client, name, "wrong password")
    response = login(client, "checker")
    assert response.status_code == 429
    other_address = setup.app.test_client()
    token = csrf_token(other_address)
    response = other_address.post(
        "/forms/login",
        data={"name": "checker", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 302


def test_a_disabled_account_cannot_log_in_and_loses_its_session(setup) -> None:
    client = logged_in(setup, "dongfeng")
    setup.services.accounts.disable("dongfeng")
    assert client.get("/forms/units/dongfeng-ps/").status_code == 302
    assert login(setup.client(), "dongfeng").status_code == 401


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
