"""The calendars (builder.exports.calendars): an iCalendar feed per unit and one for the plan,
read back with the icalendar library (a standard parser): every due date of every form a
unit owes and every indicator that applies to it is in its feed, as an all-day event whose
UID stays the same from build to build."""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import icalendar
import pytest

from builder.exports import downloads
from builder.exports.calendars import PLAN_CALENDAR, unit_calendar, write_calendars
from builder.model import Content, Report, Unit
from builder.plan import load_content
from builder.plugin import ExportJob, published_forms_url
from builder.progress import applies, evaluate
from builder.reports import load_reports

ROOT = Path(__file__).resolve().parents[1]
PLANS = {"demo": ROOT, "second plan": ROOT / "tests" / "fixtures" / "school-safety-2025"}
FORMS_URL = "https://plan.example.org/forms/"


def read_feed(path: Path) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(path.read_bytes())


def events(feed: icalendar.Calendar) -> list[icalendar.Event]:
    return list(feed.walk("VEVENT"))


def expected_due_dates(content: Content, unit: Unit) -> Counter[tuple[str, date]]:
    """What the unit owes, worked out from the plan alone: each form that applies to it x
    the form's periods, and each indicator that applies to it."""
    periods = {period.id: period for period in content.periods}
    owed: Counter[tuple[str, date]] = Counter()
    for form in content.forms:
        if form.applies_to.matches(unit):
            for period_id in form.periods:
                period = periods[period_id]
                owed[(f"报送：{form.title}（{period.title}）", period.due)] += 1
    for task in content.tasks:
        for indicator in task.indicators:
            if applies(content, task, indicator, unit):
                owed[(f"指标截止：{indicator.title}", indicator.due)] += 1
    return owed


def written(
    content: Content,
    out: Path,
    forms_url: str = FORMS_URL,
    as_of: date | None = None,
    reports: Sequence[Report] = (),
) -> list[Path]:
    progress = evaluate(content, reports, as_of or content.plan.end)
    return write_calendars(content, progress, out, forms_url)


@pytest.fixture(scope="module", params=sorted(PLANS))
def plan_feeds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    content = load_content(PLANS[request.param])
    out = tmp_path_factory.mktemp("calendars")
    paths = written(content, out, reports=load_reports(PLANS[request.param], content))
    return content, out, paths


def test_every_unit_has_a_feed_and_the_plan_has_one(plan_feeds) -> None:
    content, out, paths = plan_feeds
    assert sorted(paths) == sorted(
        [out / unit_calendar(unit.id) for unit in content.units] + [out / PLAN_CALENDAR]
    )
    assert len(paths) == len(content.units) + 1


def test_each_unit_feed_parses_and_holds_every_due_date_it_owes_and_no_other(plan_feeds) -> None:
    content, out, _ = plan_feeds
    total = 0
    for unit in content.units:
        feed = read_feed(out / unit_calendar(unit.id))
        found = Counter((str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events(feed))
        assert found == expected_due_dates(content, unit), unit.id
        assert unit.name in str(feed["X-WR-CALNAME"])
        total += sum(found.values())
    assert total > len(content.units)  # each unit owes something in both plans


def test_events_are_all_day_one_day_long_free_and_uniquely_identified(plan_feeds) -> None:
    _, _, paths = plan_feeds
    for path in paths:
        feed = read_feed(path)
        assert str(feed["VERSION"]) == "2.0" and feed["PRODID"]
        uids = [str(e["UID"]) for e in events(feed)]
        assert len(uids) == len(set(uids)), path.name
        for event in events(feed):
            start, end = event.decoded("DTSTART"), event.decoded("DTEND")
            # A DATE, not a DATE-TIME: all-day, in no time zone.
            assert type(start) is date and type(end) is date
            assert end - start == timedelta(days=1)
            assert event["DTSTAMP"] and str(event["TRANSP"]) == "TRANSPARENT"


def test_the_plan_feed_has_each_form_period_and_each_indicator_once(plan_feeds) -> None:
    content, out, _ = plan_feeds
    found = Counter(
        (str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events(read_feed(out / PLAN_CALENDAR))
    )
    periods = {period.id: period for period in content.periods}
    wanted = Counter(
        (f"报送：{form.title}（{periods[p].title}）", periods[p].due)
        for form in content.forms
        for p in form.periods
    ) + Counter(
        (f"指标截止：{indicator.title}", indicator.due)
        for task in content.tasks
        for indicator in task.indicators
    )
    assert found == wanted


def test_every_physical_line_is_at_most_75_octets_of_whole_utf8_characters(plan_feeds) -> None:
    _, _, paths = plan_feeds
    for path in paths:
        data = path.read_bytes()
        assert data.endswith(b"\r\n")
        for line in data.split(b"\r\n")[:-1]:
            assert len(line) <= 75, (path.name, line)
            line.decode("utf-8")  # a fold never cuts a character in two


def test_a_report_event_links_to_its_form_when_the_forms_address_is_absolute(tmp_path) -> None:
    content = load_content(ROOT)
    unit = content.units[0]
    written(content, tmp_path)
    feed = read_feed(tmp_path / unit_calendar(unit.id))
    reports = [e for e in events(feed) if str(e["SUMMARY"]).startswith("报送：")]
    assert reports
    for event in reports:
        url = str(event["URL"])
        assert url.startswith(f"{FORMS_URL}units/{unit.id}/")
        description = str(event["DESCRIPTION"])
        assert description.startswith(f"{unit.name}：")
        assert description.endswith(f"\n填报地址：{url}")


def test_without_an_absolute_forms_address_the_description_says_where_in_words(tmp_path) -> None:
    content = load_content(ROOT)
    unit = content.units[0]
    written(content, tmp_path, forms_url="/forms/")
    for event in events(read_feed(tmp_path / unit_calendar(unit.id))):
        assert "URL" not in event
        assert "/forms/" not in str(event["DESCRIPTION"])
        if str(event["SUMMARY"]).startswith("报送："):
            assert str(event["DESCRIPTION"]).endswith("请登录填报系统填写此表。")


def test_uids_stay_the_same_when_reports_dates_and_due_dates_change(tmp_path) -> None:
    """A calendar app updates the event it has by its UID: the same obligation keeps its
    UID across builds, whatever was approved since and even when its due date moves."""
    content = load_content(ROOT)
    unit = content.units[0]
    written(content, tmp_path / "before", as_of=content.plan.start)
    moved = dataclasses.replace(
        content,
        periods=tuple(
            dataclasses.replace(p, due=p.due + timedelta(days=3)) for p in content.periods
        ),
    )
    written(moved, tmp_path / "after", as_of=content.plan.end)

    def by_uid(folder: Path) -> dict[str, date]:
        feed = read_feed(folder / unit_calendar(unit.id))
        return {str(e["UID"]): e.decoded("DTSTART") for e in events(feed)}

    before, after = by_uid(tmp_path / "before"), by_uid(tmp_path / "after")
    assert before.keys() == after.keys()
    reports = [uid for uid in before if uid.startswith("report.")]
    assert reports and all(after[uid] == before[uid] + timedelta(days=3) for uid in reports)


def test_hostile_and_long_names_survive_escaping_and_folding(tmp_path) -> None:
    content = load_content(ROOT)
    name = "单位;名称,含\\反斜杠\n换行" + "很长的名称" * 30 + "\x07铃"
    unit = dataclasses.replace(content.units[0], name=name)
    hostile = dataclasses.replace(content, units=(unit, *content.units[1:]))
    written(hostile, tmp_path)
    feed = read_feed(tmp_path / unit_calendar(unit.id))
    readable = name.replace("\x07", " ")  # a control character is not allowed in TEXT
    # icalendar reads DESCRIPTION as TEXT (it leaves NAME and X-WR-CALNAME escaped).
    assert readable in str(feed["DESCRIPTION"])
    for event in events(feed):
        assert str(event["DESCRIPTION"]).startswith(f"{readable}：")
    for line in (tmp_path / unit_calendar(unit.id)).read_bytes().split(b"\r\n"):
        assert len(line) <= 75


def test_the_downloads_page_offers_the_plan_calendar() -> None:
    content = load_content(ROOT)
    offered = {download.file: download for download in downloads(content)}
    assert PLAN_CALENDAR in offered
    assert "订阅" in offered[PLAN_CALENDAR].description


@pytest.mark.slow
def test_two_thousand_units_write_two_thousand_and_one_feeds_in_seconds(tmp_path) -> None:
    content = load_content(ROOT)
    units = tuple(
        dataclasses.replace(content.units[n % len(content.units)], id=f"u{n:04d}", name=f"单位{n}")
        for n in range(2000)
    )
    big = dataclasses.replace(content, units=units)
    progress = evaluate(big, [], content.plan.end)
    start = time.process_time()
    paths = write_calendars(big, progress, tmp_path, FORMS_URL)
    spent = time.process_time() - start
    assert len(paths) == 2001
    assert spent < 10, f"{spent:.1f} s of CPU for 2,001 feeds"
    last = units[-1]
    found = Counter(
        (str(e["SUMMARY"]), e.decoded("DTSTART"))
        for e in events(read_feed(tmp_path / unit_calendar(last.id)))
    )
    assert found == expected_due_dates(big, last)


def test_the_forms_address_is_made_absolute_from_the_site_address_when_there_is_one() -> None:
    assert published_forms_url("/forms/", None) == "/forms/"
    assert published_forms_url("/forms/", "https://plan.example.org/site/") == FORMS_URL
    assert published_forms_url("forms/", "https://plan.example.org/site") == (
        "https://plan.example.org/site/forms/"
    )
    assert published_forms_url("https://other.example/f/", "https://x/") == (
        "https://other.example/f/"
    )


def test_the_export_process_writes_the_feeds_with_the_forms_address_it_is_given(tmp_path) -> None:
    fixture = PLANS["second plan"]
    job = ExportJob(fixture, date(2025, 9, 30), FORMS_URL)
    job.finish(tmp_path)
    content = load_content(fixture)
    unit = content.units[0]
    urls = [
        str(e["URL"]) for e in events(read_feed(tmp_path / unit_calendar(unit.id))) if "URL" in e
    ]
    assert urls and all(url.startswith(f"{FORMS_URL}units/{unit.id}/") for url in urls)


def test_the_built_site_publishes_every_feed_and_each_unit_page_links_to_its_own(
    built_site,
) -> None:
    content = load_content(ROOT)
    data = built_site.root / "data"
    read_feed(data / PLAN_CALENDAR)
    for unit in content.units:
        feed = data / unit_calendar(unit.id)
        assert feed.is_file(), unit.id
        page = built_site.root / "units" / unit.id / "index.html"  # directory URLs
        html = page.read_text(encoding="utf-8")
        links = re.findall(r'href="([^"]+\.ics)"', html)
        assert len(links) == 1, unit.id
        assert (page.parent / links[0]).resolve() == feed.resolve()
    downloads_page = (built_site.root / "data" / "index.html").read_text(encoding="utf-8")
    assert 'href="calendars/plan.ics"' in downloads_page
