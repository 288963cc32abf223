"""Reading the report files (builder/reports.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from builder.plan import load_content
from builder.reports import load_reports

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"


def test_a_report_larger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    # Report files are read with a bare descriptor in 64 KiB reads (builder.reports).
    root = tmp_path / "plan"
    shutil.copytree(FIXTURE, root)
    path = next((root / "data" / "reports").rglob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["submitted_by"]["name"] = "长" * 50_000  # 150 KB of UTF-8, split mid-character
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert path.stat().st_size > 2 * 65536
    reports = load_reports(root, load_content(root))
    read = next(r for r in reports if r.id == data["id"])
    assert read.submitted_by["name"] == "长" * 50_000
