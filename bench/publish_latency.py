"""Approve -> the unit's page shows it, in the served setup (issue 16), before and after,
in turns, in the same run; and where a rebuild's time goes.

The server is the form service as `plansite serve` builds it (build_services +
create_app, the rebuild worker on, waitress threads of this process), on a synthetic
workload. Each approval: a correction of a unit's report is submitted, then the clock
starts, `SubmissionService.approve` merges it (what the approve POST calls; the merge
triggers the rebuild worker) and a client polls the unit's page over HTTP every 20 ms until
it shows the report's id. Then the worker is left to finish (the downloads step) and its
total is recorded too. Two set-ups, the same workload:

- before: one `plansite build --cache` process per merge, pages and downloads together
  (`forms.rebuild.default_build`, the worker as it was before this change);
- after: the kept build process (`forms.rebuild.BuildProcess`), the pages published
  first, the downloads in a step of their own (the worker's default now).

Each set-up first builds the site cold and takes one approval to warm up (not counted).
`--breakdown` profiles a warm in-process rebuild of the pages (cProfile; with `--small` also
one with the downloads joined, as before) and prints where its time goes.

    python -m bench.publish_latency [--units 50 2000] [--approvals 3] [--breakdown] [--small]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import pstats
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from waitress import create_server

from bench.build import correction
from bench.measure import Results, header, machine, median
from bench.workload import make_workload
from forms.app import create_app
from forms.rebuild import Build, default_build
from forms.services import Services, build_services
from forms.settings import load_settings

HOST = "127.0.0.1"
POLL = 0.02
SETUPS: dict[str, Build | None] = {"before": default_build, "after": None}


def page_shows(port: int, path: str, text: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status == 200 and text in response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def approve_one(services: Services, port: int, root: Path, number: int) -> tuple[float, float]:
    """Seconds from the approval to the served page showing it, and to the worker idle."""
    report = correction(root, number)
    values = report["values"]
    counts = [k for k, v in values.items() if type(v) is int]
    if counts:
        values[counts[0]] += number  # a changed figure: the roll-up pages change too
    services.submissions.submit(report, [], "基准测试", "bench@plansite.invalid")
    path = f"/units/{report['unit']}/"
    rebuilder = services.rebuilder
    assert rebuilder is not None
    start = time.perf_counter()
    services.submissions.approve(report["id"], "基准审核", "review@plansite.invalid")
    while not page_shows(port, path, report["id"]):
        if time.perf_counter() - start > 600:
            raise SystemExit(f"{path} does not show {report['id']}: {rebuilder.last_error}")
        time.sleep(POLL)
    shown = time.perf_counter() - start
    rebuilder.wait(timeout=600)
    return shown, time.perf_counter() - start


def run_setup(
    name: str, build: Build | None, units: int, approvals: int, work: Path
) -> dict[str, Any]:
    workload = make_workload(work / f"repo-{name}", units, git=True)
    settings = load_settings(
        {"ROOT": str(workload.root), "INSTANCE": str(work / f"instance-{name}"), "AS_OF": ""},
        environ={},
    )
    services = build_services(settings, build=build)
    rebuilder = services.rebuilder
    assert rebuilder is not None
    server = create_server(create_app(services), host=HOST, port=0, threads=4)
    port = int(server.effective_port)  # type: ignore[union-attr]
    threading.Thread(target=server.run, daemon=True).start()
    try:
        started = time.perf_counter()
        if rebuilder.rebuild() is None:
            raise SystemExit(f"the first build failed: {rebuilder.last_error}")
        cold = time.perf_counter() - started
        approve_one(services, port, workload.root, 1)  # warm-up: the cache and the process
        shown, idle = zip(
            *(approve_one(services, port, workload.root, n) for n in range(2, 2 + approvals)),
            strict=True,
        )
    finally:
        server.close()
        rebuilder.close()
    return {"cold_s": cold, "shown_s": list(shown), "idle_s": list(idle)}


# Where a warm rebuild's time goes: functions of the profile, by their cumulative time.
PHASES: dict[str, tuple[str, str]] = {
    "MkDocs config and plugins": ("mkdocs/config/base.py", "load_config"),
    "load content": ("builder/plan/__init__.py", "load_content"),
    "read reports": ("builder/reports.py", "load_reports"),
    "evaluate": ("builder/progress.py", "evaluate"),
    "generate every page's Markdown": ("builder/pages/__init__.py", "render_pages"),
    "jieba words": ("builder/search.py", "add_words"),
    "page keys": ("builder/pagecache.py", "page_key"),
    "MkDocs files, nav": ("mkdocs/structure/nav.py", "get_navigation"),
    "render changed pages (theme)": ("mkdocs/commands/build.py", "_build_page"),
    "404, sitemap": ("mkdocs/commands/build.py", "_build_theme_template"),
    "static files": ("mkdocs/structure/files.py", "copy_static_files"),
    "take pages over (links)": ("builder/plugin.py", "_take_over_unchanged_pages"),
    "search index written": ("material/plugins/search/plugin.py", "on_post_build"),
    "page cache written": ("builder/pagecache.py", "save"),
    "exports joined (waits)": ("builder/plugin.py", "_finish_exports"),
}


def breakdown(units: int, work: Path, exports: bool) -> tuple[float, dict[str, float]]:
    """A warm rebuild in this process after one correction, profiled: total, and seconds
    per phase (cumulative; phases may nest, e.g. the theme inside MkDocs' build)."""
    from bench.workload import git_commit_all
    from builder.build import build_site
    from builder.pagecache import CacheFile
    from builder.synthetic import write_reports

    workload = make_workload(work / f"repo-breakdown-{exports}", units, git=True)
    cache = CacheFile(work / f"cache-{exports}.json")
    build_site(workload.root, work / f"site-{exports}-1", cache=cache, exports=exports)
    write_reports(workload.root, [correction(workload.root, 1)])
    git_commit_all(workload.root, "Approve")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    build_site(workload.root, work / f"site-{exports}-2", cache=cache, exports=exports)
    cache.flush()
    profile.disable()
    total = time.perf_counter() - started
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    phases: dict[str, float] = {}
    for phase, (file, function) in PHASES.items():
        phases[phase] = sum(
            value[3]
            for (path, _, name), value in stats.items()
            if path.endswith(file) and name == function
        )
    return total, phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[50, 2000])
    parser.add_argument("--approvals", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--small", action="store_true", help="20 units, one approval")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.small:
        args.units, args.approvals = [20], 1
    results = Results("publish_latency", args.small)
    header(f"approve -> page shows it: {args.units} units, {args.approvals} approvals")
    print(", ".join(f"{k} {v}" for k, v in machine().items()))
    with tempfile.TemporaryDirectory(prefix="plansite-publish-", dir=args.workdir) as folder:
        work = Path(folder)
        for units in args.units:
            print(f"-- {units} units", flush=True)
            if args.breakdown:
                for exports in (True, False) if args.small else (False,):
                    total, phases = breakdown(units, work / f"b{units}", exports)
                    label = "pages and exports" if exports else "pages only"
                    results.figure(
                        f"u{units}.breakdown.{label}",
                        {"total_s": total, **phases},
                        f"warm rebuild in one process, profiled ({label}): {total:.2f} s",
                    )
                    for phase, seconds in phases.items():
                        print(f"    {phase:32s} {seconds:6.2f} s")
            figures: dict[str, dict[str, Any]] = {}
            for name, build in SETUPS.items():
                figures[name] = run_setup(name, build, units, args.approvals, work / f"u{units}")
                f = figures[name]
                shown = ", ".join(f"{s:.2f}" for s in f["shown_s"])
                idle = ", ".join(f"{s:.2f}" for s in f["idle_s"])
                results.figure(
                    f"u{units}.{name}",
                    f,
                    f"{name:6s}: approve -> page shows it {median(f['shown_s']):.2f} s "
                    f"({shown}); worker idle after {idle} s; cold first build {f['cold_s']:.1f} s",
                )
            after = median(figures["after"]["shown_s"])
            results.ratio(
                f"u{units}.shown_after_vs_before",
                after,
                median(figures["before"]["shown_s"]),
                "approve -> page shows it, after / before",
            )
            bar = 2.0 if units >= 2000 else 1.0
            results.target(f"u{units}.bar", after <= bar, f"<= {bar:.0f} s at {units} units")
    print(f"saved {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
