"""Every benchmark script still runs: one small run of each (--small), as CI would.

These check that the scripts work and report what they promise (figures saved as JSON,
ratios against their own baselines), never how fast anything is: speed is measured by
running the scripts themselves, see bench/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.workload import make_workload
from builder.plan import load_content
from builder.reports import load_reports

REPO = Path(__file__).resolve().parent.parent


def run_bench(name: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--small", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    saved = REPO / "bench" / "out" / f"{name}-small.json"
    assert f"saved {saved}" in done.stdout
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["small"] is True
    assert document["machine"]["nproc"]
    return document["figures"]


def test_workload_is_a_valid_plan_repository_with_the_requested_units(tmp_path: Path) -> None:
    workload = make_workload(tmp_path / "repo", 12, seed=3, git=True)
    content = load_content(workload.root)
    reports = load_reports(workload.root, content)
    assert len(content.units) == 12
    assert len(reports) == workload.reports > 0
    assert {r.period for r in reports} == set(workload.periods)
    assert len(workload.periods) == 3
    status = subprocess.run(
        ["git", "-C", str(workload.root), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""  # everything committed


def test_workload_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    def snapshot(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    first = make_workload(tmp_path / "a", 8, seed=5)
    second = make_workload(tmp_path / "b", 8, seed=5)
    other = make_workload(tmp_path / "c", 8, seed=6)
    assert snapshot(first.root) == snapshot(second.root)
    assert snapshot(first.root) != snapshot(other.root)


def test_workload_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError):
        make_workload(tmp_path, 5)


@pytest.mark.slow
def test_validation_benchmark_compares_read_record_with_a_resource_per_record() -> None:
    figures = run_bench("validation")
    assert figures["read_record_us"] > 0 and figures["naive_us"] > 0
    assert figures["ratio"] == pytest.approx(figures["naive_us"] / figures["read_record_us"])


@pytest.mark.slow
def test_exports_benchmark_measures_time_and_peak_memory_of_both_exports() -> None:
    figures = run_bench("exports")
    for key in ("data_package", "workbook"):
        assert figures[f"{key}_s"] > 0
        assert figures[f"{key}_peak_vs_baseline"] > 0
    assert figures["baseline_peak_mb"] > 10  # a real child process was measured


@pytest.mark.slow
def test_build_benchmark_compares_the_full_build_with_pages_only_plus_plain_mkdocs() -> None:
    figures = run_bench("build")
    for units in (10, 30):
        scale = figures[f"u{units}"]
        # Both ways build the same site, so they must produce the same pages.
        assert scale["pages"] == scale["plain_pages"] > units
        assert scale["full_peak_mb"] > 0 and scale["full_cpu_s"] > 0
    assert figures["u10"]["rebuild_s"] > 0  # the new report reached its unit's page
    assert "per_page_growth_cpu" in figures


@pytest.mark.slow
def test_compare_benchmark_builds_with_both_code_trees_in_turns() -> None:
    figures = run_bench("compare", "--old", str(REPO))  # the same code twice
    assert figures["cpu-old"] > 0 and figures["cpu-new"] > 0
    assert figures["cpu-ratio"] == pytest.approx(figures["cpu-new"] / figures["cpu-old"])


@pytest.mark.slow
def test_commit_benchmark_commits_on_a_prebuilt_repository_against_its_baselines() -> None:
    figures = run_bench("commit")
    assert figures["files"] == 2000
    for key in ("service", "repository", "empty", "cli"):
        assert figures[f"{key}_per_s"] > 0
    assert figures["service_vs_repository"] == pytest.approx(
        figures["service_per_s"] / figures["repository_per_s"]
    )


@pytest.mark.slow
def test_service_benchmark_submits_through_gunicorn_and_measures_the_baseline() -> None:
    figures = run_bench("service")
    for name in ("service", "baseline"):
        for clients in (1, 2):
            level = figures[f"{name}_{clients}"]
            assert level["cycles"] == clients * max(2, 3 // clients)  # bounded per client
            assert level["submit_p50_ms"] <= level["submit_p99_ms"]
    assert figures["server_errors"] == 0
    assert "target_p99" in figures and "throughput_ratio_2" in figures


@pytest.mark.slow
def test_rebuild_latency_benchmark_samples_the_portal_during_each_kind_of_build() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rebuild_latency", "--small"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for mode in ("thread", "process", "worker"):
        assert f"build in a {mode}:" in done.stdout
    assert done.stdout.count("during build") == 3


def test_preview_benchmark_measures_previews_against_evaluating_everything_again() -> None:
    figures = run_bench("preview")
    assert figures["units"] == 20
    assert figures["previews_changing_figures"] > 0  # the previews are of reports that matter
    assert figures["warm_median_ms"] <= figures["warm_p95_ms"]
    assert figures["full_over_preview"] == pytest.approx(
        figures["full_median_ms"] / figures["warm_median_ms"], rel=1e-6
    )
    assert "bar_met" in figures


def test_remind_bench_reports_digests_against_one_evaluation() -> None:
    figures = run_bench("remind")
    assert figures["reports"] > 0
    assert any(key.startswith("notices-") and value > 0 for key, value in figures.items())
    assert figures["remind-vs-evaluate"] > 0
    assert "seconds" in figures
