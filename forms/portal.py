"""The unit portal: the forms a unit must report, by period, with their status and due dates."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from builder.model import Content, Report, Status, Unit
from builder.progress import Progress, evaluate
from builder.reporting import progress_date
from builder.rules import format_value
from forms.auth import current_account, login_required
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


def approved_reports(store: Services, unit: Unit) -> list[Report]:
    """The unit's approved reports: those in the working tree plus those merged since."""
    from builder.reports import load_reports

    reports = [r for r in load_reports(store.root, store.content) if r.unit == unit.id]
    known = {r.id for r in reports}
    for record in store.submissions.list(unit=unit.id, state="approved"):
        if record.id not in known:
            try:
                reports.append(store.submissions.read_report(record.id))
            except (KeyError, ValueError, OSError):
                log.exception("approved submission %s cannot be read", record.id)
    return reports


def unit_entries(
    store: Services, content: Content, progress: Progress, unit: Unit, reports: list[Report]
) -> list[Entry]:
    """The unit's forms by period, from the progress rules' reporting slots (the forms
    that apply to the unit x their periods), with the service's own state of each."""
    latest = latest_records(store.submissions.list(unit=unit.id))
    # Every approved report counts here, also one submitted after the as-of date.
    on_main = {(r.form, r.period) for r in reports}
    entries: list[Entry] = []
    for slot in progress.reporting(unit.id):
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
                overdue=not done and progress.as_of > slot.due,
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
    reports = approved_reports(store, unit)
    progress = evaluate(content, reports, progress_date(store.as_of, reports, date.today()))
    rollup = progress.unit_rollup(unit.id)
    indicators = {i.id: (t, i) for t in content.tasks for i in t.indicators}
    results = [
        (
            indicators[r.indicator][0],
            indicators[r.indicator][1],
            r,
            format_value(indicators[r.indicator][1], r.value),
        )
        for r in progress.for_unit(unit.id)
        if r.status is not Status.NOT_APPLICABLE
    ]
    return render_template(
        "portal.html",
        unit=unit,
        unit_type=content.plan.unit_type_label(unit.type),
        entries=unit_entries(store, content, progress, unit, reports),
        rollup=rollup,
        results=results,
        statuses=[s for s in Status if s is not Status.NOT_APPLICABLE],
        as_of=progress.as_of,
    )
