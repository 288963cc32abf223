"""The portal's to-do box: at the top of a unit's portal, what it owes (overdue, returned with
the reviewer's reason, due within due_soon_days), each with a link to its form; and the
portal's header states the reports owed, never "all fine" while one is missing.

The fixture plan (school safety, as of 2025-08-01): 东风路小学 (dongfeng-ps) has its
spring inspection approved, but never filed the spring drill report due 2025-07-20."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_fixtures import logged_in, make_setup, post

PORTAL = "/forms/units/dongfeng-ps/"
DRILL_URL = "/forms/units/dongfeng-ps/drill/2025-T1/"
DRILL_OK = {
    "drills_held": "2",
    "participants": "800",
    "duration_minutes": "4.5",
    "lab_drill": "false",
    "notes": "补报。",
}


def todo_box(page: str) -> str:
    match = re.search(r"<section[^>]*data-todo>(.*?)</section>", page, re.S)
    assert match, "the portal has no to-do box"
    return match.group(1)


def todo_links(page: str) -> list[str]:
    return re.findall(
        r'<li class="todo-[^"]+" data-todo-item="[^"]+">\s*<span[^>]*>[^<]*</span>\s*'
        r'<a href="([^"]+)"',
        todo_box(page),
    )


def submit_drill(client) -> str:
    post(client, DRILL_URL, {**DRILL_OK, "action": "continue"})
    response = post(client, DRILL_URL + "check")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


@pytest.fixture
def reporter(setup):
    return logged_in(setup, "dongfeng")


def test_a_missing_report_is_at_the_top_with_its_days_overdue_and_a_link_to_its_form(
    reporter,
) -> None:
    page = reporter.get(PORTAL).get_data(as_text=True)
    box = todo_box(page)
    assert page.index("data-todo") < page.index("工作进展")  # the box comes first
    assert "逾期未报" in box and "应急演练报表（2025年春季学期）" in box
    assert "截止日期 2025-07-20，已逾期 12 天" in box
    assert todo_links(page) == [DRILL_URL]
    assert reporter.get(DRILL_URL).status_code == 200


def test_the_header_states_the_reports_owed_not_only_the_indicators(reporter) -> None:
    page = reporter.get(PORTAL).get_data(as_text=True)
    # Spring inspection approved; spring drill missing; the summer and autumn ones not due.
    summary = "报表：应报 2 份，已报 1 份，逾期未报 1 份"
    assert f"截至 2025-08-01，{summary}。" in todo_box(page)
    progress = page[page.index("工作进展") :]
    assert summary in progress


def test_a_returned_report_is_listed_with_the_reviewers_reason(setup, reporter) -> None:
    submission = submit_drill(reporter)
    setup.submissions.reject(submission, "赵审核", "参加人数与学生总数不符")
    box = todo_box(reporter.get(PORTAL).get_data(as_text=True))
    assert "已退回，待更正" in box
    assert "退回原因：参加人数与学生总数不符" in box
    assert 'class="todo-missing"' not in box
    assert "退回待更正 1 份，逾期未报 0 份" in box


def test_a_report_waiting_for_review_leaves_the_box_and_approval_counts_it(setup, reporter) -> None:
    submission = submit_drill(reporter)
    page = reporter.get(PORTAL).get_data(as_text=True)
    assert todo_links(page) == []
    assert "报表：应报 2 份，已报 1 份，审核中 1 份，逾期未报 0 份" in todo_box(page)
    setup.submissions.approve(submission, "赵审核", "checker@example.invalid")
    box = todo_box(reporter.get(PORTAL).get_data(as_text=True))
    assert "报表：应报 2 份，已报 2 份，逾期未报 0 份" in box
    assert "data-todo-empty" in box


def test_a_report_due_within_the_window_is_listed_with_the_days_left(tmp_path) -> None:
    setup = make_setup(tmp_path, AS_OF="2025-08-25")  # summer inspection due 2025-09-05
    reporter = logged_in(setup, "dongfeng")
    page = reporter.get(PORTAL).get_data(as_text=True)
    box = todo_box(page)
    assert "即将到期" in box and "截止日期 2025-09-05，还有 11 天" in box
    # Most urgent first: the overdue drill, then the inspection due soon.
    assert todo_links(page) == [DRILL_URL, "/forms/units/dongfeng-ps/inspection/2025-SUMMER/"]


def test_a_unit_that_owes_nothing_is_told_so(tmp_path) -> None:
    setup = make_setup(tmp_path, AS_OF="2025-07-01")  # the spring reports are 19 days away
    page = logged_in(setup, "dongfeng").get(PORTAL).get_data(as_text=True)
    box = todo_box(page)
    assert "没有待办：没有逾期未报、被退回或 14 天内到期的报表。" in box
    # The spring inspection of 2025-07-12, approved after this date, is done all the same.
    assert "报表：应报 1 份，已报 1 份，逾期未报 0 份" in box


def test_a_reviewer_sees_the_box_without_links_to_fill(setup) -> None:
    page = logged_in(setup, "checker").get(PORTAL).get_data(as_text=True)
    box = todo_box(page)
    assert "应急演练报表（2025年春季学期）" in box
    assert "/drill/2025-T1/" not in box
