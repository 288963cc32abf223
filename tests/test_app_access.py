"""Who may see what, unknown identifiers, webhooks and the security headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_fixtures import FILL_URL, INSPECTION_OK, logged_in, make_setup, post


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    setup = make_setup(tmp_path_factory.mktemp("access"))
    # One submission of another unit to try to reach.
    client = logged_in(setup, "shiyan")
    url = "/forms/units/shiyan-ms/inspection/2025-T2/"
    post(client, url, {**INSPECTION_OK, "action": "continue"})
    location = post(client, url + "check").headers["Location"]
    setup.other_submission = location.rsplit("/", 1)[1]
    return setup


@pytest.fixture(scope="module")
def reporter(setup):
    return logged_in(setup, "dongfeng")


def other_unit_urls(setup) -> list[str]:
    sid = setup.other_submission
    form = "/forms/units/shiyan-ms/inspection/2025-T2/"
    return [
        "/forms/units/shiyan-ms/",
        form,
        form + "check",
        f"/forms/submissions/{sid}",
        f"/forms/submissions/{sid}/evidence/1-a.pdf",
    ]


def test_a_reporter_gets_403_for_every_page_of_another_unit(setup, reporter) -> None:
    for url in other_unit_urls(setup):
        response = reporter.get(url)
        assert response.status_code == 403, url
        assert "无权" in response.get_data(as_text=True), url


def test_a_reporter_cannot_post_for_another_unit(setup, reporter) -> None:
    form = "/forms/units/shiyan-ms/inspection/2025-T2/"
    for url in (form, form + "check"):
        response = post(reporter, url, {**INSPECTION_OK, "action": "continue"})
        assert response.status_code == 403, url
    assert len(setup.submissions.list(unit="shiyan-ms")) == 1


def test_a_reporter_cannot_review(setup, reporter) -> None:
    sid = setup.other_submission
    assert reporter.get("/forms/review/").status_code == 403
    assert reporter.get(f"/forms/review/{sid}").status_code == 403
    response = post(reporter, f"/forms/review/{sid}/approve")
    assert response.status_code == 403
    assert "只有审核人或管理员可以审核填报" in response.get_data(as_text=True)
    assert post(reporter, f"/forms/review/{sid}/reject", {"reason": "x"}).status_code == 403
    assert setup.submissions.get(sid).state == "queued"


def test_a_reviewer_sees_every_unit_but_does_not_fill_in(setup) -> None:
    reviewer = logged_in(setup, "checker")
    assert reviewer.get("/forms/units/shiyan-ms/").status_code == 200
    assert reviewer.get("/forms/units/dongfeng-ps/").status_code == 200
    assert reviewer.get(f"/forms/submissions/{setup.other_submission}").status_code == 200
    response = reviewer.get(FILL_URL)
    assert response.status_code == 403
    assert "无权为该单位填报" in response.get_data(as_text=True)


def test_an_admin_may_do_everything(setup) -> None:
    admin = logged_in(setup, "boss")
    assert admin.get(FILL_URL).status_code == 200
    assert admin.get("/forms/review/").status_code == 200
    assert admin.get(f"/forms/review/{setup.other_submission}").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/forms/units/no-such-unit/",
        "/forms/units/dongfeng-ps/no-such-form/2025-T2/",
        "/forms/units/dongfeng-ps/inspection/2099/",
        "/forms/units/dongfeng-ps/inspection/2099/check",
        "/forms/submissions/20250101000000-00000000",
        "/forms/submissions/..%2fsecret",
        "/forms/review/20250101000000-00000000",
        "/forms/nowhere",
    ],
)
def test_unknown_identifiers_are_404(setup, url: str) -> None:
    client = logged_in(setup, "boss")
    response = client.get(url)
    assert response.status_code == 404, url
    assert "页面不存在" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/forms/units/dongfeng-ps/inspection/2025-T2..x/",
        "/forms/units/..%2f..%2fetc/",
        "/forms/submissions/not.an.id/evidence/x.pdf",
    ],
)
def test_malformed_identifiers_are_400(setup, url: str) -> None:
    client = logged_in(setup, "boss")
    assert client.get(url).status_code == 400, url


def test_a_form_that_does_not_apply_to_the_unit_is_404(tmp_path: Path) -> None:
    # drill applies to primary and secondary schools only: make one unit a kindergarten.
    setup = make_setup(tmp_path)
    content = setup.services.content
    from dataclasses import replace

    units = tuple(
        replace(u, type="kindergarten") if u.id == "dongfeng-ps" else u for u in content.units
    )
    setup.services.content = replace(content, units=units)
    client = logged_in(setup, "dongfeng")
    assert client.get("/forms/units/dongfeng-ps/drill/2025-T1/").status_code == 404
    assert client.get("/forms/units/dongfeng-ps/inspection/2025-T1/").status_code == 200


def test_webhooks_with_a_bad_signature_are_refused(setup) -> None:
    client = setup.client()
    headers = {"X-Gitea-Signature": "0" * 64, "X-Gitea-Event": "pull_request"}
    response = client.post("/forms/hooks/gitea", data=b'{"action":"closed"}', headers=headers)
    assert response.status_code == 403  # no CSRF token needed, the signature decides
    assert "签名校验失败" in response.get_data(as_text=True)
    assert client.post("/forms/hooks/local", data=b"{}").status_code == 403
    assert client.post("/forms/hooks/..evil", data=b"{}").status_code == 400


def test_every_response_carries_the_security_headers(setup, reporter) -> None:
    for response in (
        setup.client().get("/forms/login"),
        reporter.get("/forms/units/dongfeng-ps/"),
        reporter.get("/forms/units/shiyan-ms/"),
        setup.client().get("/forms/static/forms.css"),
        setup.client().get("/"),
    ):
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_form_pages_are_never_cached_and_have_no_inline_script(setup, reporter) -> None:
    response = reporter.get(FILL_URL)
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    # Scripts only from the service's own files (forms.js), never inline.
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all(re.search(r'\bsrc="/forms/static/[\w.]+"', tag) for tag in scripts)
    assert "style=" not in page
