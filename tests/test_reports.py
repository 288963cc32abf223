"""Reading the report files (builder/reports.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.plan import load_content
from builder.reports import ReportError, load_reports, report_document, report_from_document
from builder.validate import validate_repository

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


def document(**extra: object) -> dict[str, object]:
    return {
        "id": "20251009100000-0000abcd",
        "form": "inspection",
        "period": "2025-T2",
        "unit": "dongfeng-ps",
        "submitted_at": "2025-10-09T10:00:00+08:00",
        "submitted_by": {"account": "dongfeng", "name": "王老师"},
        "values": {"extinguishers_checked": 60},
        **extra,
    }


def test_a_correction_reason_is_kept_in_the_report_document() -> None:
    report = report_from_document(document(correction_reason="检查数量录入有误"))

    assert report.correction_reason == "检查数量录入有误"
    assert report_document(report)["correction_reason"] == "检查数量录入有误"
    # A report that is no correction is written as before: no empty key.
    assert "correction_reason" not in report_document(report_from_document(document()))


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (5, "应为文字（更正原因）"),
        ("", "更正原因不能为空"),
        ("长" * 501, "更正原因不能超过 500 个字"),
    ],
)
def test_a_correction_reason_that_is_no_text_or_too_long_is_refused(value, said) -> None:
    with pytest.raises(ReportError) as refused:
        report_from_document(document(correction_reason=value))

    assert [(p.field, p.message) for p in refused.value.problems] == [("correction_reason", said)]


def test_validate_accepts_a_report_with_a_correction_reason(tmp_path: Path) -> None:
    root = tmp_path / "plan"
    shutil.copytree(FIXTURE, root)
    path = next((root / "data" / "reports").rglob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["correction_reason"] = "上报时漏填夜间巡查"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    assert [p for p in validate_repository(root) if not p.warning] == []
    assert any(r.correction_reason for r in load_reports(root, load_content(root)))
