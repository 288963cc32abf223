"""Deterministic synthetic units and reports, for the demo site and for benchmarks.

Driven only by a `Content` object: which forms apply to which units, each form field's
type and constraints, and how indicators read the fields (their rule, target, due date
and ratio denominators). Nothing here knows any particular plan, so the same generator
fills the demo of any plan.

Every random draw comes from a generator keyed by the seed and what it is for (a unit's
profile, a unit x field, one report), so the output does not depend on iteration order:
adding a unit leaves the other units' reports unchanged, and a later period never
changes an earlier one. Units get a *diligence profile* (diligent, average,
behind, silent) that decides how early they report and how far towards each target they
get, which gives the demo a realistic mix of met / on track / behind / not reported /
overdue.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from builder.model import (
    Content,
    FieldRef,
    Form,
    FormField,
    Indicator,
    Operand,
    Period,
    Report,
    Target,
    Unit,
    is_identifier,
    report_path,
)
from builder.reports import document_json, report_document
from builder.rules import RULES
from builder.rules.base import Draw

# Reports carry local time; the default is UTC+8 (China Standard Time), where the form
# service runs for the first plan. Callers may pass another zone.
DEFAULT_TZ = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Profile:
    """How a unit behaves over the year."""

    name: str
    skip: float  # chance that a period's report is never sent
    late: float  # chance that a sent report arrives after the due date
    correction: float  # chance that a report is followed by a correction
    level: tuple[float, float]  # share of a target reached by its due date (drawn per indicator)
    pace: float  # progress exponent over the year: < 1 front-loads the work
    # Yes/no items turn to their target at this share of the way from the plan's start to
    # their due date (> 1: after the due date).
    switch_share: tuple[float, float]
    free_true: float  # chance that a boolean no indicator reads is true
    activity: float  # scales counts that no target bounds


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("diligent", 0.02, 0.03, 0.06, (1.1, 1.6), 0.5, (0.1, 0.7), 0.95, 1.5),
        Profile("average", 0.06, 0.15, 0.05, (1.0, 1.4), 0.7, (0.2, 1.0), 0.8, 1.0),
        Profile("behind", 0.2, 0.4, 0.03, (0.4, 0.95), 1.15, (0.6, 1.6), 0.5, 0.6),
        Profile("silent", 0.85, 0.5, 0.0, (0.2, 0.7), 1.3, (0.9, 2.0), 0.3, 0.3),
    )
}
DEFAULT_PROFILE_MIX: Mapping[str, float] = {
    "diligent": 0.35,
    "average": 0.4,
    "behind": 0.18,
    "silent": 0.07,
}

# Reporters' names: common surnames and given-name characters, nothing plan-specific.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文斌浩宇婷雪晨晓俊"
_NOTES = (
    "本期各项工作按计划推进。",
    "已按要求完成本期工作，相关佐证材料已存档备查。",
    "部分工作进度有所滞后，下一阶段将加快推进。",
    "本期重点抓好制度落实，下一步将持续巩固提升。",
    "已召开专题会议研究部署，明确责任分工和完成时限。",
)


def _rng(seed: int | str, *parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so this is stable across runs
    # and independent of PYTHONHASHSEED.
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def _round_randomly(value: float, rng: random.Random) -> int:
    """Round up with probability equal to the fraction, so small targets are still reachable."""
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


def unit_profile(
    unit_id: str, seed: int | str, profile_mix: Mapping[str, float] = DEFAULT_PROFILE_MIX
) -> Profile:
    """The diligence profile drawn for a unit."""
    names = [name for name, weight in profile_mix.items() if weight > 0]
    if not names:
        raise ValueError("profile_mix has no positive weight")
    for name in names:
        if name not in PROFILES:
            raise ValueError(f"unknown profile: {name!r}")
    choice = _rng(seed, "profile", unit_id).choices(names, [profile_mix[n] for n in names])[0]
    return PROFILES[choice]


# --------------------------------------------------------------------------- units


def generate_units(
    content: Content,
    count: int,
    seed: int | str,
    *,
    schema: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`count` unit rows shaped like the content's registry (same flags and attributes).

    Each row copies a template unit of the same type (drawn from the existing registry)
    and scales its attributes by one factor, so relations between columns (and zeros)
    survive. Types follow the registry's mix. Ids are `<type>-<n>`, names say 演示.
    With the registry's Table Schema descriptor (`schema`), rows follow its column order
    and also fill the columns that are neither flags nor attributes (e.g. a district).
    """
    rng = _rng(seed, "units")
    flags, attributes = _unit_columns(content)
    types = [t.id for t in content.plan.unit_types] or ["unit"]
    by_type: dict[str, list[Unit]] = {t: [u for u in content.units if u.type == t] for t in types}
    weights = [len(by_type[t]) or 1 for t in types]
    labels = {t.id: t.label for t in content.plan.unit_types}
    width = max(4, len(str(count)))
    rows: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        type_id = rng.choices(types, weights)[0]
        templates = by_type[type_id] or list(content.units)
        template = rng.choice(templates) if templates else None
        factor = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
        row: dict[str, Any] = {
            "id": f"{type_id}-{n:0{width}d}",
            "name": f"演示{labels.get(type_id, '')}单位{n:0{width}d}",
            "type": type_id,
        }
        for flag in flags:
            inherited = template.flags.get(flag, False) if template else rng.random() < 0.5
            row[flag] = inherited if rng.random() < 0.85 else not inherited
        for attribute in attributes:
            base = template.attributes.get(attribute) if template else None
            row[attribute] = (
                max(0, round(base * factor)) if base is not None else rng.randint(1, 50)
            )
        if schema is not None:
            row = _schema_row(schema, row, n, rng)
        rows.append(row)
    return rows


def _schema_row(
    schema: Mapping[str, Any], row: dict[str, Any], n: int, rng: random.Random
) -> dict[str, Any]:
    """The row in the schema's column order, columns the model does not hold filled in."""
    ordered: dict[str, Any] = {}
    for column in schema.get("fields", []):
        name = column.get("name")
        if name in row:
            ordered[name] = row[name]
            continue
        constraints = column.get("constraints") or {}
        kind = column.get("type", "string")
        if constraints.get("enum"):
            ordered[name] = rng.choice(list(constraints["enum"]))
        elif kind == "boolean":
            ordered[name] = rng.random() < 0.5
        elif kind in ("integer", "number"):
            low = int(constraints.get("minimum", 0))
            ordered[name] = rng.randint(low, max(low, int(constraints.get("maximum", low + 50))))
        elif constraints.get("required"):
            ordered[name] = f"{column.get('title', name)}{n}"
        else:
            ordered[name] = ""
    return ordered


def _unit_columns(content: Content) -> tuple[list[str], list[str]]:
    """Flag and attribute columns: the registry's, else those the plan refers to."""
    flags: dict[str, None] = {}
    attributes: dict[str, None] = {}
    for unit in content.units:
        flags.update(dict.fromkeys(unit.flags))
        attributes.update(dict.fromkeys(unit.attributes))
    if not content.units:
        scopes = [t.applies_to for t in content.tasks] + [f.applies_to for f in content.forms]
        scopes += [i.applies_to for i in content.indicators]
        for scope in scopes:
            flags.update(dict.fromkeys(scope.flags))
        for indicator in content.indicators:
            for operand in (indicator.numerator, indicator.denominator):
                if operand and operand.unit_attribute:
                    attributes.update(dict.fromkeys([operand.unit_attribute]))
    return list(flags), list(attributes)


def units_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows from `generate_units` as units.csv text (booleans as true/false)."""
    buffer = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in row.items()}
        )
    return buffer.getvalue()


# --------------------------------------------------------------------------- field roles


@dataclass(frozen=True)
class _Role:
    """How the plan reads one form field, which decides how its values are drawn."""

    kind: Draw  # how the indicator's rule wants the field drawn (builder.rules.base.Draw)
    indicator: Indicator
    combine: str = "latest"  # for ratio numerators
    denominator: Operand | None = None


def _roles(content: Content) -> dict[FieldRef, _Role]:
    roles: dict[FieldRef, _Role] = {}
    # Ratio numerators first: their cap (the denominator) must win over a plainer reading.
    for indicator in content.indicators:
        numerator = indicator.numerator
        if RULES[indicator.rule].draw == "ratio" and numerator and numerator.field:
            roles.setdefault(
                numerator.field,
                _Role("ratio", indicator, numerator.combine, indicator.denominator),
            )
    for indicator in content.indicators:
        draw = RULES[indicator.rule].draw
        if indicator.field and draw != "ratio":
            roles.setdefault(indicator.field, _Role(draw, indicator))
    # Checklist booleans behave like yes/no items due at the end of the plan.
    for task in content.tasks:
        for item in task.checklist:
            if item.field and item.field not in roles:
                pseudo = Indicator(
                    id=f"checklist-{task.id}",
                    task_id=task.id,
                    title=item.title,
                    rule="yes_no",
                    due=content.plan.end,
                    field=item.field,
                    target=Target(equals=True),
                )
                roles[item.field] = _Role(RULES[pseudo.rule].draw, pseudo)
    return roles


def _denominator_fields(content: Content) -> set[FieldRef]:
    return {
        i.denominator.field
        for i in content.indicators
        if i.denominator is not None and i.denominator.field is not None
    }


# --------------------------------------------------------------------------- reports


@dataclass
class _UnitState:
    """What a unit has reported so far, so cumulative values stay consistent."""

    sums: dict[FieldRef, float]
    latest: dict[FieldRef, Any]

    def record(self, form: str, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            ref = FieldRef(form, name)
            if isinstance(value, bool):
                self.latest[ref] = value
            elif isinstance(value, int | float):
                self.sums[ref] = self.sums.get(ref, 0) + value
                self.latest[ref] = value


@dataclass(frozen=True)
class _Draws:
    """Draws for one unit and field that hold for every period (how well it does there)."""

    level: float  # share of the target reached by the due date
    base: float  # a yearly total for counts no target bounds
    switch: float  # when a yes/no item turns, as a share of the way to its due date
    pick: float  # which enum answer the unit gives


@dataclass
class _UnitRun:
    """Everything the value draws of one unit need; draws are cached per field."""

    seed: int | str
    content: Content
    unit: Unit
    profile: Profile
    roles: Mapping[FieldRef, _Role]
    state: _UnitState
    cache: dict[FieldRef, _Draws]

    def draws(self, ref: FieldRef, form: Form) -> _Draws:
        found = self.cache.get(ref)
        if found is None:
            rng = _rng(self.seed, "field", self.unit.id, ref)
            found = _Draws(
                level=rng.uniform(*self.profile.level),
                # A few per period, so a quarterly form totals more than a yearly one.
                base=rng.uniform(1, 6) * max(1, len(form.periods)),
                switch=rng.uniform(*self.profile.switch_share),
                pick=rng.random(),
            )
            self.cache[ref] = found
        return found


@dataclass(frozen=True)
class _Submission:
    form: Form
    period: Period
    submitted_at: datetime
    correction_at: datetime | None


def generate_reports(
    content: Content,
    periods: Iterable[str],
    seed: int | str,
    *,
    profile_mix: Mapping[str, float] = DEFAULT_PROFILE_MIX,
    as_of: date | None = None,
    tz: timezone = DEFAULT_TZ,
) -> Iterator[dict[str, Any]]:
    """Report dicts (the `data/reports` JSON shape) for every unit x applicable form x period.

    Submissions fall near each period's due date according to the unit's profile: some
    late, some never sent, a few followed by a correction (a second report for the same
    unit, form and period, submitted later). With `as_of`, submissions after that day are
    left out, as they would not exist yet. Values respect each field's constraints, and
    ratio numerators never exceed their denominators (summed numerators over the year
    included). Yields unit by unit, periods in calendar order.
    """
    wanted = set(periods)
    unknown = wanted - {p.id for p in content.periods}
    if unknown:
        raise ValueError(f"unknown periods: {sorted(unknown)}")
    chosen = [p for p in content.periods if p.id in wanted]
    roles = _roles(content)
    denominators = _denominator_fields(content)
    for unit in content.units:
        profile = unit_profile(unit.id, seed, profile_mix)
        reporter = _reporter_name(seed, unit.id)
        state = _UnitState({}, {})
        run = _UnitRun(seed, content, unit, profile, roles, state, {})
        for period in chosen:
            submissions = [
                s
                for form in content.forms
                if period.id in form.periods and form.applies_to.matches(unit)
                if (s := _submission(seed, unit, form, period, profile, as_of, tz))
            ]
            drawn = _draw_values(run, submissions, denominators)
            for sub, values in zip(submissions, drawn, strict=True):
                ordered = {f.name: values[f.name] for f in sub.form.fields if f.name in values}
                yield from _reports_for(seed, unit, sub, ordered, reporter, roles, denominators)


_OMIT = object()


def _draw_values(
    run: _UnitRun, submissions: Sequence[_Submission], denominators: set[FieldRef]
) -> list[dict[str, Any]]:
    """The values of one unit's submissions of one period, by submission."""
    drawn: list[dict[str, Any]] = [{} for _ in submissions]
    # One generator per report, drawn in field order: cheap and order-independent.
    rngs = [_rng(run.seed, "values", run.unit.id, s.form.id, s.period.id) for s in submissions]
    # Denominator fields first and recorded at once, so that numerators drawn next (in any
    # form of the period) are capped by them.
    for first_stage in (True, False):
        for sub, values, rng in zip(submissions, drawn, rngs, strict=True):
            for f in sub.form.fields:
                if (FieldRef(sub.form.id, f.name) in denominators) != first_stage:
                    continue
                value = _value(run, sub, f, rng)
                if value is not _OMIT:
                    values[f.name] = _within_history(run, sub.form, f, value)
        for sub, values in zip(submissions, drawn, strict=True):
            run.state.record(
                sub.form.id,
                {
                    k: v
                    for k, v in values.items()
                    if (FieldRef(sub.form.id, k) in denominators) == first_stage
                },
            )
    return drawn


def _within_history(run: _UnitRun, form: Form, field: FormField, value: Any) -> Any:
    """The value kept within the form's history checks against the unit's last figure
    (recorded after the whole period is drawn, so still the earlier period's): a running
    total never below it, a figure at most `max_factor` times it."""
    before = run.state.latest.get(FieldRef(form.id, field.name))
    if isinstance(value, bool) or isinstance(before, bool) or before is None:
        return value
    for check in form.history_checks:
        if check.field != field.name:
            continue
        if check.cumulative:
            value = max(value, before)
        if check.max_factor is not None and before > 0:
            most = check.max_factor * before
            value = min(value, math.floor(most) if field.type == "integer" else most)
    return value


def _submission(
    seed: int | str,
    unit: Unit,
    form: Form,
    period: Period,
    profile: Profile,
    as_of: date | None,
    tz: timezone,
) -> _Submission | None:
    rng = _rng(seed, "submission", unit.id, form.id, period.id)
    if rng.random() < profile.skip:
        return None
    if rng.random() < profile.late:
        day = period.due + timedelta(days=rng.randint(1, 25))
    else:
        earliest = period.end + timedelta(days=1)
        day = max(earliest, period.due - timedelta(days=rng.randint(0, 12)))
    submitted_at = _moment(day, rng, tz)
    correction_at = None
    if rng.random() < profile.correction:
        correction_at = _moment(day + timedelta(days=rng.randint(1, 12)), rng, tz)
    if as_of is not None:
        if submitted_at.date() > as_of:
            return None
        if correction_at is not None and correction_at.date() > as_of:
            correction_at = None
    return _Submission(form, period, submitted_at, correction_at)


def _moment(day: date, rng: random.Random, tz: timezone) -> datetime:
    seconds = rng.randint(8 * 3600 + 1800, 18 * 3600)
    clock = time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
    return datetime.combine(day, clock, tzinfo=tz)


def _reporter_name(seed: int | str, unit_id: str) -> str:
    rng = _rng(seed, "reporter", unit_id)
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))


def _reports_for(
    seed: int | str,
    unit: Unit,
    sub: _Submission,
    values: dict[str, Any],
    reporter: str,
    roles: Mapping[FieldRef, _Role],
    denominators: set[FieldRef],
) -> Iterator[dict[str, Any]]:
    """The report, preceded by a slightly wrong first version when it gets corrected."""
    if sub.correction_at is None:
        yield _report(seed, unit, sub, sub.submitted_at, values, reporter)
        return
    first = _mistaken(seed, unit, sub, values, roles, denominators)
    yield _report(seed, unit, sub, sub.submitted_at, first, reporter)
    yield _report(seed, unit, sub, sub.correction_at, values, reporter)


def _mistaken(
    seed: int | str,
    unit: Unit,
    sub: _Submission,
    values: dict[str, Any],
    roles: Mapping[FieldRef, _Role],
    denominators: set[FieldRef],
) -> dict[str, Any]:
    """A copy of `values` with one count off, as the corrected report would fix.

    Ratio numerators and denominators are left alone so that no version of the report
    breaks their relation.
    """
    rng = _rng(seed, "mistake", unit.id, sub.form.id, sub.period.id)
    candidates = [
        f
        for f in sub.form.fields
        if f.type == "integer"
        and f.name in values
        and FieldRef(sub.form.id, f.name) not in denominators
        and getattr(roles.get(FieldRef(sub.form.id, f.name)), "kind", "") != "ratio"
    ]
    wrong = dict(values)
    rng.shuffle(candidates)
    for f in candidates:
        for delta in rng.sample((-2, -1, 1, 2, 3), 5):
            changed = _clamp(f, values[f.name] + delta)
            if changed != values[f.name]:
                wrong[f.name] = changed
                return wrong
    return wrong  # nothing to get wrong: the correction only resubmits


def _report(
    seed: int | str,
    unit: Unit,
    sub: _Submission,
    at: datetime,
    values: dict[str, Any],
    reporter: str,
) -> dict[str, Any]:
    suffix = _rng(seed, "id", unit.id, sub.form.id, sub.period.id, at.isoformat()).getrandbits(32)
    return report_document(
        Report(
            id=f"{at:%Y%m%d%H%M%S}-{suffix:08x}",
            form=sub.form.id,
            period=sub.period.id,
            unit=unit.id,
            submitted_at=at,
            submitted_by={"account": unit.id, "name": reporter},
            values=values,
        )
    )


# --------------------------------------------------------------------------- values


def _elapsed(content: Content, indicator: Indicator, period: Period) -> float:
    """How far the period's end is along the way from the plan's start to the due date."""
    span = (indicator.due - content.plan.start).days
    if span <= 0:
        return 1.0
    return min(1.0, max(0.0, (period.end - content.plan.start).days / span))


def _value(run: _UnitRun, sub: _Submission, field: FormField, rng: random.Random) -> Any:
    ref = FieldRef(sub.form.id, field.name)
    role = run.roles.get(ref)
    period = sub.period
    draws = run.draws(ref, sub.form)

    if field.type == "boolean":
        if role is not None:
            return _switched(run.content.plan.start, role, draws, period)
        return rng.random() < run.profile.free_true
    if field.type in ("integer", "number") and role is not None:
        return _count(run, field, ref, role, draws, period, rng)
    if not field.required and rng.random() < (0.5 if field.type == "string" else 0.3):
        return _OMIT
    if field.type in ("integer", "number"):
        return _free_number(field, run.profile, rng)
    if field.type == "date":
        days = max(0, (period.end - period.start).days)
        return (period.start + timedelta(days=rng.randint(0, days))).isoformat()
    if field.enum:
        # An answer such as a category is stable for a unit across periods.
        return field.enum[min(len(field.enum) - 1, int(draws.pick * len(field.enum)))]
    if field.type == "string":
        text = rng.choice(_NOTES)
        return text[: field.max_length] if field.max_length else text
    return _OMIT  # a type the generator does not know: leave the field out


def _switched(start: date, role: _Role, draws: _Draws, period: Period) -> bool:
    """A yes/no item turns to its target once, before or (for laggards) after its due date."""
    target = role.indicator.target
    achieved = target.equals if target and isinstance(target.equals, bool) else True
    span = max(1, (role.indicator.due - start).days)
    switch = start + timedelta(days=round(span * draws.switch))
    return achieved if period.end >= switch else not achieved


def _count(
    run: _UnitRun,
    field: FormField,
    ref: FieldRef,
    role: _Role,
    draws: _Draws,
    period: Period,
    rng: random.Random,
) -> int | float:
    """A count on the unit's path towards the target, consistent with what it reported."""
    content, unit, profile, state = run.content, run.unit, run.profile, run.state
    level, base = draws.level, draws.base
    indicator = role.indicator
    progress = _elapsed(content, indicator, period) ** profile.pace
    target = indicator.target
    minimum = target.minimum if target and target.minimum is not None else None

    if role.kind == "ratio":
        cap = _denominator_value(unit, role.denominator, state)
        share = minimum if minimum is not None else 1.0
        reached = min(1.0, share * level * progress)
        cumulative = min(cap, _round_randomly(cap * reached, rng))
        if role.combine == "sum":
            value = max(0, cumulative - state.sums.get(ref, 0))
        else:
            value = max(cumulative, min(cap, state.latest.get(ref, 0)))
        # Clamp down only: raising to a field minimum could break the cap.
        if field.maximum is not None:
            value = min(value, field.maximum)
        return _typed(field, value)

    # Tracked without a target: a modest, size-free count that grows over the year.
    scale = minimum * level if minimum is not None else base * profile.activity
    goal = scale * progress
    if role.kind == "running_total":
        reached = _round_randomly(goal, rng)
        return _clamp(field, max(0, reached - state.sums.get(ref, 0)))
    # level: a level reached stays reached.
    return _clamp(field, max(_round_randomly(goal, rng), state.latest.get(ref, 0)))


def _denominator_value(unit: Unit, operand: Operand | None, state: _UnitState) -> int:
    if operand is None:
        return 0
    if operand.unit_attribute is not None:
        return max(0, int(unit.attributes.get(operand.unit_attribute) or 0))
    if operand.field is not None:
        if operand.combine == "sum":
            return max(0, int(state.sums.get(operand.field, 0)))
        latest = state.latest.get(operand.field, 0)
        return max(0, int(latest)) if isinstance(latest, int | float) else 0
    return 0


def _free_number(field: FormField, profile: Profile, rng: random.Random) -> int | float:
    low = field.minimum if field.minimum is not None else 0
    high = field.maximum if field.maximum is not None else low + 10
    high = min(high, low + 10 * profile.activity)
    if field.type == "integer":
        return _clamp(field, rng.randint(math.ceil(low), max(math.ceil(low), math.floor(high))))
    return _clamp(field, round(rng.uniform(low, max(low, high)), 1))


def _typed(field: FormField, value: float) -> int | float:
    return round(value) if field.type == "integer" else float(value)


def _clamp(field: FormField, value: float) -> int | float:
    if field.maximum is not None:
        value = min(value, field.maximum)
    if field.minimum is not None:
        value = max(value, field.minimum)
    return _typed(field, value)


# --------------------------------------------------------------------------- files


def write_reports(root: Path, reports: Iterable[Mapping[str, Any]]) -> int:
    """Write each report to its `report_path` under `root`; returns how many were written.

    JSON with indent 2, sorted keys and real Chinese characters, so files diff well.
    """
    written = 0
    for report in reports:
        relative = report_path(report["form"], report["period"], report["unit"], report["id"])
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(document_json(report, sort_keys=True), encoding="utf-8")
        written += 1
    return written


def clear_reports(root: Path, content: Content, periods: Iterable[str]) -> None:
    """Remove every report of the given periods (demo data only; the caller checks)."""
    for form in content.forms:
        for period in periods:
            if is_identifier(form.id) and is_identifier(period):
                shutil.rmtree(root / "data" / "reports" / form.id / period, ignore_errors=True)


# --------------------------------------------------------------------------- command line

# Demo settings are plan-specific, so they live with the plan in content/demo.yml:
#   as_of: 2022-10-20   # the "today" of the demo
#   seed: 2022
#   periods: [...]      # optional; default all periods (as_of drops what is not yet sent)
DEMO_SETTINGS = Path("content") / "demo.yml"


def _demo_settings(root: Path) -> dict[str, Any]:
    path = root / DEMO_SETTINGS
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return loaded if isinstance(loaded, dict) else {}


def _load(root: Path) -> Content:
    from builder.plan import load_content  # the loader is only needed on the command line

    return load_content(root)


UNITS_SCHEMA_FILE = Path("schemas") / "units.schema.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m builder.synthetic", description="Generate demo or benchmark data."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="regenerate the demo reports (content/demo.yml)")
    reports = commands.add_parser("reports", help="write synthetic reports for any plan")
    for sub in (demo, reports):
        sub.add_argument("--root", type=Path, default=Path("."))
        sub.add_argument("--seed", default=None)
        sub.add_argument("--as-of", type=date.fromisoformat, default=None)
        sub.add_argument("--periods", nargs="*", default=None)
    reports.add_argument("--clean", action="store_true", help="remove the periods' reports first")

    units = commands.add_parser("units", help="print a units.csv with COUNT synthetic units")
    units.add_argument("--root", type=Path, default=Path("."))
    units.add_argument("--count", type=int, required=True)
    units.add_argument("--seed", default="0")
    units.add_argument("--out", type=Path, default=None)

    args = parser.parse_args(argv)
    content = _load(args.root)

    if args.command == "units":
        schema_file = args.root / UNITS_SCHEMA_FILE
        schema = (
            json.loads(schema_file.read_text(encoding="utf-8")) if schema_file.is_file() else None
        )
        text = units_csv(generate_units(content, args.count, _seed(args.seed), schema=schema))
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0

    settings = _demo_settings(args.root) if args.command == "demo" else {}
    seed = args.seed if args.seed is not None else settings.get("seed", 0)
    as_of = args.as_of or _as_date(settings.get("as_of"))
    periods = args.periods or settings.get("periods") or [p.id for p in content.periods]
    periods = [str(p) for p in periods]
    if args.command == "demo" or args.clean:
        if not content.plan.demo:
            print("plan.yml is not marked demo: true; refusing to remove reports", file=sys.stderr)
            return 2
        clear_reports(args.root, content, periods)
    count = write_reports(args.root, generate_reports(content, periods, _seed(seed), as_of=as_of))
    print(f"wrote {count} reports (seed {seed}, as of {as_of or 'any date'})", file=sys.stderr)
    return 0


def _seed(value: object) -> int | str:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


if __name__ == "__main__":
    raise SystemExit(main())
