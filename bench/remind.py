"""Reminder digests at scale: `plansite remind`'s computation for U units on a busy day.

The workload (bench.workload: U units, three quarters of approved reports, a few missing)
is loaded once; then, for days when reminders are due (the next period's first
remind_before day, the missed periods' first remind_after day), every unit's obligations
are worked out from the approved reports and the digests built (builder.reminders), with
a review queue of one waiting submission per ten units for a reviewer. Baseline in the
same run: evaluating progress once (builder.progress.evaluate) on the same reports, what
every page build and the portal's preview already pay.

    python -m bench.remind [--units 5000] [--workdir DIR] [--small]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.measure import Results, header, median, seconds
from bench.workload import make_workload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="200 units, for a smoke run")
    args = parser.parse_args(argv)
    units = 200 if args.small else args.units
    header(f"remind: digests for {units} units")
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        return _run(Path(folder) / "plan", units, args.small)


def _run(root: Path, units: int, small: bool) -> int:
    from builder.plan import load_content
    from builder.progress import evaluate
    from builder.reminders import Waiting, digests, obligations_on
    from builder.reports import load_reports

    results = Results("remind", small)
    workload = make_workload(root, units)
    content = load_content(root)
    reports = load_reports(root, content)
    results.figure("reports", len(reports), f"{units} units, {len(reports)} approved reports")
    escalation = content.escalation
    periods = {p.id: p for p in content.periods}
    upcoming = next(p for p in content.periods if p.id not in workload.periods)
    missed = periods[workload.periods[-1]]
    days = [
        upcoming.due - timedelta(days=max(escalation.remind_before)),
        missed.due + timedelta(days=min(escalation.remind_after)),
    ]
    waiting = [
        Waiting(
            f"s{n}", unit.id, content.forms[0].id, upcoming.id, datetime(2022, 10, 1, tzinfo=UTC)
        )
        for n, unit in enumerate(content.units[::10])
    ]

    def baseline() -> None:
        evaluate(content, reports, days[0])

    told: dict[str, int] = {}

    def remind() -> None:
        for day in days:
            result = digests(
                content,
                obligations_on(content, reports, day),
                day,
                reviewers=["reviewer"],
                waiting=waiting,
            )
            told[day.isoformat()] = sum(len(d.notices) for d in result)

    base = median([seconds(baseline) for _ in range(3)])
    spent = median([seconds(remind) for _ in range(3)])
    per_day = spent / len(days)  # one `plansite remind` run works out one day
    for day, count in told.items():
        results.figure(f"notices-{day}", count, f"{day}: {count} notices")
    results.figure("evaluate-seconds", round(base, 3), f"evaluate progress once: {base:.2f} s")
    results.figure(
        "remind-seconds-per-day", round(per_day, 3), f"digests for one day: {per_day:.2f} s"
    )
    results.ratio("remind-vs-evaluate", per_day, base, "one day's digests / one evaluation")
    results.target("seconds", per_day < 10, "one day's digests for every unit in under 10 s")
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
