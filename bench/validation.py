"""Validation cost per record: builder.records.read_record vs a Frictionless Resource per record.

read_record reuses one cached Schema per form and reads the cells field by field; the naive
way builds a frictionless.Resource around each record and validates it (what one would write
first). The ratio is the point: it shows why the form service and `plansite validate` read
records field by field.

    python -m bench.validation [--root .] [--records 2000] [--small]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import frictionless

from bench.measure import REPO_ROOT, Results, header, repeat_cpu
from builder.form_checks import check_values
from builder.model import Form, FormField, Unit
from builder.plan import load_content
from builder.records import read_record


def sample_value(field: FormField, rng: random.Random) -> Any:
    """A JSON value that satisfies the field's constraints (as in a report file)."""
    if field.enum:
        return rng.choice(field.enum)
    if field.type == "integer":
        low = int(field.minimum) if field.minimum is not None else 0
        high = int(field.maximum) if field.maximum is not None else low + 100
        return rng.randint(low, min(high, low + 50))
    if field.type == "number":
        low = field.minimum if field.minimum is not None else 0.0
        return round(low + rng.random() * 10, 2)
    if field.type == "boolean":
        return rng.random() < 0.7
    if field.type == "date":
        return f"2022-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    limit = field.max_length or 200
    return "进展情况说明" * rng.randint(1, max(1, min(20, limit // 6)))


def as_posted(value: Any) -> str:
    """The same value as an HTML form posts it: text, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sample_records(form: Form, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}:{form.id}")
    return [{f.name: sample_value(f, rng) for f in form.fields} for _ in range(count)]


def within_checks(form: Form, record: dict[str, Any], units: Sequence[Unit]) -> dict[str, Any]:
    """`record` passing the form's checks (forms.yml `checks`) for every unit of `units`: a
    figure a check bounds, by another field or by the unit's registry row, is halved until
    the check passes (a sample drawn field by field knows nothing of the checks)."""
    record = dict(record)
    for unit in units:
        while findings := check_values(form, record, unit):
            for finding in findings:
                value = record[finding.field]
                if not value:
                    raise ValueError(f"{form.id}: no figure passes {finding.message}")
                record[finding.field] = value // 2 if isinstance(value, int) else value / 2
    return record


def naive_validate(form: Form, record: dict[str, Any]) -> bool:
    """The naive way: a Resource with a one-row table per record, validated by Frictionless."""
    names = [f.name for f in form.fields]
    resource = frictionless.Resource(
        data=[names, [record.get(name) for name in names]],
        schema=frictionless.Schema.from_descriptor(form.descriptor),
    )
    return bool(resource.validate().valid)


def per_record(action: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    """Best of three passes over the records, in CPU seconds per record (single-threaded
    work: CPU time is what it costs, and other people's load does not stretch it)."""

    def run() -> None:
        for record in records:
            action(record)

    return min(repeat_cpu(run, 3)) / len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    parser.add_argument("--records", type=int, default=2000, help="records per form (fast way)")
    parser.add_argument("--naive-records", type=int, default=100, help="records per form (naive)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", action="store_true", help="a quick run for the smoke test")
    args = parser.parse_args(argv)
    if args.small:
        args.records, args.naive_records = 50, 5

    header("validation: read_record vs a Frictionless Resource per record")
    content = load_content(args.root)
    results = Results("validation", args.small)
    totals = {"fast": 0.0, "posted": 0.0, "naive": 0.0}
    for form in content.forms:
        records = sample_records(form, args.records, args.seed)
        posted = [{k: as_posted(v) for k, v in r.items()} for r in records]
        # Every sample must be valid, or the benchmark would time error paths.
        for record in records[:20] + posted[:20]:
            _, errors = read_record(form, record)
            if errors:
                raise SystemExit(f"{form.id}: sample record invalid: {errors}")
        if not naive_validate(form, records[0]):
            raise SystemExit(f"{form.id}: sample record invalid for Frictionless")
        fast = per_record(lambda r, f=form: read_record(f, r), records)
        fast_posted = per_record(lambda r, f=form: read_record(f, r), posted)
        naive = per_record(lambda r, f=form: naive_validate(f, r), records[: args.naive_records])
        totals["fast"] += fast
        totals["posted"] += fast_posted
        totals["naive"] += naive
        print(f"-- {form.id} ({len(form.fields)} fields)")
        results.figure(
            f"{form.id}.read_record_us",
            fast * 1e6,
            f"read_record, JSON values: {fast * 1e6:.0f} µs/record",
        )
        results.figure(
            f"{form.id}.read_record_posted_us",
            fast_posted * 1e6,
            f"read_record, posted text: {fast_posted * 1e6:.0f} µs/record",
        )
        results.figure(
            f"{form.id}.naive_us",
            naive * 1e6,
            f"Resource per record:      {naive * 1e6:.0f} µs/record",
        )
        results.ratio(f"{form.id}.ratio", naive, fast, "naive / read_record")
    print("-- all forms (mean per record)")
    count = len(content.forms)
    results.figure(
        "read_record_us",
        totals["fast"] / count * 1e6,
        f"read_record: {totals['fast'] / count * 1e6:.0f} µs/record",
    )
    results.figure(
        "naive_us",
        totals["naive"] / count * 1e6,
        f"naive:       {totals['naive'] / count * 1e6:.0f} µs/record",
    )
    results.ratio("ratio", totals["naive"], totals["fast"], "naive / read_record")
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
