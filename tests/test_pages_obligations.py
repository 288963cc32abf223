"""Who owes what on the site: every summary of a unit states its reports as well as its
indicators, the unit page starts with what is owed, the reporting-status page (报送情况)
lists every unit x period of every form, and the same escalation colours are used everywhere.

The demo (the repository's own plan, as of its configured date) and the second plan's
fixture are rendered as they are; the units are found from their data, never by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from builder.model import Content, Report, Status
from builder.obligations import STATE_LABELS, Obligation, count, plan_obligations
from builder.pages import GeneratedPage, SiteOptions, nav, render_pages
from builder.plan import load_content
from builder.progress import Progress, evaluate
from builder.reports import load_reports

ROOT = Path(__file__).resolve().parents[1]
SECOND_PLAN = ROOT / "tests" / "fixtures" / "school-safety-2025"
DEMO_AS_OF = date(2022, 10, 20)  # mkdocs.yml `as_of`
SECOND_AS_OF = date(2025, 10, 20)
STATUS_PAGE = "reporting.md"


@dataclass(frozen=True)
class Built:
    content: Content
    reports: tuple[Report, ...]
    progress: Progress
    pages: dict[str, GeneratedPage]
    obligations: dict[str, tuple[Obligation, ...]]


@cache
def built(root: Path, as_of: date) -> Built:
    content = load_content(root)
    reports = tuple(load_reports(root, content))
    progress = evaluate(content, reports, as_of)
    pages = render_pages(content, reports, progress, SiteOptions(forms_url="/forms/"))
    obligations = plan_obligations(progress.reporting_states, progress.as_of, content.escalation)
    return Built(content, reports, progress, {p.path: p for p in pages}, obligations)


def demo() -> Built:
    return built(ROOT, DEMO_AS_OF)


def second_plan() -> Built:
    return built(SECOND_PLAN, SECOND_AS_OF)


def to_do_box(html: str) -> str:
    match = re.search(r'<section class="ps-todo" data-ps="to-do">(.*?)</section>', html, re.S)
    assert match, "the unit page has a to-do box"
    return match.group(1)


def unit_page_cells(html: str) -> dict[tuple[str, str], str]:
    """(form, period) -> obligation state of a unit page's reporting table."""
    return {
        (form, period): state
        for form, period, state in re.findall(
            r'data-form="([^"]+)" data-period="([^"]+)" data-reporting="\w+" '
            r'data-obligation="(\w+)"',
            html,
        )
    }


# --- 1. obligations in every summary --------------------------------------------------


def test_a_unit_with_missing_reports_is_never_summarised_as_all_fine() -> None:
    site = demo()
    fine = {Status.MET, Status.ON_TRACK}
    hidden = [
        unit
        for unit in site.content.units
        if site.progress.unit_rollup(unit.id).status in fine
        and count(site.obligations[unit.id]).missing
    ]
    assert hidden, "the demo has a unit whose indicators are fine while reports are missing"
    index = site.pages["units/index.md"].markdown
    for unit in hidden:
        counts = count(site.obligations[unit.id])
        page = site.pages[f"units/{unit.id}.md"].markdown
        header = page[: page.index("</dl>")]
        assert counts.summary in header
        assert 'data-escalation="red"' in header
        assert "进展正常" not in header and "已完成" not in header
        row = re.search(rf'<tr data-unit="{unit.id}"[^>]*>.*?</tr>', index).group(0)
        assert 'data-escalation="red"' in row
        assert f"逾期未报 {counts.missing} 份" in row
        assert "进展正常" not in row


def test_the_home_page_states_the_plan_wide_report_counts_and_links_the_status_page() -> None:
    site = demo()
    everything = [item for items in site.obligations.values() for item in items]
    home = site.pages["index.md"].markdown
    assert count(everything).summary in home
    missing = sum(item.state == "missing" for item in everything)
    assert re.search(rf'data-ps="reports-missing">{missing}<', home)
    assert "](reporting.md)" in home


# --- 2. to-do first -------------------------------------------------------------------


def test_the_unit_page_starts_with_its_missing_reports_each_linked_to_its_form() -> None:
    site = demo()
    for unit in site.content.units:
        missing = [item for item in site.obligations[unit.id] if item.state == "missing"]
        page = site.pages[f"units/{unit.id}.md"].markdown
        box = to_do_box(page)
        assert page.index('data-ps="to-do"') < page.index("ps-indicators")
        listed = re.findall(
            r'<li data-form="([^"]+)" data-period="([^"]+)" data-obligation="missing" '
            r'data-days-overdue="(\d+)">.*?<a class="ps-form-link" href="([^"]+)"',
            box,
        )
        assert sorted(listed) == sorted(
            (
                item.form,
                item.period,
                str(item.days_overdue),
                f"/forms/units/{unit.id}/{item.form}/{item.period}/",
            )
            for item in missing
        )
        for item in missing:
            assert f"逾期 {item.days_overdue} 天" in box
        assert f'href="/forms/units/{unit.id}/"' in page  # all its forms in the portal


def test_the_unit_that_never_filed_two_past_due_reports_shows_both_at_the_top() -> None:
    site = demo()
    [unit] = [
        u
        for u in site.content.units
        if count(site.obligations[u.id]).missing == 2
        and site.progress.unit_rollup(u.id).status is Status.ON_TRACK
    ]
    box = to_do_box(site.pages[f"units/{unit.id}.md"].markdown)
    assert box.count('data-obligation="missing"') == 2
    assert "目前没有待办的报表" not in box


def test_a_unit_that_owes_nothing_says_so() -> None:
    site = demo()
    clear = [
        u
        for u in site.content.units
        if not any(item.state in ("missing", "due_soon") for item in site.obligations[u.id])
    ]
    assert clear
    for unit in clear:
        box = to_do_box(site.pages[f"units/{unit.id}.md"].markdown)
        assert "目前没有待办的报表" in box and "<li" not in box


def test_reports_due_within_the_plan_s_due_soon_days_are_on_the_to_do_with_days_left() -> None:
    content = load_content(ROOT)
    reports = tuple(load_reports(ROOT, content))
    # 2022-12-30: the Q4 reports are due 2023-01-10, within the demo's 14 days.
    progress = evaluate(content, reports, date(2022, 12, 30))
    pages = {p.path: p for p in render_pages(content, reports, progress)}
    unit = content.units[0]
    box = to_do_box(pages[f"units/{unit.id}.md"].markdown)
    assert 'data-obligation="due_soon"' in box and "还有 11 天" in box


def test_every_page_links_to_the_portal_from_the_navigation() -> None:
    site = demo()
    entries = nav(list(site.pages.values()), forms_url="/forms/")
    assert {"去填报": "/forms/"} in entries
    assert {"报送情况": STATUS_PAGE} in entries


# --- 3. the reporting-status page -----------------------------------------------------


def status_cells(html: str) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(unit, form, period) -> (state, label) of every cell of the status page."""
    cells: dict[tuple[str, str, str], tuple[str, str]] = {}
    for form, table in re.findall(
        r'<table data-ps-table="reporting-status" data-form="([^"]+)"[^>]*>(.*?)</table>',
        html,
        re.S,
    ):
        for unit, row in re.findall(r'<tr data-unit="([^"]+)"[^>]*>(.*?)</tr>', table, re.S):
            for period, state, label in re.findall(
                r'<td class="ps-ob ps-ob--\w+" data-period="([^"]+)" data-state="(\w+)">'
                r"(?:<abbr[^>]*>)?([^<]+)",
                row,
            ):
                cells[(unit, form, period)] = (state, label)
    return cells


def test_the_status_page_has_every_obligation_of_every_unit() -> None:
    site = demo()
    cells = status_cells(site.pages[STATUS_PAGE].markdown)
    expected = {item.key: item.state for items in site.obligations.values() for item in items}
    assert {key: state for key, (state, _) in cells.items()} == expected


def test_the_status_page_rates_per_period_and_unit_type_with_charts() -> None:
    site = demo()
    page = site.pages[STATUS_PAGE].markdown
    everything = [item for items in site.obligations.values() for item in items]
    q1 = count(item for item in everything if item.period == "2022-Q1")
    row = re.search(r'<tr data-period="2022-Q1">(.*?)</tr>', page).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[1:4] == [str(q1.expected), str(q1.reported), str(q1.on_time)]
    assert f"{q1.reporting_rate * 100:.0f}%" in row
    for unit_type in site.content.plan.unit_types:
        assert f'<tr data-unit-type="{unit_type.id}">' in page
    assert page.count("<svg") >= 4  # reporting and timeliness, per period and per unit type


def test_the_owing_list_names_each_unit_that_owes_a_period_with_days_overdue() -> None:
    site = demo()
    page = site.pages[STATUS_PAGE].markdown
    listed = set(
        re.findall(
            r'<tr data-unit="([^"]+)" data-form="([^"]+)" data-period="([^"]+)" '
            r'data-days-overdue="(\d+)"[^>]*>',
            page,
        )
    )
    expected = {
        (item.unit, item.form, item.period, str(item.days_overdue))
        for items in site.obligations.values()
        for item in items
        if item.state == "missing"
    }
    assert listed == expected and len(expected) > 30


def test_the_status_page_filters_by_unit_type_and_state_with_a_script_from_the_site() -> None:
    page = demo().pages[STATUS_PAGE].markdown
    assert "<script" not in page  # CSP script-src 'self': no inline script
    assert 'data-ps-filter="unit-type"' in page and 'data-ps-filter="state"' in page
    for state, label in STATE_LABELS.items():
        assert f'<option value="{state}">{label}</option>' in page
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "assets/reporting-status.js" in mkdocs
    assert (ROOT / "docs" / "assets" / "reporting-status.js").is_file()


# --- 4. escalation colours --------------------------------------------------------------


@pytest.mark.parametrize("path", ["units/index.md", "matrix.md", STATUS_PAGE])
def test_every_summary_of_units_colours_each_unit_and_has_the_legend(path: str) -> None:
    site = demo()
    page = site.pages[path].markdown
    assert "14 天内到期" in page  # the threshold from content/calendar.yml
    for unit in site.content.units:
        assert re.search(
            rf'<tr data-unit="{unit.id}"[^>]* data-escalation="(red|yellow|blue|none)"', page
        )


def test_escalation_colours_are_styled_by_a_stylesheet_the_site_loads() -> None:
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "assets/obligations.css" in mkdocs
    css = (ROOT / "docs" / "assets" / "obligations.css").read_text(encoding="utf-8")
    for colour in ("red", "yellow", "blue", "none"):
        assert f".ps-escalation--{colour}" in css
    for state in STATE_LABELS:
        assert f".ps-ob--{state}" in css


# --- 6. agreement: the status page and the unit pages ------------------------------------


@pytest.mark.parametrize("plan", [demo, second_plan], ids=["demo", "second-plan"])
def test_the_status_page_agrees_with_every_unit_page_cell_for_cell(plan) -> None:  # type: ignore[no-untyped-def]
    site = plan()
    cells = status_cells(site.pages[STATUS_PAGE].markdown)
    from_units = {}
    for unit in site.content.units:
        for (form, period), state in unit_page_cells(
            site.pages[f"units/{unit.id}.md"].markdown
        ).items():
            from_units[(unit.id, form, period)] = state
    assert from_units and {key: state for key, (state, _) in cells.items()} == from_units
    assert all(label == STATE_LABELS[state] for state, label in cells.values())  # type: ignore[index]
