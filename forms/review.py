"""Review: the queue of submissions (filters, waiting ages, a batch approval), one
submission as a readable table with its raw diff, and approve (an optional comment) /
reject (a reason is required), each taken only from its confirmation page."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer

from builder.form_checks import EXPLANATION_PROMPT, Finding, check_values
from builder.impact import Impact
from builder.model import Content, Form, Report, Status, is_identifier
from builder.pages import reporting_status
from builder.progress import Rollup
from builder.records import read_record
from builder.rules import format_value
from forms.auth import current_account, login_required
from forms.changes import ReportChanges, compare_report, latest_before, previous_period
from forms.corrections import earlier_approved
from forms.fill import report_rows, state_label
from forms.forges.base import ForgeError
from forms.outbox import APPROVED, REJECTED, STATE_LABELS, STATES, SUPERSEDED
from forms.permissions import require_identifier, require_review
from forms.repository import RepositoryError
from forms.services import services
from forms.site import published_page_url
from forms.submissions import InvalidState, review_comment

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord

bp = Blueprint("review", __name__)
log = logging.getLogger(__name__)

OPEN_STATES = ("queued", "in_review")
MAX_REASON = 500
MAX_COMMENT = 500
# At most this many submissions in one batch approval (its confirmation lists each).
MAX_BATCH = 200
# A confirmation page's token is good for this long (seconds), then it asks again.
CONFIRM_MAX_AGE = 3600
# The queue's state filter: "" is every undecided one (the default view).
DECIDED = "decided"
STATE_CHOICES = (
    ("", "待审核"),
    (DECIDED, "已审核（通过或退回）"),
    *((state, STATE_LABELS[state]) for state in STATES),
    ("all", "全部"),
)
AGE_CHOICES = ((1, "1 天以上"), (3, "3 天以上"), (7, "7 天以上"), (30, "30 天以上"))


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


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, read from its GET parameters; a value that is not one of the
    choices filters nothing (a stale bookmark still shows a queue)."""

    unit: str = ""
    unit_type: str = ""
    form: str = ""
    period: str = ""
    state: str = ""
    age: int = 0  # waiting at least this many days
    newest_first: bool = False

    @classmethod
    def read(cls, args: Mapping[str, str], content: Content) -> QueueFilters:
        def choice(name: str, allowed: Iterable[str]) -> str:
            value = args.get(name, "")
            return value if value in set(allowed) else ""

        age = args.get("age", "")
        return cls(
            unit=args.get("unit", "") if is_unit(content, args.get("unit", "")) else "",
            unit_type=choice("unit_type", (t.id for t in content.plan.unit_types)),
            form=choice("form", (f.id for f in content.forms)),
            period=choice("period", (p.id for p in content.periods)),
            state=choice("state", (value for value, _ in STATE_CHOICES)),
            age=int(age) if age in {str(days) for days, _ in AGE_CHOICES} else 0,
            newest_first=args.get("order") == "newest",
        )

    def states(self) -> tuple[str, ...]:
        if self.state == "all":
            return STATES
        if self.state == DECIDED:
            return (APPROVED, REJECTED)
        return (self.state,) if self.state else OPEN_STATES

    def keeps(self, record: SubmissionRecord, unit_types: Mapping[str, str], now: datetime) -> bool:
        return (
            record.state in self.states()
            and (not self.unit or record.unit == self.unit)
            and (not self.unit_type or unit_types.get(record.unit) == self.unit_type)
            and (not self.form or record.form == self.form)
            and (not self.period or record.period == self.period)
            and (not self.age or (now - record.submitted_at).total_seconds() >= self.age * 86400)
        )

    @property
    def undecided_only(self) -> bool:
        """Only undecided submissions are listed: each can be selected for a batch."""
        return set(self.states()) <= set(OPEN_STATES)


def is_unit(content: Content, unit_id: str) -> bool:
    return any(u.id == unit_id for u in content.units) if unit_id else False


def waiting_words(since: datetime, now: datetime) -> str:
    """How long a submission has waited, as a reviewer reads it: 等待 3 天."""
    hours = int((now - since).total_seconds() // 3600)
    if hours < 1:
        return "等待不到 1 小时"
    if hours < 24:
        return f"等待 {hours} 小时"
    return f"等待 {hours // 24} 天"


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


@bp.route("/review/")
@login_required
def queue() -> Any:
    _reviewer()
    return _queue()


def _queue(batch_error: str | None = None, status: int = 200) -> Any:
    content = services().content
    filters = QueueFilters.read(request.args, content)
    now = _now()
    unit_types = {u.id: u.type for u in content.units}
    records = sorted(
        (r for r in services().submissions.list() if filters.keeps(r, unit_types, now)),
        key=lambda r: (r.submitted_at, r.id),
        reverse=filters.newest_first,
    )
    units, forms, periods = _titles()
    return render_template(
        "review_queue.html",
        records=records,
        waiting_count=sum(1 for r in records if r.state in OPEN_STATES),
        filters=filters,
        filtered=filters != QueueFilters(),
        selectable=filters.undecided_only,
        content=content,
        state_choices=STATE_CHOICES,
        age_choices=AGE_CHOICES,
        waiting={r.id: waiting_words(r.submitted_at, now) for r in records},
        units=units,
        forms=forms,
        periods=periods,
        state_label=state_label,
        batch_error=batch_error,
        max_comment=MAX_COMMENT,
        owing_url=_owing_url(),
    ), status


def _owing_url() -> str | None:
    """The published 催报名单 (units that owe reports), for a reviewer chasing them."""
    url = published_page_url(services().settings.sites_dir, reporting_status.PATH)
    return None if url is None else f"{url}#{reporting_status.OWING_ANCHOR}"


def _submission(submission_id: str) -> SubmissionRecord:
    """The submission a URL names: 400 for a malformed id, 404 for an unknown one."""
    record = services().submissions.get(require_identifier(submission_id))
    if record is None:
        abort(404)
    return record


def _detail(
    submission_id: str,
    reason_error: str | None = None,
    reason: str = "",
    status: int = 200,
    *,
    comment_error: str | None = None,
    comment: str = "",
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
    findings = _findings(record, report, form)
    units, forms, periods = _titles()
    newest = (
        store.submissions.outbox.newest_in_slot(record.unit, record.form, record.period)
        if record.state == SUPERSEDED
        else None
    )
    changes = _changes(record, report, form)
    impact = store.main_progress.impact(report) if record.state in OPEN_STATES else None
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
            comment_error=comment_error,
            comment=comment,
            max_comment=MAX_COMMENT,
        ),
        status,
    )


def _findings(record: SubmissionRecord, report: Report, form: Form | None) -> list[Finding]:
    """The form's checks on the report, recomputed from the figures, as the reporter saw
    them when submitting; none for a form or unit the plan no longer has."""
    store = services()
    unit = next((u for u in store.content.units if u.id == record.unit), None)
    if form is None or unit is None:
        return []
    values = read_record(form, report.values)[0]
    earlier = earlier_approved(store.root, store.content, form, unit.id, record.period)
    return check_values(form, values, unit, earlier)


def _changes(record: SubmissionRecord, report: Report, form: Form | None) -> ReportChanges | None:
    """How the report differs from the slot's report it follows and from the previous
    period's; None for a form the plan no longer has or before the service has a copy
    of main."""
    store = services()
    state = store.main_progress.state([report])
    if form is None or state is None:
        return None
    previous = previous_period(store.content, form, record.period)
    return compare_report(
        form,
        report,
        latest_before(state.slot(record.unit, record.form, record.period), report),
        latest_before(state.slot(record.unit, record.form, previous), report) if previous else None,
    )


@bp.route("/review/<submission_id>")
@login_required
def detail(submission_id: str) -> Any:
    _reviewer()
    return _detail(submission_id)


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation page asked the reviewer to confirm, read back from its token."""

    decision: str  # approve | reject | batch
    ids: tuple[str, ...]
    text: str  # the comment or the reason shown on the page


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="plansite-review-confirm")


def _confirm_token(account: Any, decision: str, ids: Iterable[str], text: str) -> str:
    return _signer().dumps({"by": account.name, "do": decision, "ids": list(ids), "text": text})


def _confirmed(account: Any, decision: str) -> Confirmed | None:
    """The decision the request confirms: its token is this app's, not expired, given to
    this account for this kind of decision. None for no token or any other one (the
    reviewer is then asked again)."""
    token = request.form.get("confirm", "")
    if not token:
        return None
    try:
        data = _signer().loads(token, max_age=CONFIRM_MAX_AGE)
    except BadData:
        return None
    if (
        not isinstance(data, dict)
        or data.get("by") != account.name
        or data.get("do") != decision
        or not isinstance(data.get("ids"), list)
        or not all(isinstance(i, str) for i in data["ids"])
        or not isinstance(data.get("text"), str)
    ):
        return None
    return Confirmed(decision, tuple(data["ids"]), data["text"])


def _confirmation(
    account: Any,
    decision: str,
    records: list[SubmissionRecord],
    text: str,
    *,
    refused: list[tuple[SubmissionRecord, str]] | None = None,
) -> Any:
    """The page that asks once more before a decision, listing exactly what it decides;
    its button posts the same route with a token naming those submissions and words."""
    units, forms, periods = _titles()
    action = (
        url_for("review.batch")
        if decision == "batch"
        else url_for(f"review.{decision}", submission_id=records[0].id)
    )
    back = (
        url_for("review.queue")
        if decision == "batch"
        else url_for("review.detail", submission_id=records[0].id)
    )
    return render_template(
        "review_confirm.html",
        decision=decision,
        records=records,
        refused=refused or [],
        text=text,
        token=_confirm_token(account, decision, (r.id for r in records), text),
        action=action,
        back=back,
        units=units,
        forms=forms,
        periods=periods,
        state_label=state_label,
    )


def _refused_now(record: SubmissionRecord) -> Any:
    """The answer to a decision on a submission that cannot be decided any more."""
    back = url_for("review.detail", submission_id=record.id)
    if record.state in (APPROVED, REJECTED):
        flash("该填报已审核过，无需重复操作。", "info")
        return redirect(back)
    refusal = services().submissions.refusal(record.id)
    if refusal is not None:
        flash(refusal.user_message, "error")
    return redirect(back)


@bp.route("/review/<submission_id>/approve", methods=["POST"])
@login_required
def approve(submission_id: str) -> Any:
    account = _reviewer()
    store = services()
    record = _submission(submission_id)
    confirmed = _confirmed(account, "approve")
    if confirmed is None or confirmed.ids != (record.id,):
        if record.state not in OPEN_STATES:
            return _refused_now(record)
        comment = review_comment(request.form.get("comment", ""))
        if len(comment) > MAX_COMMENT:
            error = f"审核意见不能超过 {MAX_COMMENT} 个字"
            return _detail(record.id, status=422, comment_error=error, comment=comment)
        return _confirmation(account, "approve", [record], comment)
    email = f"{account.name}@{store.settings.email_domain}"
    return _decide(
        record,
        "approving",
        lambda: store.submissions.approve(
            record.id, account.display_name, email, comment=confirmed.text
        ),
        failed="审核通过操作未能完成，请稍后重试。",
        done=f"已通过填报 {record.id}。{_site_note(record)}",
    )


@bp.route("/review/batch", methods=["POST"])
@login_required
def batch() -> Any:
    """Approve the selected submissions after one confirmation listing them; main is
    published by one rebuild after the last merge."""
    account = _reviewer()
    store = services()
    confirmed = _confirmed(account, "batch")
    if confirmed is None:
        selected = list(dict.fromkeys(i for i in request.form.getlist("ids") if is_identifier(i)))
        if not selected:
            return _queue("请至少选择一份填报", status=422)
        if len(selected) > MAX_BATCH:
            return _queue(f"一次最多批量审核 {MAX_BATCH} 份填报", status=422)
        comment = review_comment(request.form.get("comment", ""))
        if len(comment) > MAX_COMMENT:
            return _queue(f"审核意见不能超过 {MAX_COMMENT} 个字", status=422)
        records = [r for r in (store.submissions.get(i) for i in selected) if r is not None]
        ready = [r for r in records if r.state in OPEN_STATES]
        refused = [(r, _refusal_text(r)) for r in records if r.state not in OPEN_STATES]
        if not ready:
            return _queue("所选填报都已不能审核", status=422)
        return _confirmation(account, "batch", ready, comment, refused=refused)
    email = f"{account.name}@{store.settings.email_domain}"
    approved, failed = [], []
    try:
        for submission_id in confirmed.ids:
            try:
                store.submissions.approve(
                    submission_id,
                    account.display_name,
                    email,
                    comment=confirmed.text,
                    publish=False,
                )
            except InvalidState as error:
                failed.append(f"{submission_id}：{error.user_message}")
            except ForgeError as error:
                log.exception("approving %s in a batch failed", submission_id)
                failed.append(f"{submission_id}：{error.user_message}")
            except (OSError, RepositoryError):
                log.exception("approving %s in a batch failed", submission_id)
                failed.append(f"{submission_id}：审核通过操作未能完成，请稍后重试")
            else:
                approved.append(submission_id)
    finally:
        if approved:
            store.submissions.publish_merges()
    if approved:
        flash(f"已通过 {len(approved)} 份填报。网站将在重新生成后显示新数据。", "success")
    if failed:
        flash(f"{len(failed)} 份填报未能通过：" + "；".join(failed), "error")
    return redirect(url_for("review.queue"))


def _refusal_text(record: SubmissionRecord) -> str:
    refusal = services().submissions.refusal(record.id)
    return refusal.user_message if refusal is not None else ""


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
    confirmed = _confirmed(account, "reject")
    if confirmed is None or confirmed.ids != (record.id,):
        if record.state not in OPEN_STATES:
            return _refused_now(record)
        reason = request.form.get("reason", "").strip()
        if not reason:
            return _detail(record.id, "请填写退回原因", reason, status=422)
        if len(reason) > MAX_REASON:
            return _detail(record.id, f"退回原因不能超过 {MAX_REASON} 个字", reason, status=422)
        return _confirmation(account, "reject", [record], reason)
    return _decide(
        record,
        "rejecting",
        lambda: store.submissions.reject(record.id, account.display_name, confirmed.text),
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
