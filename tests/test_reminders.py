"""builder.reminders: what each unit and reviewer hears on a date, worked out from the
calendar's reminder days (content/calendar.yml `reminders`), plan-agnostic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from builder.plan import load_content
from builder.reminders import Decision, Waiting, digests, obligations_on
from builder.reports import load_reports

FIXTURE = Path(__file__).parent / "fixtures" / "school-safety-2025"
CONTENT = load_content(FIXTURE)
REPORTS = load_reports(FIXTURE, CONTENT)


def _told(day: date, **kwargs: object) -> dict[str, tuple[str, ...]]:
    return {
        d.recipient: d.keys
        for d in digests(CONTENT, obligations_on(CONTENT, REPORTS, day), day, **kwargs)  # type: ignore[arg-type]
    }


def test_units_hear_of_a_due_date_exactly_on_the_remind_before_days() -> None:
    escalation = CONTENT.escalation
    period = CONTENT.periods[0]
    before = {days: _told(period.due - timedelta(days=days)) for days in range(0, 15)}
    for days, told in before.items():
        keys = [key for keys in told.values() for key in keys if f"/{period.id}/" in key]
        if days in escalation.remind_before:
            assert keys and all(key.startswith("due/") and key.endswith(f"/{days}") for key in keys)
        else:
            assert keys == [], days


def test_a_unit_that_has_not_reported_hears_it_is_overdue_on_the_remind_after_days() -> None:
    period = CONTENT.periods[0]
    after = CONTENT.escalation.remind_after[0]
    day = period.due + timedelta(days=after)
    told = _told(day)
    overdue = [key for keys in told.values() for key in keys if key.startswith("overdue/")]
    assert overdue and all(key.endswith(f"/{after}") for key in overdue)
    # A report in by that day is not nagged about; one that comes in later still is.
    for report in REPORTS:
        if report.period == period.id:
            key = f"overdue/{report.unit}/{report.form}/{period.id}/{after}"
            in_by_then = report.submitted_at.date() <= day
            assert (key in told.get(f"unit:{report.unit}", ())) is not in_by_then


def test_a_digest_is_chinese_plain_text_with_a_title_and_one_line_per_notice() -> None:
    period = CONTENT.periods[0]
    day = period.due - timedelta(days=CONTENT.escalation.remind_before[0])
    digest = digests(CONTENT, obligations_on(CONTENT, REPORTS, day), day)[0]
    unit = next(u for u in CONTENT.units if digest.recipient == f"unit:{u.id}")
    assert digest.title.startswith(f"【{CONTENT.plan.title}】{unit.name}")
    assert "到期" in digest.body and "还有" in digest.body
    head, _, footer = digest.body.partition("\n\n目前尚需办理")
    assert head.count("\n") == 1 + len(digest.notices)
    assert footer  # what the unit still owes follows the notices


def test_a_reminder_about_one_report_lists_everything_the_unit_still_owes_overdue_first() -> None:
    period = CONTENT.periods[1]
    day = period.due - timedelta(days=CONTENT.escalation.remind_before[0])
    obligations = obligations_on(CONTENT, REPORTS, day)
    for digest in digests(CONTENT, obligations, day):
        unit = digest.recipient.removeprefix("unit:")
        owed = [o for o in obligations[unit] if o.state in ("missing", "due_soon")]
        lines = [line for line in digest.footer if line.startswith("- ")]
        assert digest.footer[0] == f"目前尚需办理 {len(owed)} 份报表："
        assert len(lines) == len(owed)
        overdue = [n for n, line in enumerate(lines) if "逾期未报" in line]
        assert overdue == list(range(len(overdue)))  # the overdue ones first


def test_decisions_are_told_to_their_unit_and_the_queue_to_each_reviewer() -> None:
    unit = CONTENT.units[0]
    form = CONTENT.forms[0]
    returned = Decision("s1", unit.id, form.id, CONTENT.periods[0].id, "rejected", "照片不清楚")
    approved = Decision("s2", unit.id, form.id, CONTENT.periods[1].id, "approved")
    oldest = datetime(2025, 7, 1, 9, tzinfo=UTC)
    waiting = [
        Waiting("s3", unit.id, form.id, "p", oldest + timedelta(days=2)),
        Waiting("s4", CONTENT.units[1].id, form.id, "p", oldest),
    ]
    day = date(2025, 7, 5)  # no scheduled reminder that day
    result = digests(
        CONTENT, {}, day, decisions=[returned, approved], reviewers=["checker"], waiting=waiting
    )
    by_recipient = {d.recipient: d for d in result}
    unit_digest = by_recipient[f"unit:{unit.id}"]
    assert unit_digest.keys == ("decision/s1/rejected", "decision/s2/approved")
    assert "退回原因：照片不清楚" in unit_digest.body and "已审核通过" in unit_digest.body
    queue = by_recipient["reviewer:checker"]
    assert queue.keys == ("queue/checker/2025-07-05",)
    assert "2 份" in queue.body and CONTENT.units[1].name in queue.body and "4 天" in queue.body


def test_a_failed_reminder_is_told_again_while_the_report_is_owed_and_not_once_it_is_in() -> None:
    period = CONTENT.periods[0]
    day = period.due - timedelta(days=3)  # no scheduled reminder that day
    told = _told(day)
    assert not any(key.startswith("due/") for keys in told.values() for key in keys)
    owed_unit = next(
        u.id
        for u in CONTENT.units
        if not any(r.unit == u.id and r.period == period.id for r in REPORTS)
    )
    form = next(
        f
        for f in CONTENT.forms
        if period.id in f.periods and f.applies_to.matches(CONTENT.unit(owed_unit))
    )
    key = f"due/{owed_unit}/{form.id}/{period.id}/7"
    retried = _told(day, retry={f"unit:{owed_unit}": [key, "due/gone/x/y/7"]})
    assert retried[f"unit:{owed_unit}"] == (key,)
