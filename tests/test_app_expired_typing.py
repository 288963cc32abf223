"""No lost typing: a fill page posted after the session expired keeps what was typed.

Nothing is saved on behalf of the unauthenticated request: the login page comes back
holding only a one-time key to the typed values, kept server-side; after logging in again
as an account that may fill the unit, the form shows them, not saved, to be saved again.
The session expires for real: a one-second lifetime and a wait.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    PASSWORD,
    Setup,
    csrf_token,
    login,
    make_setup,
)

LIFETIME = 1  # seconds: PERMANENT_SESSION_LIFETIME of these tests
HELD_INPUT = re.compile(r'name="held" value="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
NOTE = INSPECTION_OK["notes"]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return make_setup(tmp_path, PERMANENT_SESSION_LIFETIME=LIFETIME)


def typed_after_expiry(setup: Setup, action: str = "save") -> tuple[FlaskClient, TestResponse]:
    """Log in as the school's reporter, open its form, let the session expire, post it.
    Returns the client and the page answered."""
    client = setup.client()
    assert login(client, "dongfeng").status_code == 302
    page = client.get(FILL_URL).get_data(as_text=True)
    token = CSRF_INPUT.search(page)
    assert token is not None
    time.sleep(LIFETIME + 1.1)  # itsdangerous counts whole seconds: 2 > 1 for sure
    response = client.post(
        FILL_URL, data={**INSPECTION_OK, "action": action, "csrf_token": token.group(1)}
    )
    return client, response


def log_in_again(client: FlaskClient, page: str, name: str) -> TestResponse:
    """Log in through the login page that holds the typing (its held key)."""
    held = HELD_INPUT.search(page)
    assert held is not None, page
    data = {"name": name, "password": PASSWORD, "csrf_token": csrf_token(client)}
    data["held"] = held.group(1)
    data["next"] = FILL_URL
    return client.post("/forms/login", data=data)


@pytest.mark.parametrize("action", ["save", "continue"])
def test_typing_posted_after_expiry_asks_to_log_in_and_saves_nothing(
    setup: Setup, action: str
) -> None:
    _, response = typed_after_expiry(setup, action)
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "登录已过期" in page and "登录后" in page
    assert HELD_INPUT.search(page) is not None
    assert NOTE not in page  # the values stay on the server, not in the page
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None


def test_logging_in_again_shows_the_typing_unsaved_once(setup: Setup) -> None:
    client, response = typed_after_expiry(setup)
    page = response.get_data(as_text=True)
    answer = log_in_again(client, page, "dongfeng")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(FILL_URL)
    form = client.get(FILL_URL).get_data(as_text=True)
    assert NOTE in form
    assert "尚未保存" in form
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None
    again = client.get(FILL_URL).get_data(as_text=True)
    assert NOTE not in again  # one time only


def test_another_units_account_logging_in_does_not_see_the_typing(setup: Setup) -> None:
    client, response = typed_after_expiry(setup)
    page = response.get_data(as_text=True)
    answer = log_in_again(client, page, "shiyan")
    assert answer.status_code == 302
    refused = client.get(FILL_URL)
    assert refused.status_code == 403
    assert NOTE not in refused.get_data(as_text=True)
    own = client.get("/forms/units/shiyan-ms/inspection/2025-T2/")
    assert own.status_code == 200 and NOTE not in own.get_data(as_text=True)
    # The typing is still held for the school's own reporter.
    other = setup.client()
    second = log_in_again(other, page, "dongfeng")
    assert second.status_code == 302
    assert NOTE in other.get(FILL_URL).get_data(as_text=True)


def test_typing_posted_after_the_sessions_were_ended_elsewhere_is_held_too(setup: Setup) -> None:
    # The CSRF token is still good (the cookie lives on), but the account's sessions were
    # ended (logout on another device, a new password): the post is not acted on either.
    client = setup.client()
    assert login(client, "dongfeng").status_code == 302
    token = csrf_token(client)
    setup.services.accounts.end_sessions("dongfeng")
    response = client.post(FILL_URL, data={**INSPECTION_OK, "action": "save", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and HELD_INPUT.search(page) is not None
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None
    assert log_in_again(client, page, "dongfeng").status_code == 302
    assert NOTE in client.get(FILL_URL).get_data(as_text=True)
