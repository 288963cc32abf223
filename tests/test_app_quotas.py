"""Per-unit quotas (forms.quotas): one unit cannot fill the disk or the review queue, and
reaching a quota refuses only that unit, in Chinese, keeping what was typed."""

from __future__ import annotations

import io
from pathlib import Path

import pygit2

from tests.app_fixtures import FILL_URL, INSPECTION_OK, logged_in, make_setup, post

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
OTHER_FILL_URL = "/forms/units/shiyan-ms/inspection/2025-T2/"


def submit(client, url: str = FILL_URL):  # type: ignore[no-untyped-def]
    post(client, url, {**INSPECTION_OK, "action": "continue"})
    return post(client, url + "check")


def submission_branches(instance: Path) -> list[str]:
    repo = pygit2.Repository(str(instance / "service.git"))
    return [name for name in repo.branches.local if name.startswith("submit/")]


def test_a_unit_over_its_hourly_quota_is_refused_and_keeps_its_draft(tmp_path: Path) -> None:
    """Security finding 14.4: no limit on how many submissions a reporter sends."""
    setup = make_setup(tmp_path, SUBMISSIONS_PER_HOUR="2")
    reporter = logged_in(setup, "dongfeng")
    assert [submit(reporter).status_code for _ in range(2)] == [302, 302]

    refused = submit(reporter)

    page = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "每小时 2 份的上限" in page and "草稿已保存" in page
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is not None
    assert len(submission_branches(setup.instance)) == 2
    # Another unit is not affected.
    other = logged_in(setup, "shiyan")
    assert submit(other, OTHER_FILL_URL).status_code == 302
    assert len(submission_branches(setup.instance)) == 3


def test_evidence_over_the_units_quota_for_the_period_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path, EVIDENCE_BYTES_PER_PERIOD=str(3 * len(PDF)))
    reporter = logged_in(setup, "dongfeng")
    files = [(io.BytesIO(PDF), f"记录{n}.pdf") for n in range(2)]
    data = {**INSPECTION_OK, "action": "save", "evidence": files}
    assert post(reporter, FILL_URL, data, content_type="multipart/form-data").status_code == 302
    assert submit(reporter).status_code == 302  # two files submitted: 2 of 3 used

    files = [(io.BytesIO(PDF), "第三份.pdf"), (io.BytesIO(PDF), "第四份.pdf")]
    data = {**INSPECTION_OK, "action": "save", "evidence": files}
    response = post(reporter, FILL_URL, data, content_type="multipart/form-data")

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "第四份.pdf" in page and "每期上限" in page
    draft = setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2")
    assert draft is not None and [f.name for f in draft.files] == ["第三份.pdf"]
    # Another unit has its own quota.
    other = logged_in(setup, "shiyan")
    files = [(io.BytesIO(PDF), f"记录{n}.pdf") for n in range(3)]
    data = {**INSPECTION_OK, "action": "save", "evidence": files}
    assert post(other, OTHER_FILL_URL, data, content_type="multipart/form-data").status_code == 302


def test_a_draft_whose_evidence_no_longer_fits_is_refused_at_submit(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, EVIDENCE_BYTES_PER_PERIOD=str(2 * len(PDF)))
    reporter = logged_in(setup, "dongfeng")

    def save_with_a_file() -> None:
        data = {**INSPECTION_OK, "action": "save", "evidence": [(io.BytesIO(PDF), "记录.pdf")]}
        post(reporter, FILL_URL, data, content_type="multipart/form-data")

    save_with_a_file()
    assert submit(reporter).status_code == 302  # 1 of 2 used
    save_with_a_file()  # fits: 2 of 2
    # Meanwhile another submission of the unit for the period took the room (as a second
    # reporter's draft of the same unit would).
    with setup.services.submissions.outbox._connect() as db:
        db.execute("UPDATE submissions SET evidence_bytes = evidence_bytes + ?", (len(PDF),))

    refused = post(reporter, FILL_URL + "check")

    assert refused.status_code == 429
    assert "每期上限" in refused.get_data(as_text=True)
    assert len(submission_branches(setup.instance)) == 1
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is not None
