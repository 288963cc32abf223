"""The exports run in their own process beside the page build (builder.plugin.ExportJob):
its files reach the site only when it succeeded, a failure fails the build in Chinese, and
nothing of it is left behind when the build stops early."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

from builder.plugin import ExportJob

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "school-safety-2025"
AS_OF = date(2025, 9, 30)


def test_a_finished_job_moves_the_data_package_and_workbook_into_the_site(tmp_path: Path) -> None:
    out = tmp_path / "site" / "data"
    out.mkdir(parents=True)
    (out / "index.html").write_text("the data page", encoding="utf-8")
    job = ExportJob(FIXTURE, AS_OF)
    job.finish(out)
    names = {p.name for p in out.iterdir()}
    assert {"datapackage.json", "progress.csv", "progress.xlsx", "index.html"} <= names
    assert (out / "index.html").read_text(encoding="utf-8") == "the data page"
    assert not job.folder.exists()


def test_a_failed_export_fails_the_build_in_chinese_and_publishes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "plan"
    shutil.copytree(FIXTURE, broken)
    (broken / "content" / "plan.yml").write_text("title: [unclosed\n", encoding="utf-8")
    out = tmp_path / "site" / "data"
    job = ExportJob(broken, AS_OF)
    with pytest.raises(PluginError, match="数据导出失败"):
        job.finish(out)
    assert not out.exists() or not any(out.iterdir())
    assert not job.folder.exists()


def test_a_cancelled_job_leaves_no_process_and_no_files() -> None:
    job = ExportJob(FIXTURE, AS_OF)
    job.cancel()
    assert job.process.poll() is not None
    assert not job.folder.exists()
