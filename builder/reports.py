"""The report document, `data/reports/<form>/<period>/<unit>/<id>.json`: the one owner of
its JSON form.

`report_document`/`report_json` write it, `parse_report`/`report_from_document` read it
with the same checks wherever it comes from (the plan's repository, a submission in the
form service's git, a generated workload), and `read_reports` reads every approved report
of a repository. Structure and references are checked here; the values against their
form's schema are checked by builder.validate (one json.loads per file and plain checks,
no Frictionless per report: a build reads every report).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from builder.documents import Document, json_problem, sort_problems
from builder.model import (
    IDENTIFIER,
    Content,
    ContentError,
    Evidence,
    Form,
    Problem,
    Report,
    Unit,
    report_path,
)

REPORTS_DIR = "data/reports"
# The longest correction reason (更正原因) a report holds, in characters.
CORRECTION_REASON_MAX = 500
EVIDENCE_NAME = re.compile(r"^[0-9]+-[^/\\\x00-\x1f]{1,200}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _report_files(root: Path, problems: list[Problem]) -> Iterator[tuple[str, str]]:
    """(relative path, absolute path) of every report: `<form>/<period>/<unit>/<id>.json`.

    Deeper files are evidence, not reports.
    """
    base = os.path.join(root, REPORTS_DIR)
    if not os.path.isdir(base):
        return

    def entries(path: str) -> list[os.DirEntry[str]]:
        # Unsorted: read_reports sorts the reports once at the end.
        with os.scandir(path) as scan:
            return list(scan)

    def misplaced(entry: os.DirEntry[str], rel: str) -> None:
        if entry.is_file() and entry.name.endswith(".json"):
            problems.append(
                Problem(
                    rel,
                    "",
                    "报告文件位置不正确，应为 data/reports/<表单>/<周期>/<单位>/<编号>.json",
                )
            )

    for form in entries(base):
        form_rel = f"{REPORTS_DIR}/{form.name}"
        if not form.is_dir():
            misplaced(form, form_rel)
            continue
        for period in entries(form.path):
            period_rel = f"{form_rel}/{period.name}"
            if not period.is_dir():
                misplaced(period, period_rel)
                continue
            for unit in entries(period.path):
                unit_rel = f"{period_rel}/{unit.name}"
                if not unit.is_dir():
                    misplaced(unit, unit_rel)
                    continue
                for report in entries(unit.path):
                    if report.name.endswith(".json") and report.is_file():
                        yield f"{unit_rel}/{report.name}", report.path


def _evidence(doc: Document, value: Any) -> list[Evidence]:
    if value is None:
        return []
    if not isinstance(value, list):
        doc.problem("evidence", "应为列表")
        return []
    evidence = []
    for index, item in enumerate(value):
        where = f"evidence[{index}]"
        entry = doc.mapping(item, where, "佐证材料")
        if entry is None:
            continue
        file = entry.get("file")
        ok = True
        if not isinstance(file, str) or not EVIDENCE_NAME.fullmatch(file) or ".." in file:
            doc.problem(f"{where}.file", f"文件名“{file}”无效，应为 <序号>-<文件名>，且不含路径")
            ok = False
        for key in ("name", "media_type"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                doc.problem(f"{where}.{key}", f"缺少 {key}")
                ok = False
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            doc.problem(f"{where}.size", "应为非负整数（字节数）")
            ok = False
        sha256 = entry.get("sha256")
        if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            doc.problem(f"{where}.sha256", "应为 64 位十六进制 SHA-256 摘要")
            ok = False
        if ok:
            evidence.append(Evidence(file, entry["name"], entry["media_type"], size, sha256))  # type: ignore[arg-type]
    return evidence


def _text_mapping(value: Any) -> bool:
    if type(value) is not dict:
        return False
    return all(type(key) is str and type(text) is str for key, text in value.items())


def parse_report(
    rel: str, data: Any, index: ReportIndex | None, problems: list[Problem]
) -> Report | None:
    """Check one report's structure (and, given an index, its references) and build it.

    `rel` is the report's path relative to the repository, `data` its parsed JSON.
    """
    doc = Document(rel, problems)
    entry = doc.mapping(data, "", "报告内容")
    if entry is None:
        return None
    before = len(problems)
    ids = _report_ids(doc, entry)
    submitted_at = _submitted_at(doc, entry)
    submitted_by = entry.get("submitted_by")
    if not _text_mapping(submitted_by):
        doc.problem("submitted_by", "应为映射（account、name 等文字）")
    values = entry.get("values")
    if not isinstance(values, dict):
        doc.problem("values", "缺少 values（填报内容）")
    evidence = _evidence(doc, entry.get("evidence"))
    explanation = entry.get("explanation", "")
    if type(explanation) is not str:
        doc.problem("explanation", "应为文字（数据异常的说明）")
    correction_reason = entry.get("correction_reason", "")
    if "correction_reason" in entry:
        _check_correction_reason(doc, correction_reason)
    if len(ids) == 4:
        _check_report_location(doc, rel, ids)
        if index is not None:
            _check_report_references(doc, index, ids)
    if len(problems) > before:
        return None
    return Report(
        id=ids["id"],
        form=ids["form"],
        period=ids["period"],
        unit=ids["unit"],
        submitted_at=cast(datetime, submitted_at),
        submitted_by=cast(dict[str, str], submitted_by),
        values=cast(dict[str, Any], values),
        evidence=tuple(evidence),
        path=rel,
        explanation=cast(str, explanation),
        correction_reason=cast(str, correction_reason),
    )


def _report_ids(doc: Document, entry: dict[str, Any]) -> dict[str, str]:
    """The report's id, form, period and unit: those that are valid identifiers."""
    ids: dict[str, str] = {}
    for key in ("id", "form", "period", "unit"):
        value = entry.get(key)
        # The common case without a call: every report of a build passes here.
        if type(value) is str and IDENTIFIER.fullmatch(value):
            ids[key] = value
        elif (checked := doc.identifier(entry, key)) is not None:
            ids[key] = checked
    return ids


def _submitted_at(doc: Document, entry: dict[str, Any]) -> datetime | None:
    """When the report was submitted: an ISO 8601 time with its zone."""
    raw_time = entry.get("submitted_at")
    if not isinstance(raw_time, str):
        doc.problem("submitted_at", "缺少 submitted_at（提交时间）")
        return None
    try:
        submitted_at = datetime.fromisoformat(raw_time)
    except ValueError:
        doc.problem("submitted_at", f"提交时间“{raw_time}”无效，应为 ISO 8601 格式")
        return None
    if submitted_at.tzinfo is None:
        doc.problem("submitted_at", "提交时间应包含时区（例如 +08:00）")
    return submitted_at


def _check_report_location(doc: Document, rel: str, ids: Mapping[str, str]) -> None:
    """The report lies where its ids say: <REPORTS_DIR>/<form>/<period>/<unit>/<id>.json."""
    # rel is <REPORTS_DIR>/<form>/<period>/<unit>/<file> (see _report_files).
    parts = rel.rsplit("/", 4)
    if parts[1:] != [ids["form"], ids["period"], ids["unit"], f"{ids['id']}.json"]:
        expected = report_path(ids["form"], ids["period"], ids["unit"], ids["id"])
        doc.problem("", f"文件位置与内容不符，应为 {expected}")


def _check_correction_reason(doc: Document, value: Any) -> None:
    """Present only in a correction, and then it says something."""
    if type(value) is not str:
        doc.problem("correction_reason", "应为文字（更正原因）")
    elif not value.strip():
        doc.problem("correction_reason", "更正原因不能为空")
    elif len(value) > CORRECTION_REASON_MAX:
        doc.problem("correction_reason", f"更正原因不能超过 {CORRECTION_REASON_MAX} 个字")


class ReportError(ValueError):
    """A report document that fails parse_report's checks; `problems` name each field."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def report_from_document(
    data: Any, rel: str | None = None, index: ReportIndex | None = None
) -> Report:
    """A report from its parsed JSON, with parse_report's checks; raises ReportError.

    `rel` is where the document was read from (default: where its identifiers say it
    belongs, for a document that is not a file yet).
    """
    problems: list[Problem] = []
    report = parse_report(rel or _expected_path(data), data, index, problems)
    if report is None:
        raise ReportError(problems)
    return report


def _expected_path(data: Any) -> str:
    try:
        return report_path(data["form"], data["period"], data["unit"], data["id"])
    except (TypeError, KeyError, ValueError):
        return REPORTS_DIR  # parse_report names what is wrong with the identifiers


def report_document(report: Report) -> dict[str, Any]:
    """A report as its JSON document, the keys in the order they are written."""
    return {
        "id": report.id,
        "form": report.form,
        "period": report.period,
        "unit": report.unit,
        "submitted_at": report.submitted_at.isoformat(),
        "submitted_by": dict(report.submitted_by),
        "values": dict(report.values),
        "evidence": [
            {
                "file": item.file,
                "name": item.name,
                "media_type": item.media_type,
                "size": item.size,
                "sha256": item.sha256,
            }
            for item in report.evidence
        ],
        # Only a report whose figures needed one has it: every other file stays as it was.
        **({"explanation": report.explanation} if report.explanation else {}),
        **({"correction_reason": report.correction_reason} if report.correction_reason else {}),
    }


def document_json(document: Mapping[str, Any], *, sort_keys: bool = False) -> str:
    """A report document as the text of its file: indented, Chinese characters as they
    are, one final newline. Generated reports (builder.synthetic) sort their keys."""
    text = json.dumps(
        document, ensure_ascii=False, indent=2, sort_keys=sort_keys, default=_json_value
    )
    return text + "\n"


def report_json(report: Report) -> str:
    """The text of a report's file."""
    return document_json(report_document(report))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class ReportIndex:
    """The content's forms, units and periods by id, built once for a run of report checks."""

    forms: dict[str, Form]
    units: dict[str, Unit]
    periods: frozenset[str]
    # (form, unit) -> the form applies; each pair recurs once per period.
    applies: dict[tuple[str, str], bool] = field(default_factory=dict)

    def form_applies(self, form: Form, unit: Unit) -> bool:
        key = (form.id, unit.id)
        result = self.applies.get(key)
        if result is None:
            result = self.applies[key] = form.applies_to.matches(unit)
        return result

    @classmethod
    def of(cls, content: Content) -> ReportIndex:
        return cls(
            forms={f.id: f for f in content.forms},
            units={u.id: u for u in content.units},
            periods=frozenset(p.id for p in content.periods),
        )


def _check_report_references(doc: Document, index: ReportIndex, ids: dict[str, str]) -> None:
    form = index.forms.get(ids["form"])
    unit = index.units.get(ids["unit"])
    if form is None:
        doc.problem("form", f"表单“{ids['form']}”不存在")
    if unit is None:
        doc.problem("unit", f"单位“{ids['unit']}”不存在")
    if ids["period"] not in index.periods:
        doc.problem("period", f"报送周期“{ids['period']}”不存在")
    elif form is not None and ids["period"] not in form.periods:
        doc.problem("period", f"表单 {form.id} 没有报送周期“{ids['period']}”")
    if form is not None and unit is not None and not index.form_applies(form, unit):
        doc.problem("unit", f"表单 {form.id} 不适用于单位 {unit.id}")


def _file_bytes(path: str) -> bytes:
    """The whole file. An unbuffered read: a build reads every report, and Path.read_bytes
    (a Path and a buffered file object per report) took twice as long (35 against 17 µs)."""
    with open(path, "rb", buffering=0) as file:
        return file.read()


def read_reports(root: Path, content: Content | None) -> tuple[list[Report], list[Problem]]:
    """Every report under data/reports/ and every problem; references checked given content."""
    problems: list[Problem] = []
    reports: list[Report] = []
    index = ReportIndex.of(content) if content is not None else None
    for rel, path in _report_files(Path(root), problems):
        try:
            data = json.loads(_file_bytes(path).decode("utf-8"))
        except json.JSONDecodeError as error:
            problems.append(json_problem(rel, error))
            continue
        except UnicodeDecodeError:
            problems.append(Problem(rel, "", "文件不是 UTF-8 编码"))
            continue
        report = parse_report(rel, data, index, problems)
        if report is not None:
            reports.append(report)
    reports.sort(key=lambda report: report.path)
    return reports, problems


def load_reports(root: Path, content: Content) -> list[Report]:
    """The approved reports in `root`/data/reports, by path; raises ContentError with every problem.

    Only structure and references are checked here (fast); the values against their
    form's schema are checked by `plansite validate` (builder.validate).
    """
    reports, problems = read_reports(root, content)
    if problems:
        raise ContentError(sort_problems(problems))
    return reports
