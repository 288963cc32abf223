"""Drafts per (unit, form, period) in the instance database: saved, resumed, cleared on submit.

A draft holds the raw strings the user typed (so a form with errors comes back exactly as
typed) and the evidence files already accepted, until the final submit.

Writes are not fsynced (synchronous=NORMAL in WAL mode): a draft survives a crash of the
process, and the file is never corrupted, but a power cut may undo the last few seconds of
saves and deletions. A draft is a convenience, not a record: the submission itself is
durable in git before it is acknowledged, and a draft that comes back after a power cut
is only offered for editing again. This spares two fsyncs on every save and submit.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forms.database import NORMAL, Database

# How long a confirmed draft's receipt is offered again (a resent request, the back button).
CONFIRMATION_KEPT = timedelta(days=1)
# Typing posted after the session ended, held for the next login (forms/auth.py): how long,
# and how much (characters of its JSON) at most; more is not held.
HELD_TYPING_KEPT = timedelta(days=1)
HELD_TYPING_MAX_CHARS = 256 * 1024


@dataclass(frozen=True)
class HeldTyping:
    """What a form posted without a session held: its values, for that form only."""

    unit: str
    form: str
    period: str
    values: dict[str, str]


@dataclass(frozen=True)
class DraftFile:
    number: int
    name: str  # sanitised display name
    media_type: str
    size: int


@dataclass(frozen=True)
class Draft:
    unit: str
    form: str
    period: str
    values: dict[str, str]
    account: str
    updated_at: datetime
    files: tuple[DraftFile, ...] = ()
    revision: str = ""  # changes with every save: what a confirmation confirms


class DraftStore:
    def __init__(self, path: Path):
        self.path = path
        self._database = Database(path)
        with self._connect() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS drafts (
                    unit TEXT NOT NULL, form TEXT NOT NULL, period TEXT NOT NULL,
                    values_json TEXT NOT NULL, account TEXT NOT NULL, updated_at TEXT NOT NULL,
                    PRIMARY KEY (unit, form, period))"""
            )
            db.execute(
                """CREATE TABLE IF NOT EXISTS draft_files (
                    unit TEXT NOT NULL, form TEXT NOT NULL, period TEXT NOT NULL,
                    number INTEGER NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (unit, form, period, number))"""
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(drafts)")}
            if "revision" not in columns:
                db.execute("ALTER TABLE drafts ADD COLUMN revision TEXT NOT NULL DEFAULT ''")
            # Which submission each confirmed draft revision became: a repeated "确认提交"
            # (a double click, a resent request) gets the first one's receipt.
            db.execute(
                """CREATE TABLE IF NOT EXISTS confirmations (
                    unit TEXT NOT NULL, form TEXT NOT NULL, period TEXT NOT NULL,
                    revision TEXT NOT NULL, submission_id TEXT NOT NULL,
                    confirmed_at TEXT NOT NULL,
                    PRIMARY KEY (unit, form, period, revision))"""
            )

            db.execute(
                """CREATE TABLE IF NOT EXISTS held_typing (
                    key TEXT PRIMARY KEY, unit TEXT NOT NULL, form TEXT NOT NULL,
                    period TEXT NOT NULL, values_json TEXT NOT NULL, held_at TEXT NOT NULL)"""
            )

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._database.transaction(NORMAL)

    def save(self, unit: str, form: str, period: str, values: dict[str, str], account: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO drafts "
                "(unit, form, period, values_json, account, updated_at, revision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    unit,
                    form,
                    period,
                    json.dumps(values, ensure_ascii=False),
                    account,
                    datetime.now(UTC).isoformat(),
                    secrets.token_hex(8),
                ),
            )

    def load(self, unit: str, form: str, period: str) -> Draft | None:
        key = (unit, form, period)
        with self._connect() as db:
            row = db.execute(
                "SELECT values_json, account, updated_at, revision FROM drafts "
                "WHERE unit = ? AND form = ? AND period = ?",
                key,
            ).fetchone()
            files = db.execute(
                "SELECT number, name, media_type, length(data) FROM draft_files "
                "WHERE unit = ? AND form = ? AND period = ? ORDER BY number",
                key,
            ).fetchall()
        if row is None and not files:
            return None
        values, account, updated, revision = row or ("{}", "", datetime.now(UTC).isoformat(), "")
        return Draft(
            unit,
            form,
            period,
            json.loads(values),
            account,
            datetime.fromisoformat(updated),
            tuple(DraftFile(*file) for file in files),
            revision,
        )

    def exists(self, unit: str, form: str, period: str) -> bool:
        return self.load(unit, form, period) is not None

    def add_file(
        self,
        unit: str,
        form: str,
        period: str,
        name: str,
        media_type: str,
        data: bytes,
        max_files: int,
    ) -> DraftFile | None:
        """Attach a file; None when the draft already holds max_files."""
        with self._connect() as db:
            numbers = [
                row[0]
                for row in db.execute(
                    "SELECT number FROM draft_files WHERE unit = ? AND form = ? AND period = ?",
                    (unit, form, period),
                )
            ]
            if len(numbers) >= max_files:
                return None
            number = max(numbers, default=0) + 1
            try:
                db.execute(
                    "INSERT INTO draft_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (unit, form, period, number, name, media_type, sqlite3.Binary(data)),
                )
            except sqlite3.IntegrityError:
                return None
        return DraftFile(number, name, media_type, len(data))

    def remove_file(self, unit: str, form: str, period: str, number: int) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM draft_files WHERE unit = ? AND form = ? AND period = ? AND number = ?",
                (unit, form, period, number),
            )

    def file_data(self, unit: str, form: str, period: str, number: int) -> bytes | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT data FROM draft_files "
                "WHERE unit = ? AND form = ? AND period = ? AND number = ?",
                (unit, form, period, number),
            ).fetchone()
        return bytes(row[0]) if row else None

    def delete(self, unit: str, form: str, period: str) -> None:
        key = (unit, form, period)
        with self._connect() as db:
            db.execute("DELETE FROM drafts WHERE unit = ? AND form = ? AND period = ?", key)
            db.execute("DELETE FROM draft_files WHERE unit = ? AND form = ? AND period = ?", key)

    # -- confirming: a draft revision becomes one submission, however often it is confirmed

    def confirm(
        self, unit: str, form: str, period: str, revision: str, submission_id: str
    ) -> str | None:
        """Record that `revision` of the draft becomes `submission_id`. None if this call
        is the first; otherwise the submission id of the confirmation that was."""
        now = datetime.now(UTC)
        with self._connect() as db:
            db.execute(
                "DELETE FROM confirmations WHERE confirmed_at < ?",
                ((now - CONFIRMATION_KEPT).isoformat(),),
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO confirmations VALUES (?, ?, ?, ?, ?, ?)",
                (unit, form, period, revision, submission_id, now.isoformat()),
            )
            if cursor.rowcount == 1:
                return None
            row = db.execute(
                "SELECT submission_id FROM confirmations "
                "WHERE unit = ? AND form = ? AND period = ? AND revision = ?",
                (unit, form, period, revision),
            ).fetchone()
        return str(row[0]) if row else None

    def unconfirm(self, unit: str, form: str, period: str, revision: str) -> None:
        """The submission failed (nothing stored): the draft may be confirmed again."""
        with self._connect() as db:
            db.execute(
                "DELETE FROM confirmations "
                "WHERE unit = ? AND form = ? AND period = ? AND revision = ?",
                (unit, form, period, revision),
            )

    def confirmed(
        self, unit: str, form: str, period: str, revision: str | None = None
    ) -> str | None:
        """The submission the draft's `revision` (default: its latest confirmed one,
        within CONFIRMATION_KEPT) became."""
        clause, params = "", [unit, form, period]
        if revision is not None:
            clause, params = " AND revision = ?", [*params, revision]
        with self._connect() as db:
            row = db.execute(
                "SELECT submission_id FROM confirmations "
                f"WHERE unit = ? AND form = ? AND period = ?{clause} "
                "ORDER BY confirmed_at DESC LIMIT 1",
                params,
            ).fetchone()
        return str(row[0]) if row else None

    def hold(self, typing: HeldTyping) -> str | None:
        """Keep typing posted without a session under a new random key (returned); None
        when it is too large to hold. Nothing but the key leads to it."""
        values_json = json.dumps(typing.values, ensure_ascii=False)
        if len(values_json) > HELD_TYPING_MAX_CHARS:
            return None
        key = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self._connect() as db:
            db.execute(
                "DELETE FROM held_typing WHERE held_at < ?",
                ((now - HELD_TYPING_KEPT).isoformat(),),
            )
            db.execute(
                "INSERT INTO held_typing (key, unit, form, period, values_json, held_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, typing.unit, typing.form, typing.period, values_json, now.isoformat()),
            )
        return key

    def take_held(self, key: str, unit: str, form: str, period: str) -> dict[str, str] | None:
        """The values held under `key` for this form, removed: they are shown once. Typing
        held for another form stays where it is, and expired typing is not given."""
        oldest = (datetime.now(UTC) - HELD_TYPING_KEPT).isoformat()
        with self._connect() as db:
            row = db.execute(
                "DELETE FROM held_typing WHERE key = ? AND unit = ? AND form = ? "
                "AND period = ? AND held_at >= ? RETURNING values_json",
                (key, unit, form, period, oldest),
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))
