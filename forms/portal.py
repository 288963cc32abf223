"""The unit portal: what the unit owes first (its to-do box), then the forms it must report,
by period, with their status and due dates.

The unit is seen as main holds it (its approved reports, read once per main commit by
forms.preview) with the service's own knowledge laid over: submissions waiting for review
and returned ones, with the reviewer's reason (builder.obligations.with_submissions).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from builder.model import Content, Report, Status, Unit
from builder.obligations import (
    Obligation,
    ObligationCounts,
    Pending,
    count,
    to_do,
    unit_obligations,
    with_reports_after,
    with_submissions,
)
from builder.progress import IndicatorResult, Rollup, evaluate_unit, rollup
from builder.reporting import (
    ReportingState,
    effective_reports,
    first_submissions,
    progress_date,
    reporting_states,
    reports_after,
)
from builder.rules import format_value
from forms.auth import current_account, login_required
from forms.outbox import APPROVED, OPEN, REJECTED, SubmissionRecord
from forms.permissions import can_review, require_view_unit, resolve_unit
from forms.services import Services, services

bp = Blueprint("portal", __name__)
log = logging.getLogger(__name__)

STATE_LABELS = {
    "queued": "已提交，等待审核",  # delivery to the reviewers is no concern of the reporter
    "in_review": "审核中",
    "approved": "已通过",
    "rejected": "已退回",
    "superseded": "已被更正取代",
    "withdrawn": "已撤回",
}


@dataclass(frozen=True)
class Entry:
    """One row of the portal: a form to fill for one period."""

    form_id: str
    form_title: str
    period_id: str
    period_title: str
    due: date
    status: str  # Chinese label
    css: str  # status class for the badge
    reason: str = ""  # why it was returned
    submission_id: str | None = None
    overdue: bool = False
    has_draft: bool = False


def entry_status(
    has_draft: bool, latest: Any | None, approved_on_main: bool
) -> tuple[str, str, str]:
    """(label, css class, reason) of a form x period from the draft and the latest submission.

    A draft in progress is what the user is working on now, so it shows first; otherwise
    the latest submission's review state; otherwise an approved report already in the plan.
    """
    if has_draft:
        return "草稿", "draft", ""
    if latest is not None:
        state = latest.state
        if state == "rejected":
            return "已退回", "rejected", latest.reason or ""
        if state == "withdrawn" and approved_on_main:
            # Taking a correction back leaves the approved report as it was.
            return "已通过", "approved", ""
        return STATE_LABELS.get(state, state), state.replace("_", "-"), ""
    if approved_on_main:
        return "已通过", "approved", ""
    return "未开始", "not-started", ""


def latest_records(records: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """The latest submission per (form, period): a correction supersedes earlier ones."""
    latest: dict[tuple[str, str], Any] = {}
    for record in sorted(records, key=lambda r: (r.submitted_at, r.id)):
        latest[(record.form, record.period)] = record
    return latest


def approved_reports(
    store: Services, unit: Unit, records: Sequence[SubmissionRecord]
) -> list[Report]:
    """The unit's approved reports: main's (as forms.preview reads them, once per main
    commit) plus those approved since that main does not hold yet (a merge on a remote
    forge before the next fetch)."""
    state = store.main_progress.state()
    if state is not None:
        reports = list(state.reports.get(unit.id, ()))
    else:  # no copy of main yet: the plan's own working tree
        from builder.reports import load_reports

        reports = [r for r in load_reports(store.root, store.content) if r.unit == unit.id]
    known = {r.id for r in reports}
    for record in records:
        if record.state == APPROVED and record.id not in known:
            try:
                reports.append(store.submissions.read_report(record.id))
            except (KeyError, ValueError, OSError):
                log.exception("approved submission %s cannot be read", record.id)
    return reports


@dataclass(frozen=True)
class Standing:
    """One unit evaluated from its approved reports as of a date: its indicators and its
    reporting states. A unit's results depend on its own reports only, so this takes
    milliseconds whatever the size of the plan."""

    as_of: date
    results: Mapping[str, IndicatorResult]
    rollup: Rollup
    reporting: tuple[ReportingState, ...]


def unit_standing(content: Content, unit: Unit, reports: Sequence[Report], as_of: date) -> Standing:
    results = evaluate_unit(content, unit, reports, as_of)
    alone = dataclasses.replace(content, units=(unit,))
    states = reporting_states(
        alone, effective_reports(reports, as_of), first_submissions(reports, as_of), as_of
    )
    return Standing(as_of, results, rollup(results.values()), states[unit.id])


def pending_submissions(
    unit: Unit, records: Iterable[SubmissionRecord]
) -> dict[tuple[str, str, str], tuple[Pending, str]]:
    """What the service knows beyond main, per form x period, from the latest submission:
    waiting for review (queued or in review), or returned with the reviewer's reason."""
    pending: dict[tuple[str, str, str], tuple[Pending, str]] = {}
    for (form, period), record in latest_records(records).items():
        if record.state in OPEN:
            pending[(unit.id, form, period)] = ("in_review", "")
        elif record.state == REJECTED:
            pending[(unit.id, form, period)] = ("returned", record.reason)
    return pending


@dataclass(frozen=True)
class ToDo:
    """One line of the to-do box: an obligation with the words and link the reporter needs."""

    obligation: Obligation
    form_title: str
    period_title: str

    @property
    def when(self) -> str:
        days = self.obligation.days_to_due
        due = self.obligation.due.isoformat()
        if days < 0:
            return f"截止日期 {due}，已逾期 {-days} 天"
        if days == 0:
            return f"截止日期 {due}，今天截止"
        return f"截止日期 {due}，还有 {days} 天"


def unit_to_do(
    content: Content,
    unit: Unit,
    standing: Standing,
    reports: Sequence[Report],
    records: Iterable[SubmissionRecord],
) -> tuple[ObligationCounts, list[ToDo]]:
    """The unit's obligations counted, and what it still has to do, most urgent first.
    A report approved after the as-of date (a demo's or an archived plan's) settles its
    slot too: the reporter has done it, whatever date the figures are counted to."""
    approved = with_reports_after(
        unit_obligations(standing.reporting, standing.as_of, content.escalation),
        reports_after(reports, standing.as_of).get(unit.id, ()),
    )
    obligations = with_submissions(approved, pending_submissions(unit, records))
    items = [
        ToDo(item, content.form(item.form).title, content.period(item.period).title)
        for item in to_do(obligations)
    ]
    return count(obligations), items


def unit_entries(
    store: Services,
    content: Content,
    standing: Standing,
    unit: Unit,
    reports: list[Report],
    records: Sequence[SubmissionRecord],
) -> list[Entry]:
    """The unit's forms by period, from the progress rules' reporting slots (the forms
    that apply to the unit x their periods), with the service's own state of each."""
    latest = latest_records(records)
    # Every approved report counts here, also one submitted after the as-of date.
    on_main = {(r.form, r.period) for r in reports}
    entries: list[Entry] = []
    for slot in standing.reporting:
        key = (slot.form, slot.period)
        record = latest.get(key)
        draft = store.drafts.exists(unit.id, slot.form, slot.period)
        label, css, reason = entry_status(draft, record, key in on_main)
        done = css in ("approved", "queued", "in-review")
        entries.append(
            Entry(
                slot.form,
                content.form(slot.form).title,
                slot.period,
                content.period(slot.period).title,
                slot.due,
                label,
                css,
                reason,
                record.id if record is not None else None,
                overdue=not done and standing.as_of > slot.due,
                has_draft=draft,
            )
        )
    return entries


@bp.route("/")
@login_required
def index() -> Any:
    account = current_account()
    assert account is not None
    if can_review(account):
        return redirect(url_for("review.queue"))
    return redirect(url_for("portal.unit", unit_id=account.unit))


@bp.route("/units/<unit_id>/")
@login_required
def unit(unit_id: str) -> Any:
    store = services()
    content = store.content
    account = current_account()
    assert account is not None
    unit = resolve_unit(content, unit_id)
    require_view_unit(account, unit.id)
    records = store.submissions.list(unit=unit.id)
    reports = approved_reports(store, unit, records)
    standing = unit_standing(
        content, unit, reports, progress_date(store.as_of, reports, date.today())
    )
    counts, todo = unit_to_do(content, unit, standing, reports, records)
    indicators = {i.id: (t, i) for t in content.tasks for i in t.indicators}
    results = [
        (
            indicators[r.indicator][0],
            indicators[r.indicator][1],
            r,
            format_value(indicators[r.indicator][1], r.value),
        )
        for r in standing.results.values()
        if r.status is not Status.NOT_APPLICABLE
    ]
    return render_template(
        "portal.html",
        unit=unit,
        unit_type=content.plan.unit_type_label(unit.type),
        entries=unit_entries(store, content, standing, unit, reports, records),
        rollup=standing.rollup,
        results=results,
        statuses=[s for s in Status if s is not Status.NOT_APPLICABLE],
        as_of=standing.as_of,
        counts=counts,
        todo=todo,
        due_soon_days=content.escalation.due_soon_days,
    )
