"""Every generated page and data file of a plan repository, written to a folder for `diff -r`.

A refactoring that must not change what the site shows is checked by taking a snapshot with
the old code and one with the new, on the same repositories, and comparing them:

    git worktree add /tmp/old main && (cd /tmp/old && python -m bench.snapshot /tmp/snap-old)
    python -m bench.snapshot /tmp/snap-new --workload /tmp/snap-old/.workload
    diff -r /tmp/snap-old /tmp/snap-new

The repositories are this one (the demo plan), the second plan's fixture and a synthetic
workload (`--units`, 2,000 by default; generated once and reused with `--workload`, so that
both snapshots read the same reports whatever the generator does). The workbook is left out:
it is a zip with a creation time; its sheets are the CSV files' rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date
from pathlib import Path

import yaml

from bench.measure import REPO_ROOT
from bench.workload import make_workload
from builder.build import write_pages

SECOND_PLAN = REPO_ROOT / "tests" / "fixtures" / "school-safety-2025"
LEFT_OUT = (".xlsx",)
# Text a user typed that must come out escaped on every page (as in tests/test_plugin.py).
HOSTILE_NAME = "</title><script>alert(1)</script>[x](javascript:0)东风"
HOSTILE_NOTE = "<img src=x onerror=alert(3)> [点我](javascript:alert(4))"


def second_plan(out: Path, *, hostile: bool) -> Path:
    """The second plan as a repository of its own: its content plus this site's mkdocs.yml
    (as of 2025-09-30); `hostile` puts markup into a unit name and a report's notes."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(SECOND_PLAN, out)
    shutil.copytree(REPO_ROOT / "docs" / "assets", out / "docs" / "assets")
    shutil.copytree(REPO_ROOT / "overrides", out / "overrides")
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["site_name"] = "2025年校园安全工作计划"
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "plansite" in plugin:
            plugin["plansite"]["as_of"] = date(2025, 9, 30)
    (out / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    if hostile:
        units = out / "content" / "units.csv"
        units.write_text(
            units.read_text(encoding="utf-8").replace("东风路小学", HOSTILE_NAME), encoding="utf-8"
        )
        for report in sorted((out / "data" / "reports").rglob("*.json")):
            data = json.loads(report.read_text(encoding="utf-8"))
            if "notes" in data["values"]:
                data["values"]["notes"] = HOSTILE_NOTE
                report.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def snapshot(root: Path, out: Path) -> int:
    """Write root's generated pages and data files under out; returns the number of files."""
    scratch = out.with_name(out.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    write_pages(root, scratch)
    count = 0
    for path in sorted((scratch / "docs").rglob("*")):
        if path.is_file() and not path.name.endswith(LEFT_OUT):
            target = out / path.relative_to(scratch / "docs")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
    shutil.copyfile(scratch / "mkdocs.yml", out / "mkdocs.yml")
    shutil.rmtree(scratch)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create")
    parser.add_argument("--units", type=int, default=2000, help="units of the synthetic plan")
    parser.add_argument(
        "--workload",
        type=Path,
        default=None,
        help="an existing synthetic repository (default: generate one in OUT/.workload)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    workload = args.workload
    if workload is None:
        workload = out / ".workload"
        make_workload(workload, args.units)
    roots = {
        "demo": REPO_ROOT,
        "second-plan": second_plan(out / ".second-plan", hostile=False),
        "second-plan-hostile": second_plan(out / ".second-plan-hostile", hostile=True),
        "workload": workload,
    }
    for name, root in roots.items():
        print(f"{name}: {snapshot(root, out / name)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
