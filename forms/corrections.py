"""Corrections: a correction starts from the report it corrects.

With no draft, the fill page (forms.fill) is filled from the slot's latest report as the
portal shows it, says whose report of when that is, and lists its evidence; on the draft's
first save that evidence is carried into the draft, each file checked again like an upload.

The same approved reports in the plan's repository are what a form's history checks
compare with (`earlier_approved`): the unit's report of the nearest earlier period.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.form_checks import EarlierReport, periods_before
from builder.model import (
    Content,
    Form,
    Problem,
    Report,
    evidence_dir,
    is_identifier,
    report_path,
)
from builder.records import format_bound, read_record
from builder.reports import CORRECTION_REASON_MAX, REPORTS_DIR, parse_report
from forms.evidence import (
    EvidenceError,
    check_upload,
    is_stored_name,
    sanitise_name,
    too_many_files,
)
from forms.outbox import APPROVED, IN_REVIEW, QUEUED
from forms.portal import STATE_LABELS, latest_records
from forms.repository import RepositoryError
from forms.services import services
from forms.submissions import InvalidState

log = logging.getLogger(__name__)

# The fill page's own controls for a correction. Form field names never hold a hyphen
# (content/README.md), so these cannot shadow a field of any plan's form.
EARLIER_INPUT = "earlier-report"
REMOVE_EARLIER_INPUT = "remove-earlier-file"
CORRECTION_CONTROLS = frozenset({EARLIER_INPUT, REMOVE_EARLIER_INPUT})
CORRECTION_REASON_PROMPT = "更正原因"
# The states of a slot's submission that a new one corrects.
IN_FORCE = (APPROVED, QUEUED, IN_REVIEW)
EARLIER_CHANGED = (
    "在您填写期间，本单位又提交了一份新的填报，原填报的佐证材料没有带入草稿。"
    "请查看最新的填报，再上传需要的文件。"
)


@dataclass(frozen=True)
class Earlier:
    """The report a correction starts from."""

    report: Report
    state: str  # its review state, as the portal labels it
    reason: str  # why it was returned, "" otherwise
    in_service: bool  # a submission in the service's git; else an approved report in ROOT


def earlier_report(unit: str, form: str, period: str) -> Earlier | None:
    """The report the portal shows as the slot's latest: its latest submission in any
    review state (a returned one too: that is the one the reviewer asked to correct),
    else its latest approved report in the plan's repository; None when there is none."""
    store = services()
    records = latest_records(store.submissions.list(unit=unit))
    record = records.get((form, period))
    if record is None:
        report = approved_in_tree(store.root, unit, form, period)
        return Earlier(report, STATE_LABELS["approved"], "", False) if report else None
    try:
        report = store.submissions.read_report(record.id)
    except (InvalidState, RepositoryError, OSError, KeyError, TypeError, ValueError):
        # The form still opens, empty as before: a correction can always be typed anew.
        log.exception("submission %s cannot be read to start a correction", record.id)
        return None
    reason = record.reason if record.state == "rejected" else ""
    return Earlier(report, STATE_LABELS.get(record.state, record.state), reason, True)


def is_correction(unit: str, form: str, period: str) -> bool:
    """Whether a new submission of the slot corrects a report: one approved (in the plan's
    repository or by the service) or one still awaiting review. A returned or withdrawn
    one is no report in force: what follows it replaces nothing."""
    store = services()
    if approved_in_tree(store.root, unit, form, period) is not None:
        return True
    return any(
        record.form == form and record.period == period and record.state in IN_FORCE
        for record in store.submissions.list(unit=unit)
    )


def correction_reason_error(reason: str) -> str | None:
    """What is wrong with a correction's reason as typed (stripped), None when it will do."""
    if not reason:
        return f"{CORRECTION_REASON_PROMPT}：请说明为什么更正此前的填报"
    if len(reason) > CORRECTION_REASON_MAX:
        return f"{CORRECTION_REASON_PROMPT}不能超过 {CORRECTION_REASON_MAX} 个字"
    return None


def approved_in_tree(root: Path, unit: str, form: str, period: str) -> Report | None:
    """The latest approved report of one slot in `root`/data/reports: only that slot's
    folder is read, not every report of the plan."""
    folder = Path(root, REPORTS_DIR, form, period, unit)
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if entry.is_file()]
    except OSError:  # no report of this slot yet (or an unreadable folder: start empty)
        return None
    reports = []
    for name in names:
        submission_id = name.removesuffix(".json")
        if submission_id == name or not is_identifier(submission_id):
            continue
        rel = report_path(form, period, unit, submission_id)  # identifiers only
        problems: list[Problem] = []
        try:
            data = json.loads(Path(root, rel).read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            log.warning("approved report %s cannot be read", rel)
            continue
        report = parse_report(rel, data, None, problems)
        if report is not None:
            reports.append(report)
    return max(reports, key=lambda r: (r.submitted_at, r.id), default=None)


def earlier_approved(
    root: Path, content: Content, form: Form, unit: str, period: str
) -> EarlierReport | None:
    """The unit's latest approved report of `form` in the nearest earlier period that has
    one, as its typed values; None when the form has no history checks or no such report.
    Only approved reports count: a pending one may still be returned."""
    if not form.history_checks:
        return None
    for earlier in periods_before(content, form, period):
        report = approved_in_tree(root, unit, form.id, earlier.id)
        if report is not None:
            return EarlierReport(earlier, read_record(form, report.values)[0])
    return None


def typed_as_text(form: Form, values: Mapping[str, Any]) -> dict[str, str]:
    """A report's values as the strings a person types for them (what a draft holds), for
    the form's own fields: 60 rather than 60.0, true/false for a yes/no field."""
    text: dict[str, str] = {}
    for field in form.fields:
        value = values.get(field.name)
        if isinstance(value, bool):
            text[field.name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text[field.name] = format_bound(value)
    return text


def read_earlier_file(earlier: Earlier, file: str, limit: int) -> bytes:
    """One evidence file of the earlier report, at most `limit` + 1 bytes of it (enough
    for the size check to refuse it). Raises FileNotFoundError for anything not there."""
    if not is_stored_name(file):
        raise FileNotFoundError(file)
    report = earlier.report
    if earlier.in_service:
        try:
            return bytes(services().submissions.read_evidence(report.id, file)[: limit + 1])
        except (InvalidState, RepositoryError, KeyError) as error:
            raise FileNotFoundError(file) from error
    root = services().root.resolve()
    path = root.joinpath(evidence_dir(report.form, report.period, report.unit, report.id), file)
    # The report's folder comes from identifiers and the file from a stored name; a
    # symbolic link committed there must still not lead out of the repository.
    if not path.resolve().is_relative_to(root):
        raise FileNotFoundError(file)
    with path.open("rb") as handle:
        return handle.read(limit + 1)


def carry_evidence(slot: tuple[str, str, str], posted_id: str, removed: set[str]) -> list[str]:
    """Attach the earlier report's evidence to the new draft, but the files the user
    ticked for removal; each file is checked again like an upload. Chinese messages for
    the files that could not be carried."""
    earlier = earlier_report(*slot)
    if earlier is None or earlier.report.id != posted_id:
        # The page showed another report's files than the slot's latest now: carrying
        # these would attach files the user never saw.
        return [EARLIER_CHANGED]
    store = services()
    limit = store.settings.evidence_max_bytes
    max_files = store.settings.evidence_max_files
    messages: list[str] = []
    for item in earlier.report.evidence:
        if item.file in removed:
            continue
        shown = sanitise_name(item.name)
        try:
            data = read_earlier_file(earlier, item.file, limit)
        except OSError:
            messages.append(f"原填报中的文件“{shown}”无法读取，请重新上传")
            continue
        try:
            checked = check_upload(item.name, data, limit)
        except EvidenceError as error:
            messages.append(f"原填报中的文件未能带入：{error}")
            continue
        if hashlib.sha256(data).hexdigest() != item.sha256:
            messages.append(f"原填报中的文件“{shown}”与提交时的记录不符，请重新上传")
            continue
        added = store.drafts.add_file(*slot, checked.name, checked.media_type, data, max_files)
        if added is None:
            messages.append(too_many_files(checked.name, max_files))
    return messages
