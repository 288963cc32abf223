"""A correction starts from the report it corrects.

With no draft, the fill page of a slot that already has a submission (pending, approved
or returned) or an approved report in the plan is filled with that report's values, says
so, and carries its evidence into the new draft; a saved draft still wins. Only accounts
that may submit for the unit ever see those values.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime
from pathlib import Path

import pytest

from builder.local_time import local_minute_text
from builder.reports import report_document
from forms.corrections import typed_as_text
from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    PASSWORD,
    logged_in,
    make_setup,
    post,
)

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SLOT = ("dongfeng-ps", "inspection", "2025-T2")
CORRECTED = {**INSPECTION_OK, "hazards_found": "5", "notes": "东楼楼梯扶手松动，已报修。"}


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


@pytest.fixture
def reporter(setup):
    return logged_in(setup, "dongfeng")


def submit(client, values=None, files=(), url=FILL_URL) -> str:
    """Fill, continue, confirm: the submission's id."""
    data = {**(values or CORRECTED), "action": "continue", "evidence": list(files)}
    response = post(client, url, data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    response = post(client, url + "check")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def field_value(page: str, name: str) -> str | None:
    """The value an <input> shows, None when it has none."""
    tag = re.search(rf'<input [^>]*\bid="{name}"[^>]*>', page)
    assert tag, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


def checked_radio(page: str, name: str) -> str | None:
    for tag in re.findall(rf'<input [^>]*\bname="{name}"[^>]*>', page):
        if " checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def notice(page: str) -> str:
    pattern = r'<div class="notice" role="note" id="earlier-notice">(.*?)</div>'
    match = re.search(pattern, page, re.S)
    return match.group(1) if match else ""


def local_time(iso: str) -> str:
    """A report's submission time as the page shows it: in the plan's zone, no offset."""
    return local_minute_text(datetime.fromisoformat(iso), "Asia/Shanghai")


def two_files() -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(PDF), "检查记录.pdf"), (io.BytesIO(PNG), "现场.png")]


def carried_inputs(page: str) -> list[str]:
    return re.findall(r'name="remove-earlier-file" value="([^"]+)"', page)


def test_the_correction_page_starts_from_the_values_last_submitted(reporter) -> None:
    before = reporter.get(FILL_URL).get_data(as_text=True)
    assert field_value(before, "hazards_found") in (None, "") and notice(before) == ""
    submit(reporter)
    portal = reporter.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    assert f'<a href="{FILL_URL}">更正' in portal
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert field_value(page, "inspected_on") == "2025-07-05"
    assert field_value(page, "extinguishers_checked") == "60"
    assert field_value(page, "hazards_found") == "5"
    assert field_value(page, "hazards_fixed") == "2"
    assert checked_radio(page, "exits_clear") == "true"
    assert checked_radio(page, "night_patrol") == "false"
    assert '<option selected value="基本合格">' in page
    assert "东楼楼梯扶手松动，已报修。</textarea>" in page


def test_the_notice_names_the_submission_and_says_nothing_changes_before_approval(
    setup, reporter
) -> None:
    submission_id = submit(reporter)
    report = report_document(setup.submissions.read_report(submission_id))
    text = notice(reporter.get(FILL_URL).get_data(as_text=True))
    when = local_time(report["submitted_at"])
    assert f"以下内容取自王老师于 {when}提交的填报（已提交，等待审核）" in text
    assert "更正提交并审核通过之前，原填报和网站上的数据都不会改变" in text
    assert "佐证材料" not in text  # nothing to carry: not promised
    setup.submissions.approve(submission_id, "赵审核", "checker@example.invalid")
    assert "提交的填报（已通过）" in notice(reporter.get(FILL_URL).get_data(as_text=True))


def test_a_returned_submission_is_the_starting_point_with_its_reason(setup, reporter) -> None:
    submission_id = submit(reporter)
    setup.submissions.reject(submission_id, "赵审核", "隐患数量与附件不符")
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert "提交的填报（已退回）" in notice(page)
    assert "退回原因：隐患数量与附件不符" in notice(page)
    assert field_value(page, "hazards_found") == "5"


def test_the_latest_submission_is_the_one_corrected(reporter) -> None:
    submit(reporter)
    submit(reporter, {**CORRECTED, "hazards_found": "6"})
    assert field_value(reporter.get(FILL_URL).get_data(as_text=True), "hazards_found") == "6"


def test_a_saved_draft_wins_over_the_submission(setup, reporter) -> None:
    submit(reporter)
    assert field_value(reporter.get(FILL_URL).get_data(as_text=True), "hazards_found") == "5"
    response = post(reporter, FILL_URL, {**CORRECTED, "hazards_found": "9", "action": "save"})
    assert response.status_code == 302
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert field_value(page, "hazards_found") == "9"
    assert notice(page) == ""
    assert "草稿保存于" in page


def test_an_approved_report_in_the_plan_is_the_starting_point_too(setup, reporter) -> None:
    # 2025-T1 has two approved reports in the fixture's repository and no submission in
    # the service: the later one (2025-07-15, 64 extinguishers, 合格) is corrected.
    url = "/forms/units/dongfeng-ps/inspection/2025-T1/"
    page = reporter.get(url).get_data(as_text=True)
    assert field_value(page, "extinguishers_checked") == "64"
    assert '<option selected value="合格">' in page
    assert "以下内容取自李老师于 2025-07-15 08:30提交的填报（已通过）" in notice(page)


def test_evidence_is_carried_into_the_submitted_correction(setup, reporter) -> None:
    first = submit(reporter, files=two_files())
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert "佐证材料也已带入" in notice(page)
    assert carried_inputs(page) == ["1-检查记录.pdf", "2-现场.png"]
    assert f'name="earlier-report" value="{first}"' in page

    # The user changes one number and continues, uploading nothing.
    response = post(
        reporter,
        FILL_URL,
        {
            **CORRECTED,
            "hazards_fixed": "4",
            "earlier-report": first,
            "action": "continue",
        },
    )
    assert response.headers["Location"] == FILL_URL + "check"
    check = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert "<li>检查记录.pdf</li>" in check and "<li>现场.png</li>" in check

    second = post(reporter, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]
    report = report_document(setup.submissions.read_report(second))
    assert report["values"]["hazards_fixed"] == 4
    assert [(e["file"], e["name"]) for e in report["evidence"]] == [
        ("1-检查记录.pdf", "检查记录.pdf"),
        ("2-现场.png", "现场.png"),
    ]
    assert report["evidence"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert setup.submissions.read_evidence(second, "1-检查记录.pdf") == PDF
    assert setup.submissions.read_evidence(second, "2-现场.png") == PNG


def test_a_carried_file_ticked_for_removal_is_left_behind(setup, reporter) -> None:
    first = submit(reporter, files=two_files())
    post(
        reporter,
        FILL_URL,
        {
            **CORRECTED,
            "earlier-report": first,
            "remove-earlier-file": "2-现场.png",
            "action": "save",
        },
    )
    draft = setup.services.drafts.load(*SLOT)
    assert [f.name for f in draft.files] == ["检查记录.pdf"]


def test_evidence_is_carried_once_when_the_draft_begins(setup, reporter) -> None:
    first = submit(reporter, files=[(io.BytesIO(PDF), "检查记录.pdf")])
    post(reporter, FILL_URL, {**CORRECTED, "earlier-report": first, "action": "save"})
    number = setup.services.drafts.load(*SLOT).files[0].number
    # Removed from the draft later, it stays removed even if the page posts the id again.
    post(
        reporter,
        FILL_URL,
        {
            **CORRECTED,
            "earlier-report": first,
            "remove_file": str(number),
            "action": "save",
        },
    )
    assert setup.services.drafts.load(*SLOT).files == ()


def test_carried_and_new_files_together_keep_the_file_limit(setup, reporter) -> None:
    files = [(io.BytesIO(PDF), f"附件{n}.pdf") for n in range(4)]
    first = submit(reporter, files=files)
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert 'type="file"' in page  # 4 of 5: one more may be chosen
    data = {
        **CORRECTED,
        "earlier-report": first,
        "action": "save",
        "evidence": [(io.BytesIO(PNG), "现场.png"), (io.BytesIO(PNG), "现场2.png")],
    }
    response = post(reporter, FILL_URL, data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "最多上传 5 个文件" in response.get_data(as_text=True)
    names = [f.name for f in setup.services.drafts.load(*SLOT).files]
    assert names == ["附件0.pdf", "附件1.pdf", "附件2.pdf", "附件3.pdf", "现场.png"]


def test_a_carried_file_passes_the_same_checks_as_an_upload(setup) -> None:
    # The fixture's approved report of shiyan-ms lists a .txt file, which is no allowed
    # evidence type: it is not carried, and the user is told why.
    client = logged_in(setup, "shiyan")
    url = "/forms/units/shiyan-ms/inspection/2025-T1/"
    page = client.get(url).get_data(as_text=True)
    assert carried_inputs(page) == ["1-inspection-log.txt"]
    earlier = re.search(r'name="earlier-report" value="([^"]+)"', page).group(1)
    data = {"hazards_found": "5", "earlier-report": earlier, "action": "save"}
    response = post(client, url, data)
    assert response.status_code == 422
    message = "原填报中的文件未能带入：文件“检查记录.txt”的类型不受支持"
    assert message in response.get_data(as_text=True)
    assert setup.services.drafts.load("shiyan-ms", "inspection", "2025-T1").files == ()


def test_files_of_a_report_the_user_never_saw_are_not_carried(setup, reporter) -> None:
    first = submit(reporter, files=[(io.BytesIO(PDF), "检查记录.pdf")])
    assert carried_inputs(reporter.get(FILL_URL).get_data(as_text=True)) == ["1-检查记录.pdf"]
    # A colleague of the same unit submits again while this page is open.
    colleague = logged_in(setup, "dongfeng")
    submit(colleague, files=[(io.BytesIO(PNG), "现场.png")])
    response = post(reporter, FILL_URL, {**CORRECTED, "earlier-report": first, "action": "save"})
    assert response.status_code == 422
    assert "又提交了一份新的填报" in response.get_data(as_text=True)
    assert setup.services.drafts.load(*SLOT).files == ()


def test_another_units_account_never_sees_the_values(setup, reporter) -> None:
    submit(reporter, {**CORRECTED, "notes": "仅本单位可见的说明"})
    assert "仅本单位可见的说明" in reporter.get(FILL_URL).get_data(as_text=True)
    for name in ("shiyan", "checker"):
        response = logged_in(setup, name).get(FILL_URL)
        assert response.status_code == 403
        assert "仅本单位可见的说明" not in response.get_data(as_text=True)
    # Nor through the other unit's own page of the same form and period.
    other = logged_in(setup, "shiyan").get("/forms/units/shiyan-ms/inspection/2025-T2/")
    assert "仅本单位可见的说明" not in other.get_data(as_text=True)
    assert notice(other.get_data(as_text=True)) == ""


def test_what_users_typed_is_escaped_on_the_correction_page(setup) -> None:
    setup.services.accounts.add(
        "mallory", "reporter", PASSWORD, unit="dongfeng-ps", display_name="<b>马</b>"
    )
    client = logged_in(setup, "mallory")
    notes = "</textarea><script>alert(1)</script>"
    submission_id = submit(client, {**CORRECTED, "notes": notes})
    setup.submissions.reject(submission_id, "赵审核", '<img src=x onerror="alert(2)">')
    page = client.get(FILL_URL).get_data(as_text=True)
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in page
    assert "<script>alert(1)" not in page
    assert "以下内容取自&lt;b&gt;马&lt;/b&gt;于" in notice(page)
    assert "退回原因：&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in notice(page)
    assert "<img src=x" not in page and "<b>马</b>" not in page


def test_report_values_become_the_text_a_person_types(setup) -> None:
    form = next(f for f in setup.services.content.forms if f.id == "inspection")
    values = {
        "inspected_on": "2025-07-05",
        "extinguishers_checked": 60,
        "hazards_found": 3.0,  # a number read back from JSON as a float
        "exits_clear": True,
        "night_patrol": False,
        "rating": "合格",
        "retired_field": "x",  # no longer in the form: not offered for editing
        "notes": None,
    }
    assert typed_as_text(form, values) == {
        "inspected_on": "2025-07-05",
        "extinguishers_checked": "60",
        "hazards_found": "3",
        "exits_clear": "true",
        "night_patrol": "false",
        "rating": "合格",
    }


# -- the correction reason (更正原因) ------------------------------------------------------


def test_a_correction_asks_for_a_reason_that_reaches_the_reviewer_and_the_history(
    setup, reporter
) -> None:
    first = submit(reporter, INSPECTION_OK)
    # The report is filled anew; the check page asks why it corrects the earlier one.
    post(reporter, FILL_URL, {**CORRECTED, "action": "continue"})
    page = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert "更正原因" in page and 'name="correction_reason"' in page

    refused = post(reporter, FILL_URL + "check", {"correction_reason": "  "})

    assert refused.status_code == 422
    assert "更正原因：请说明为什么更正此前的填报" in refused.get_data(as_text=True)
    assert [r.id for r in setup.submissions.list(unit="dongfeng-ps")] == [first]
    too_long = post(reporter, FILL_URL + "check", {"correction_reason": "长" * 501})
    assert too_long.status_code == 422 and "更正原因不能超过 500 个字" in too_long.get_data(True)

    done = post(reporter, FILL_URL + "check", {"correction_reason": "隐患数量漏报了 2 处"})

    assert done.status_code == 302
    second = done.headers["Location"].rsplit("/", 1)[1]
    assert setup.submissions.read_report(second).correction_reason == "隐患数量漏报了 2 处"
    review = logged_in(setup, "checker").get(f"/forms/review/{second}").get_data(as_text=True)
    assert "更正原因" in review and "隐患数量漏报了 2 处" in review
    history = reporter.get(f"/forms/submissions/{second}").get_data(as_text=True)
    assert "更正原因" in history and "隐患数量漏报了 2 处" in history


def test_a_first_report_is_no_correction_and_asks_no_reason(setup, reporter) -> None:
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    assert 'name="correction_reason"' not in reporter.get(FILL_URL + "check").get_data(True)

    # A reason posted anyway is not kept: there is nothing it corrects.
    done = post(reporter, FILL_URL + "check", {"correction_reason": "无"})

    sid = done.headers["Location"].rsplit("/", 1)[1]
    assert setup.submissions.read_report(sid).correction_reason == ""


def test_a_slot_approved_in_the_plan_is_corrected_with_a_reason(setup, reporter) -> None:
    # 2025-T1 has an approved report in the plan's repository.
    url = "/forms/units/dongfeng-ps/inspection/2025-T1/"
    post(reporter, url, {**INSPECTION_OK, "action": "continue"})
    assert post(reporter, url + "check", {"correction_reason": ""}).status_code == 422
