"""A synthetic plan repository at a given scale, for the build, export and commit benchmarks.

The plan (plan.yml, tasks, guarantees, forms, calendar, schemas) and the site configuration
are copied from a source repository (this one by default); the unit registry is replaced by
`units` synthetic units of mixed types (builder.synthetic.generate_units) and data/reports
is filled with the first three reporting periods of approved reports for every unit and
applicable form (builder.synthetic.generate_reports; the default diligence mix, so a few
reports are missing and a few corrected, as in real life). Same seed, same bytes.

    python -m bench.workload OUT --units 500 [--seed 1] [--git]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import REPO_ROOT
from builder.plan import load_content
from builder.synthetic import generate_reports, generate_units, units_csv, write_reports

# What a plan repository needs to build and take submissions; data/ is generated instead.
COPIED = ("content", "schemas", "docs", "overrides", "mkdocs.yml")
UNITS_CSV = Path("content") / "units.csv"
UNITS_SCHEMA = Path("schemas") / "units.schema.json"
DEFAULT_PERIOD_COUNT = 3

# A fixed identity and date make the --git commit reproducible and keep the user's git
# configuration out of the benchmark.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "plansite bench",
    "GIT_AUTHOR_EMAIL": "bench@plansite.invalid",
    "GIT_COMMITTER_NAME": "plansite bench",
    "GIT_COMMITTER_EMAIL": "bench@plansite.invalid",
    "GIT_AUTHOR_DATE": "2022-10-20T12:00:00+08:00",
    "GIT_COMMITTER_DATE": "2022-10-20T12:00:00+08:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Workload:
    root: Path
    units: int
    reports: int
    periods: tuple[str, ...]
    seconds: float


def _copy_plan(source: Path, out: Path) -> None:
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, out / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copy2(path, out / name)
    (out / "data" / "reports").mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("/site/\n", encoding="utf-8")


def _write_units(source: Path, out: Path, count: int, seed: int) -> None:
    # With the registry's schema: its column order, and every column it declares (a
    # plan's own columns, such as aliases, filled in), so the registry loads.
    schema = json.loads((out / UNITS_SCHEMA).read_text(encoding="utf-8"))
    rows = generate_units(load_content(source), count, seed, schema=schema)
    (out / UNITS_CSV).write_text(units_csv(rows), encoding="utf-8")


def git_commit_all(root: Path, message: str) -> str:
    """`git init` (if needed) and commit everything under root; returns the commit id."""
    env = {**os.environ, **GIT_ENV}

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    if not (root / ".git").exists():
        git("init", "--quiet", "--initial-branch=main")
    git("add", "--all")
    git("commit", "--quiet", "--no-verify", "-m", message)
    return git("rev-parse", "HEAD")


def make_workload(
    out: Path,
    units: int,
    seed: int = 1,
    *,
    source: Path = REPO_ROOT,
    periods: Sequence[str] | None = None,
    git: bool = False,
) -> Workload:
    """Generate the repository into `out` (which must not exist or be empty)."""
    start = time.perf_counter()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    _copy_plan(source, out)
    _write_units(source, out, units, seed)
    content = load_content(out)
    chosen = tuple(periods or (p.id for p in content.periods[:DEFAULT_PERIOD_COUNT]))
    count = write_reports(out, generate_reports(content, chosen, seed))
    if git:
        git_commit_all(out, f"Synthetic plan: {units} units, {count} reports, seed {seed}")
    return Workload(out, units, count, chosen, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create (must not exist or be empty)")
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--source",
        type=Path,
        default=REPO_ROOT,
        help="repository whose plan and site configuration are copied",
    )
    parser.add_argument(
        "--periods",
        nargs="*",
        default=None,
        help="period ids (default: the first three of the calendar)",
    )
    parser.add_argument("--git", action="store_true", help="git init and commit the result")
    parser.add_argument("--small", action="store_true", help="20 units, for the smoke test")
    args = parser.parse_args(argv)
    units = 20 if args.small else args.units
    workload = make_workload(
        args.out, units, args.seed, source=args.source, periods=args.periods, git=args.git
    )
    print(
        f"{workload.root}: {workload.units} units, {workload.reports} reports "
        f"({', '.join(workload.periods)}), {workload.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
