"""Review: the queue, a readable submission with its diff, approve and reject."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygit2
import pytest

from builder.local_time import local_minute_text
from builder.model import report_path
from builder.plan import load_content
from forms.rebuild import SiteRebuilder
from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    PASSWORD,
    Setup,
    confirm_token,
    decide,
    logged_in,
    make_setup,
    post,
)

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


def publish_site(sites: Path, build: str, files: dict[str, bytes]) -> None:
    """A built site folder with these files, swapped in as `current`."""
    for name, data in files.items():
        (sites / build / name).parent.mkdir(parents=True, exist_ok=True)
        (sites / build / name).write_bytes(data)
    (sites / "next").symlink_to(build)
    (sites / "next").replace(sites / "current")


def test_the_queue_links_the_published_owing_list_in_the_sites_url_style(setup) -> None:
    reviewer = logged_in(setup, "checker")
    link = re.compile(r'<a href="([^"]*)">催报名单')
    # Before any site is built (or when it is published elsewhere) there is nothing to link.
    assert not link.search(reviewer.get("/forms/review/").get_data(as_text=True))

    sites = setup.services.settings.sites_dir
    home = b"<p>home</p>"
    publish_site(sites, "abc1234-1", {"index.html": home, "reporting/index.html": b"<p>r</p>"})
    found = link.search(reviewer.get("/forms/review/").get_data(as_text=True))
    assert found and found.group(1) == "/reporting/#ps-owing"
    assert reviewer.get("/reporting/").status_code == 200

    # A plan whose mkdocs.yml turns directory URLs off publishes reporting.html.
    publish_site(sites, "def5678-2", {"index.html": home, "reporting.html": b"<p>r</p>"})
    found = link.search(reviewer.get("/forms/review/").get_data(as_text=True))
    assert found and found.group(1) == "/reporting.html#ps-owing"


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
    response = decide(reviewer, sid, "approve")
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
    response = decide(reviewer, sid, "reject", {"reason": "请补充整改照片"})
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
    approve_with_confirmation(setup, sid)
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

    page = decide(logged_in(setup, "checker"), sid, "approve", follow_redirects=True).get_data(
        as_text=True
    )

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
    approve_with_confirmation(setup, sid)
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
    assert "完成 10/36" in impact and "完成 8/36" in impact  # the plan roll-up
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


# -- queue tools -------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
INSPECTION_VALUES = {
    "inspected_on": "2025-07-05",
    "extinguishers_checked": 10,
    "hazards_found": 1,
    "hazards_fixed": 1,
    "responsibility_signed": True,
    "rating": "合格",
}
DRILL_VALUES = {"drills_held": 1, "participants": 100, "duration_minutes": 4.5}


def submitted(setup: Setup, unit: str, form: str, period: str, days_ago: float) -> str:
    """A submission made `days_ago` days ago, through the real git layer."""
    when = datetime.now(SHANGHAI) - timedelta(days=days_ago)
    sid = f"{when:%Y%m%d%H%M%S}-{abs(hash((unit, form, period))) % 16**8:08x}"
    setup.submissions.submit(
        {
            "id": sid,
            "form": form,
            "period": period,
            "unit": unit,
            "submitted_at": when.isoformat(),
            "submitted_by": {"account": unit, "name": "填报人"},
            "values": INSPECTION_VALUES if form == "inspection" else DRILL_VALUES,
        },
        [],
        "填报人",
        f"{unit}@example.invalid",
    )
    return sid


def listed(page: str) -> list[str]:
    """The submission ids the queue's table lists, in its order."""
    return re.findall(r'<a href="/forms/review/([0-9]{14}-[0-9a-f]{8})">', page)


def test_the_queue_filters_by_unit_unit_type_form_period_state_and_age(setup) -> None:
    old = submitted(setup, "dongfeng-ps", "inspection", "2025-T1", days_ago=9)
    middle = submitted(setup, "shiyan-ms", "drill", "2025-T1", days_ago=3.5)
    new = submitted(setup, "dier-ms", "inspection", "2025-T2", days_ago=0.2)
    done = submitted(setup, "hongqi-ps", "drill", "2025-T2", days_ago=5)
    setup.submissions.reject(done, "赵审核", "请补充")
    reviewer = logged_in(setup, "checker")

    def ids(query: str) -> list[str]:
        response = reviewer.get(f"/forms/review/?{query}")
        assert response.status_code == 200
        return listed(response.get_data(as_text=True))

    # Waiting ones by default, the one waiting longest first.
    assert ids("") == [old, middle, new]
    assert ids("order=newest") == [new, middle, old]
    assert ids("unit=shiyan-ms") == [middle]
    assert ids("unit_type=secondary") == [middle, new]
    assert ids("form=drill") == [middle]
    assert ids("period=2025-T2") == [new]
    assert ids("age=3") == [old, middle]  # waiting 3 days or more
    assert ids("age=7") == [old]
    assert ids("state=rejected") == [done]
    assert ids("state=all") == [old, done, middle, new]
    assert ids("unit_type=secondary&form=inspection") == [new]
    # A value that is not one of the choices filters nothing out rather than failing.
    assert ids("unit=nowhere") == ids("age=abc") == [old, middle, new]
    page = reviewer.get("/forms/review/?unit_type=secondary").get_data(as_text=True)
    assert '<option value="secondary" selected>' in page  # the filter stays visible


def test_the_queue_says_how_long_each_submission_has_waited(setup) -> None:
    submitted(setup, "dongfeng-ps", "inspection", "2025-T1", days_ago=3.2)
    submitted(setup, "shiyan-ms", "drill", "2025-T1", days_ago=5 / 24)
    submitted(setup, "dier-ms", "inspection", "2025-T2", days_ago=0.01)

    page = logged_in(setup, "checker").get("/forms/review/").get_data(as_text=True)

    assert "等待 3 天" in page and "等待 5 小时" in page and "等待不到 1 小时" in page


def test_an_approval_is_taken_only_after_its_confirmation_page(setup) -> None:
    sid = submit(setup)
    other = submitted(setup, "shiyan-ms", "drill", "2025-T1", days_ago=1)
    reviewer = logged_in(setup, "checker")

    asked = post(reviewer, f"/forms/review/{sid}/approve", {"comment": "数据已核实"})

    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认审核通过" in page
    assert "东风路小学" in page and "校园安全检查报表" in page and "数据已核实" in page
    assert 'name="csrf_token"' in page  # the confirmation is a form of its own
    assert setup.submissions.get(sid).state == "queued"
    token = confirm_token(page)
    # A made-up token, or this one for another submission, only asks again.
    for target, forged in ((sid, "forged"), (other, token)):
        again = post(reviewer, f"/forms/review/{target}/approve", {"confirm": forged})
        assert again.status_code == 200 and "确认审核通过" in again.get_data(as_text=True)
        assert setup.submissions.get(target).state == "queued"
    # A token is given to the reviewer who asked, not to another account's session.
    boss = logged_in(setup, "boss")
    stolen = post(boss, f"/forms/review/{sid}/approve", {"confirm": token})
    assert stolen.status_code == 200 and setup.submissions.get(sid).state == "queued"

    taken = post(reviewer, f"/forms/review/{sid}/approve", {"confirm": token})

    assert taken.status_code == 302 and setup.submissions.get(sid).state == "approved"


def test_an_approval_comment_is_kept_in_the_merge_commit_and_the_history(setup) -> None:
    sid = submit(setup)
    reviewer = logged_in(setup, "checker")

    done = decide(reviewer, sid, "approve", {"comment": "数据已核实，照片齐全。"})

    assert done.status_code == 302
    remote = pygit2.Repository(str(setup.instance / "remote.git"))
    main = remote.branches.local["main"].peel(pygit2.Commit)
    assert "数据已核实，照片齐全。" in main.message and "Reviewed-by: 赵审核" in main.message
    for client, url in (
        (logged_in(setup, "dongfeng"), f"/forms/submissions/{sid}"),
        (reviewer, f"/forms/review/{sid}"),
    ):
        page = client.get(url).get_data(as_text=True)
        assert "审核意见" in page and "数据已核实，照片齐全。" in page
        assert "退回原因" not in page.split("<h2", 1)[0]
    too_long = post(reviewer, f"/forms/review/{submit(setup)}/approve", {"comment": "长" * 501})
    assert too_long.status_code == 422 and "审核意见不能超过 500 个字" in too_long.get_data(True)


def test_a_rejection_needs_a_reason_and_a_confirmation(setup) -> None:
    sid = submit(setup)
    reviewer = logged_in(setup, "checker")
    assert post(reviewer, f"/forms/review/{sid}/reject", {"reason": " "}).status_code == 422

    asked = post(reviewer, f"/forms/review/{sid}/reject", {"reason": "请补充整改照片"})

    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认退回" in page and "请补充整改照片" in page
    assert setup.submissions.get(sid).state == "queued"
    # The reason confirmed is the one shown, whatever a changed form field says.
    token = confirm_token(page)
    post(reviewer, f"/forms/review/{sid}/reject", {"reason": "别的", "confirm": token})
    record = setup.submissions.get(sid)
    assert (record.state, record.reason) == ("rejected", "请补充整改照片")


def test_a_batch_approval_lists_what_it_will_approve_and_approves_only_that(setup) -> None:
    first = submitted(setup, "dongfeng-ps", "inspection", "2025-T1", days_ago=2)
    second = submitted(setup, "shiyan-ms", "drill", "2025-T1", days_ago=1)
    left = submitted(setup, "dier-ms", "inspection", "2025-T2", days_ago=1)
    reviewer = logged_in(setup, "checker")
    queue = reviewer.get("/forms/review/").get_data(as_text=True)
    assert f'name="ids" value="{first}"' in queue  # each waiting one can be selected

    asked = post(reviewer, "/forms/review/batch", {"ids": [first, second], "comment": "批量核实"})

    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认批量审核通过（2 份）" in page
    assert first in page and second in page and left not in page
    assert "东风路小学" in page and "实验中学" in page and "批量核实" in page
    assert {setup.submissions.get(i).state for i in (first, second)} == {"queued"}
    done = post(reviewer, "/forms/review/batch", {"confirm": confirm_token(page)})
    assert done.status_code == 302
    states = {i: setup.submissions.get(i).state for i in (first, second, left)}
    assert states == {first: "approved", second: "approved", left: "queued"}
    assert setup.submissions.get(first).reason == "批量核实"
    nothing = post(reviewer, "/forms/review/batch", {})
    assert nothing.status_code == 422 and "请至少选择一份填报" in nothing.get_data(True)


def test_a_batch_leaves_out_a_superseded_submission_and_says_so(setup) -> None:
    old = submitted(setup, "dongfeng-ps", "inspection", "2025-T1", days_ago=2)
    newer = submitted(setup, "dongfeng-ps", "inspection", "2025-T1", days_ago=1)
    reviewer = logged_in(setup, "checker")

    asked = post(reviewer, "/forms/review/batch", {"ids": [old, newer]})

    page = asked.get_data(as_text=True)
    assert "确认批量审核通过（1 份）" in page and "已被更正取代，不能审核" in page
    post(reviewer, "/forms/review/batch", {"confirm": confirm_token(page)})
    assert (setup.submissions.get(old).state, setup.submissions.get(newer).state) == (
        "superseded",
        "approved",
    )


def twenty_slots(setup: Setup) -> list[tuple[str, str, str]]:
    content = setup.services.content
    return [
        (unit.id, form.id, period)
        for form in content.forms
        for period in form.periods
        for unit in content.units
        if form.applies_to.matches(unit)
    ][:20]


def test_a_batch_of_twenty_is_published_by_one_rebuild(setup, tmp_path: Path) -> None:
    built: list[str] = []

    def counting_build(source: Path, site: Path) -> None:
        time.sleep(0.05)  # long enough for approvals to arrive while it runs
        built.append(site.name)
        site.mkdir(parents=True)
        (site / "index.html").write_text("site")

    rebuilder = SiteRebuilder(setup.instance / "remote.git", tmp_path / "sites", counting_build)
    setup.submissions.on_merged(rebuilder.trigger)
    ids = [submitted(setup, *slot, days_ago=1) for slot in twenty_slots(setup)]
    assert len(ids) == 20
    reviewer = logged_in(setup, "checker")

    asked = post(reviewer, "/forms/review/batch", {"ids": ids})
    post(reviewer, "/forms/review/batch", {"confirm": confirm_token(asked.get_data(True))})

    assert rebuilder.wait(timeout=60)
    assert len(built) == 1, built
    remote = pygit2.Repository(str(setup.instance / "remote.git"))
    main = remote.branches.local["main"].peel(pygit2.Commit)
    assert built[0].startswith(str(main.id)[:12])  # the build of main after all 20
    for sid in ids:
        record = setup.submissions.get(sid)
        assert record.state == "approved"
        assert report_path(record.form, record.period, record.unit, sid) in main.tree


def approve_with_confirmation(setup: Setup, sid: str, **data: Any) -> Any:
    return decide(logged_in(setup, "checker"), sid, "approve", data)


def test_data_quality_warnings_and_their_explanation_stand_with_the_status_preview(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path, AS_OF=None)
    reporter = logged_in(setup, "dongfeng")
    odd = {**INSPECTION_OK, "hazards_found": "3", "hazards_fixed": "5", "action": "continue"}
    post(reporter, FILL_URL, odd)
    done = post(reporter, FILL_URL + "check", {"explanation": "含上期遗留的 2 处隐患"})
    sid = done.headers["Location"].rsplit("/", 1)[1]

    page = logged_in(setup, "checker").get(f"/forms/review/{sid}").get_data(as_text=True)

    preview = section(page, '<h2 id="impact-title">')
    assert "本期整改隐患数一般不超过本期发现的隐患数" in preview
    assert "含上期遗留的 2 处隐患" in preview
