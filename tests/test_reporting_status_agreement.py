"""The reporting status is one set of facts, published four ways: the unit pages, the
reporting-status page (报送情况), the workbook's sheets 报送情况 and 催报名单, and the data
package's `reporting-status` and `owing` resources. They agree cell for cell, for every
unit x form x period of the demo and of the second plan, and the real frictionless
validator accepts the package."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import frictionless
import pytest
from openpyxl import load_workbook

from builder.exports import write_data_package, write_workbook
from builder.obligations import STATE_LABELS
from tests.test_pages_obligations import (
    DEMO_AS_OF,
    ROOT,
    SECOND_AS_OF,
    SECOND_PLAN,
    STATUS_PAGE,
    Built,
    built,
    status_cells,
    unit_page_cells,
)

PLANS = [(ROOT, DEMO_AS_OF), (SECOND_PLAN, SECOND_AS_OF)]


@pytest.fixture(scope="module", params=PLANS, ids=["demo", "second-plan"])
def published(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root, as_of = request.param
    site = built(root, as_of)
    out = tmp_path_factory.mktemp("data")
    package = write_data_package(site.content, site.reports, site.progress, out)
    write_workbook(site.content, site.reports, site.progress, out / "progress.xlsx")
    return site, out, package


def unit_pages(site: Built) -> dict[tuple[str, str, str], str]:
    cells = {}
    for unit in site.content.units:
        page = site.pages[f"units/{unit.id}.md"].markdown
        for (form, period), state in unit_page_cells(page).items():
            cells[(unit.id, form, period)] = state
    return cells


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def sheet_rows(path: Path, title: str) -> list[dict[str, object]]:
    sheet = load_workbook(path, read_only=True)[title]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_the_status_page_the_workbook_and_the_package_agree_with_the_unit_pages(published) -> None:  # type: ignore[no-untyped-def]
    site, out, _ = published
    expected = unit_pages(site)
    assert len(expected) >= 20

    page = {
        key: state for key, (state, _) in status_cells(site.pages[STATUS_PAGE].markdown).items()
    }
    assert page == expected

    package = {
        (row["unit-id"], row["form-id"], row["period-id"]): row["state"]
        for row in read_csv(out / "reporting-status.csv")
    }
    assert package == expected

    # The workbook is for people: forms, periods and states in words, units with their code.
    forms = {form.title: form.id for form in site.content.forms}
    periods = {period.title: period.id for period in site.content.periods}
    states = {label: state for state, label in STATE_LABELS.items()}
    rows = sheet_rows(out / "progress.xlsx", "报送情况")
    assert not {"表单代码", "报送周期代码", "状态代码"} & set(rows[0])
    sheet = {
        (str(row["单位代码"]), forms[str(row["表单"])], periods[str(row["报送周期"])]): states[
            str(row["状态"])
        ]
        for row in rows
    }
    assert sheet == expected


def test_the_owing_list_is_the_same_in_the_page_the_workbook_and_the_package(published) -> None:  # type: ignore[no-untyped-def]
    site, out, _ = published
    missing = {
        (unit, form, period)
        for (unit, form, period), state in unit_pages(site).items()
        if state == "missing"
    }
    assert missing, "both plans have units that owe a report"
    days = {
        item.key: item.days_overdue
        for items in site.obligations.values()
        for item in items
        if item.state == "missing"
    }
    package = {
        (row["unit-id"], row["form-id"], row["period-id"]): int(row["days-overdue"])
        for row in read_csv(out / "owing.csv")
    }
    forms = {form.title: form.id for form in site.content.forms}
    periods = {period.title: period.id for period in site.content.periods}
    sheet = {
        (str(row["单位代码"]), forms[str(row["表单"])], periods[str(row["报送周期"])]): row[
            "逾期天数"
        ]
        for row in sheet_rows(out / "progress.xlsx", "催报名单")
    }
    assert set(package) == set(sheet) == missing
    assert package == sheet == days


def test_the_package_describes_both_tables_and_frictionless_accepts_it(published) -> None:  # type: ignore[no-untyped-def]
    _, _, package_path = published
    package = json.loads(package_path.read_text(encoding="utf-8"))
    names = [resource["name"] for resource in package["resources"]]
    assert names[-2:] == ["reporting-status", "owing"]
    status = package["resources"][-2]["schema"]
    assert status["primaryKey"] == ["unit-id", "form-id", "period-id"]
    state = next(f for f in status["fields"] if f["name"] == "state")
    assert state["constraints"]["enum"] == list(STATE_LABELS)
    result = frictionless.validate(str(package_path))
    assert result.valid, result.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_a_state_outside_the_schema_is_caught_by_the_validator(published, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, package_path = published
    rows = (out / "reporting-status.csv").read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in out.glob("*.csv"):
        (broken / file.name).write_bytes(file.read_bytes())
    (broken / "datapackage.json").write_bytes(package_path.read_bytes())
    rows[1] = (
        rows[1]
        .replace("on_time", "fine")
        .replace("missing", "fine")
        .replace("not_due", "fine")
        .replace("late", "fine")
    )
    (broken / "reporting-status.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = frictionless.validate(str(broken / "datapackage.json"))
    assert not result.valid
    assert "constraint-error" in {error.type for task in result.tasks for error in task.errors}
