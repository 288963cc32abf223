"""The durable outbox: what the service knows about each submission beyond its git ref.

The refs in the service repository are the truth (a submission exists iff its branch
does); this sqlite file records what happened to it afterwards: pushed to the remote?
pull request opened (number, url)? approved or rejected, by whom, why? and when to
retry after a failure. It lives in the instance folder and is shared by every worker
process: WAL mode, one connection per thread (forms.database), every write in one
transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forms.database import FULL, NORMAL, Database

QUEUED = "queued"  # committed in the service repository, not yet on the remote / in review
IN_REVIEW = "in_review"
APPROVED = "approved"
REJECTED = "rejected"
# A newer submission for the same unit x form x period arrived while this one was pending:
# one live submission per slot, so that two versions can never both be approved.
SUPERSEDED = "superseded"
WITHDRAWN = "withdrawn"  # the reporter took it back before a decision
STATES = (QUEUED, IN_REVIEW, APPROVED, REJECTED, SUPERSEDED, WITHDRAWN)
OPEN = (QUEUED, IN_REVIEW)  # not decided yet: may still be approved, returned or withdrawn
# Ended without a decision: a pull request still open on a remote forge must be closed.
ENDED_UNDECIDED = (SUPERSEDED, WITHDRAWN)

# A decision's claim older than this is a killed process's: the merge or the forge call
# it guarded has long timed out, and approving again is idempotent.
CLAIM_STALE_AFTER = 600.0

STATE_LABELS = {
    QUEUED: "已提交，等待审核",
    IN_REVIEW: "审核中",
    APPROVED: "已通过",
    REJECTED: "已退回",
    SUPERSEDED: "已被更正取代",
    WITHDRAWN: "已撤回",
}


@dataclass(frozen=True)
class SubmissionRecord:
    id: str
    unit: str
    form: str
    period: str
    branch: str
    commit: str
    state: str  # one of STATES
    # The reviewer's words: why it was rejected, or the optional comment of an approval.
    reason: str
    submitted_at: datetime
    submitted_by: str  # the reporter's account
    review_url: str  # the pull request on a remote forge, "" with the local forge
    reviewer: str
    evidence_bytes: int = 0  # what its evidence files weigh (the per-period quota)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class OutboxEntry:
    """A record plus the delivery bookkeeping only the sync loop needs."""

    record: SubmissionRecord
    pushed: bool
    pr_number: int | None
    attempts: int
    next_attempt: float
    last_error: str


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the `attempts`-th consecutive failure: doubling, capped."""
    if attempts <= 0:
        return 0.0
    return min(cap, base * 2.0 ** min(attempts - 1, 30))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    form TEXT NOT NULL,
    period TEXT NOT NULL,
    branch TEXT NOT NULL UNIQUE,
    commit_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    submitted_at TEXT NOT NULL,
    submitted_utc TEXT NOT NULL,  -- for ordering: offsets differ between writers
    submitted_by TEXT NOT NULL,
    review_url TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    pushed INTEGER NOT NULL DEFAULT 0,
    pr_number INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    evidence_bytes INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL NOT NULL DEFAULT 0,  -- a decision under way since (0: none)
    pr_closed INTEGER NOT NULL DEFAULT 0  -- a superseded or withdrawn one's pull request
);
CREATE INDEX IF NOT EXISTS submissions_unit ON submissions (unit, submitted_utc);
CREATE INDEX IF NOT EXISTS submissions_state ON submissions (state, next_attempt);
-- Until when nothing is sent to the forge (its rate limit), shared by every worker.
CREATE TABLE IF NOT EXISTS forge_pause (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    until REAL NOT NULL
);
"""
_SLOT_INDEX = (
    "CREATE INDEX IF NOT EXISTS submissions_slot ON submissions (unit, form, period, state)"
)

_COLUMNS = (
    "id, unit, form, period, branch, commit_id, state, reason, submitted_at, submitted_by, "
    "review_url, reviewer, pushed, pr_number, attempts, next_attempt, last_error, evidence_bytes"
)
# Columns added after the first release: (name, declaration) for files created before.
_ADDED_COLUMNS = (
    ("evidence_bytes", "INTEGER NOT NULL DEFAULT 0"),
    ("claimed_at", "REAL NOT NULL DEFAULT 0"),
    ("pr_closed", "INTEGER NOT NULL DEFAULT 0"),
)


class Outbox:
    """The submissions table in `path` (created on first use)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0):
        self.path = path
        self._database = Database(path, busy_timeout=busy_timeout)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            present = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
            for name, declaration in _ADDED_COLUMNS:
                if name not in present:
                    db.execute(f"ALTER TABLE submissions ADD COLUMN {name} {declaration}")
            db.execute(_SLOT_INDEX)

    @contextmanager
    def _connect(self, synchronous: str = FULL) -> Iterator[sqlite3.Connection]:
        # Decisions, delivery marks and retries are on disk when the call returns: only
        # this file knows them.
        with self._database.transaction(synchronous) as db:
            yield db

    def add(self, record: SubmissionRecord, now: float | None = None) -> list[str]:
        """Insert a new record; an existing id is left as it is (recovery may race).
        Returns the ids of the slot's pending submissions it supersedes, marked in the
        same transaction: a process killed between the two would otherwise leave two
        live submissions in one slot for ever.

        Not fsynced (synchronous=NORMAL): the submission's ref, written durably before
        this row, is the truth, and recover() rebuilds a row a power cut took from it.
        The next durable write or checkpoint puts the row on disk anyway.
        """
        now = time.time() if now is None else now
        with self._connect(NORMAL) as db:
            db.execute(
                "INSERT OR IGNORE INTO submissions (id, unit, form, period, branch, commit_id, "
                "state, reason, submitted_at, submitted_utc, submitted_by, review_url, reviewer, "
                "evidence_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.unit,
                    record.form,
                    record.period,
                    record.branch,
                    record.commit,
                    record.state,
                    record.reason,
                    record.submitted_at.isoformat(),
                    record.submitted_at.astimezone(UTC).isoformat(),
                    record.submitted_by,
                    record.review_url,
                    record.reviewer,
                    record.evidence_bytes,
                ),
            )
            return _supersede(db, record.unit, record.form, record.period, now)

    def entry(self, submission_id: str) -> OutboxEntry | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
        return _entry(row) if row else None

    def entry_for_branch(self, branch: str) -> OutboxEntry | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE branch = ?", (branch,)
            ).fetchone()
        return _entry(row) if row else None

    def entry_for_pull_request(self, number: int) -> OutboxEntry | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE pr_number = ?", (number,)
            ).fetchone()
        return _entry(row) if row else None

    def records(
        self, *, unit: str | None = None, state: str | None = None
    ) -> list[SubmissionRecord]:
        """Newest first."""
        clauses, params = [], []
        if unit is not None:
            clauses.append("unit = ?")
            params.append(unit)
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM submissions {where} ORDER BY submitted_utc DESC, id DESC",
                params,
            ).fetchall()
        return [_entry(row).record for row in rows]

    def ids(self) -> set[str]:
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT id FROM submissions")}

    def due(self, state: str, now: float) -> list[OutboxEntry]:
        """Entries in `state` whose next attempt is due, oldest first; not those a reviewer
        is deciding (the decision delivers them itself)."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE state = ? AND next_attempt <= ? "
                "AND (claimed_at = 0 OR claimed_at < ?) ORDER BY submitted_utc, id",
                (state, now, now - CLAIM_STALE_AFTER),
            ).fetchall()
        return [_entry(row) for row in rows]

    def submitted_since(self, unit: str, since: datetime) -> int:
        """How many submissions `unit` made at or after `since` (the hourly quota)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT count(*) FROM submissions WHERE unit = ? AND submitted_utc >= ?",
                (unit, since.astimezone(UTC).isoformat()),
            ).fetchone()
        return int(row[0])

    def evidence_bytes(self, unit: str, period: str) -> int:
        """What the evidence of `unit`'s submissions for `period` weighs, every state
        counted: a returned submission's files stay in the repository too."""
        with self._connect() as db:
            row = db.execute(
                "SELECT coalesce(sum(evidence_bytes), 0) FROM submissions "
                "WHERE unit = ? AND period = ?",
                (unit, period),
            ).fetchone()
        return int(row[0])

    def mark_pushed(self, ids: Sequence[str]) -> None:
        with self._connect() as db:
            db.executemany("UPDATE submissions SET pushed = 1 WHERE id = ?", [(i,) for i in ids])

    def mark_in_review(self, submission_id: str, pr_number: int | None, url: str) -> bool:
        """Delivered: on the remote and (with a remote forge) a pull request is open.
        False if the entry is no longer queued (decided meanwhile)."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = ?, pr_number = ?, review_url = ?, attempts = 0, "
                "next_attempt = 0, last_error = '' WHERE id = ? AND state = ?",
                (IN_REVIEW, pr_number, url, submission_id, QUEUED),
            )
            return cursor.rowcount == 1

    def mark_failed(
        self, ids: Sequence[str], error: str, now: float, base: float, cap: float
    ) -> None:
        """Count a failed attempt and schedule the next one with exponential backoff."""
        with self._connect() as db:
            for submission_id in ids:
                row = db.execute(
                    "SELECT attempts FROM submissions WHERE id = ?", (submission_id,)
                ).fetchone()
                if row is None:
                    continue
                attempts = row[0] + 1
                db.execute(
                    "UPDATE submissions SET attempts = ?, next_attempt = ?, last_error = ? "
                    "WHERE id = ?",
                    (attempts, now + retry_delay(attempts, base, cap), error[:500], submission_id),
                )

    def mark_unpushed(self, submission_id: str) -> None:
        """The branch is gone from the remote: push it again on the next delivery."""
        with self._connect() as db:
            db.execute("UPDATE submissions SET pushed = 0 WHERE id = ?", (submission_id,))

    def requeue(self, submission_id: str) -> bool:
        """Back to the queue to be pushed and put in review again (its pull request closed
        without a decision). False if it was decided meanwhile."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = ?, pushed = 0, pr_number = NULL, "
                "review_url = '', attempts = 0, next_attempt = 0, last_error = '' "
                "WHERE id = ? AND state = ?",
                (QUEUED, submission_id, IN_REVIEW),
            )
            return cursor.rowcount == 1

    def reopen(self, submission_id: str, reason: str) -> bool:
        """A rejection recorded with `reason` is undone: in review again. False otherwise."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = ?, reviewer = '', reason = '', "
                "next_attempt = 0 WHERE id = ? AND state = ? AND reason = ?",
                (IN_REVIEW, submission_id, REJECTED, reason),
            )
            return cursor.rowcount == 1

    def pause_forge(self, until: float) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO forge_pause (id, until) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)",
                (until,),
            )

    def forge_paused_until(self) -> float:
        """Until when the forge must not be called (0 when it may)."""
        with self._connect(NORMAL) as db:
            row = db.execute("SELECT until FROM forge_pause WHERE id = 1").fetchone()
        return float(row[0]) if row else 0.0

    def schedule(self, submission_id: str, when: float) -> None:
        """When to look at an entry in review next (polling its pull request's state)."""
        with self._connect() as db:
            db.execute(
                "UPDATE submissions SET next_attempt = ? WHERE id = ? AND state = ?",
                (when, submission_id, IN_REVIEW),
            )

    def claim(self, submission_id: str, now: float, stale_after: float = CLAIM_STALE_AFTER) -> bool:
        """Take the right to decide an undecided submission: one reviewer's approve or
        return at a time, across threads and worker processes. False if it is decided
        or another decision is under way (a claim older than `stale_after` seconds is
        a killed process's and can be taken over)."""
        with self._connect() as db:
            # A newer submission of the slot supersedes this one first: never approve an
            # older version over a correction already in the queue.
            row = db.execute(
                "SELECT unit, form, period FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
            if row is not None:
                _supersede(db, row[0], row[1], row[2], now)
            cursor = db.execute(
                "UPDATE submissions SET claimed_at = ? WHERE id = ? AND state IN (?, ?) "
                "AND (claimed_at = 0 OR claimed_at < ?)",
                (now, submission_id, *OPEN, now - stale_after),
            )
            return cursor.rowcount == 1

    def release(self, submission_id: str, now: float) -> None:
        """Give a claim back: the decision failed and nothing was recorded. A newer
        submission of the slot that arrived meanwhile supersedes it now."""
        with self._connect() as db:
            db.execute("UPDATE submissions SET claimed_at = 0 WHERE id = ?", (submission_id,))
            row = db.execute(
                "SELECT unit, form, period FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
            if row is not None:
                _supersede(db, row[0], row[1], row[2], now)

    def newest_in_slot(self, unit: str, form: str, period: str) -> SubmissionRecord | None:
        """The slot's latest submission, in any state."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE unit = ? AND form = ? AND period = ? "
                "ORDER BY submitted_utc DESC, id DESC LIMIT 1",
                (unit, form, period),
            ).fetchone()
        return _entry(row).record if row else None

    def decide(
        self,
        submission_id: str,
        state: str,
        *,
        reviewer: str = "",
        reason: str = "",
        also_from: Sequence[str] = (),
    ) -> bool:
        """Record approval, rejection or withdrawal once (and end any claim). False if it
        was already decided. `also_from`: ended states the forge may overrule (a
        superseded pull request someone merged in the forge is on main all the same)."""
        if state not in (APPROVED, REJECTED, WITHDRAWN):
            raise ValueError(f"not a decision: {state}")
        states = (*OPEN, *also_from)
        marks = ", ".join("?" * len(states))
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE submissions SET state = ?, reviewer = ?, reason = ?, claimed_at = 0, "
                f"attempts = 0, next_attempt = 0 WHERE id = ? AND state IN ({marks})",
                (state, reviewer, reason, submission_id, *states),
            )
            return cursor.rowcount == 1

    def record_pull_request(self, submission_id: str, number: int, url: str) -> None:
        """Keep the number of a pull request opened for a submission that ended meanwhile,
        so that the sync loop can close it."""
        with self._connect() as db:
            db.execute(
                "UPDATE submissions SET pr_number = ?, review_url = ? WHERE id = ?",
                (number, url, submission_id),
            )

    def open_reviews_to_close(self, now: float) -> list[OutboxEntry]:
        """Superseded or withdrawn submissions whose pull request is still open, due now."""
        marks = ", ".join("?" * len(ENDED_UNDECIDED))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE state IN ({marks}) "
                "AND pr_number IS NOT NULL AND pr_closed = 0 AND next_attempt <= ? "
                "ORDER BY submitted_utc, id",
                (*ENDED_UNDECIDED, now),
            ).fetchall()
        return [_entry(row) for row in rows]

    def mark_review_closed(self, submission_id: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE submissions SET pr_closed = 1, attempts = 0, next_attempt = 0, "
                "last_error = '' WHERE id = ?",
                (submission_id,),
            )


def _supersede(db: sqlite3.Connection, unit: str, form: str, period: str, now: float) -> list[str]:
    # One statement: the claim test and the update cannot be split by another process.
    rows = db.execute(
        # next_attempt 0: its open pull request is closed at the next sync, not at the
        # poll time an open one was given.
        "UPDATE submissions AS older SET state = ?, claimed_at = 0, attempts = 0, next_attempt = 0 "
        "WHERE unit = ? AND form = ? AND period = ? AND state IN (?, ?) "
        "AND (claimed_at = 0 OR claimed_at < ?) AND EXISTS ("
        "SELECT 1 FROM submissions AS newer WHERE newer.unit = older.unit "
        "AND newer.form = older.form AND newer.period = older.period "
        "AND (newer.submitted_utc, newer.id) > (older.submitted_utc, older.id)) "
        "RETURNING id",
        (SUPERSEDED, unit, form, period, QUEUED, IN_REVIEW, now - CLAIM_STALE_AFTER),
    ).fetchall()
    return [row[0] for row in rows]


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    record = SubmissionRecord(
        id=row[0],
        unit=row[1],
        form=row[2],
        period=row[3],
        branch=row[4],
        commit=row[5],
        state=row[6],
        reason=row[7],
        submitted_at=datetime.fromisoformat(row[8]),
        submitted_by=row[9],
        review_url=row[10],
        reviewer=row[11],
        evidence_bytes=row[17],
    )
    return OutboxEntry(
        record=record,
        pushed=bool(row[12]),
        pr_number=row[13],
        attempts=row[14],
        next_attempt=row[15],
        last_error=row[16],
    )
