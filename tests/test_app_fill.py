"""Filling a form: generated fields, errors, drafts, the check page and the final submit."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pygit2
import pytest

from builder.model import report_path
from forms.formgen import build_form, render_attributes, widget_kind
from forms.portal import latest_records
from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    csrf_token,
    git,
    logged_in,
    make_setup,
    post,
)
from tests.fixtures import copy_plan, edit


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


@pytest.fixture
def reporter(setup):
    return logged_in(setup, "dongfeng")


def inspection(setup):
    return next(f for f in setup.services.content.forms if f.id == "inspection")


def test_fields_are_generated_from_the_schema(setup) -> None:
    form = inspection(setup)
    kinds = {field.name: widget_kind(field) for field in form.fields}
    assert kinds == {
        "inspected_on": "date",
        "extinguishers_checked": "number",
        "hazards_found": "number",
        "hazards_fixed": "number",
        "exits_clear": "radio",
        "night_patrol": "radio",
        "responsibility_signed": "radio",
        "rating": "select",
        "fire_plan_revised_on": "date",
        "notes": "textarea",
    }
    checked = form.field_named("extinguishers_checked")
    assert render_attributes(checked) == {
        "required": True,
        "aria-required": "true",
        "min": "0",
        "max": "5000",
        "step": "1",
        "inputmode": "numeric",
    }
    html = str(build_form(form, {})["rating"]())
    assert "请选择" in html and "基本合格" in html
    radios = str(build_form(form, {})["exits_clear"]())
    assert re.search(r'value="true"> <label for="exits_clear-0">是</label>', radios)
    assert re.search(r'value="false"> <label for="exits_clear-1">否</label>', radios)


def test_fill_page_shows_titles_help_required_marks_and_constraints(reporter) -> None:
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert "校园安全检查报表" in page
    assert '<label for="extinguishers_checked">已检查灭火器数量' in page
    assert "截至报送时累计。" in page  # the field's description as help
    assert 'min="0"' in page and 'max="5000"' in page and "required" in page
    assert 'maxlength="500"' in page
    assert "（必填）" in page and "（选填）" in page
    assert 'name="csrf_token"' in page
    # Unit and period come from the address, never from a form field.
    assert 'name="unit"' not in page and 'name="period"' not in page


def test_errors_are_summarised_in_chinese_and_input_is_kept(reporter) -> None:
    data = {
        **INSPECTION_OK,
        "extinguishers_checked": "-5",
        "hazards_found": "2.5",
        "rating": "",
        "notes": "<script>alert(1)</script>",
        "action": "continue",
    }
    response = post(reporter, FILL_URL, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', page, re.S).group(0)
    assert '<a href="#extinguishers_checked">已检查灭火器数量：不能小于 0</a>' in summary
    assert '<a href="#hazards_found">本期发现隐患（处）：请输入整数</a>' in summary
    assert '<a href="#rating">自查结论：此项为必填项</a>' in summary
    assert 'id="extinguishers_checked-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="-5"' in page and 'value="2.5"' in page  # kept as typed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaped
    assert "<script>alert(1)" not in page


def test_unknown_fields_are_rejected(reporter) -> None:
    data = {**INSPECTION_OK, "unit": "shiyan-ms", "action": "continue"}
    response = post(reporter, FILL_URL, data)
    assert response.status_code == 422
    assert "unit：表单中没有此字段" in response.get_data(as_text=True)


def test_a_draft_is_saved_and_resumed_even_when_incomplete(setup, reporter) -> None:
    response = post(reporter, FILL_URL, {"hazards_found": "4", "notes": "未完", "action": "save"})
    assert response.status_code == 302
    page = reporter.get(FILL_URL).get_data(as_text=True)
    assert "草稿已保存" in page
    # Kept in UTC, shown on the plan's clock without an offset.
    assert re.search(r"草稿保存于 \d{4}-\d\d-\d\d \d\d:\d\d</p>", page)
    assert 'value="4"' in page and "未完" in page
    portal = reporter.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    assert "草稿" in portal and "继续填写" in portal
    # Another session of the same reporter resumes the same draft.
    other = logged_in(setup, "dongfeng")
    assert 'value="4"' in other.get(FILL_URL).get_data(as_text=True)


def test_continue_leads_to_the_check_page_with_readable_values(reporter) -> None:
    response = post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    assert response.headers["Location"] == FILL_URL + "check"
    page = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert "提交前请核对填报内容" in page
    assert "<dt>疏散通道和安全出口畅通</dt>\n    <dd>是</dd>" in page
    assert "<dt>已建立宿舍夜间巡查制度</dt>\n    <dd>否</dd>" in page
    assert "基本合格" in page and "2025-07-05" in page


def test_check_page_without_a_valid_draft_goes_back_to_the_form(reporter) -> None:
    assert reporter.get(FILL_URL + "check").headers["Location"] == FILL_URL
    post(reporter, FILL_URL, {"hazards_found": "x", "action": "save"})
    assert reporter.get(FILL_URL + "check").headers["Location"] == FILL_URL
    assert post(reporter, FILL_URL + "check").headers["Location"] == FILL_URL


def submit(client, values=None) -> str:
    post(client, FILL_URL, {**(values or INSPECTION_OK), "action": "continue"})
    response = post(client, FILL_URL + "check")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def test_submit_commits_the_report_on_its_own_branch(setup, reporter) -> None:
    submission_id = submit(reporter)
    assert re.fullmatch(r"\d{14}-[0-9a-f]{8}", submission_id)
    service = pygit2.Repository(str(setup.instance / "service.git"))
    branch = service.branches.local[f"submit/dongfeng-ps/{submission_id}"]
    commit = branch.peel(pygit2.Commit)
    path = report_path("inspection", "2025-T2", "dongfeng-ps", submission_id)
    report = json.loads(commit.tree[path].data)
    assert report["id"] == submission_id
    assert (report["unit"], report["form"], report["period"]) == (
        "dongfeng-ps",
        "inspection",
        "2025-T2",
    )
    assert report["submitted_by"] == {"account": "dongfeng", "name": "王老师"}
    assert report["submitted_at"].endswith("+08:00")
    assert report["values"] == {
        "inspected_on": "2025-07-05",
        "extinguishers_checked": 60,
        "hazards_found": 3,
        "hazards_fixed": 2,
        "exits_clear": True,
        "night_patrol": False,
        "responsibility_signed": True,
        "rating": "基本合格",
        "notes": "北楼消防通道已清理。",
    }
    assert commit.author.name == "王老师"
    assert commit.author.email == "dongfeng@plansite.invalid"
    # The main line of the plan is untouched until a reviewer approves.
    assert "data/reports/inspection/2025-T2" not in git(setup.repo, "ls-tree", "-r", "HEAD")


def test_confirmation_shows_the_reference_and_the_draft_is_cleared(setup, reporter) -> None:
    submission_id = submit(reporter)
    page = reporter.get(f"/forms/submissions/{submission_id}").get_data(as_text=True)
    assert submission_id in page and "填报编号" in page
    assert "已提交，等待审核" in page and "同步" not in page
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None
    portal = reporter.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    assert "已提交，等待审核" in portal and "更正" in portal and "同步" not in portal


def test_going_back_to_the_check_page_after_submitting_says_it_was_submitted(
    setup, reporter
) -> None:
    submission_id = submit(reporter)
    # A day later the confirmation of the draft is forgotten (drafts.CONFIRMATION_KEPT).
    with sqlite3.connect(setup.instance / "drafts.sqlite") as db:
        db.execute("DELETE FROM confirmations")
    response = reporter.get(FILL_URL + "check")
    assert response.headers["Location"] == f"/forms/submissions/{submission_id}"
    page = reporter.get(response.headers["Location"]).get_data(as_text=True)
    assert "本期已提交过这份表单" in page and "已提交，等待审核" in page
    assert "没有待提交的草稿" not in page


def test_a_correction_is_a_new_submission_for_the_same_period(setup, reporter) -> None:
    first = submit(reporter)
    second = submit(reporter, {**INSPECTION_OK, "hazards_found": "5"})
    assert first != second
    records = setup.submissions.list(unit="dongfeng-ps")
    assert {r.id for r in records} == {first, second}
    assert {(r.form, r.period) for r in records} == {("inspection", "2025-T2")}


def test_a_correction_sent_within_the_same_second_is_still_the_latest(setup, reporter) -> None:
    # Two submissions of one slot a few milliseconds apart: the second one must win in
    # the portal and the progress rules, which order by submission time.
    first = submit(reporter)
    second = submit(reporter, {**INSPECTION_OK, "hazards_found": "5"})
    times = {r.id: r.submitted_at for r in setup.submissions.list(unit="dongfeng-ps")}
    assert times[first] < times[second]
    assert (
        latest_records(setup.submissions.list(unit="dongfeng-ps"))[("inspection", "2025-T2")].id
        == second
    )


class FullDisk:
    """The real service, with a disk that is full: every submit fails with ENOSPC."""

    def __init__(self, real):
        self.real = real

    def submit(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_storage_failure_is_explained_and_the_draft_is_kept(setup, reporter) -> None:
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    setup.services.submissions = FullDisk(setup.submissions)
    response = post(reporter, FILL_URL + "check")
    assert response.status_code == 503
    assert "您填写的内容已作为草稿保留" in response.get_data(as_text=True)
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is not None
    assert setup.submissions.list() == []


def test_a_rejected_submission_shows_the_reason_on_the_portal(setup, reporter) -> None:
    submission_id = submit(reporter)
    setup.submissions.reject(submission_id, "赵审核", "隐患数量与附件不符")
    portal = reporter.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    assert "已退回" in portal and "退回原因：隐患数量与附件不符" in portal
    page = reporter.get(f"/forms/submissions/{submission_id}").get_data(as_text=True)
    assert "隐患数量与附件不符" in page


def test_the_portal_lists_only_forms_that_apply_to_the_unit(setup) -> None:
    # drill applies to primary and secondary schools; every fixture unit is one, so look
    # at the periods instead: inspection has three, drill two.
    client = logged_in(setup, "dongfeng")
    page = client.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    forms_table = page[page.index('id="forms-title"') :]  # after the to-do box
    assert forms_table.count("/forms/units/dongfeng-ps/inspection/") == 3
    assert forms_table.count("/forms/units/dongfeng-ps/drill/") == 2
    assert "已过截止日期" in page  # drill 2025-T1 was due 2025-07-20, as of 2025-08-01
    assert "项指标已完成" in page


def test_simultaneous_confirmations_of_one_draft_make_one_submission(setup) -> None:
    """Security finding 14.10: five simultaneous confirmations of one check page made five
    submissions. Now each answer is the first submission's receipt."""
    import threading

    browsers = [logged_in(setup, "dongfeng") for _ in range(5)]
    post(browsers[0], FILL_URL, {**INSPECTION_OK, "action": "continue"})
    tokens = [csrf_token(browser) for browser in browsers]
    revision = re.search(
        r'name="revision" value="([0-9a-f]+)"', browsers[0].get(FILL_URL + "check").text
    )
    assert revision is not None
    start = threading.Barrier(5)
    answers: list[str] = []

    def confirm(browser, token) -> None:
        start.wait()
        response = browser.post(
            FILL_URL + "check", data={"csrf_token": token, "revision": revision.group(1)}
        )
        answers.append(response.headers.get("Location", str(response.status_code)))

    threads = [
        threading.Thread(target=confirm, args=pair) for pair in zip(browsers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    records = setup.submissions.list(unit="dongfeng-ps")
    assert len(records) == 1
    assert answers == [f"/forms/submissions/{records[0].id}"] * 5
    # Sent again later (the back button, a resent request): the same receipt, nothing new.
    again = browsers[1].post(
        FILL_URL + "check", data={"csrf_token": tokens[1], "revision": revision.group(1)}
    )
    assert again.headers["Location"] == f"/forms/submissions/{records[0].id}"
    assert "已提交，无需重复提交" in browsers[1].get(again.headers["Location"]).text
    assert len(setup.submissions.list(unit="dongfeng-ps")) == 1


def test_a_draft_changed_after_its_check_page_is_checked_again(setup, reporter) -> None:
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    page = reporter.get(FILL_URL + "check").text
    seen = re.search(r'name="revision" value="([0-9a-f]+)"', page).group(1)
    post(reporter, FILL_URL, {**INSPECTION_OK, "hazards_found": "9", "action": "continue"})

    response = post(reporter, FILL_URL + "check", {"revision": seen})

    assert response.status_code == 302 and response.headers["Location"].endswith("/check")
    assert setup.submissions.list(unit="dongfeng-ps") == []


# ------------------------------------------------------------------ checks across fields
# The second plan's inspection form: extinguishers checked not above the school's count in
# units.csv (东风路小学: 64), an error; hazards fixed not above hazards found, a warning.


def test_a_figure_above_the_unit_s_registry_row_is_refused_like_a_constraint(reporter) -> None:
    data = {**INSPECTION_OK, "extinguishers_checked": "900", "action": "continue"}
    response = post(reporter, FILL_URL, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        '<a href="#extinguishers_checked">已检查灭火器数量：已检查灭火器数量不能超过本校灭火器总数'
        "（填报 900，单位名录“extinguishers”为 64）</a>"
    ) in page
    # The check page refuses the draft too: it never reaches a submission.
    assert reporter.get(FILL_URL + "check").headers["Location"] == FILL_URL
    assert post(reporter, FILL_URL + "check").headers["Location"] == FILL_URL


def test_a_warning_must_be_explained_before_submitting_and_reaches_the_reviewer(
    setup, reporter
) -> None:
    odd = {**INSPECTION_OK, "hazards_found": "3", "hazards_fixed": "5", "action": "continue"}
    assert post(reporter, FILL_URL, odd).headers["Location"] == FILL_URL + "check"
    said = "本期整改隐患数一般不超过本期发现的隐患数（填报 5，“本期发现隐患（处）”为 3）"
    page = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert "数据异常请说明" in page and said in page
    assert 'name="explanation"' in page

    refused = post(reporter, FILL_URL + "check", {"explanation": "  "})
    assert refused.status_code == 422
    assert "数据异常请说明：请用一句话说明这些数据为何如此" in refused.get_data(as_text=True)
    assert setup.submissions.list(unit="dongfeng-ps") == []

    response = post(reporter, FILL_URL + "check", {"explanation": "含上期遗留的 2 处隐患"})
    assert response.status_code == 302, response.get_data(as_text=True)
    submission_id = response.headers["Location"].rsplit("/", 1)[1]
    service = pygit2.Repository(str(setup.instance / "service.git"))
    commit = service.branches.local[f"submit/dongfeng-ps/{submission_id}"].peel(pygit2.Commit)
    stored = json.loads(
        commit.tree[report_path("inspection", "2025-T2", "dongfeng-ps", submission_id)].data
    )
    assert stored["explanation"] == "含上期遗留的 2 处隐患"

    review = (
        logged_in(setup, "checker").get(f"/forms/review/{submission_id}").get_data(as_text=True)
    )
    assert said in review and "含上期遗留的 2 处隐患" in review


def test_figures_that_pass_every_check_need_no_explanation(setup, reporter) -> None:
    submission_id = submit(reporter)
    page = logged_in(setup, "checker").get(f"/forms/review/{submission_id}").get_data(as_text=True)
    assert "数据异常请说明" not in page
    service = pygit2.Repository(str(setup.instance / "service.git"))
    commit = service.branches.local[f"submit/dongfeng-ps/{submission_id}"].peel(pygit2.Commit)
    stored = json.loads(
        commit.tree[report_path("inspection", "2025-T2", "dongfeng-ps", submission_id)].data
    )
    assert "explanation" not in stored


# ------------------------------------------------------------------ against the unit's history
# The second plan's inspection form: hazards found more than 3 times the school's last
# approved report of the form need an explanation. 东风路小学's latest approved 2025-T1
# report (there is none for 2025-SUMMER) found 3; the fill page is for 2025-T2.


def test_a_jump_beyond_the_plan_s_factor_must_be_explained_and_reaches_the_reviewer(
    setup, reporter
) -> None:
    jump = {**INSPECTION_OK, "hazards_found": "10", "action": "continue"}
    assert post(reporter, FILL_URL, jump).headers["Location"] == FILL_URL + "check"
    said = (
        "“本期发现隐患（处）”与上次批准的填报（2025年春季学期）相比变化过大"
        "（填报 10，超过上次批准的填报（2025年春季学期）3 的 3 倍）"
    )
    page = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert "数据异常请说明" in page and said in page
    assert post(reporter, FILL_URL + "check").status_code == 422
    assert setup.submissions.list(unit="dongfeng-ps") == []

    response = post(reporter, FILL_URL + "check", {"explanation": "开学前全面排查"})
    submission_id = response.headers["Location"].rsplit("/", 1)[1]
    review = (
        logged_in(setup, "checker").get(f"/forms/review/{submission_id}").get_data(as_text=True)
    )
    assert said in review and "开学前全面排查" in review


def test_a_cumulative_count_below_the_last_approved_report_must_be_explained(
    tmp_path: Path,
) -> None:
    plan = copy_plan(tmp_path / "plan")
    edit(
        plan, "content/forms.yml", "        history: {max_factor: 3}",
        "        history: {max_factor: 3}\n"
        "      - field: extinguishers_checked\n        history: {cumulative: true}",
    )  # fmt: skip
    setup = make_setup(tmp_path, fixture=plan)
    reporter = logged_in(setup, "dongfeng")
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})  # 60, after 64
    page = reporter.get(FILL_URL + "check").get_data(as_text=True)
    assert (
        "“已检查灭火器数量”是累计数，不应比上次批准的填报（2025年春季学期）少（填报 60，上次为 64）"
    ) in page
    assert post(reporter, FILL_URL + "check").status_code == 422

    post(reporter, FILL_URL, {**INSPECTION_OK, "extinguishers_checked": "64", "action": "save"})
    assert "数据异常请说明" not in reporter.get(FILL_URL + "check").get_data(as_text=True)
