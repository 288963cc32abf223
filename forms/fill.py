"""Filling a form: the fill page (draft save and resume, evidence), the check-your-answers
page with the final submit, the confirmation page and evidence downloads.

A correction starts from the report it corrects (forms.corrections).
"""

from __future__ import annotations

import io
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from builder.form_checks import (
    EXPLANATION_MAX_LENGTH,
    EXPLANATION_PROMPT,
    Finding,
    check_errors,
    check_values,
    check_warnings,
    explanation_error,
)
from builder.model import (
    Form,
    FormField,
    Period,
    Report,
    Unit,
)
from builder.records import json_values, read_record
from builder.reports import CORRECTION_REASON_MAX, report_document
from forms.accounts import Account
from forms.auth import (
    HELD_TYPING_SESSION_KEY,
    ask_to_log_in_again,
    current_account,
    held_key,
    login_required,
)
from forms.corrections import (
    CORRECTION_CONTROLS,
    CORRECTION_REASON_PROMPT,
    EARLIER_INPUT,
    REMOVE_EARLIER_INPUT,
    Earlier,
    carry_evidence,
    correction_reason_error,
    earlier_approved,
    earlier_report,
    is_correction,
    typed_as_text,
)
from forms.drafts import Draft, HeldTyping
from forms.evidence import (
    EvidenceError,
    check_upload,
    is_stored_name,
    stored_name,
    too_many_files,
)
from forms.formgen import build_form, display_value, posted_values, widget_kind
from forms.limits import accepts_uploads
from forms.outbox import ENDED_UNDECIDED, OPEN
from forms.permissions import (
    by_id,
    can_submit,
    malformed,
    require_identifier,
    require_submit,
    require_view_unit,
    resolve_form,
    resolve_unit,
)
from forms.portal import STATE_LABELS
from forms.repository import RepositoryError
from forms.services import services
from forms.storage import is_storage_failure
from forms.submissions import EvidenceFile, InvalidState

bp = Blueprint("fill", __name__)
log = logging.getLogger(__name__)

STORAGE_ERROR = (
    "系统暂时无法保存您的填报（服务器存储空间不足或不可写）。"
    "您填写的内容已作为草稿保留，请稍后再试或联系管理员。"
)


@dataclass(frozen=True)
class Target:
    unit: Unit
    form: Form
    period: Period
    account: Account

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.unit.id, self.form.id, self.period.id)


def _target(unit_id: str, form_id: str, period_id: str) -> Target:
    content = services().content
    account = current_account()
    assert account is not None
    unit = resolve_unit(content, unit_id)
    form, period = resolve_form(content, unit, form_id, period_id)
    require_submit(account, unit.id)
    return Target(unit, form, period, account)


def field_anchor(field: FormField) -> str:
    """The element an error summary link jumps to (the first radio of a yes/no group)."""
    return f"{field.name}-0" if widget_kind(field) == "radio" else field.name


def error_summary(form: Form, errors: dict[str, str]) -> list[tuple[str | None, str, str]]:
    """(anchor, title, message) in the form's field order; unknown names last, unlinked."""
    summary: list[tuple[str | None, str, str]] = []
    for field in form.fields:
        if field.name in errors:
            summary.append((field_anchor(field), field.title or field.name, errors[field.name]))
    for name, message in errors.items():
        if form.field_named(name) is None:
            summary.append((None, name, message))
    return summary


def _render_fill(
    target: Target,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    file_errors: list[str] | None = None,
    status: int = 200,
    earlier: Earlier | None = None,
) -> Any:
    store = services()
    draft = store.drafts.load(*target.key)
    errors = errors or {}
    file_errors = file_errors or []
    summary = error_summary(target.form, errors)
    summary += [("evidence", "佐证材料", message) for message in file_errors]
    return (
        render_template(
            "fill.html",
            unit=target.unit,
            form=target.form,
            period=target.period,
            wtform=build_form(target.form, values),
            fields=[(field, widget_kind(field)) for field in target.form.fields],
            errors=errors,
            summary=summary,
            file_errors=file_errors,
            files=draft.files if draft else (),
            saved_at=draft.updated_at if draft and draft.account else None,
            earlier=earlier,
            earlier_input=EARLIER_INPUT,
            remove_earlier_input=REMOVE_EARLIER_INPUT,
            max_files=services().settings.evidence_max_files,
            max_mb=services().settings.evidence_max_bytes // (1024 * 1024),
        ),
        status,
    )


def _accept_files(target: Target) -> list[str]:
    """Check and attach the uploaded files; Chinese messages for the refused ones."""
    store = services()
    settings = store.settings
    messages: list[str] = []
    uploads = [upload for upload in request.files.getlist("evidence") if upload.filename]
    draft = store.drafts.load(*target.key) if uploads else None
    held = sum(file.size for file in draft.files) if draft else 0
    for upload in uploads:
        data = upload.read(settings.evidence_max_bytes + 1)
        try:
            checked = check_upload(upload.filename or "", data, settings.evidence_max_bytes)
        except EvidenceError as error:
            messages.append(str(error))
            continue
        refusal = store.quotas.evidence_refusal(
            store.submissions.outbox,
            target.unit.id,
            target.period.id,
            held,
            len(data),
            checked.name,
        )
        if refusal is not None:
            messages.append(refusal)
            continue
        added = store.drafts.add_file(
            *target.key, checked.name, checked.media_type, data, settings.evidence_max_files
        )
        if added is None:
            messages.append(too_many_files(checked.name, settings.evidence_max_files))
        else:
            held += added.size
    return messages


def typing_posted_without_session() -> Any | None:
    """The login page for a fill page posted after its session ended (expired, logged out
    elsewhere, its CSRF token gone with it), holding what was typed; None for any other
    request. Nothing is saved: the post is not trusted, only kept for its author."""
    if request.method != "POST" or request.endpoint != "fill.edit":
        return None
    if current_account() is not None:
        return None
    args = request.view_args or {}
    next_url = url_for("fill.edit", **args)
    try:
        unit = resolve_unit(services().content, str(args.get("unit_id", "")))
        form, period = resolve_form(
            services().content, unit, str(args.get("form_id", "")), str(args.get("period_id", ""))
        )
    except HTTPException:
        return ask_to_log_in_again(None, next_url)  # no such form: nothing to hold
    values = {
        name: value
        for name, value in posted_values(form, request.form).items()
        if name not in CORRECTION_CONTROLS and form.field_named(name)
    }
    return ask_to_log_in_again(HeldTyping(unit.id, form.id, period.id, values), next_url)


def _keeps_typing_without_session(view: Any) -> Any:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        answer = typing_posted_without_session()
        return answer if answer is not None else view(*args, **kwargs)

    return wrapped


def _held_typing(target: Target) -> dict[str, str] | None:
    """Typing held at the login that opened this session, if it was for this form."""
    key = held_key(session.pop(HELD_TYPING_SESSION_KEY, None))
    return services().drafts.take_held(key, *target.key) if key else None


@bp.route("/units/<unit_id>/<form_id>/<period_id>/", methods=["GET", "POST"])
@_keeps_typing_without_session
@login_required
@accepts_uploads
def edit(unit_id: str, form_id: str, period_id: str) -> Any:
    target = _target(unit_id, form_id, period_id)
    store = services()
    if request.method == "GET":
        held = _held_typing(target)
        if held is not None:
            flash("以下是登录过期前您填写的内容，尚未保存，请核对后点击保存或继续。", "info")
            return _render_fill(target, held)
        draft = store.drafts.load(*target.key)
        if draft is not None:
            # The draft wins over the earlier report: it is the user's newer typing.
            return _render_fill(target, draft.values)
        earlier = earlier_report(*target.key)
        values = typed_as_text(target.form, earlier.report.values) if earlier else {}
        return _render_fill(target, values, earlier=earlier)

    action = request.form.get("action")
    if action not in ("save", "continue"):
        abort(400)
    posted = {
        name: value
        for name, value in posted_values(target.form, request.form).items()
        if name not in CORRECTION_CONTROLS
    }
    known = {name: value for name, value in posted.items() if target.form.field_named(name)}
    # The earlier report's evidence joins the draft when the draft begins, never again:
    # a file removed from a draft later must stay removed. (Only a page that listed an
    # earlier report's files asks; every other save skips the extra read.)
    earlier_id = request.form.get(EARLIER_INPUT)
    starting = bool(earlier_id) and store.drafts.load(*target.key) is None
    for number in request.form.getlist("remove_file"):
        # File numbers are small; a forged 20-digit one would overflow sqlite's integer.
        if number.isascii() and number.isdigit() and len(number) <= 9:
            store.drafts.remove_file(*target.key, int(number))
    # The draft is saved whatever the outcome, so nothing typed is ever lost.
    store.drafts.save(*target.key, known, target.account.name)
    file_errors: list[str] = []
    if starting and earlier_id:
        removed = set(request.form.getlist(REMOVE_EARLIER_INPUT))
        file_errors += carry_evidence(target.key, earlier_id, removed)
    file_errors += _accept_files(target)

    if action == "save":
        if file_errors:
            return _render_fill(target, known, file_errors=file_errors, status=422)
        flash("草稿已保存。您可以稍后回到此页继续填写。", "success")
        return redirect(url_for("fill.edit", unit_id=unit_id, form_id=form_id, period_id=period_id))

    values, errors = read_record(target.form, posted)
    if not errors:
        errors = check_errors(check_values(target.form, values, target.unit))
    if errors or file_errors:
        return _render_fill(target, posted, errors, file_errors, status=422)
    return redirect(url_for("fill.check", unit_id=unit_id, form_id=form_id, period_id=period_id))


# How long a repeated confirmation waits for the first one's commit before answering.
CONFIRMATION_WAIT = 20.0


def new_submission_id(now: datetime) -> str:
    """UTC timestamp + random suffix: sortable, unique across workers without coordination."""
    return f"{now.astimezone(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _local_now() -> datetime:
    """Now, in the zone a report records: TIMEZONE when set, else the plan's own."""
    store = services()
    return datetime.now(ZoneInfo(store.settings.timezone or store.content.plan.timezone))


def build_report(target: Target, values: dict[str, Any], now: datetime) -> Report:
    """The report a submission commits; its evidence is the draft's files (submit())."""
    return Report(
        id=new_submission_id(now),
        form=target.form.id,
        period=target.period.id,
        unit=target.unit.id,
        # Milliseconds: a correction sent within the same second as the report it
        # corrects must still sort after it (the latest submission wins).
        submitted_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        submitted_by={"account": target.account.name, "name": target.account.display_name},
        values=json_values(values),
    )


@bp.route("/units/<unit_id>/<form_id>/<period_id>/check", methods=["GET", "POST"])
@login_required
def check(unit_id: str, form_id: str, period_id: str) -> Any:
    target = _target(unit_id, form_id, period_id)
    store = services()
    edit_url = url_for("fill.edit", unit_id=unit_id, form_id=form_id, period_id=period_id)
    posted_revision = request.form.get("revision") if request.method == "POST" else None
    if posted_revision:
        # A repeated confirmation (double click, resent request, back and again).
        earlier = store.drafts.confirmed(*target.key, posted_revision)
        if earlier is not None:
            return _receipt_of_confirmed(earlier)
    draft = store.drafts.load(*target.key)
    if draft is None:
        return _check_without_draft(target, edit_url)
    if posted_revision and posted_revision != draft.revision:
        flash("草稿在核对后又被修改过，请再次核对以下内容后提交。", "info")
        return redirect(request.path)
    values, errors = read_record(target.form, draft.values)
    # What the history checks compare with: the unit's approved report of an earlier period.
    last_approved = earlier_approved(
        store.root, store.content, target.form, target.unit.id, target.period.id
    )
    findings = [] if errors else check_values(target.form, values, target.unit, last_approved)
    if errors or check_errors(findings):
        flash("表单中还有需要修改的内容，请检查后再继续。", "error")
        return redirect(edit_url)
    warnings = check_warnings(findings)
    explanation = _asked_text("explanation", bool(warnings), explanation_error)
    # A correction says why it replaces the slot's report; a first report is asked nothing.
    reason = _asked_text("correction_reason", is_correction(*target.key), correction_reason_error)
    if request.method == "GET" or explanation.error or reason.error:
        return _check_page(target, draft, values, edit_url, warnings, explanation, reason)
    return _submit(target, draft, values, explanation.text, reason.text)


def _check_without_draft(target: Target, edit_url: str) -> Any:
    """The check page of a slot without a draft: the receipt when the draft has just been
    submitted, else back to the fill page."""
    earlier = services().drafts.confirmed(*target.key)
    if earlier is not None:
        return _receipt_of_confirmed(earlier)
    submitted = _latest_submission(target)
    if submitted is not None:
        # Back to the check page after submitting: say so, not "nothing to submit".
        flash(
            "本期已提交过这份表单，以下是提交回执。如需修改，请在本单位填报页点击“更正”。",
            "info",
        )
        return redirect(url_for("fill.submission", submission_id=submitted.id))
    flash("请先填写表单，填好后再核对提交。", "info")
    return redirect(edit_url)


@dataclass(frozen=True)
class AskedText:
    """A text the check page asks for before the submit (the explanation of warnings, the
    reason of a correction): what was posted and, once posted, what is wrong with it."""

    asked: bool
    text: str
    error: str | None


def _asked_text(name: str, asked: bool, error_of: Callable[[str], str | None]) -> AskedText:
    """The posted text `name` when the page asks for it, checked only when posted."""
    text = request.form.get(name, "").strip() if asked else ""
    error = error_of(text) if request.method == "POST" and asked else None
    return AskedText(asked, text, error)


def _check_page(
    target: Target,
    draft: Draft,
    values: dict[str, Any],
    edit_url: str,
    warnings: list[Finding],
    explanation: AskedText,
    reason: AskedText,
) -> Any:
    """The check-your-answers page: the answers, the files and what is asked before the
    submit; 422 when a posted explanation or reason will not do."""
    rows = [
        (field, display_value(field, values.get(field.name)), field_anchor(field))
        for field in target.form.fields
    ]
    page = render_template(
        "check.html",
        unit=target.unit,
        form=target.form,
        period=target.period,
        rows=rows,
        files=draft.files,
        edit_url=edit_url,
        revision=draft.revision,
        warnings=warnings,
        explanation=explanation.text,
        explanation_error=explanation.error,
        explanation_prompt=EXPLANATION_PROMPT,
        explanation_max_length=EXPLANATION_MAX_LENGTH,
        correcting=reason.asked,
        correction_reason=reason.text,
        reason_error=reason.error,
        reason_prompt=CORRECTION_REASON_PROMPT,
        reason_max_length=CORRECTION_REASON_MAX,
    )
    return (page, 422) if explanation.error or reason.error else page


def _submit(
    target: Target,
    draft: Draft,
    values: dict[str, Any],
    explanation: str,
    correction_reason: str = "",
) -> Any:
    """Commit a checked draft once (quotas, the confirmation, the commit); the draft is
    kept on every failure and deleted only once the submission is stored."""
    store = services()
    refusal = _quota_refusal(target, draft)
    if refusal is not None:
        return render_template("error.html", title="暂时不能提交", message=refusal), 429
    evidence_files = _evidence_files(target, draft)
    report = replace(
        build_report(target, values, _local_now()),
        explanation=explanation,
        correction_reason=correction_reason,
    )
    # One submission per draft revision, however many requests confirm it at once.
    try:
        first = store.drafts.confirm(*target.key, draft.revision, report.id)
    except sqlite3.OperationalError as error:
        # A full or read-only disk: nothing stored, the draft kept, said as for the commit.
        if not is_storage_failure(error):
            raise
        log.exception("confirming the draft of %s failed", report.id)
        return _storage_unavailable()
    if first is not None:
        return _receipt_of_confirmed(first)
    domain = store.settings.email_domain
    try:
        record = store.submissions.submit(
            report_document(report),
            evidence_files,
            target.account.display_name,
            f"{target.account.name}@{domain}",
        )
    except (OSError, RepositoryError):
        store.drafts.unconfirm(*target.key, draft.revision)
        log.exception("submission %s could not be stored", report.id)
        return _storage_unavailable()
    except ValueError:
        # Something the fill page accepted that the stored report may not hold: a bug to
        # fix, but the user gets a way on and keeps the draft, never a 500 and a stuck draft.
        store.drafts.unconfirm(*target.key, draft.revision)
        log.exception("submission %s refused by the report checks", report.id)
        message = "填报内容未能保存，请返回修改页检查后重新提交；如问题持续，请联系管理员。"
        return render_template("error.html", title="未能提交", message=message), 422
    except BaseException:
        store.drafts.unconfirm(*target.key, draft.revision)
        raise
    # Only now, with the commit and its branch on disk, is the submission acknowledged.
    store.drafts.delete(*target.key)
    flash("填报已提交，请记下您的填报编号。", "success")
    return redirect(url_for("fill.submission", submission_id=record.id))


def _evidence_files(target: Target, draft: Draft) -> list[EvidenceFile]:
    """The draft's files as the submission stores them, numbered in the draft's order."""
    store = services()
    evidence_files: list[EvidenceFile] = []
    for position, held in enumerate(draft.files, start=1):
        data = store.drafts.file_data(*target.key, held.number)
        if data is None:
            continue
        file = stored_name(position, held.name)
        evidence_files.append(EvidenceFile(file, held.name, held.media_type, data))
    return evidence_files


def _storage_unavailable() -> Any:
    """The answer when nothing could be stored (a full or read-only disk, a git failure)."""
    return render_template("error.html", title="暂时无法提交", message=STORAGE_ERROR), 503


def _latest_submission(target: Target) -> Any:
    """The slot's newest submission still standing (not superseded or withdrawn), if any."""
    unit, form, period = target.key
    return next(
        (
            record
            for record in services().submissions.list(unit=unit)
            if (record.form, record.period) == (form, period)
            and record.state not in ENDED_UNDECIDED
        ),
        None,
    )


def _receipt_of_confirmed(submission_id: str) -> Any:
    """The receipt of a submission a draft already became. If the first confirmation is
    still being stored, wait for it: it is acknowledged to whoever asks only once stored."""
    store = services()
    deadline = time.monotonic() + CONFIRMATION_WAIT
    while store.submissions.get(submission_id) is None:
        if time.monotonic() > deadline:
            message = "该填报正在提交中，请稍后在本单位的填报列表中查看结果，无需重复提交。"
            return render_template("error.html", title="正在提交", message=message), 409
        time.sleep(0.05)
    flash("该填报已提交，无需重复提交。以下是提交回执。", "info")
    return redirect(url_for("fill.submission", submission_id=submission_id))


def _quota_refusal(target: Target, draft: Draft) -> str | None:
    """The unit's quotas, checked again at the final submit: other drafts of the unit may
    have been submitted since this one's files were accepted."""
    store = services()
    outbox = store.submissions.outbox
    refusal = store.quotas.submission_refusal(outbox, target.unit.id, datetime.now(UTC))
    if refusal is None and draft.files:
        held = sum(file.size for file in draft.files)
        refusal = store.quotas.submit_evidence_refusal(
            outbox, target.unit.id, target.period.id, held
        )
    return refusal


def _record(submission_id: str) -> Any:
    require_identifier(submission_id)
    record = services().submissions.get(submission_id)
    if record is None:
        abort(404)
    account = current_account()
    assert account is not None
    require_view_unit(account, record.unit)
    return record


def state_label(record: Any) -> str:
    state: str = record.state
    return STATE_LABELS.get(state, state)


@bp.route("/submissions/<submission_id>")
@login_required
def submission(submission_id: str) -> Any:
    record = _record(submission_id)
    store = services()
    content = store.content
    report = store.submissions.read_report(record.id)
    unit = by_id(content.units, record.unit)
    form = by_id(content.forms, record.form)
    period = by_id(content.periods, record.period)
    rows = report_rows(form, report.values) if form else []
    account = current_account()
    assert account is not None
    return render_template(
        "submission.html",
        record=record,
        can_withdraw=record.state in OPEN and can_submit(account, record.unit),
        report=report,
        unit=unit,
        form=form,
        period=period,
        rows=rows,
        state=state_label(record),
    )


@bp.route("/submissions/<submission_id>/withdraw", methods=["POST"])
@login_required
def withdraw(submission_id: str) -> Any:
    """The reporter takes a pending submission back (only their own unit's)."""
    record = _record(submission_id)
    account = current_account()
    assert account is not None
    require_submit(account, record.unit)
    back = url_for("fill.submission", submission_id=record.id)
    try:
        services().submissions.withdraw(record.id, account.display_name)
    except InvalidState as error:
        flash(error.user_message, "error")
        return redirect(back)
    except (OSError, RepositoryError):
        log.exception("withdrawing %s failed", record.id)
        flash("撤回未能完成，请稍后重试。", "error")
        return redirect(back)
    flash(f"已撤回填报 {record.id}。如需重新报送，请在本单位填报页重新填写。", "success")
    return redirect(back)


def report_rows(form: Form, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field title, value as text) in the form's order; values of unknown fields last."""
    rows = [
        (field.title or field.name, display_value(field, values.get(field.name)))
        for field in form.fields
    ]
    known = {field.name for field in form.fields}
    rows += [(name, str(value)) for name, value in values.items() if name not in known]
    return rows


@bp.route("/submissions/<submission_id>/evidence/<path:file>")
@login_required
def evidence(submission_id: str, file: str) -> Any:
    require_identifier(submission_id)
    if not is_stored_name(file):
        malformed()
    record = _record(submission_id)
    store = services()
    report = store.submissions.read_report(record.id)
    # Only names listed in the report reach the git layer: never a path chosen by the URL.
    listed = next((e for e in report.evidence if e.file == file), None)
    if listed is None:
        abort(404)
    try:
        data = store.submissions.read_evidence(record.id, listed.file)
    except (InvalidState, FileNotFoundError, KeyError):
        abort(404)
    return send_file(
        io.BytesIO(data),
        mimetype=listed.media_type,
        as_attachment=True,
        download_name=listed.name,
    )
