"""The ledger of reminders and notices: what went to whom, so that nothing is sent twice.

One row per contact x key (builder.reminders names what a notice is about): sent, failed
(retried on the next run, with the last error) or dropped (a failed reminder about a
report no longer owed). The decisions the service made are recorded as they are first
seen, and told until every contact of the unit has them: a restart, another worker or a
second run the same day finds them here. It lives in the instance database
notifications.sqlite beside the contacts; every write is one transaction, synchronous
FULL: a reminder recorded as sent must not be sent again after a power cut.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

from builder.reminders import Decision
from forms.database import Database
from forms.outbox import retry_delay

SENT = "sent"
FAILED = "failed"
DROPPED = "dropped"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    contact INTEGER NOT NULL,
    key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    day TEXT NOT NULL,  -- the run's date when it was last tried
    state TEXT NOT NULL,  -- sent | failed | dropped
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    PRIMARY KEY (contact, key)
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, recipient);
CREATE TABLE IF NOT EXISTS decisions (
    submission TEXT NOT NULL,
    state TEXT NOT NULL,
    unit TEXT NOT NULL,
    form TEXT NOT NULL,
    period TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    seen REAL NOT NULL,
    told INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (submission, state)
);
CREATE TABLE IF NOT EXISTS ledger_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Set once, on the first look at the decisions: those made before reminders were set up
# are history, not news (an instance with years of decisions must not flood its units).
_BASELINE = "decisions_baseline"
_LAST_SCHEDULED = "last_scheduled_day"


# The loop looks for decisions to tell every minute; a contact whose last send failed is
# tried again after these seconds, doubled with every further failure, at most an hour.
RETRY_BASE = 60.0
RETRY_CAP = 3600.0


class Ledger:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._db = Database(path)
        with self._db.transaction() as db:
            db.executescript(_SCHEMA)

    # -- decisions -------------------------------------------------------------------------

    def new_decisions(self, decisions: Iterable[Decision]) -> list[Decision]:
        """The decisions not seen before (none on the very first look: see _BASELINE)."""
        with self._db.transaction() as db:
            if self._meta(db, _BASELINE) is None:
                return []
            seen = set(db.execute("SELECT submission, state FROM decisions").fetchall())
        return [d for d in decisions if (d.submission, d.state) not in seen]

    def observe(self, decisions: Iterable[Decision]) -> None:
        """Record the decisions made so far: those not seen before become untold; on the
        first look, all of them are recorded as told. Only new ones are written (the loop
        looks every minute at every decision the outbox holds)."""
        now = self.clock()
        with self._db.transaction() as db:
            baseline = self._meta(db, _BASELINE) is None
            seen = set(db.execute("SELECT submission, state FROM decisions").fetchall())
            new = [d for d in decisions if (d.submission, d.state) not in seen]
            db.executemany(
                "INSERT OR IGNORE INTO decisions "
                "(submission, state, unit, form, period, reason, seen, told) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (d.submission, d.state, d.unit, d.form, d.period, d.reason, now, int(baseline))
                    for d in new
                ],
            )
            if baseline:
                db.execute(
                    "INSERT INTO ledger_meta (name, value) VALUES (?, ?)", (_BASELINE, str(now))
                )

    def untold(self) -> list[Decision]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT submission, unit, form, period, state, reason FROM decisions "
                "WHERE told = 0 ORDER BY seen, submission"
            ).fetchall()
        return [Decision(*row) for row in rows]

    def mark_told(self, decisions: Iterable[Decision]) -> None:
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE decisions SET told = 1 WHERE submission = ? AND state = ?",
                [(d.submission, d.state) for d in decisions],
            )

    # -- deliveries ------------------------------------------------------------------------

    def sent(self, contact: int, keys: Sequence[str]) -> set[str]:
        """Which of `keys` this contact has had (or were dropped)."""
        if not keys:
            return set()
        with self._db.transaction() as db:
            found: set[str] = set()
            for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT key FROM deliveries WHERE contact = ? AND state != ? "
                        f"AND key IN ({marks})",
                        (contact, FAILED, *chunk),
                    )
                )
        return found

    def record(
        self, contact: int, recipient: str, keys: Iterable[str], day: date, error: str = ""
    ) -> None:
        """One send of `keys` to a contact: sent, or failed with `error`."""
        state = FAILED if error else SENT
        now = self.clock()
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO deliveries "
                "(contact, key, recipient, day, state, attempts, last_error, updated) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (contact, key) DO UPDATE SET "
                "day = excluded.day, state = excluded.state, attempts = attempts + 1, "
                "last_error = excluded.last_error, updated = excluded.updated",
                [(contact, key, recipient, day.isoformat(), state, error, now) for key in keys],
            )

    def failed(self) -> dict[str, list[str]]:
        """Keys that failed to go out, by recipient (to try again)."""
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT DISTINCT recipient, key FROM deliveries WHERE state = ? "
                "ORDER BY recipient, key",
                (FAILED,),
            ).fetchall()
        grouped: dict[str, list[str]] = {}
        for recipient, key in rows:
            grouped.setdefault(recipient, []).append(key)
        return grouped

    def backing_off(self) -> set[int]:
        """Contacts whose last failed send is too recent to try again (see RETRY_BASE)."""
        now = self.clock()
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT contact, MAX(updated), MAX(attempts) FROM deliveries WHERE state = ? "
                "GROUP BY contact",
                (FAILED,),
            ).fetchall()
        return {
            contact
            for contact, updated, attempts in rows
            if updated + retry_delay(attempts, RETRY_BASE, RETRY_CAP) > now
        }

    def drop(self, recipient: str, keys: Iterable[str]) -> None:
        """Failed reminders that will not be tried again (the report is no longer owed,
        or a day's queue notice superseded by a later day's)."""
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE deliveries SET state = ?, updated = ? "
                "WHERE recipient = ? AND key = ? AND state = ?",
                [(DROPPED, self.clock(), recipient, key, FAILED) for key in keys],
            )

    def delivered(self, contacts: Iterable[int], key: str) -> bool:
        """Whether every one of `contacts` has had `key`."""
        wanted = set(contacts)
        with self._db.transaction() as db:
            done = {
                row[0]
                for row in db.execute(
                    "SELECT contact FROM deliveries WHERE key = ? AND state = ?", (key, SENT)
                )
            }
        return wanted <= done

    # -- scheduling ------------------------------------------------------------------------

    def last_scheduled_day(self) -> date | None:
        with self._db.transaction() as db:
            value = self._meta(db, _LAST_SCHEDULED)
        return date.fromisoformat(value) if value else None

    def set_last_scheduled_day(self, day: date) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO ledger_meta (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_LAST_SCHEDULED, day.isoformat()),
            )

    @staticmethod
    def _meta(db: sqlite3.Connection, name: str) -> str | None:
        row = db.execute("SELECT value FROM ledger_meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None
