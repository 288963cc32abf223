"""builder.synthetic: deterministic demo and benchmark data that any plan accepts.

Checked with the real parts: the repository's plan and a second, unrelated plan
(tests/fixtures), frictionless for the schemas, builder.validate for paths and values,
builder.progress for how the reports add up.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import frictionless
import pytest
import yaml

from builder.model import Content, Report, Status, is_identifier, report_path
from builder.plan import load_content
from builder.progress import evaluate
from builder.reporting import effective_reports
from builder.reports import load_reports
from builder.synthetic import (
    PROFILES,
    generate_reports,
    generate_units,
    main,
    unit_profile,
    units_csv,
    write_reports,
)
from builder.validate import validate_repository

REPOSITORY = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"
PLANS = [REPOSITORY, FIXTURE]


def plan_copy(source: Path, target: Path) -> Path:
    """The plan (content and schemas) of `source`, without its reports."""
    for folder in ("content", "schemas"):
        shutil.copytree(source / folder, target / folder)
    return target


def all_periods(content: Content) -> list[str]:
    return [p.id for p in content.periods]


def as_reports(dicts: Iterable[dict[str, Any]]) -> list[Report]:
    return [
        Report(
            id=d["id"],
            form=d["form"],
            period=d["period"],
            unit=d["unit"],
            submitted_at=datetime.fromisoformat(d["submitted_at"]),
            submitted_by=d["submitted_by"],
            values=d["values"],
        )
        for d in dicts
    ]


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "data" / "reports").rglob("*.json"))
    }


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(REPOSITORY)


@pytest.fixture(scope="module")
def year(content: Content) -> list[dict[str, Any]]:
    """A whole year of the repository's plan, no as-of cut."""
    return list(generate_reports(content, all_periods(content), 7))


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path, content):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        write_reports(tmp_path / name, generate_reports(content, all_periods(content), seed))
    first, again, other = (files_under(tmp_path / n) for n in "abc")
    assert first and first == again
    assert other != first


def test_a_units_report_does_not_depend_on_which_other_units_or_periods_are_generated(content):
    """Draws are keyed by unit, form, period and field, never by iteration order."""
    periods = all_periods(content)
    whole = [r for r in generate_reports(content, periods, 5) if r["unit"] == content.units[0].id]
    alone = Content(
        plan=content.plan,
        tasks=content.tasks,
        units=content.units[:1],
        periods=content.periods,
        forms=content.forms,
    )
    assert list(generate_reports(alone, periods, 5)) == whole
    first_period = [r for r in whole if r["period"] == periods[0]]
    assert [r for r in generate_reports(alone, periods[:1], 5)] == first_period


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_every_generated_report_passes_its_forms_schema(plan: Path):
    content = load_content(plan)
    reports = list(generate_reports(content, all_periods(content), 3))
    assert reports
    for form in content.forms:
        names = [f.name for f in form.fields]
        rows = [[r["values"].get(n) for n in names] for r in reports if r["form"] == form.id]
        if not rows:
            continue
        resource = frictionless.Resource(
            data=[names, *rows], schema=frictionless.Schema.from_descriptor(form.descriptor)
        )
        report = frictionless.validate(resource)
        assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_written_reports_sit_at_their_report_path_and_the_repository_validates(tmp_path, plan):
    root = plan_copy(plan, tmp_path / "plan")
    content = load_content(root)
    reports = list(generate_reports(content, all_periods(content), 9))
    assert write_reports(root, reports) == len(reports)
    expected = {report_path(r["form"], r["period"], r["unit"], r["id"]) for r in reports}
    assert set(files_under(root)) == expected
    assert validate_repository(root) == []
    assert len(load_reports(root, content)) == len(reports)


def test_report_files_are_indented_sorted_json_with_chinese_as_characters(tmp_path, content):
    report = next(generate_reports(content, all_periods(content), 1))
    write_reports(tmp_path, [report])
    text = tmp_path / report_path(report["form"], report["period"], report["unit"], report["id"])
    raw = text.read_text(encoding="utf-8")
    assert raw == json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    assert "\\u" not in raw


def test_ids_and_times_follow_the_report_format(year):
    for r in year:
        stamp, _, suffix = r["id"].partition("-")
        submitted = datetime.fromisoformat(r["submitted_at"])
        assert submitted.utcoffset() is not None
        assert stamp == submitted.strftime("%Y%m%d%H%M%S")
        assert len(suffix) == 8 and int(suffix, 16) >= 0
        assert r["submitted_by"]["name"] and r["submitted_by"]["account"] == r["unit"]
    assert len({r["id"] for r in year}) == len(year)


def test_reports_only_go_to_units_and_periods_their_form_applies_to(content, year):
    units = {u.id: u for u in content.units}
    forms = {f.id: f for f in content.forms}
    for r in year:
        assert r["period"] in forms[r["form"]].periods
        assert forms[r["form"]].applies_to.matches(units[r["unit"]])


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_ratio_numerators_never_exceed_their_denominators(plan: Path):
    content = load_content(plan)
    ratios = [i for i in content.indicators if i.rule == "ratio"]
    assert ratios
    for seed in range(4):
        reports = as_reports(generate_reports(content, all_periods(content), seed))
        effective = effective_reports(reports, date.max)
        by_unit: dict[str, list[Report]] = defaultdict(list)
        for report in effective.values():
            by_unit[report.unit].append(report)
        for unit in content.units:
            for indicator in ratios:
                numerator, denominator = indicator.numerator, indicator.denominator
                assert numerator and numerator.field and denominator
                if denominator.unit_attribute is None:
                    continue
                cap = unit.attributes[denominator.unit_attribute]
                values = [
                    r.values[numerator.field.field]
                    for r in by_unit[unit.id]
                    if r.form == numerator.field.form and numerator.field.field in r.values
                ]
                if numerator.combine == "sum":
                    assert sum(values) <= cap, (unit.id, indicator.id)
                else:
                    assert all(v <= cap for v in values), (unit.id, indicator.id)
        # The same through the progress rules: no ratio above 100%.
        progress = evaluate(content, reports, content.plan.end)
        for indicator in ratios:
            for result in progress.for_indicator(indicator.id):
                assert result.value is None or result.value <= 1.0


def test_zero_denominators_get_zero_numerators(content, year):
    zero = [
        (u, i)
        for u in content.units
        for i in content.indicators
        if i.rule == "ratio" and i.denominator and i.denominator.unit_attribute
        and u.attributes.get(i.denominator.unit_attribute) == 0
    ]  # fmt: skip
    assert zero, "the demo registry should exercise a zero denominator"
    for unit, indicator in zero:
        ref = indicator.numerator.field
        values = [
            r["values"][ref.field] for r in year if r["unit"] == unit.id and r["form"] == ref.form
        ]
        assert values and set(values) == {0}


def test_yes_no_items_once_reached_stay_reached_in_later_periods(content, year):
    yes_no = [i for i in content.indicators if i.rule == "yes_no"]
    latest = effective_reports(as_reports(year), date.max)
    order = {p.id: n for n, p in enumerate(content.periods)}
    for indicator in yes_no:
        ref = indicator.field
        for unit in content.units:
            series = sorted(
                (order[period], r.values[ref.field])
                for (u, form, period), r in latest.items()
                if u == unit.id and form == ref.form and ref.field in r.values
            )
            values = [v for _, v in series]
            assert values == sorted(values), (unit.id, indicator.id, values)


def test_corrections_are_later_reports_for_the_same_unit_form_and_period(year):
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in year:
        by_key[(r["unit"], r["form"], r["period"])].append(r)
    corrected = [rs for rs in by_key.values() if len(rs) > 1]
    assert corrected, "a year of reports should contain a few corrections"
    for first, second in corrected:
        assert first["submitted_at"] < second["submitted_at"]
        assert first["values"] != second["values"]


# --------------------------------------------------------------------------- timing and profiles


def test_nothing_submitted_after_the_as_of_date_is_generated(content):
    as_of = date(content.plan.year, 8, 1)
    reports = list(generate_reports(content, all_periods(content), 4, as_of=as_of))
    assert reports
    assert max(datetime.fromisoformat(r["submitted_at"]).date() for r in reports) <= as_of


def test_reports_cluster_around_the_due_date_with_some_late(content, year):
    due = {p.id: p.due for p in content.periods}
    end = {p.id: p.end for p in content.periods}
    offsets = [
        (datetime.fromisoformat(r["submitted_at"]).date() - due[r["period"]]).days for r in year
    ]
    on_time = sum(1 for o in offsets if o <= 0)
    assert on_time / len(offsets) > 0.7
    assert any(o > 0 for o in offsets)
    assert all(datetime.fromisoformat(r["submitted_at"]).date() > end[r["period"]] for r in year)


def test_diligent_units_report_more_and_reach_more_than_silent_ones(content):
    outcomes = {}
    for name in ("diligent", "silent"):
        reports = as_reports(
            generate_reports(content, all_periods(content), 2, profile_mix={name: 1.0})
        )
        progress = evaluate(content, reports, content.plan.end)
        outcomes[name] = (len(reports), progress.plan_rollup().share)
    assert outcomes["diligent"][0] > 3 * outcomes["silent"][0]
    assert outcomes["diligent"][1] > outcomes["silent"][1]


def test_profiles_are_drawn_by_weight_and_unknown_profiles_are_refused():
    drawn = Counter(unit_profile(f"u{n}", 1).name for n in range(2000))
    assert set(drawn) == set(PROFILES)
    assert drawn["average"] > drawn["behind"] > drawn["silent"]
    assert {unit_profile(f"u{n}", 1, {"behind": 1}).name for n in range(50)} == {"behind"}
    with pytest.raises(ValueError):
        unit_profile("u1", 1, {"lazy": 1.0})


def test_unknown_periods_are_refused(content):
    with pytest.raises(ValueError):
        list(generate_reports(content, ["1999-Q9"], 1))


# --------------------------------------------------------------------------- the demo


def test_the_demo_as_of_shows_every_status_and_every_reporting_state(content):
    settings = yaml.safe_load((REPOSITORY / "content" / "demo.yml").read_text(encoding="utf-8"))
    as_of = settings["as_of"]
    reports = as_reports(
        generate_reports(content, all_periods(content), settings["seed"], as_of=as_of)
    )
    progress = evaluate(content, reports, as_of)
    statuses = Counter(r.status for u in content.units for r in progress.for_unit(u.id))
    assert set(statuses) == set(Status)
    states = Counter(s.state for u in content.units for s in progress.reporting(u.id))
    assert set(states) == {"reported", "late", "missing", "open"}
    assert states["reported"] > states["late"] + states["missing"]


def test_the_committed_demo_reports_are_what_the_demo_command_generates(tmp_path):
    root = plan_copy(REPOSITORY, tmp_path / "repo")
    assert main(["demo", "--root", str(root)]) == 0
    generated = files_under(root)
    assert generated
    assert files_under(REPOSITORY) == generated


def test_the_demo_command_replaces_earlier_demo_reports(tmp_path):
    root = plan_copy(REPOSITORY, tmp_path / "repo")
    assert main(["demo", "--root", str(root), "--seed", "1"]) == 0
    assert main(["demo", "--root", str(root), "--seed", "2"]) == 0
    content = load_content(root)
    settings = yaml.safe_load((root / "content" / "demo.yml").read_text(encoding="utf-8"))
    again = list(generate_reports(content, all_periods(content), 2, as_of=settings["as_of"]))
    assert len(files_under(root)) == len(again)


def test_reports_are_not_removed_from_a_plan_that_is_not_a_demo(tmp_path):
    root = plan_copy(REPOSITORY, tmp_path / "repo")
    plan_file = root / "content" / "plan.yml"
    plan_file.write_text(
        plan_file.read_text(encoding="utf-8").replace("demo: true", "demo: false"), "utf-8"
    )
    write_reports(root, [{"id": "20220101090000-00000000", "form": "quarterly-progress",
                          "period": "2022-Q1", "unit": "fgw", "values": {}}])  # fmt: skip
    assert main(["reports", "--root", str(root), "--clean"]) == 2
    assert len(files_under(root)) == 1


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_generated_units_replace_the_registry_and_the_plan_still_loads(tmp_path, plan):
    root = plan_copy(plan, tmp_path / "plan")
    content = load_content(root)
    schema = json.loads((root / "schemas" / "units.schema.json").read_text(encoding="utf-8"))
    rows = generate_units(content, 60, 8, schema=schema)
    (root / "content" / "units.csv").write_text(units_csv(rows), encoding="utf-8")

    resource = frictionless.Resource(
        path="content/units.csv",
        basepath=str(root),
        schema=frictionless.Schema.from_descriptor(schema),
    )
    assert frictionless.validate(resource).valid
    bigger = load_content(root)
    assert len(bigger.units) == 60
    assert {u.type for u in bigger.units} <= {t.id for t in content.plan.unit_types}
    assert all(is_identifier(u.id) for u in bigger.units)
    assert set(bigger.units[0].attributes) == set(content.units[0].attributes)
    assert set(bigger.units[0].flags) == set(content.units[0].flags)
    write_reports(root, generate_reports(bigger, all_periods(bigger), 8))
    assert validate_repository(root) == []


def test_generated_units_follow_the_registrys_type_mix_and_are_deterministic(content):
    rows = generate_units(content, 400, 3)
    assert rows == generate_units(content, 400, 3)
    assert len({r["id"] for r in rows}) == 400
    mix = Counter(r["type"] for r in rows)
    registry = Counter(u.type for u in content.units)
    biggest = registry.most_common(1)[0][0]
    assert mix.most_common(1)[0][0] == biggest
    assert set(mix) == set(registry)


def test_the_units_command_prints_a_csv_with_the_registrys_columns(capsys):
    assert main(["units", "--root", str(REPOSITORY), "--count", "3", "--seed", "1"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    header = (REPOSITORY / "content" / "units.csv").read_text(encoding="utf-8").splitlines()[0]
    assert len(rows) == 3 and list(rows[0]) == header.split(",")
