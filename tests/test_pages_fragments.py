"""The macros of _macros.html as the pages call them (builder/pages/fragments.py): a row
rendered once with holes and filled with texts is the row the macro renders with those
texts, for any text; and the escaping of a filled text is Jinja's."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup, escape

from builder.model import Evidence, Status
from builder.pages.fragments import fill, hole
from builder.pages.site import Site, SiteOptions
from builder.progress import evaluate
from builder.templating import html_text
from tests.test_pages import AS_OF, _content, _reports

CONTENT = _content()
SITE = Site(CONTENT, (), evaluate(CONTENT, _reports(), AS_OF), SiteOptions())
MACROS = SITE.fragments.macros  # the module, for rendering a call directly


@given(st.text())
def test_html_text_escapes_exactly_as_markupsafe(text: str) -> None:
    assert html_text(text) == str(escape(text))


@given(st.text(), st.sampled_from(list(Status)), st.text(), st.text())
def test_an_indicator_row_filled_with_any_unit_id_is_the_macros_row(
    value: str, status: Status, why: str, unit_id: str
) -> None:
    args = ("../../tasks/t-drills/", "drill-count", value, status, why)
    filled = fill(SITE.fragments("unit_indicator_row", *args, hole("unit_id")), unit_id=unit_id)
    assert filled == str(MACROS.unit_indicator_row(*args, unit_id))


@given(
    st.text(),
    st.text(),
    st.text(),
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(st.text(), st.integers(0, 10**8)), max_size=2),
)
def test_a_reporting_row_filled_with_any_texts_is_the_macros_row(
    unit_id: str,
    submitted: str,
    by: str,
    reported: bool,
    has_link: bool,
    evidence: list[tuple[str, int]],
) -> None:
    items = tuple(
        Evidence(f"{i}-f", name, "application/pdf", size, "0" * 64)
        for i, (name, size) in enumerate(evidence)
    )
    evidence_html = SITE.fragments("evidence_list", items) if items else "—"
    href = f"/forms/units/{unit_id}/quarterly/2022-Q1/"
    args = ("quarterly", "2022-Q1", date(2022, 4, 7), "late", "late", reported, has_link)
    holes = [hole(n) for n in ("unit_id", "submitted", "by", "evidence", "form_href")]
    filled = fill(
        SITE.fragments("reporting_row", *args, *holes),
        unit_id=unit_id,
        submitted=submitted,
        by=by,
        evidence=evidence_html,
        form_href=href,
    )
    assert filled == str(MACROS.reporting_row(*args, unit_id, submitted, by, evidence_html, href))


@given(st.text(), st.text())
def test_report_details_filled_with_any_id_and_rows_are_the_macros(
    report_id: str, value: str
) -> None:
    rows = SITE.fragments("report_value_row", "备注", value)
    filled = fill(
        SITE.fragments("report_details", "quarterly", "2022-Q1", hole("report_id"), hole("rows")),
        report_id=report_id,
        rows=rows,
    )
    assert filled == str(MACROS.report_details("quarterly", "2022-Q1", report_id, rows))


@given(st.text(), st.text(), st.text())
def test_table_rows_filled_with_their_cells_are_the_macros_rows(
    unit_id: str, name: str, cell_text: str
) -> None:
    cells = Markup("<td>{}</td>").format(cell_text)
    row = fill(
        SITE.fragments("task_unit_row", "../../units/a/", unit_id, name, "学校", hole("cells")),
        cells=cells,
    )
    assert row == str(MACROS.task_unit_row("../../units/a/", unit_id, name, "学校", cells))
    row = fill(
        SITE.fragments("matrix_row", "units/a/", unit_id, name, "red", hole("cells")), cells=cells
    )
    assert row == str(MACROS.matrix_row("units/a/", unit_id, name, "red", cells))
    unit_cell = SITE.fragments("unit_link", "units/a/", unit_id, name)
    holes = (hole("unit_id"), hole("unit_cell"), hole("cells"))
    row = fill(
        SITE.fragments("status_row", "school", "学校", "blue", "due_soon", *holes),
        unit_id=unit_id,
        unit_cell=unit_cell,
        cells=cells,
    )
    assert row == str(
        MACROS.status_row("school", "学校", "blue", "due_soon", unit_id, unit_cell, cells)
    )


def test_a_call_is_rendered_once_and_its_html_reused() -> None:
    first = SITE.fragments("badge", Status.MET)
    assert SITE.fragments("badge", Status.MET) is first
    assert first == str(MACROS.badge(Status.MET))
