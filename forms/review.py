"""Review: the queue of submissions and one submission as a readable table, its raw diff,
and approve / reject (a reason is required)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from builder.form_checks import EXPLANATION_PROMPT, check_values
from builder.impact import Impact
from builder.model import Content, Status
from builder.progress import Rollup
from builder.records import read_record
from builder.rules import format_value
from forms.auth import current_account, login_required
from forms.changes import compare_report, latest_before, previous_period
from forms.corrections import earlier_approved
from forms.fill import report_rows, state_label
from forms.forges.base import ForgeError
from forms.outbox import APPROVED, REJECTED, SUPERSEDED
from forms.permissions import require_identifier, require_review
from forms.repository import RepositoryError
from forms.services import services
from forms.submissions import InvalidState

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord

bp = Blueprint("review", __name__)
log = logging.getLogger(__name__)

OPEN_STATES = ("queued", "in_review")
MAX_REASON = 500


def _reviewer() -> Any:
    account = current_account()
    assert account is not None
    require_review(account)
    return account


@dataclass(frozen=True)
class ImpactRow:
    """One line of the status preview, as the reviewer reads it."""

    what: str  # 指标 / 任务 / 单位 / 全部任务
    name: str
    before: str
    after: str
    before_status: Status
    after_status: Status
    status_changed: bool


def _rollup_text(rollup: Rollup) -> str:
    return f"{rollup.status.label}（完成 {rollup.met}/{rollup.applicable}）"


def impact_rows(content: Content, impact: Impact) -> list[ImpactRow]:
    """The preview's lines: each unit x indicator, then the unit's, tasks' and the plan's
    roll-ups, before -> after."""
    indicators = {i.id: (t, i) for t in content.tasks for i in t.indicators}
    tasks = {t.id: t for t in content.tasks}
    rows = []
    for change in impact.indicators:
        task, indicator = indicators[change.after.indicator]
        rows.append(
            ImpactRow(
                "指标",
                f"{task.number}. {indicator.title}",
                f"{format_value(indicator, change.before.value)}，{change.before.status.label}",
                f"{format_value(indicator, change.after.value)}，{change.after.status.label}",
                change.before.status,
                change.after.status,
                change.status_changed,
            )
        )
    scopes = {"unit": "本单位", "task": "任务", "plan": "全部任务"}
    for rollup in impact.rollups:
        name = content.plan.title
        if rollup.scope == "task":
            name = f"{tasks[rollup.id].number}. {tasks[rollup.id].title}"
        elif rollup.scope == "unit":
            name = content.unit(rollup.id).name
        rows.append(
            ImpactRow(
                scopes[rollup.scope],
                name,
                _rollup_text(rollup.before),
                _rollup_text(rollup.after),
                rollup.before.status,
                rollup.after.status,
                rollup.status_changed,
            )
        )
    return rows


def _titles() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    content = services().content
    return (
        {u.id: u.name for u in content.units},
        {f.id: f.title for f in content.forms},
        {p.id: p.title for p in content.periods},
    )


@bp.route("/review/")
@login_required
def queue() -> Any:
    _reviewer()
    records = services().submissions.list()
    waiting = sorted((r for r in records if r.state in OPEN_STATES), key=lambda r: r.submitted_at)
    decided = sorted(
        (r for r in records if r.state not in OPEN_STATES),
        key=lambda r: r.submitted_at,
        reverse=True,
    )[:50]
    units, forms, periods = _titles()
    return render_template(
        "review_queue.html",
        waiting=waiting,
        decided=decided,
        units=units,
        forms=forms,
        periods=periods,
        state_label=state_label,
    )


def _submission(submission_id: str) -> SubmissionRecord:
    """The submission a URL names: 400 for a malformed id, 404 for an unknown one."""
    record = services().submissions.get(require_identifier(submission_id))
    if record is None:
        abort(404)
    return record


def _detail(
    submission_id: str, reason_error: str | None = None, reason: str = "", status: int = 200
) -> Any:
    store = services()
    record = _submission(submission_id)
    report = store.submissions.read_report(record.id)
    form = next((f for f in store.content.forms if f.id == record.form), None)
    rows = (
        report_rows(form, report.values)
        if form
        else [(name, str(value)) for name, value in report.values.items()]
    )
    unit = next((u for u in store.content.units if u.id == record.unit), None)
    values = read_record(form, report.values)[0] if form is not None else {}
    # Recomputed from the figures, as the reporter saw them when submitting.
    findings = []
    if form is not None and unit is not None:
        earlier = earlier_approved(store.root, store.content, form, unit.id, record.period)
        findings = check_values(form, values, unit, earlier)
    units, forms, periods = _titles()
    newest = (
        store.submissions.outbox.newest_in_slot(record.unit, record.form, record.period)
        if record.state == SUPERSEDED
        else None
    )
    changes, impact = None, None
    state = store.main_progress.state([report])
    if form is not None and state is not None:
        previous = previous_period(store.content, form, record.period)
        changes = compare_report(
            form,
            report,
            latest_before(state.slot(record.unit, record.form, record.period), report),
            latest_before(state.slot(record.unit, record.form, previous), report)
            if previous
            else None,
        )
    if record.state in OPEN_STATES:
        impact = store.main_progress.impact(report)
    return (
        render_template(
            "review_detail.html",
            record=record,
            newest=newest,
            changes=changes,
            impact=impact,
            impact_rows=impact_rows(store.content, impact) if impact else None,
            periods=periods,
            report=report,
            rows=rows,
            findings=findings,
            explanation_prompt=EXPLANATION_PROMPT,
            diff=store.submissions.diff(record.id),
            unit_name=units.get(record.unit, record.unit),
            form_title=forms.get(record.form, record.form),
            period_title=periods.get(record.period, record.period),
            state=state_label(record),
            can_decide=record.state in OPEN_STATES,
            reason_error=reason_error,
            reason=reason,
        ),
        status,
    )


@bp.route("/review/<submission_id>")
@login_required
def detail(submission_id: str) -> Any:
    _reviewer()
    return _detail(submission_id)


@bp.route("/review/<submission_id>/approve", methods=["POST"])
@login_required
def approve(submission_id: str) -> Any:
    account = _reviewer()
    store = services()
    record = _submission(submission_id)
    email = f"{account.name}@{services().settings.email_domain}"
    return _decide(
        record,
        "approving",
        lambda: store.submissions.approve(record.id, account.display_name, email),
        failed="审核通过操作未能完成，请稍后重试。",
        done=f"已通过填报 {record.id}。{_site_note(record)}",
    )


def _site_note(record: SubmissionRecord) -> str:
    """What the rebuilt site will show of an approved report: progress is counted as of
    the site's date (mkdocs.yml `as_of`; a demo keeps one in the past), and a report
    submitted after it is not counted but listed on its unit's page under its own heading
    (builder.pages), which the reviewer should be told rather than promised new figures."""
    as_of = services().as_of
    if as_of is not None and record.submitted_at.date() > as_of:
        return (
            f"网站按 {as_of.isoformat()} 统计进度，此填报晚于该日期提交，不计入进度；"
            "重新生成后将在本单位页面的“统计日期后收到的填报”中列出。"
        )
    return "网站将在重新生成后显示新数据。"


@bp.route("/review/<submission_id>/reject", methods=["POST"])
@login_required
def reject(submission_id: str) -> Any:
    account = _reviewer()
    store = services()
    record = _submission(submission_id)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _detail(record.id, "请填写退回原因", reason, status=422)
    if len(reason) > MAX_REASON:
        return _detail(record.id, f"退回原因不能超过 {MAX_REASON} 个字", reason, status=422)
    return _decide(
        record,
        "rejecting",
        lambda: store.submissions.reject(record.id, account.display_name, reason),
        failed="退回操作未能完成，请稍后重试。",
        done=f"已退回填报 {record.id}。",
    )


def _decide(
    record: SubmissionRecord, doing: str, decision: Callable[[], object], *, failed: str, done: str
) -> Any:
    """Approve or return once: a decided, refused or failed decision goes back to the
    submission with its message, a taken one to the queue."""
    back = url_for("review.detail", submission_id=record.id)
    if record.state in (APPROVED, REJECTED):
        flash("该填报已审核过，无需重复操作。", "info")
        return redirect(back)
    try:
        decision()
    except InvalidState as error:
        flash(error.user_message, "error")
        return redirect(back)
    except ForgeError as error:
        # The forge's own reason (a moved head, a rate limit, ...) says what to do next.
        log.exception("%s %s failed", doing, record.id)
        flash(error.user_message, "error")
        return redirect(back)
    except (OSError, RepositoryError):
        log.exception("%s %s failed", doing, record.id)
        flash(failed, "error")
        return redirect(back)
    services().decision_made()
    flash(done, "success")
    return redirect(url_for("review.queue"))
