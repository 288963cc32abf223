"""Receipts: a short reference for each submission and its printable receipt (回执).

A submission's id (`20261207162055-29a6affc`) is exact but long. Its reference is 8
characters from an alphabet without look-alikes (no 0/O, 1/I/L, U), read over the phone
as two groups of four (`K7QM-3XHP`). It is derived from the id (SHA-256 of the id and an
attempt number); the first candidate not yet taken in this instance's outbox database is
stored in a table of its own, whose primary key makes it unique per plan across worker
processes. A submission gets its reference the first time one is asked for (the receipt,
the submission page, the queue): a submission recovered from git gets one too.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, render_template

from builder.local_time import local_minute_text
from builder.model import is_identifier
from forms.auth import current_account, login_required
from forms.database import NORMAL, Database
from forms.fill import report_rows, state_label
from forms.permissions import require_identifier, require_view_unit
from forms.services import services

bp = Blueprint("receipts", __name__)

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8
# Candidates tried before giving up: with 30^8 (6.6e11) references, the tenth is never
# reached by any plan's submissions; the limit only stops a broken table looping.
MAX_ATTEMPTS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    reference TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL UNIQUE
)
"""


def reference_candidate(submission_id: str, attempt: int) -> str:
    """The `attempt`-th reference a submission may get (8 characters)."""
    digest = hashlib.sha256(f"{submission_id}:{attempt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    base = len(REFERENCE_ALPHABET)
    characters = []
    for _ in range(REFERENCE_LENGTH):
        number, digit = divmod(number, base)
        characters.append(REFERENCE_ALPHABET[digit])
    return "".join(characters)


def grouped(reference: str) -> str:
    """As it is read out and printed: K7QM-3XHP."""
    return f"{reference[:4]}-{reference[4:]}"


def normalised(typed: str) -> str:
    """A reference as someone types it (lower case, a dash or spaces) in stored form."""
    return "".join(typed.split()).replace("-", "").upper()


class ReceiptBook:
    """The references of one instance, in its outbox database (`receipts` table)."""

    def __init__(self, path: Path):
        self._database = Database(path)
        with self._database.transaction() as db:
            db.execute(_SCHEMA)

    def reference(self, submission_id: str) -> str:
        return self.references([submission_id])[submission_id]

    def references(self, submission_ids: Iterable[str]) -> dict[str, str]:
        """Each submission's reference, assigned now to those that have none."""
        wanted = list(dict.fromkeys(submission_ids))
        found = self._stored(wanted)
        for submission_id in wanted:
            if submission_id not in found:
                found[submission_id] = self._assign(submission_id)
        return found

    def submission_of(self, typed: str) -> str | None:
        """The submission a reference (as typed) names, None for no such reference."""
        with self._database.transaction(NORMAL) as db:
            row = db.execute(
                "SELECT submission_id FROM receipts WHERE reference = ?", (normalised(typed),)
            ).fetchone()
        return row[0] if row else None

    def _stored(self, submission_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._database.transaction(NORMAL) as db:
            for start in range(0, len(submission_ids), 500):
                chunk = submission_ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT submission_id, reference FROM receipts "
                    f"WHERE submission_id IN ({marks})",
                    chunk,
                )
                found.update(dict(rows.fetchall()))
        return found

    def _assign(self, submission_id: str) -> str:
        for attempt in range(MAX_ATTEMPTS):
            candidate = reference_candidate(submission_id, attempt)
            try:
                with self._database.transaction() as db:
                    db.execute(
                        "INSERT INTO receipts (reference, submission_id) VALUES (?, ?)",
                        (candidate, submission_id),
                    )
                return candidate
            except sqlite3.IntegrityError:
                # Taken: by this submission in another process (read it back), or by
                # another submission (the next candidate).
                stored = self._stored([submission_id])
                if submission_id in stored:
                    return stored[submission_id]
        raise RuntimeError(f"no free reference for {submission_id} in {MAX_ATTEMPTS} attempts")


_books: dict[Path, ReceiptBook] = {}
_books_lock = threading.Lock()


def receipt_book() -> ReceiptBook:
    """The book of the current app's instance (one per database file and process)."""
    path = services().submissions.config.outbox_path
    with _books_lock:
        book = _books.get(path)
        if book is None:
            book = _books[path] = ReceiptBook(path)
        return book


@bp.app_template_global()
def short_reference(submission_id: str) -> str:
    """A submission's reference as printed, for the pages that show it beside the id."""
    return grouped(receipt_book().reference(submission_id)) if is_identifier(submission_id) else ""


@bp.app_template_global()
def short_references(records: Iterable[Any]) -> dict[str, str]:
    """The references of many submissions at once (the queue), as printed."""
    references = receipt_book().references(r.id for r in records)
    return {submission_id: grouped(ref) for submission_id, ref in references.items()}


@bp.route("/submissions/<submission_id>/receipt")
@login_required
def receipt(submission_id: str) -> Any:
    """The printable receipt, for whoever may see the submission's page."""
    store = services()
    record = store.submissions.get(require_identifier(submission_id))
    if record is None:
        abort(404)
    account = current_account()
    assert account is not None
    require_view_unit(account, record.unit)
    content = store.content
    report = store.submissions.read_report(record.id)
    form = next((f for f in content.forms if f.id == record.form), None)
    unit = next((u for u in content.units if u.id == record.unit), None)
    period = next((p for p in content.periods if p.id == record.period), None)
    return render_template(
        "receipt.html",
        record=record,
        report=report,
        reference=grouped(receipt_book().reference(record.id)),
        unit_name=unit.name if unit else record.unit,
        form_title=form.title if form else record.form,
        period_title=period.title if period else record.period,
        submitted=local_minute_text(report.submitted_at, content.plan.timezone),
        rows=report_rows(form, report.values) if form else [],
        state=state_label(record),
    )
