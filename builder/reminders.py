"""What each recipient needs to hear on a date: one digest per unit and per reviewer.

Pure: a unit's obligations as of the date (builder.obligations), the calendar's reminder
days (`Content.escalation`), the decisions the form service made since the last run and
its review queue in; notices and digests (Chinese plain text and a title) out.

Every notice has a key naming what it is about, stable across runs, so that whoever
sends them (forms.notifications) can record what went out and never send it twice:
`due/<unit>/<form>/<period>/<days>` (N days before the due date), `overdue/.../<days>`
(N days after it), `decision/<submission>/<state>`, `queue/<reviewer>/<date>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from builder.model import Content, Escalation, Report
from builder.obligations import Obligation, plan_obligations, to_do
from builder.reporting import effective_reports, first_submissions, reporting_states

NoticeKind = Literal["due", "overdue", "returned", "approved", "queue"]

# States in which a report is still owed: reminders before and after its due date.
_REMINDED_BEFORE = frozenset({"due_soon", "not_due", "returned"})
_REMINDED_AFTER = frozenset({"missing", "returned"})


@dataclass(frozen=True)
class Notice:
    """One thing a recipient is told: a line of a digest."""

    key: str
    kind: NoticeKind
    text: str


@dataclass(frozen=True)
class Digest:
    """Everything one recipient hears in one message."""

    recipient: str  # "unit:<id>" or "reviewer:<account>"
    title: str
    notices: tuple[Notice, ...]
    # Context after the notices, not a notice of its own: everything the unit still owes,
    # so that a reminder about one report does not read as if it were the only one.
    footer: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        lines = [self.title, ""]
        lines += [f"{n}. {notice.text}" for n, notice in enumerate(self.notices, 1)]
        if self.footer:
            lines += ["", *self.footer]
        return "\n".join(lines)

    def only(self, notices: Sequence[Notice]) -> Digest:
        """The same digest with only `notices` (those a contact has not had yet)."""
        return Digest(self.recipient, self.title, tuple(notices), self.footer)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(notice.key for notice in self.notices)


@dataclass(frozen=True)
class Decision:
    """A submission approved or returned by a reviewer (the form service's outbox)."""

    submission: str
    unit: str
    form: str
    period: str
    state: Literal["approved", "rejected"]
    reason: str = ""

    @property
    def key(self) -> str:
        return f"decision/{self.submission}/{self.state}"


@dataclass(frozen=True)
class Waiting:
    """A submission in a reviewer's queue."""

    submission: str
    unit: str
    form: str
    period: str
    submitted_at: datetime


def unit_recipient(unit_id: str) -> str:
    return f"unit:{unit_id}"


def reviewer_recipient(account: str) -> str:
    return f"reviewer:{account}"


class Labels:
    """The human names of a plan's identifiers (unknown ones stay as they are)."""

    def __init__(self, content: Content):
        self.plan = content.plan.title
        self.units = {unit.id: unit.name for unit in content.units}
        self.forms = {form.id: form.title for form in content.forms}
        self.periods = {period.id: period.title for period in content.periods}

    def slot(self, form: str, period: str) -> str:
        return f"《{self.forms.get(form, form)}》（{self.periods.get(period, period)}）"

    def unit(self, unit_id: str) -> str:
        return self.units.get(unit_id, unit_id)


def _slot_key(item: Obligation) -> str:
    return f"{item.unit}/{item.form}/{item.period}"


def _due_text(item: Obligation, labels: Labels) -> str:
    when = f"{item.due.month}月{item.due.day}日"
    if item.days_to_due == 0:
        return f"{labels.slot(item.form, item.period)}今天（{when}）到期，请尽快报送。"
    days = item.days_to_due
    return f"{labels.slot(item.form, item.period)}将于 {when} 到期（还有 {days} 天），请按时报送。"


def _overdue_text(item: Obligation, labels: Labels) -> str:
    when = f"{item.due.month}月{item.due.day}日"
    still = "已退回但尚未更正" if item.state == "returned" else "尚未报送"
    return (
        f"{labels.slot(item.form, item.period)}应于 {when} 报送，已逾期 {item.days_overdue} 天，"
        f"{still}，请尽快报送。"
    )


def scheduled_notices(
    obligations: Iterable[Obligation], escalation: Escalation, labels: Labels
) -> tuple[Notice, ...]:
    """A unit's reminders due on the obligations' date: `remind_before` days before a due
    date for a report not yet in, `remind_after` days after it for one still missing."""
    notices: list[Notice] = []
    for item in obligations:
        days = item.days_to_due
        if days >= 0 and days in escalation.remind_before and item.state in _REMINDED_BEFORE:
            notices.append(Notice(f"due/{_slot_key(item)}/{days}", "due", _due_text(item, labels)))
        elif (
            days < 0
            and item.days_overdue in escalation.remind_after
            and item.state in _REMINDED_AFTER
        ):
            key = f"overdue/{_slot_key(item)}/{item.days_overdue}"
            notices.append(Notice(key, "overdue", _overdue_text(item, labels)))
    return tuple(notices)


def retried_notices(
    obligations: Iterable[Obligation], keys: Iterable[str], labels: Labels
) -> tuple[Notice, ...]:
    """Reminders that failed to go out on an earlier day, told again with today's figures
    while the report is still owed; those no longer owed are left out (their sender drops them)."""
    by_slot = {_slot_key(item): item for item in obligations}
    notices: list[Notice] = []
    for key in keys:
        kind, _, rest = key.partition("/")
        slot = rest.rsplit("/", 1)[0]
        item = by_slot.get(slot)
        if item is None:
            continue
        if kind == "due" and item.state in _REMINDED_BEFORE and item.days_to_due >= 0:
            notices.append(Notice(key, "due", _due_text(item, labels)))
        elif kind in ("due", "overdue") and item.state in _REMINDED_AFTER:
            notices.append(Notice(key, "overdue", _overdue_text(item, labels)))
    return tuple(notices)


def decision_notice(decision: Decision, labels: Labels) -> Notice:
    slot = labels.slot(decision.form, decision.period)
    if decision.state == "approved":
        return Notice(decision.key, "approved", f"{slot}已审核通过。")
    reason = f"退回原因：{decision.reason}。" if decision.reason else ""
    return Notice(decision.key, "returned", f"{slot}已被退回，请更正后重新提交。{reason}")


def queue_notice(
    reviewer: str, waiting: Sequence[Waiting], as_of: date, labels: Labels
) -> Notice | None:
    """The queue's size and its oldest waiting item; None when nothing waits."""
    if not waiting:
        return None
    oldest = min(waiting, key=lambda item: (item.submitted_at, item.submission))
    days = max(0, (as_of - oldest.submitted_at.date()).days)
    text = (
        f"审核队列中有 {len(waiting)} 份填报等待审核；最早的一份是"
        f"{labels.unit(oldest.unit)}的{labels.slot(oldest.form, oldest.period)}，"
        f"{oldest.submitted_at.date().isoformat()} 提交，已等待 {days} 天。"
    )
    return Notice(f"queue/{reviewer}/{as_of.isoformat()}", "queue", text)


def owed_lines(obligations: Iterable[Obligation], labels: Labels) -> tuple[str, ...]:
    """Everything a unit still has to do, most urgent first (builder.obligations.to_do)."""
    owed = to_do(obligations)
    if not owed:
        return ()
    lines = [f"目前尚需办理 {len(owed)} 份报表："]
    for item in owed:
        slot = labels.slot(item.form, item.period)
        if item.state == "missing":
            lines.append(f"- {slot}：逾期未报（已逾期 {item.days_overdue} 天）")
        elif item.state == "returned":
            lines.append(f"- {slot}：已退回，待更正")
        else:
            lines.append(f"- {slot}：{item.due.month}月{item.due.day}日到期")
    return tuple(lines)


def unit_digest(
    unit_id: str,
    notices: Sequence[Notice],
    as_of: date,
    labels: Labels,
    obligations: Iterable[Obligation] = (),
) -> Digest:
    title = f"【{labels.plan}】{labels.unit(unit_id)}填报通知（{as_of.isoformat()}）"
    footer = owed_lines(obligations, labels)
    return Digest(unit_recipient(unit_id), title, tuple(notices), footer)


def reviewer_digest(reviewer: str, notice: Notice, as_of: date, labels: Labels) -> Digest:
    title = f"【{labels.plan}】审核提醒（{as_of.isoformat()}）"
    return Digest(reviewer_recipient(reviewer), title, (notice,))


def obligations_on(
    content: Content, reports: Iterable[Report], as_of: date
) -> dict[str, tuple[Obligation, ...]]:
    """Every unit's obligations as of a date from the approved reports, without evaluating
    progress: reminders need the reporting states only."""
    reports = list(reports)
    effective = effective_reports(reports, as_of)
    first = first_submissions(reports, as_of)
    states = reporting_states(content, effective, first, as_of)
    return plan_obligations(states, as_of, content.escalation)


def digests(
    content: Content,
    obligations: Mapping[str, Sequence[Obligation]],
    as_of: date,
    *,
    decisions: Iterable[Decision] = (),
    retry: Mapping[str, Iterable[str]] | None = None,
    reviewers: Iterable[str] = (),
    waiting: Sequence[Waiting] = (),
    labels: Labels | None = None,
) -> list[Digest]:
    """One digest per recipient with something to hear on `as_of`: each unit's reminders
    due that day, its earlier failed ones still owed (`retry`: recipient -> keys), the
    decisions on its submissions; each reviewer the queue. Units in plan order, then
    reviewers; recipients with nothing to hear get no digest."""
    labels = labels or Labels(content)
    retry = retry or {}
    decided: dict[str, list[Notice]] = {}
    for decision in decisions:
        decided.setdefault(decision.unit, []).append(decision_notice(decision, labels))
    result: list[Digest] = []
    for unit in content.units:
        items = obligations.get(unit.id, ())
        notices = list(scheduled_notices(items, content.escalation, labels))
        recipient = unit_recipient(unit.id)
        today = {notice.key for notice in notices}
        earlier = [key for key in retry.get(recipient, ()) if key not in today]
        if earlier:
            notices += retried_notices(items, earlier, labels)
        notices += decided.get(unit.id, ())
        if notices:
            result.append(unit_digest(unit.id, notices, as_of, labels, items))
    for reviewer in reviewers:
        notice = queue_notice(reviewer, waiting, as_of, labels)
        if notice is not None:
            result.append(reviewer_digest(reviewer, notice, as_of, labels))
    return result
