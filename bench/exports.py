"""Export cost at scale: write_data_package, write_workbook and write_calendars (a feed per
unit) for U units x 3 quarters.

Each step runs in its own child process so that its peak memory (ru_maxrss) is its own.
Baselines measured in the same run: a child that only loads the plan and reports and
evaluates progress (the memory every export starts from), and a plain csv.writer dump of
the same report values (the least any CSV export of them can cost).

    python -m bench.exports [--units 5000] [--workdir DIR] [--small]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import Results, header, python_command, run_child
from bench.workload import make_workload

STEPS = ("load", "plain-csv", "data-package", "workbook", "calendars")


def child(step: str, root: Path, out: Path) -> None:
    """One step in this process; prints its timings as JSON on the last line."""
    from builder.exports import write_data_package, write_workbook
    from builder.exports.calendars import write_calendars
    from builder.plan import load_content
    from builder.progress import evaluate
    from builder.reports import load_reports

    timings: dict[str, float] = {}
    start = time.perf_counter()
    content = load_content(root)
    reports = load_reports(root, content)
    timings["load"] = time.perf_counter() - start
    start = time.perf_counter()
    progress = evaluate(content, reports, content.plan.end)
    timings["evaluate"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    if step == "plain-csv":
        with (out / "plain.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for report in reports:
                writer.writerow(
                    [report.id, report.unit, report.form, report.period, *report.values.values()]
                )
    elif step == "data-package":
        write_data_package(content, reports, progress, out / "package")
    elif step == "workbook":
        write_workbook(content, reports, progress, out / "workbook.xlsx")
    elif step == "calendars":
        write_calendars(content, progress, out / "calendars", "https://plan.example.org/forms/")
    timings["step"] = time.perf_counter() - start
    timings["step_cpu"] = time.process_time() - cpu
    timings["reports"] = len(reports)
    print(json.dumps(timings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to generate the workload (default: a temporary folder)",
    )
    parser.add_argument("--small", action="store_true", help="50 units, for the smoke test")
    parser.add_argument("--child", nargs=3, metavar=("STEP", "ROOT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    units = 50 if args.small else args.units

    header(f"exports: data package, workbook and calendars, {units} units x 3 quarters")
    results = Results("exports", args.small)
    with tempfile.TemporaryDirectory(prefix="plansite-exports-", dir=args.workdir) as temp:
        workload = make_workload(Path(temp) / "repo", units, args.seed)
        results.figure(
            "units",
            units,
            f"{units} units, {workload.reports} report files "
            f"(generated in {workload.seconds:.1f} s)",
        )
        runs: dict[str, dict[str, float]] = {}
        for step in STEPS:
            run = run_child(
                python_command(
                    "-m",
                    "bench.exports",
                    "--child",
                    step,
                    str(workload.root),
                    str(Path(temp) / step),
                )
            )
            timings = json.loads(run.output.strip().splitlines()[-1])
            timings["peak_mb"] = run.peak_mb
            timings["total"] = run.seconds
            runs[step] = timings
        load = runs["load"]
        results.figure("load_s", load["load"], f"load content + reports: {load['load']:.2f} s")
        results.figure(
            "evaluate_s", load["evaluate"], f"evaluate progress: {load['evaluate']:.2f} s"
        )
        results.figure(
            "baseline_peak_mb",
            load["peak_mb"],
            f"peak memory after load + evaluate (baseline): {load['peak_mb']:.0f} MB",
        )
        plain = runs["plain-csv"]["step"]
        results.figure("plain_csv_s", plain, f"plain csv.writer of the reports: {plain:.2f} s")
        for step in ("data-package", "workbook", "calendars"):
            figures = runs[step]
            key = step.replace("-", "_")
            results.figures[f"{key}_cpu_s"] = figures["step_cpu"]
            results.figure(
                f"{key}_s",
                figures["step"],
                f"{step}: {figures['step']:.2f} s "
                f"({figures['step_cpu']:.2f} s CPU), peak {figures['peak_mb']:.0f} MB",
            )
            results.ratio(
                f"{key}_vs_plain_csv",
                figures["step_cpu"],
                runs["plain-csv"]["step_cpu"],
                f"{step} CPU time / plain csv",
            )
            results.ratio(
                f"{key}_peak_vs_baseline",
                figures["peak_mb"],
                load["peak_mb"],
                f"{step} peak memory / baseline",
            )
            results.figure(
                f"{key}_extra_mb",
                figures["peak_mb"] - load["peak_mb"],
                f"{step} memory above baseline: {figures['peak_mb'] - load['peak_mb']:.0f} MB",
            )
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
