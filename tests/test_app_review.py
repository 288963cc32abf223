"""Review: the queue, a readable submission with its diff, approve and reject."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest

from builder.local_time import local_minute_text
from builder.model import report_path
from builder.plan import load_content
from tests.app_fixtures import FILL_URL, INSPECTION_OK, PASSWORD, logged_in, make_setup, post

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


def submit(setup, values=None) -> str:
    client = logged_in(setup, "dongfeng")
    post(client, FILL_URL, {**(values or INSPECTION_OK), "action": "continue"})
    return post(client, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]


def test_the_queue_lists_waiting_submissions_with_names(setup) -> None:
    sid = submit(setup)
    page = logged_in(setup, "checker").get("/forms/review/").get_data(as_text=True)
    assert "待审核（1）" in page
    assert sid in page and "东风路小学" in page and "校园安全检查报表" in page
    assert "2025年秋季学期" in page


def test_a_submission_reads_as_a_table_with_the_raw_diff(setup) -> None:
    sid = submit(setup, {**INSPECTION_OK, "notes": "<b>粗体</b> | 管道"})
    page = logged_in(setup, "checker").get(f"/forms/review/{sid}").get_data(as_text=True)
    assert '<th scope="row">疏散通道和安全出口畅通</th><td class="value">是</td>' in page
    assert '<th scope="row">自查结论</th><td class="value">基本合格</td>' in page
    assert "&lt;b&gt;粗体&lt;/b&gt;" in page and "<b>粗体</b>" not in page
    assert "diff --git" in page
    assert report_path("inspection", "2025-T2", "dongfeng-ps", sid) in page
    assert "审核通过" in page and "退回原因" in page


def test_approve_merges_into_main_of_the_remote(setup) -> None:
    sid = submit(setup)
    reviewer = logged_in(setup, "checker")
    response = post(reviewer, f"/forms/review/{sid}/approve")
    assert response.status_code == 302
    assert setup.submissions.get(sid).state == "approved"
    remote = pygit2.Repository(str(setup.instance / "remote.git"))
    main = remote.branches.local["main"].peel(pygit2.Commit)
    path = report_path("inspection", "2025-T2", "dongfeng-ps", sid)
    assert json.loads(main.tree[path].data)["id"] == sid
    assert "Reviewed-by: 赵审核" in main.message
    # The reporter sees it approved, and the approved report counts in the portal.
    reporter = logged_in(setup, "dongfeng")
    assert "已通过" in reporter.get(f"/forms/submissions/{sid}").get_data(as_text=True)
    # Deciding twice is explained, not an error.
    again = post(reviewer, f"/forms/review/{sid}/approve", follow_redirects=True)
    assert "该填报已审核过" in again.get_data(as_text=True)


def test_reject_requires_a_reason(setup) -> None:
    sid = submit(setup)
    reviewer = logged_in(setup, "checker")
    response = post(reviewer, f"/forms/review/{sid}/reject", {"reason": "   "})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写退回原因" in page and 'role="alert"' in page
    assert setup.submissions.get(sid).state == "queued"
    response = post(reviewer, f"/forms/review/{sid}/reject", {"reason": "请补充整改照片"})
    assert response.status_code == 302
    record = setup.submissions.get(sid)
    assert (record.state, record.reason, record.reviewer) == (
        "rejected",
        "请补充整改照片",
        "赵审核",
    )
    page = logged_in(setup, "checker").get(f"/forms/review/{sid}").get_data(as_text=True)
    assert "请补充整改照片" in page and "审核通过</button>" not in page


def test_approve_triggers_the_rebuild_callback(setup) -> None:
    merged: list[str] = []
    setup.submissions.on_merged(merged.append)
    sid = submit(setup)
    post(logged_in(setup, "checker"), f"/forms/review/{sid}/approve")
    remote = pygit2.Repository(str(setup.instance / "remote.git"))
    assert merged == [str(remote.branches.local["main"].target)]


@pytest.mark.parametrize(
    ("as_of", "said"),
    [
        (None, "网站将在重新生成后显示新数据"),
        (
            "2025-08-01",
            "网站按 2025-08-01 统计进度，此填报晚于该日期提交，不计入进度；"
            "重新生成后将在本单位页面的“统计日期后收到的填报”中列出",
        ),
    ],
)
def test_approval_says_whether_the_site_will_count_the_report(
    tmp_path: Path, as_of: str | None, said: str
) -> None:
    # Submitted now, which is after a site date in the past (a demo's) but not after today.
    setup = make_setup(tmp_path, AS_OF=as_of)
    sid = submit(setup)

    page = post(
        logged_in(setup, "checker"), f"/forms/review/{sid}/approve", follow_redirects=True
    ).get_data(as_text=True)

    assert f"已通过填报 {sid}" in page
    assert said in page


def test_a_correction_supersedes_the_pending_submission_which_cannot_be_approved(setup) -> None:
    first = submit(setup)
    second = submit(setup, {**INSPECTION_OK, "hazards_fixed": "3"})
    reviewer = logged_in(setup, "checker")

    queue = reviewer.get("/forms/review/").get_data(as_text=True)
    assert "待审核（1）" in queue and second in queue
    page = reviewer.get(f"/forms/review/{first}").get_data(as_text=True)
    assert "已被更正取代" in page and "审核通过</button>" not in page
    assert f'href="/forms/review/{second}"' in page  # the one to review instead
    refused = post(reviewer, f"/forms/review/{first}/approve", follow_redirects=True)
    assert "该填报已被更正取代，不能审核" in refused.get_data(as_text=True)
    assert setup.submissions.get(first).state == "superseded"
    reporter_page = logged_in(setup, "dongfeng").get(f"/forms/submissions/{first}")
    assert "已被更正取代" in reporter_page.get_data(as_text=True)


def test_a_reporter_withdraws_a_pending_submission_of_their_own_unit(setup) -> None:
    sid = submit(setup)
    reporter = logged_in(setup, "dongfeng")
    assert "撤回填报</button>" in reporter.get(f"/forms/submissions/{sid}").get_data(as_text=True)

    # Another unit's reporter and a request without the CSRF token change nothing.
    other = post(logged_in(setup, "shiyan"), f"/forms/submissions/{sid}/withdraw")
    forged = reporter.post(f"/forms/submissions/{sid}/withdraw")
    assert (other.status_code, forged.status_code) == (403, 400)
    assert setup.submissions.get(sid).state == "queued"

    done = post(reporter, f"/forms/submissions/{sid}/withdraw", follow_redirects=True)

    page = done.get_data(as_text=True)
    assert "已撤回填报" in page and "撤回填报</button>" not in page
    assert setup.submissions.get(sid).state == "withdrawn"
    portal = reporter.get("/forms/units/dongfeng-ps/").get_data(as_text=True)
    assert "已撤回" in portal
    reviewer = logged_in(setup, "checker")
    assert "待审核（0）" in reviewer.get("/forms/review/").get_data(as_text=True)
    refused = post(reviewer, f"/forms/review/{sid}/approve", follow_redirects=True)
    assert "该填报已由填报单位撤回，不能审核" in refused.get_data(as_text=True)


def test_an_approved_submission_cannot_be_withdrawn(setup) -> None:
    sid = submit(setup)
    post(logged_in(setup, "checker"), f"/forms/review/{sid}/approve")
    reporter = logged_in(setup, "dongfeng")

    assert "撤回填报</button>" not in reporter.get(f"/forms/submissions/{sid}").get_data(
        as_text=True
    )
    page = post(reporter, f"/forms/submissions/{sid}/withdraw", follow_redirects=True)
    assert "该填报已通过，不能撤回" in page.get_data(as_text=True)
    assert setup.submissions.get(sid).state == "approved"


T1_URL = "/forms/units/dongfeng-ps/inspection/2025-T1/"


def section(page: str, heading: str) -> str:
    """The page from a heading to the next section's."""
    start = page.index(heading)
    end = page.find("<h2", start + len(heading))
    return page[start : end if end != -1 else len(page)]


def test_a_correction_shows_old_and_new_values_and_the_status_change_it_will_cause(
    tmp_path: Path,
) -> None:
    # Counted as of today, so that a report submitted now changes statuses.
    setup = make_setup(tmp_path, AS_OF=None)
    client = logged_in(setup, "dongfeng")
    # The slot's approved report on main has 64 extinguishers checked, 3 hazards fixed.
    values = {**INSPECTION_OK, "extinguishers_checked": "10", "hazards_fixed": "3"}
    post(client, T1_URL, {**values, "action": "continue"})
    sid = post(client, T1_URL + "check").headers["Location"].rsplit("/", 1)[1]

    page = logged_in(setup, "checker").get(f"/forms/review/{sid}").get_data(as_text=True)

    contents = section(page, "<h2>填报内容")
    assert '<span class="badge state-correction">更正</span>' in contents
    assert "20250715083000-b71c04d2" in contents  # the report it corrects
    row = re.search(r'<tr class="changed"><th scope="row">已检查灭火器数量.*?</tr>', contents)
    assert row is not None
    assert '<td class="value">10</td><td class="value">64</td>' in row.group(0)
    unchanged = re.search(r'<tr><th scope="row">本期整改隐患（处）.*?</tr>', contents)
    assert unchanged is not None  # 3 before, 3 now: not highlighted
    impact = section(page, '<h2 id="impact-title">')
    assert "灭火器检查覆盖率" in impact
    assert re.search(r"100%，已完成.*?15.6%，已逾期", impact, re.S)
    assert "完成 8/31" in impact and "完成 7/31" in impact  # the plan roll-up
    assert "全部任务" in impact
    assert "查看原始变更（diff）" in page


def test_a_first_report_stands_beside_the_unit_s_previous_period(setup) -> None:
    client = logged_in(setup, "dongfeng")
    summer = "/forms/units/dongfeng-ps/inspection/2025-SUMMER/"
    post(client, summer, {**INSPECTION_OK, "action": "continue"})
    sid = post(client, summer + "check").headers["Location"].rsplit("/", 1)[1]

    page = logged_in(setup, "checker").get(f"/forms/review/{sid}").get_data(as_text=True)

    contents = section(page, "<h2>填报内容")
    assert "更正</span>" not in contents and "更正前" not in contents
    assert "上一周期（2025年春季学期）" in contents  # 2025-T1's approved report
    row = re.search(r'<tr class="changed"><th scope="row">已检查灭火器数量.*?</tr>', contents)
    assert row is not None and '<td class="value">60</td><td class="value">64</td>' in row.group(0)
    # Submitted after the site's as-of date (2025-08-01): said, not promised.
    assert "此填报不会计入进度" in section(page, '<h2 id="impact-title">')


OFFSET_OR_ISO_TIME = re.compile(r"UTC[+-]|[+-]\d\d:\d\d\b|\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d")


def test_every_time_is_shown_in_the_plans_zone_to_the_minute(tmp_path: Path) -> None:
    # A server keeping UTC: the report carries +00:00, the draft is kept in UTC; the plan
    # (fixture: Asia/Shanghai) is read in Beijing.
    setup = make_setup(tmp_path, TIMEZONE="UTC")
    sid = submit(setup)
    submitted = setup.submissions.get(sid).submitted_at
    assert submitted.utcoffset() is not None and not submitted.utcoffset()
    beijing = local_minute_text(submitted, "Asia/Shanghai")
    reporter = logged_in(setup, "dongfeng")
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "save"})
    reviewer = logged_in(setup, "checker")
    pages = {
        "submission": reporter.get(f"/forms/submissions/{sid}"),
        "fill": reporter.get(FILL_URL),
        "portal": reporter.get("/forms/units/dongfeng-ps/"),
        "queue": reviewer.get("/forms/review/"),
        "detail": reviewer.get(f"/forms/review/{sid}"),
    }
    for name, response in pages.items():
        # The raw diff is the committed file, byte for byte: its ISO time is what git holds.
        page = re.sub(
            r"<pre><code>.*?</code></pre>", "", response.get_data(as_text=True), flags=re.S
        )
        assert response.status_code == 200, name
        assert not OFFSET_OR_ISO_TIME.findall(page), (name, OFFSET_OR_ISO_TIME.findall(page))
    for name in ("submission", "queue", "detail"):
        assert beijing in pages[name].get_data(as_text=True), name
    assert "草稿保存于 " in pages["fill"].get_data(as_text=True)


def test_without_a_timezone_setting_reports_are_stamped_in_the_plans_zone(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, TIMEZONE=None)
    assert setup.services.settings.timezone is None
    submitted = setup.submissions.get(submit(setup)).submitted_at
    assert submitted.utcoffset() == timedelta(hours=8)  # the fixture plan: Asia/Shanghai


def test_the_demo_portal_shows_no_offset_or_iso_time(tmp_path: Path) -> None:
    # The repository's own plan and its reports, served by a server keeping UTC.
    demo = tmp_path / "demo"
    for part in ("content", "schemas", "data"):
        shutil.copytree(REPOSITORY / part, demo / part)
    shutil.copy(REPOSITORY / "mkdocs.yml", demo / "mkdocs.yml")
    setup = make_setup(tmp_path / "served", fixture=demo, AS_OF="2022-10-20", TIMEZONE="UTC")
    unit = load_content(demo).units[0].id
    setup.services.accounts.add("demo-reporter", "reporter", PASSWORD, unit=unit)
    reporter = logged_in(setup, "demo-reporter")
    portal = reporter.get(f"/forms/units/{unit}/").get_data(as_text=True)
    corrections = sorted(set(re.findall(rf'href="(/forms/units/{unit}/[^"]+/)"', portal)))
    assert corrections  # the demo's approved reports: each opens with its time
    pages = {"portal": portal}
    pages |= {url: reporter.get(url).get_data(as_text=True) for url in corrections}
    pages["queue"] = logged_in(setup, "checker").get("/forms/review/").get_data(as_text=True)
    shown = [url for url, page in pages.items() if "提交的填报" in page]
    assert shown, "no page showed an earlier report's time"
    for url, page in pages.items():
        assert not OFFSET_OR_ISO_TIME.findall(page), (url, OFFSET_OR_ISO_TIME.findall(page))
