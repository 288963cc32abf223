"""Site build at scale: `mkdocs build` time, peak memory and pages/s for U units.

For each scale a synthetic repository is generated (bench.workload) and built three ways,
each in its own child process (wall and CPU time, peak RSS via wait4):

  full      `mkdocs build` of the repository, plansite plugin on (what CI and the rebuild
            worker run);
  baseline  `plansite build --pages-only DIR` (load, evaluate, render, exports), then a
            plain `mkdocs build` of DIR with the plugin off: the same site, where MkDocs
            and Material do all the work the builder does not.

Since the plugin keeps generated tables out of Python-Markdown and the search index, the
plain build of the same pages can do more work than the full one. Then, at the
rebuild scales, the repository is built with a page cache, one approved report (a
correction for one unit) is written to data/reports and the site is built again into a new
folder with that cache, as the rebuild worker does (builder.pagecache): the time until that
unit's page shows the report is compared with a full build of the same commit. Last, the
form service's rebuild worker itself (forms.rebuild) on the repository committed to git:
from a merged report until the served unit page shows it, warm (its kept copy of main and
page cache) against cold (both removed).

    python -m bench.build [--units 50 500 2000 5000] [--rebuild 50 2000] [--full-only] [--small]

`--full-only` measures the full build alone (no baseline, no rebuild): at scales where the
baseline's two builds would take longer than the figure is worth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.measure import REPO_ROOT, ChildRun, Results, header, python_command, run_child
from bench.workload import git_commit_all, make_workload
from builder.synthetic import write_reports

SCALES = (50, 500, 2000, 5000)
REBUILD_SCALES = (50, 2000)
# MkDocs 1.6 prints a banner about its successor on every run; it is noise here.
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def mkdocs_build(config: Path, site: Path) -> ChildRun:
    return run_child(
        python_command("-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(site)),
        cwd=config.parent,
        env=ENV,
    )


def pages_only(root: Path, out: Path) -> ChildRun:
    return run_child(
        python_command("-m", "builder.cli", "build", "--root", str(root), "--pages-only", str(out)),
        env=ENV,
    )


def count_pages(site: Path) -> int:
    """HTML pages MkDocs wrote, the 404 page aside."""
    return sum(1 for p in site.rglob("*.html") if p.name != "404.html")


def plugin_as_of(root: Path) -> date | None:
    """The as_of the repository's mkdocs.yml gives the plansite plugin, if any."""
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8")) or {}
    for plugin in config.get("plugins") or []:
        if isinstance(plugin, dict) and isinstance(plugin.get("plansite"), dict):
            value = plugin["plansite"].get("as_of")
            return value if isinstance(value, date) else None
    return None


def correction(root: Path, number: int = 0) -> dict[str, Any]:
    """A new approved report that must show on its unit's page: a correction of the first
    unit's latest report that the build's as_of date still counts, submitted on that day
    (`number` minutes after 9:00, so that successive corrections differ)."""
    as_of = plugin_as_of(root) or date.today()
    reports = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((root / "data" / "reports").rglob("*.json"))
    ]
    unit = min(r["unit"] for r in reports)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for report in (r for r in reports if r["unit"] == unit):
        key = (report["form"], report["period"])
        if key not in latest or report["submitted_at"] > latest[key]["submitted_at"]:
            latest[key] = report
    candidates = [
        r for r in latest.values() if datetime.fromisoformat(r["submitted_at"]).date() < as_of
    ]
    if not candidates:
        raise SystemExit(f"{unit}: no report before {as_of} to correct")
    base = max(candidates, key=lambda r: r["submitted_at"])
    moment = datetime.fromisoformat(base["submitted_at"])
    moment = datetime.combine(as_of, moment.timetz()).replace(hour=9, minute=number, second=0)
    if moment <= datetime.fromisoformat(base["submitted_at"]):
        moment = datetime.fromisoformat(base["submitted_at"]) + timedelta(minutes=1 + number)
    return {**base, "id": f"{moment:%Y%m%d%H%M%S}-0badcafe", "submitted_at": moment.isoformat()}


def plansite_build(root: Path, site: Path, cache: Path | None = None) -> ChildRun:
    """`plansite build` in a child, as the rebuild worker runs `build_site`."""
    command = ["-m", "builder.cli", "build", "--root", str(root), "--site-dir", str(site)]
    if cache is not None:
        command += ["--cache", str(cache)]
    return run_child(python_command(*command), env=ENV)


def rebuild_after_report(root: Path, work: Path) -> dict[str, Any]:
    """Seconds from writing a new report file until its unit's page shows it, built as the
    rebuild worker builds (a new folder, the page cache of the previous build), against a
    full build of the same commit in the same run (no cache)."""
    cache = work / "page-cache.json"
    previous = plansite_build(root, work / "site-previous", cache)
    report = correction(root)
    start = time.perf_counter()
    write_reports(root, [report])
    incremental = plansite_build(root, work / "site-rebuilt", cache)
    elapsed = time.perf_counter() - start
    full = plansite_build(root, work / "site-full")
    for site in ("site-rebuilt", "site-full"):
        page = work / site / "units" / report["unit"] / "index.html"
        if report["id"] not in page.read_text(encoding="utf-8"):
            raise SystemExit(f"{page} does not show report {report['id']} after the rebuild")
    rendered = sum(
        1 for p in (work / "site-rebuilt").rglob("index.html") if p.stat().st_nlink == 1
    )  # the others are links to the previous build
    return {
        "rebuild_s": elapsed,
        "rebuild_cpu_s": incremental.cpu_seconds,
        "rebuild_full_s": full.seconds,
        "rebuild_full_cpu_s": full.cpu_seconds,
        "rebuild_previous_s": previous.seconds,
        "rebuild_pages_rendered": rendered,
    }


def child_rebuild_worker(root: Path, sites: Path) -> None:
    """The form service's rebuild worker (forms.rebuild.SiteRebuilder) in this process, as
    it runs in the server: a first build, then one merged report and the time until the
    served unit page shows it, warm (the kept copy of main and the page cache) and cold
    (both removed: the whole tree exported and every page rendered). JSON on the last line."""
    from forms import checkout
    from forms.rebuild import PAGE_CACHE, SOURCE, SiteRebuilder

    rebuilder = SiteRebuilder(root, sites)
    if rebuilder.rebuild() is None:
        raise SystemExit(f"the first build failed: {rebuilder.last_error}")
    figures: dict[str, float] = {}
    for number, kind in enumerate(("warm", "cold"), start=1):
        report = correction(root, number)
        write_reports(root, [report])
        git_commit_all(root, f"Approve {report['id']}")
        if kind == "cold":
            (sites / PAGE_CACHE).unlink(missing_ok=True)
            checkout.discard(sites / SOURCE)
        start, cpu = time.perf_counter(), time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        published = rebuilder.rebuild()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures[f"{kind}_s"] = time.perf_counter() - start
        figures[f"{kind}_cpu_s"] = (
            time.process_time()
            - cpu
            + after.ru_utime
            - children.ru_utime
            + after.ru_stime
            - children.ru_stime
        )
        page = sites / "current" / "units" / report["unit"] / "index.html"
        if published is None or report["id"] not in page.read_text(encoding="utf-8"):
            raise SystemExit(f"{page} does not show {report['id']}: {rebuilder.last_error}")
    print(json.dumps(figures))


def rebuild_worker_after_merge(root: Path, work: Path) -> dict[str, float]:
    git_commit_all(root, "Workload")
    path = os.pathsep.join(p for p in (str(REPO_ROOT), ENV.get("PYTHONPATH", "")) if p)
    run = run_child(
        python_command("-m", "bench.build", "--child-rebuild", str(root), str(work / "sites")),
        env={**ENV, "PYTHONPATH": path},
    )
    return json.loads(run.output.strip().splitlines()[-1])


def measure_scale(
    units: int, seed: int, work: Path, rebuild: bool, results: Results, full_only: bool = False
) -> dict[str, float]:
    workload = make_workload(work / "repo", units, seed)
    full = mkdocs_build(workload.root / "mkdocs.yml", work / "site")
    pages = count_pages(work / "site")
    figures = {
        "units": units,
        "reports": workload.reports,
        "pages": pages,
        "full_s": full.seconds,
        "full_cpu_s": full.cpu_seconds,
        "full_peak_mb": full.peak_mb,
        "pages_per_s": pages / full.seconds,
        "pages_per_cpu_s": pages / full.cpu_seconds,
        "ms_per_page": full.seconds / pages * 1000,
        "cpu_ms_per_page": full.cpu_seconds / pages * 1000,
    }
    print(f"-- {units} units, {workload.reports} reports, {pages} pages")
    results.figure(
        f"u{units}.full",
        figures["full_s"],
        f"full mkdocs build: {full.seconds:.1f} s wall, {full.cpu_seconds:.1f} s CPU,"
        f" peak {full.peak_mb:.0f} MB, {figures['pages_per_s']:.0f} pages/s "
        f"({figures['pages_per_cpu_s']:.0f} per CPU s)",
    )
    results.figures[f"u{units}"] = figures
    if full_only:
        return figures
    only = pages_only(workload.root, work / "plain")
    plain = mkdocs_build(work / "plain" / "mkdocs.yml", work / "plain-site")
    plain_pages = count_pages(work / "plain-site")
    figures |= {
        "pages_only_s": only.seconds,
        "pages_only_cpu_s": only.cpu_seconds,
        "plain_s": plain.seconds,
        "plain_cpu_s": plain.cpu_seconds,
        "plain_peak_mb": plain.peak_mb,
        "plain_pages": plain_pages,
        "vs_plain_share": (full.cpu_seconds - plain.cpu_seconds) / full.cpu_seconds,
    }
    results.figure(
        f"u{units}.baseline",
        figures["plain_s"],
        f"baseline: pages-only {only.seconds:.1f} s ({only.cpu_seconds:.1f} s CPU)"
        f" + plain mkdocs {plain.seconds:.1f} s ({plain.cpu_seconds:.1f} s CPU,"
        f" peak {plain.peak_mb:.0f} MB, {plain_pages} pages)",
    )
    results.ratio(
        f"u{units}.full_vs_baseline",
        full.seconds,
        only.seconds + plain.seconds,
        "full build / (pages-only + plain mkdocs)",
    )
    if rebuild:
        rebuilt = rebuild_after_report(workload.root, work / "rebuild")
        figures.update(rebuilt)
        results.figure(
            f"u{units}.rebuild",
            rebuilt["rebuild_s"],
            f"new report -> unit page shows it: {rebuilt['rebuild_s']:.1f} s "
            f"({rebuilt['rebuild_cpu_s']:.1f} s CPU, "
            f"{rebuilt['rebuild_pages_rendered']} pages rendered, the others taken "
            f"over); full build of the same commit {rebuilt['rebuild_full_s']:.1f} s "
            f"({rebuilt['rebuild_full_cpu_s']:.1f} s CPU)",
        )
        results.ratio(
            f"u{units}.rebuild_vs_full",
            rebuilt["rebuild_s"],
            rebuilt["rebuild_full_s"],
            "rebuild after one report / full build (wall)",
        )
        results.ratio(
            f"u{units}.rebuild_vs_full_cpu",
            rebuilt["rebuild_cpu_s"],
            rebuilt["rebuild_full_cpu_s"],
            "rebuild after one report / full build (CPU)",
        )
        worker = rebuild_worker_after_merge(workload.root, work / "worker")
        figures.update({f"worker_{k}": v for k, v in worker.items()})
        results.figure(
            f"u{units}.worker",
            worker["warm_s"],
            f"rebuild worker, merge -> served unit page shows it: warm "
            f"{worker['warm_s']:.1f} s ({worker['warm_cpu_s']:.1f} s CPU), cold (no "
            f"copy of main, no page cache) {worker['cold_s']:.1f} s "
            f"({worker['cold_cpu_s']:.1f} s CPU)",
        )
        results.ratio(
            f"u{units}.worker_warm_vs_cold",
            worker["warm_s"],
            worker["cold_s"],
            "rebuild worker after one merge, warm / cold (wall)",
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=list(SCALES))
    parser.add_argument(
        "--rebuild",
        type=int,
        nargs="*",
        default=list(REBUILD_SCALES),
        help="scales at which to measure the rebuild after one report",
    )
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="the full build alone: no baseline, no rebuild",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="10 and 30 units, for the smoke test")
    parser.add_argument(
        "--child-rebuild", nargs=2, metavar=("ROOT", "SITES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child_rebuild:
        child_rebuild_worker(Path(args.child_rebuild[0]), Path(args.child_rebuild[1]))
        return 0
    if args.small:
        args.units, args.rebuild = [10, 30], [10]

    header(f"build: mkdocs build at {', '.join(map(str, args.units))} units")
    results = Results("build", args.small)
    scales: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="plansite-build-", dir=args.workdir) as temp:
        for units in args.units:
            work = Path(temp) / str(units)
            rebuild = units in args.rebuild and not args.full_only
            scales[units] = measure_scale(
                units, args.seed, work, rebuild, results, full_only=args.full_only
            )
            shutil.rmtree(work)  # 5000 units of HTML are large; keep the disk free
    # Growth is judged on CPU time, steady on this shared machine. Pages per
    # second is a throughput "on this 2-core machine": the build uses both cores (the
    # exports run in their own process beside the page build), so it is judged on wall
    # time, with the load average printed to tell whether the machine was quiet.
    print(
        "-- targets (CPU time, except pages/s: wall time; load average "
        f"{os.getloadavg()[0]:.1f} now)"
    )
    low, high = (500, 5000) if {500, 5000} <= scales.keys() else (min(scales), max(scales))
    if low != high:
        growth = results.ratio(
            "per_page_growth",
            scales[high]["ms_per_page"],
            scales[low]["ms_per_page"],
            f"wall time per page at {high} / at {low} units",
        )
        cpu_growth = results.ratio(
            "per_page_growth_cpu",
            scales[high]["cpu_ms_per_page"],
            scales[low]["cpu_ms_per_page"],
            f"CPU time per page at {high} / at {low} units",
        )
        results.target(
            "target_per_page_growth",
            cpu_growth <= 1.3,
            f"per-page time growth {cpu_growth:.2f}x (wall {growth:.2f}x) <= 1.3x",
        )
    if 2000 in scales:
        rate = scales[2000]["pages_per_s"]
        results.target(
            "target_pages_per_s",
            rate >= 150,
            f"{rate:.0f} pages per second at 2000 units "
            f"({scales[2000]['pages_per_cpu_s']:.0f} per CPU second) >= 150",
        )
    print(f"  saved {results.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
