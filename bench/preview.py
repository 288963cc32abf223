"""The review page's status preview at scale: what approving one submission changes
(builder.impact through forms.preview.MainProgress), at 2,000 units.

The workload's plan repository (bench.workload, committed with git) is main of an
embedded form service; previews are asked for synthetic reports of random units (the
next period's, so that they change figures). Baseline in the same run: evaluating the
whole plan again with the report added (what a preview would cost without
builder.impact). The bar (issue 13): under 300 ms per preview, warm.

    python -m bench.preview [--units 2000] [--previews 40] [--small]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from bench.measure import Results, header, median, percentile
from bench.workload import make_workload
from builder.plan import load_content
from builder.progress import evaluate
from builder.reports import report_from_document
from builder.synthetic import generate_reports
from forms.preview import MainProgress
from forms.submissions import SubmissionService

BAR_SECONDS = 0.300


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--previews", type=int, default=40)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="20 units, for the smoke test")
    args = parser.parse_args(argv)
    if args.small:
        args.units, args.previews, args.baseline_runs = 20, 5, 2
    header(f"preview: status changes of one submission at {args.units} units")
    results = Results("preview", args.small)
    with tempfile.TemporaryDirectory(dir=args.workdir) as temp:
        workload = make_workload(Path(temp) / "plan", args.units, args.seed, git=True)
        content = load_content(workload.root)
        service = SubmissionService.open_default(Path(temp) / "instance", workload.root)
        main_progress = MainProgress(content, service, as_of=None)
        # The period after the workload's: reports that are new and change figures.
        later = [p.id for p in content.periods if p.id not in workload.periods][:1]
        candidates = [
            report_from_document(document)
            for document in generate_reports(content, later or workload.periods, args.seed + 1)
        ]
        rng = random.Random(args.seed)
        chosen = rng.sample(candidates, min(args.previews, len(candidates)))
        print(f"-- {workload.units} units, {workload.reports} reports on main")

        cold_start = time.perf_counter()
        state = main_progress.state(chosen)
        cold = time.perf_counter() - cold_start
        assert state is not None

        warm: list[float] = []
        changed = 0
        for report in chosen:
            start = time.perf_counter()
            impact = main_progress.impact(report)
            warm.append(time.perf_counter() - start)
            assert impact is not None
            changed += bool(impact.indicators)

        reports = [r for by_unit in state.reports.values() for r in by_unit]
        baseline: list[float] = []
        for report in chosen[: args.baseline_runs]:
            start = time.perf_counter()
            evaluate(content, [*reports, report], state.progress.as_of)
            baseline.append(time.perf_counter() - start)

    results.figure("units", workload.units, f"units: {workload.units}")
    results.figure("reports", workload.reports, f"reports on main: {workload.reports}")
    results.figure(
        "previews_changing_figures", changed, f"previews that change figures: {changed}/{len(warm)}"
    )
    results.ratio(
        "full_over_preview", median(baseline), median(warm), "evaluate all again / preview"
    )
    results.figure(
        "warm_median_ms", median(warm) * 1e3, f"preview, median: {median(warm) * 1e3:.1f} ms"
    )
    results.figure(
        "warm_p95_ms",
        percentile(warm, 0.95) * 1e3,
        f"preview, p95: {percentile(warm, 0.95) * 1e3:.1f} ms",
    )
    results.figure(
        "cold_s",
        cold,
        f"first preview after a new main commit (read + evaluate main): {cold:.2f} s",
    )
    results.figure(
        "full_median_ms",
        median(baseline) * 1e3,
        f"baseline, evaluate everything again: {median(baseline) * 1e3:.0f} ms",
    )
    results.target(
        "bar_met",
        percentile(warm, 0.95) < BAR_SECONDS,
        f"p95 preview under {BAR_SECONDS * 1e3:.0f} ms",
    )
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
