"""Fragments the builder writes in Python instead of through their Jinja macro give the
macro's exact HTML, for any text; the reporting table's form links are form_link's."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from builder import pages
from builder.model import Status
from builder.pages import SiteOptions, _Site, form_link, minute_text
from builder.progress import evaluate
from tests.test_pages import AS_OF, _content, _reports


def _site(forms_url: str = "/forms/") -> _Site:
    content = _content()
    return _Site(content, (), evaluate(content, _reports(), AS_OF),
                 SiteOptions(forms_url=forms_url))


SITE = _site()


@given(st.text(), st.text(), st.text())
def test_unit_link_is_the_macros_html(href: str, unit_id: str, name: str) -> None:
    written = _site().unit_link(href, unit_id, name)
    assert written == str(SITE.macros.unit_link(href, unit_id, name))


@given(st.text(), st.sampled_from(list(Status)), st.text())
def test_value_cell_is_the_macros_html(indicator_id: str, status: Status, value: str) -> None:
    written = _site().value_cell(indicator_id, status, value)
    assert written == str(SITE.macros.value_cell(indicator_id, status, value))


def test_a_markup_argument_is_left_to_the_macro() -> None:
    site = _site()
    name = pages.Markup("<b>市甲局</b>")
    assert site.unit_link("../u/", "u", name) == str(SITE.macros.unit_link("../u/", "u", name))
    assert "<b>" in site.unit_link("../u/", "u", name)


def test_a_fragment_is_the_same_whichever_way_it_was_asked_first() -> None:
    site = _site()
    first = site.fragment("unit_link", "../a&b/", "a", "甲<乙>")
    assert site.unit_link("../a&b/", "a", "甲<乙>") is first
    other = _site()
    first = other.unit_link("../a&b/", "a", "甲<乙>")
    assert other.fragment("unit_link", "../a&b/", "a", "甲<乙>") is first


@given(st.sampled_from(["/forms/", "/forms", "forms", "http://x/?a=1&b=<2>", ""]),
       st.sampled_from(["a", "u-1", "bad id", "<x>", ""]),
       st.sampled_from(["f", "f_2", "../f", ""]),
       st.sampled_from(["2022-q1", "p", "p/q"]))
def test_every_reporting_rows_form_link_is_form_links(forms_url: str, unit_id: str,
                                                      form_id: str, period_id: str) -> None:
    content = _content()
    unit = replace(content.units[0], id=unit_id)
    form = replace(content.forms[0], id=form_id)
    period = replace(content.periods[0], id=period_id)
    state = pages.ReportingState(unit_id, form_id, period_id, period.due, None, "missing")
    site = _site(forms_url)
    html = pages._reporting_rows(site, unit, [(state, form, period)])
    link = form_link(forms_url, unit_id, form_id, period_id)
    if link is None:
        assert "ps-form-link" not in html
    else:
        assert f'<a class="ps-form-link" href="{pages.html_text(link)}">填报</a>' in html


@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_a_submission_time_is_shown_as_strftime_shows_it(moment: datetime) -> None:
    assert minute_text(moment) == moment.strftime("%Y-%m-%d %H:%M")
