"""A run of reminders: work out the digests for a date, send each contact what it has not
had, record it in the ledger. `plansite remind` runs it once; `plansite serve` runs it in
a background thread, once a day at REMIND_HOUR for the scheduled reminders, and every
NOTIFY_INTERVAL seconds (or at once when a reviewer decides) for returned and approved
reports.

Runs of several processes (gunicorn workers, a cron job beside the service) take turns
through a file lock in the instance folder, so two of them never send the same notice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from builder.model import Content
from builder.obligations import Obligation, Pending, with_submissions
from builder.reminders import Decision, Digest, Labels, Waiting, digests, obligations_on
from forms.locks import file_lock
from forms.notifications.base import Contact, Message, Notifier, SendFailed
from forms.notifications.contacts import ContactBook, notifications_database
from forms.notifications.ledger import Ledger
from forms.outbox import APPROVED, OPEN, REJECTED, SubmissionRecord
from forms.submissions import SubmissionService

log = logging.getLogger(__name__)

REVIEWER_PREFIX = "reviewer:"


@dataclass
class RunSummary:
    """What one run did; `failures` are "contact: error" lines."""

    sent: int = 0
    failed: int = 0
    already_sent: int = 0  # messages not sent because the contact had all of it
    deferred: int = 0  # not tried: the contact's last send failed too recently
    skipped: bool = False  # another process was running reminders
    failures: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.skipped:
            return "另一进程正在发送提醒，本次未运行"
        return (
            f"已发送 {self.sent} 条，发送失败 {self.failed} 条，此前已发送 {self.already_sent} 条"
        )


def decisions_of(records: Sequence[SubmissionRecord]) -> list[Decision]:
    return [
        Decision(
            r.id,
            r.unit,
            r.form,
            r.period,
            "approved" if r.state == APPROVED else "rejected",
            r.reason,
        )
        for r in records
        if r.state in (APPROVED, REJECTED)
    ]


def pending_of(
    records: Sequence[SubmissionRecord],
) -> dict[tuple[str, str, str], tuple[Pending, str]]:
    """What the form service knows of each slot beyond main: its newest submission waits
    for review, or was returned (with the reviewer's reason)."""
    newest: dict[tuple[str, str, str], SubmissionRecord] = {}
    for record in records:  # newest first
        newest.setdefault((record.unit, record.form, record.period), record)
    pending: dict[tuple[str, str, str], tuple[Pending, str]] = {}
    for slot, record in newest.items():
        if record.state in OPEN:
            pending[slot] = ("in_review", "")
        elif record.state == REJECTED:
            pending[slot] = ("returned", record.reason)
    return pending


class Reminders:
    """The reminders of one instance: its contacts, its ledger and the channels."""

    def __init__(
        self,
        content: Content,
        submissions: SubmissionService,
        instance: Path,
        notifiers: Mapping[str, Notifier],
        clock: Callable[[], float] = time.time,
    ):
        self.content = content
        self.submissions = submissions
        self.contacts = ContactBook(notifications_database(instance))
        self.ledger = Ledger(notifications_database(instance), clock)
        self.notifiers = notifiers
        self._lock = instance / "notifications.lock"
        self._wake = threading.Event()
        self._labels = Labels(content)

    def decided(self) -> None:
        """A reviewer approved or returned a report: tell its unit now. Only wakes the
        background loop, so a decision never waits for, or fails with, a notice."""
        self._wake.set()

    def run(
        self,
        as_of: date,
        *,
        scheduled: bool = True,
        dry_run: bool = False,
        show: Callable[[Contact, Message], None] | None = None,
        wait: bool = True,
    ) -> RunSummary:
        """Send what each contact should hear on `as_of` and has not had: with `scheduled`,
        the day's reminders and the review queue, and the failed ones again; always the
        decisions not told yet. `dry_run`: show each message, send and record nothing.
        `wait`: for another process's run to end (else skip this one)."""
        if dry_run:
            return self._run(as_of, scheduled, dry_run, show)
        with file_lock(self._lock, blocking=wait) as held:
            if not held:
                return RunSummary(skipped=True)
            return self._run(as_of, scheduled, dry_run, show)

    def _run(
        self,
        as_of: date,
        scheduled: bool,
        dry_run: bool,
        show: Callable[[Contact, Message], None] | None,
    ) -> RunSummary:
        contacts = self.contacts.by_recipient()
        if not contacts:
            # Nobody to tell: nothing is worked out (every serving process runs this loop)
            # and decisions made until the first contact is added stay history.
            return RunSummary()
        records = self.submissions.list()
        decisions = decisions_of(records)
        if dry_run:
            untold = [*self.ledger.untold(), *self.ledger.new_decisions(decisions)]
        else:
            self.ledger.observe(decisions)
            untold = self.ledger.untold()
        obligations: dict[str, tuple[Obligation, ...]] = {}
        retry: dict[str, list[str]] = {}
        reviewers: list[str] = []
        waiting: list[Waiting] = []
        if scheduled:
            obligations = self.obligations(as_of, records)
            retry = self.ledger.failed()
            reviewers = [
                r.removeprefix(REVIEWER_PREFIX) for r in contacts if r.startswith(REVIEWER_PREFIX)
            ]
            waiting = [
                Waiting(r.id, r.unit, r.form, r.period, r.submitted_at)
                for r in records
                if r.state in OPEN
            ]
        told = digests(
            self.content,
            obligations,
            as_of,
            decisions=untold,
            retry=retry,
            reviewers=reviewers,
            waiting=waiting,
            labels=self._labels,
        )
        summary = RunSummary()
        # The day's run tries every contact; the looks in between leave a failing one
        # alone for a growing delay instead of calling it every minute.
        resting = set() if scheduled or dry_run else self.ledger.backing_off()
        for digest in told:
            for contact in contacts.get(digest.recipient, ()):
                if contact.id in resting:
                    summary.deferred += 1
                    continue
                self._tell(contact, digest, as_of, dry_run, show, summary)
        if not dry_run:
            self._settle(told, retry, untold, contacts)
        return summary

    def obligations(
        self, as_of: date, records: Sequence[SubmissionRecord]
    ) -> dict[str, tuple[Obligation, ...]]:
        """Every unit's obligations from main's approved reports, with the submissions in
        review or returned laid over (a report in review is not nagged about)."""
        commit = self.submissions.main_commit()
        reports = self.submissions.reports_on_main(commit) if commit else []
        pending = pending_of(records)
        return {
            unit: with_submissions(items, pending)
            for unit, items in obligations_on(self.content, reports, as_of).items()
        }

    def _tell(
        self,
        contact: Contact,
        digest: Digest,
        as_of: date,
        dry_run: bool,
        show: Callable[[Contact, Message], None] | None,
        summary: RunSummary,
    ) -> None:
        had = self.ledger.sent(contact.id, digest.keys)
        notices = tuple(n for n in digest.notices if n.key not in had)
        if not notices:
            summary.already_sent += 1
            return
        fresh = digest.only(notices)
        message = Message(fresh.title, fresh.body)
        if show is not None:
            show(contact, message)
        if dry_run:
            summary.sent += 1
            return
        notifier = self.notifiers.get(contact.channel)
        error = ""
        try:
            if notifier is None:
                raise SendFailed(f"unknown channel {contact.channel!r}")
            notifier.send(contact, message)
        except SendFailed as failure:
            error = str(failure) or type(failure).__name__
        except Exception as failure:  # a bug in a channel must not stop the others
            log.exception("notifier %s failed", contact.channel)
            error = f"{type(failure).__name__}: {failure}"
        self.ledger.record(contact.id, contact.recipient, fresh.keys, as_of, error)
        if error:
            summary.failed += 1
            summary.failures.append(f"{contact.id} {contact.channel} {contact.name}: {error}")
            log.warning(
                "reminder to contact %s (%s) failed: %s", contact.id, contact.channel, error
            )
        else:
            summary.sent += 1

    def _settle(
        self,
        told: Sequence[Digest],
        retry: Mapping[str, Sequence[str]],
        untold: Sequence[Decision],
        contacts: Mapping[str, Sequence[Contact]],
    ) -> None:
        """Decisions every contact of their unit has had are told; failed reminders not
        told again today (no longer owed, an old day's queue) are dropped."""
        done = [
            decision
            for decision in untold
            if self.ledger.delivered(
                (c.id for c in contacts.get(f"unit:{decision.unit}", ())), decision.key
            )
        ]
        self.ledger.mark_told(done)
        today = {(digest.recipient, key) for digest in told for key in digest.keys}
        for recipient, keys in retry.items():
            self.ledger.drop(recipient, [key for key in keys if (recipient, key) not in today])

    def start_background(
        self,
        remind_hour: int,
        interval: float,
        as_of: Callable[[], date],
        now: Callable[[], datetime] = datetime.now,
    ) -> threading.Event:
        """Tell decisions every `interval` seconds (at once when woken by `decided`), and
        once a day from `remind_hour` (local time; -1: never) the day's reminders. Set the
        returned event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self._background_run(remind_hour, as_of(), now())
                except Exception:
                    log.exception("background reminders failed")
                self._wake.wait(interval)
                self._wake.clear()

        threading.Thread(target=loop, name="plansite-reminders", daemon=True).start()
        return stop

    def _background_run(self, remind_hour: int, as_of: date, now: datetime) -> None:
        daily = remind_hour >= 0 and now.hour >= remind_hour
        if daily and self.ledger.last_scheduled_day() != now.date():
            summary = self.run(as_of, scheduled=True, wait=False)
            if not summary.skipped:
                self.ledger.set_last_scheduled_day(now.date())
                log.info("daily reminders for %s: %s", as_of, summary.text)
        else:
            summary = self.run(as_of, scheduled=False, wait=False)
            if summary.sent or summary.failed:
                log.info("notices of decisions: %s", summary.text)
