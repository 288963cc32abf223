"""Authorisation, CSRF, login throttling, session fixation and webhook signatures.

The authorisation matrix is generated from the application's own url_map: every route and
method, for every role, against a unit of the reporter's own and another unit, is checked
against the policy table below. A route that is added without a policy entry fails here.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from forms import repository
from tests.app_fixtures import (
    INSPECTION_OK,
    PASSWORD,
    csrf_token,
    logged_in,
    login,
    make_repository,
    make_setup,
    post,
)

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
OWN, OTHER = "dongfeng-ps", "shiyan-ms"
# Text only the other unit typed: no response to the reporter of OWN may contain it.
OTHER_SECRET = "机密-实验中学-已提交"
OTHER_DRAFT_SECRET = "机密-实验中学-草稿"
OTHER_EVIDENCE = b"%PDF-1.7\n% shiyan only\n%%EOF\n"

ROLES = ("anonymous", "disabled", "reporter", "reviewer", "admin")
SCOPES = ("own", "other")  # the unit in the URL: the reporter's own, or another unit
LOGIN = "login"  # expectation: redirected to the login page


def everyone(expected: int | str) -> dict[str, Any]:
    return dict.fromkeys(ROLES, expected)


def signed_in(reporter: Any, reviewer: Any, admin: Any) -> dict[str, Any]:
    """Anonymous and disabled accounts are sent to the login page."""
    return {
        "anonymous": LOGIN,
        "disabled": LOGIN,
        "reporter": reporter,
        "reviewer": reviewer,
        "admin": admin,
    }


def own_only(allowed: int) -> dict[str, int]:
    return {"own": allowed, "other": 403}


# (endpoint, method) -> role -> expected status (or per scope, or LOGIN).
POLICY: dict[tuple[str, str], dict[str, Any]] = {
    ("static", "GET"): everyone(200),
    ("auth.login", "GET"): everyone(200),
    ("auth.login", "POST"): everyone(401),  # a wrong password (for a new name each time)
    ("auth.logout", "POST"): everyone(LOGIN),
    ("portal.index", "GET"): signed_in(302, 302, 302),
    ("portal.unit", "GET"): signed_in(own_only(200), 200, 200),
    ("fill.edit", "GET"): signed_in(own_only(200), 403, 200),
    # Posted without a session: the login page itself (401), holding what was typed.
    ("fill.edit", "POST"): {
        **signed_in(own_only(302), 403, 302),
        "anonymous": 401,
        "disabled": 401,
    },
    ("fill.check", "GET"): signed_in(own_only(302), 403, 302),  # no valid draft: back to edit
    ("fill.check", "POST"): signed_in(own_only(302), 403, 302),
    ("fill.submission", "GET"): signed_in(own_only(200), 200, 200),
    ("fill.evidence", "GET"): signed_in(own_only(200), 200, 200),
    ("receipts.receipt", "GET"): signed_in(own_only(200), 200, 200),
    ("fill.withdraw", "POST"): signed_in(own_only(302), 403, 302),
    ("review.queue", "GET"): signed_in(403, 200, 200),
    ("review.detail", "GET"): signed_in(403, 200, 200),
    # Without a confirmation token an undecided submission gets its confirmation page (no
    # decision is taken); an ended one is sent back to its page. The own unit's was
    # withdrawn by its reporter; the admin withdraws the other one (fill.withdraw) first.
    ("review.approve", "POST"): signed_in(403, {"own": 302, "other": 200}, 302),
    ("review.reject", "POST"): signed_in(403, {"own": 302, "other": 200}, 302),
    ("review.batch", "POST"): signed_in(403, 422, 422),  # nothing selected
    ("hooks.receive", "POST"): everyone(403),  # unsigned
    ("site.serve", "GET"): everyone(200),
}

ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _submit(client: FlaskClient, unit: str, notes: str, evidence: bytes) -> str:
    url = f"/forms/units/{unit}/inspection/2025-T2/"
    post(
        client,
        url,
        {
            **INSPECTION_OK,
            "notes": notes,
            "action": "continue",
            "evidence": [(io.BytesIO(evidence), "记录.pdf")],
        },
        content_type="multipart/form-data",
    )
    location = post(client, url + "check").headers["Location"]
    return location.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    setup = make_setup(tmp_path_factory.mktemp("authz"))
    store = setup.services
    store.accounts.add("gone", "reporter", PASSWORD, unit=OWN, display_name="已停用")
    # A served site, so that the site routes answer 200 rather than "not built yet".
    site = setup.instance / "sites" / "build-1"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>站点</title>", encoding="utf-8")
    (setup.instance / "sites" / "current").symlink_to("build-1")

    submissions = {
        OWN: _submit(logged_in(setup, "dongfeng"), OWN, "东风路小学的说明", PDF),
        OTHER: _submit(logged_in(setup, "shiyan"), OTHER, OTHER_SECRET, OTHER_EVIDENCE),
    }
    # The other unit also has a draft in progress.
    shiyan = logged_in(setup, "shiyan")
    post(
        shiyan,
        f"/forms/units/{OTHER}/inspection/2025-T1/",
        {"notes": OTHER_DRAFT_SECRET, "action": "save"},
    )
    assert store.drafts.exists(OTHER, "inspection", "2025-T1")
    setup.submission_of = submissions
    return setup


def clients(setup: Any) -> dict[str, FlaskClient]:
    result = {
        "anonymous": setup.client(),
        "reporter": logged_in(setup, "dongfeng"),
        "reviewer": logged_in(setup, "checker"),
        "admin": logged_in(setup, "boss"),
        "disabled": logged_in(setup, "gone"),
    }
    setup.services.accounts.disable("gone")  # disabled while its session is still open
    return result


def url_for_rule(rule: str, unit: str, submission: str) -> str:
    values = {
        "filename": "forms.css",
        "unit_id": unit,
        "form_id": "inspection",
        "period_id": "2025-T1",
        "submission_id": submission,
        "file": "1-记录.pdf",
        "forge": "local",
        "path": "index.html",
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no test value for the URL argument <{name}> in {rule}"
        return values[name]

    return ARGUMENT.sub(value, rule)


_attempts = iter(range(1_000_000))


def payload(endpoint: str) -> dict[str, Any]:
    return {
        # A fresh name each time: one account's throttling is tested on its own below.
        "auth.login": {"name": f"nobody{next(_attempts)}", "password": "wrong password"},
        "fill.edit": {"action": "save"},
        "review.reject": {"reason": "请补充材料"},
    }.get(endpoint, {})


def cells(app: Any) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route; logout last, it ends the session."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    return sorted(found, key=lambda cell: cell[0] == "auth.logout")


def expected_for(endpoint: str, method: str, role: str, scope: str) -> Any:
    expectation = POLICY[(endpoint, method)][role]
    return expectation[scope] if isinstance(expectation, dict) else expectation


def request(client: FlaskClient, method: str, url: str, endpoint: str) -> Any:
    if method == "GET":
        return client.get(url)
    data = payload(endpoint)
    if endpoint == "hooks.receive":
        return client.post(url, data=b"{}")
    return post(client, url, data)


def outcome(response: Any) -> int | str:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/forms/login"):
        return LOGIN
    return response.status_code


def test_every_route_has_a_policy_entry(world: Any) -> None:
    routes = {(endpoint, method) for endpoint, method, _ in cells(world.app)}
    missing = routes - POLICY.keys()
    assert not missing, f"routes without an authorisation policy: {sorted(missing)}"
    assert not POLICY.keys() - routes, "policy entries for routes that no longer exist"


def test_every_route_for_every_role_and_unit_matches_the_policy(world: Any) -> None:
    by_role = clients(world)
    states_before = {
        unit: world.submissions.get(s).state for unit, s in world.submission_of.items()
    }
    checked, mismatches = 0, []
    leaks = []
    # Roles without review rights first: nothing they do may change a submission's state.
    for role in ROLES:
        if role == "reviewer":
            states_now = {u: world.submissions.get(s).state for u, s in world.submission_of.items()}
            # The one change allowed: the reporter withdrew its own unit's submission.
            allowed = {**states_before, OWN: "withdrawn"}
            assert states_now == allowed, "a role without review rights changed a state"
        for endpoint, method, rule in cells(world.app):
            for scope in SCOPES:
                unit = OWN if scope == "own" else OTHER
                url = url_for_rule(rule, unit, world.submission_of[unit])
                response = request(by_role[role], method, url, endpoint)
                got = outcome(response)
                want = expected_for(endpoint, method, role, scope)
                checked += 1
                assert got != 500, (role, method, url)
                if got != want:
                    mismatches.append((role, scope, method, url, want, got))
                if role == "reporter":
                    body = response.get_data()
                    for secret in (OTHER_SECRET, OTHER_DRAFT_SECRET):
                        if secret.encode() in body:
                            leaks.append((method, url, secret))
                    if OTHER_EVIDENCE in body:
                        leaks.append((method, url, "evidence"))
        if role == "reporter":
            # The reporter tried to fill in, check and submit for the other unit: no trace.
            assert [r.id for r in world.submissions.list(unit=OTHER)] == [
                world.submission_of[OTHER]
            ]
            draft = world.services.drafts.load(OTHER, "inspection", "2025-T1")
            assert draft is not None and draft.values == {"notes": OTHER_DRAFT_SECRET}
    assert not mismatches, "\n".join(map(str, mismatches))
    assert not leaks, leaks
    routes = len({(e, m) for e, m, _ in cells(world.app)})
    assert checked == len(cells(world.app)) * len(ROLES) * len(SCOPES)
    print(
        f"authorisation matrix: {checked} cells ({routes} routes x methods, "
        f"{len(ROLES)} roles x {len(SCOPES)} unit scopes)"
    )


def state_changing(app: Any) -> list[tuple[str, str]]:
    """(endpoint, rule) of every POST route protected by CSRF (webhooks are signed instead)."""
    return [
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.endpoint.startswith("hooks.")
    ]


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(world: Any) -> None:
    admin = logged_in(world, "boss")
    foreign = csrf_token(world.client())  # valid, but for another session
    states = {sid: world.submissions.get(sid).state for sid in world.submission_of.values()}
    routes = state_changing(world.app)
    assert {e for e, _ in routes} >= {
        "auth.login",
        "auth.logout",
        "fill.edit",
        "fill.check",
        "review.approve",
        "review.reject",
    }
    tried = 0
    for endpoint, rule in routes:
        url = url_for_rule(rule, OWN, world.submission_of[OWN])
        for token in (None, "", "forged-token", foreign):
            data = {**payload(endpoint), **INSPECTION_OK, "action": "continue"}
            if token is not None:
                data["csrf_token"] = token
            response = admin.post(url, data=data)
            tried += 1
            assert response.status_code == 400, (url, token, response.status_code)
            assert "页面已过期或请求来源无法验证" in response.get_data(as_text=True)
    # Nothing happened: still one submission per unit in the same state, still logged in.
    assert len(world.submissions.list(unit=OWN)) == 1
    assert {sid: world.submissions.get(sid).state for sid in states} == states
    assert admin.get("/forms/review/").status_code == 200
    print(f"CSRF: {tried} forged posts on {len(routes)} routes refused")


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000.0

    def __call__(self) -> float:
        return self.now


def test_guessing_one_account_is_throttled_even_with_the_right_password(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, clock=Clock(), LOGIN_FREE_ATTEMPTS=3)
    guesser = setup.client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    statuses = [login(guesser, "dongfeng", f"guess {n}").status_code for n in range(3)]
    assert statuses == [401, 401, 401]
    assert login(guesser, "dongfeng", "guess 4").status_code == 401  # starts the delay
    response = login(guesser, "dongfeng", PASSWORD)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    with guesser.session_transaction() as session:
        assert "account" not in session
    # The guesses lock neither the account nor the address for anybody else.
    elsewhere = setup.client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    assert login(elsewhere, "dongfeng", PASSWORD).status_code == 302


def test_spraying_many_accounts_from_one_address_is_throttled(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, clock=Clock(), LOGIN_IP_FREE_ATTEMPTS=5)
    colleague = setup.client()  # logged in from the address before the spray
    colleague.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert login(colleague, "checker", PASSWORD).status_code == 302
    attacker = setup.app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    for n in range(6):
        assert login(attacker, f"user{n}", "wrong password").status_code == 401
    response = login(attacker, "shiyan", PASSWORD)  # an untouched account, right password
    assert response.status_code == 429
    # The same account from another address is not locked out by the attacker...
    elsewhere = setup.app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    assert login(elsewhere, "shiyan", PASSWORD).status_code == 302
    # ...nor is a user who logged in from the sprayed address before.
    assert login(colleague, "checker", PASSWORD).status_code == 302


def session_cookie(client: FlaskClient, name: str) -> str | None:
    cookie = client.get_cookie(name, path="/")
    return cookie.value if cookie else None


def test_the_session_cookie_changes_at_login_and_the_old_one_grants_nothing(world: Any) -> None:
    name = world.app.config["SESSION_COOKIE_NAME"]
    client = world.client()
    client.get("/forms/login")  # the CSRF token starts a session before login
    before = session_cookie(client, name)
    assert before
    assert login(client, "dongfeng").status_code == 302
    after = session_cookie(client, name)
    assert after and after != before
    assert client.get(f"/forms/units/{OWN}/").status_code == 200
    # An attacker who planted or kept the pre-login cookie is still anonymous.
    planted = world.client()
    planted.set_cookie(name, before, path="/")
    response = planted.get(f"/forms/units/{OWN}/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/forms/login")


def _signed(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def forge_setups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One app per remote forge kind, with a webhook secret."""
    result = {}
    for kind in ("gitea", "github"):
        base = tmp_path_factory.mktemp(f"hooks-{kind}")
        repo = make_repository(base / "plan")
        remote = base / "remote.git"
        repository.seed_bare_from_worktree(repo, remote, "main")
        result[kind] = make_setup(
            base / "app",
            REMOTE=str(remote),
            FORGE=kind,
            FORGE_URL="http://127.0.0.1:9",
            FORGE_OWNER="o",
            FORGE_REPO="r",
            FORGE_TOKEN="t",
            WEBHOOK_SECRET="hook-secret",
        )
    return result


def webhook_headers(kind: str, signature: str | None) -> dict[str, str]:
    if kind == "gitea":
        headers = {"X-Gitea-Event": "push"}
        if signature is not None:
            headers["X-Gitea-Signature"] = signature
    else:
        headers = {"X-GitHub-Event": "push"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = f"sha256={signature}"
    return headers


@pytest.mark.parametrize("kind", ["gitea", "github"])
def test_webhooks_without_a_valid_signature_are_refused(forge_setups: Any, kind: str) -> None:
    client = forge_setups[kind].client()
    body = json.dumps({"ref": "refs/heads/elsewhere", "after": "0" * 40}).encode()
    forgeries: list[Callable[[], str | None]] = [
        lambda: None,  # no signature
        lambda: "",
        lambda: "0" * 64,
        lambda: _signed("wrong-secret", body),
        lambda: _signed("hook-secret", body + b" "),  # signature of another body
        lambda: _signed("hook-secret", body).upper() + "00",
    ]
    for forge in forgeries:
        response = client.post(
            f"/forms/hooks/{kind}", data=body, headers=webhook_headers(kind, forge())
        )
        assert response.status_code == 403
        assert "签名校验失败" in response.get_data(as_text=True)
    other = "github" if kind == "gitea" else "gitea"
    signed = webhook_headers(other, _signed("hook-secret", body))
    assert client.post(f"/forms/hooks/{other}", data=body, headers=signed).status_code == 403
    too_big = client.post(
        f"/forms/hooks/{kind}",
        data=b"x" * (1024 * 1024 + 1),
        headers=webhook_headers(kind, "0" * 64),
    )
    assert too_big.status_code == 413
    # The check can pass: the right secret over the exact body is accepted.
    good = webhook_headers(kind, _signed("hook-secret", body))
    assert client.post(f"/forms/hooks/{kind}", data=body, headers=good).status_code == 204


@pytest.mark.parametrize("kind", ["gitea", "github"])
def test_form_encoded_webhooks_are_verified_as_each_forge_signs_them(
    forge_setups: Any, kind: str
) -> None:
    client = forge_setups[kind].client()
    payload = json.dumps({"ref": "refs/heads/elsewhere", "after": "0" * 40})
    body = urllib.parse.urlencode({"payload": payload}).encode()
    # GitHub signs the raw body; Gitea and Forgejo the JSON payload even in a form.
    signed, other = (body, payload.encode()) if kind == "github" else (payload.encode(), body)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    good = {**form, **webhook_headers(kind, _signed("hook-secret", signed))}
    wrong = {**form, **webhook_headers(kind, _signed("hook-secret", other))}

    assert client.post(f"/forms/hooks/{kind}", data=body, headers=wrong).status_code == 403
    assert client.post(f"/forms/hooks/{kind}", data=body, headers=good).status_code == 204
