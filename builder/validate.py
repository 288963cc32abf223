"""`plansite validate`: every problem in the plan's files and in the approved reports.

Loading (builder.plan) already checks the structure of every file and the references
between them; this adds what is too slow for every build or needs the file system: each
report's values read against its form's schema, and the evidence files a report lists.
"""

from __future__ import annotations

from pathlib import Path

from builder.documents import sort_problems
from builder.form_checks import EarlierReport, Finding, check_values, periods_before
from builder.model import Content, Form, HistoryCheck, Problem, Report, evidence_dir
from builder.plan import read_content
from builder.plan.warnings import plan_warnings
from builder.records import read_record, record_errors_to_problems
from builder.reports import read_reports


def report_problems(root: Path, content: Content, reports: list[Report]) -> list[Problem]:
    """Values of every report against its form's schema; evidence files that are missing."""
    forms = {form.id: form for form in content.forms}
    units = {unit.id: unit for unit in content.units}
    latest: dict[tuple[str, str, str], Report] = {}
    for report in sorted(reports, key=lambda r: (r.submitted_at, r.id)):
        latest[report.key] = report
    problems: list[Problem] = []
    for report in reports:
        form = forms.get(report.form)
        unit = units.get(report.unit)
        if form is not None:
            values, errors = read_record(form, report.values)
            problems.extend(record_errors_to_problems(report.path, errors))
            if unit is not None and not errors:
                earlier = _earlier_report(content, form, report, latest)
                findings = check_values(form, values, unit, earlier)
                problems.extend(_check_problems(report, findings))
        folder = Path(root) / evidence_dir(report.form, report.period, report.unit, report.id)
        for index, evidence in enumerate(report.evidence):
            if not (folder / evidence.file).is_file():
                problems.append(
                    Problem(
                        report.path,
                        f"evidence[{index}].file",
                        f"佐证材料文件 {evidence.file} 不存在",
                    )
                )
    return problems


def _earlier_report(
    content: Content, form: Form, report: Report, latest: dict[tuple[str, str, str], Report]
) -> EarlierReport | None:
    """The unit's latest report of the form in the nearest earlier period that has one."""
    for period in periods_before(content, form, report.period):
        earlier = latest.get((report.unit, form.id, period.id))
        if earlier is not None:
            return EarlierReport(period, read_record(form, earlier.values)[0])
    return None


def _check_problems(report: Report, findings: list[Finding]) -> list[Problem]:
    """A failed error check is an error; a failed warning check is one too unless the
    report carries the reporter's explanation, then a warning that shows it. A failed
    history check is a warning either way: the earlier report it compares with may have
    been approved after this one was submitted, when there was nothing to explain."""
    problems = []
    for finding in findings:
        where = f"values.{finding.field}"
        if isinstance(finding.check, HistoryCheck) and not report.explanation.strip():
            message = f"{finding.message}；没有说明"
            problems.append(Problem(report.path, where, message, warning=True))
        elif not finding.is_warning:
            problems.append(Problem(report.path, where, finding.message))
        elif not report.explanation.strip():
            message = f"{finding.message}；数据异常但没有说明（explanation）"
            problems.append(Problem(report.path, where, message))
        else:
            message = f"{finding.message}；填报单位说明：{report.explanation}"
            problems.append(Problem(report.path, where, message, warning=True))
    return problems


def validate_repository(root: Path) -> list[Problem]:
    """Every problem in the repository at `root`, sorted and deduplicated; [] when valid.

    While the plan itself has problems, reports are checked for structure only: checking
    them against a partly loaded plan would bury the real problem under follow-on ones.
    """
    content, problems = read_content(Path(root))
    reference = content if not problems else None
    reports, found = read_reports(Path(root), reference)
    problems.extend(found)
    if reference is not None:
        problems.extend(plan_warnings(reference))
        problems.extend(report_problems(Path(root), reference, reports))
    return sort_problems(problems)
