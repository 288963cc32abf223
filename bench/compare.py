"""The same `mkdocs build` with two versions of the code, in turns: is a change within 5%?

A refactoring is judged on what a user feels, measured side by side on this (shared, noisy)
machine: each run builds the same repository with the plugin imported from the old code tree
(`--old`, e.g. a `git worktree` of the commit before) and from this one, alternating, each
in its own child process (CPU time and peak RSS through wait4). The medians' ratio is the
figure; CPU time is the steady one (a build is one process on one core).

    git worktree add /tmp/old <commit>
    python -m bench.compare --old /tmp/old [--units 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.build import ENV
from bench.measure import REPO_ROOT, ChildRun, Results, header, median, python_command, run_child
from bench.workload import make_workload


def build_with(code: Path, root: Path, site: Path) -> ChildRun:
    """`mkdocs build` of root with the builder imported from the code tree `code`."""
    shutil.rmtree(site, ignore_errors=True)
    env = {**ENV, "PYTHONPATH": str(code)}
    return run_child(
        python_command(
            "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml"), "-d", str(site)
        ),
        cwd=root,
        env=env,
    )


def compare(old: Path, root: Path, runs: int, work: Path, results: Results) -> None:
    measured: dict[str, list[ChildRun]] = {"old": [], "new": []}
    for turn in range(runs):
        # Who goes first alternates, so that a slow spell of the machine hits both.
        order = [("old", old), ("new", REPO_ROOT)]
        for name, code in order if turn % 2 == 0 else reversed(order):
            run = build_with(code, root, work / f"site-{name}")
            measured[name].append(run)
            print(
                f"  {name}: {run.cpu_seconds:.2f} s CPU, {run.seconds:.2f} s wall, "
                f"{run.peak_mb:.0f} MB",
                flush=True,
            )
    for what, attribute in (("cpu", "cpu_seconds"), ("wall", "seconds"), ("rss", "peak_mb")):
        before = median([getattr(r, attribute) for r in measured["old"]])
        after = median([getattr(r, attribute) for r in measured["new"]])
        results.figures[f"{what}-old"] = before
        results.figures[f"{what}-new"] = after
        results.ratio(
            f"{what}-ratio", after, before, f"{what} new/old (medians {after:.2f} / {before:.2f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the other code tree")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--workload",
        type=Path,
        default=None,
        help="an existing plan repository (default: generate one)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--small", action="store_true", help="20 units, 1 run (smoke test)")
    args = parser.parse_args(argv)
    units, runs = (20, 1) if args.small else (args.units, args.runs)
    header(f"build, old ({args.old}) vs new ({REPO_ROOT}), {units} units")
    results = Results("compare", args.small)
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        work = Path(scratch)
        root = args.workload or make_workload(work / "plan", units).root
        compare(args.old.resolve(), root, runs, work, results)
    print(f"saved {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
