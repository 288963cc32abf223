"""Accounts of the form service, in an sqlite file in the instance folder (never in git).

Roles: a reporter is bound to exactly one unit; a reviewer reviews every unit; an admin may
do everything. Passwords are hashed with scrypt (werkzeug).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from werkzeug.security import check_password_hash, generate_password_hash

from builder.model import is_identifier
from forms.database import FULL, Database

ROLES = ("reporter", "reviewer", "admin")
ROLE_LABELS = {"reporter": "填报人", "reviewer": "审核人", "admin": "管理员"}
MIN_PASSWORD_LENGTH = 8

# Checked when the account does not exist, so that a wrong name costs as much time as a
# wrong password and does not reveal which names exist.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")


class AccountError(ValueError):
    """A refused account operation; the message is Chinese (shown by the CLI)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    unit: str | None
    display_name: str
    disabled: bool = False
    # A session is valid only while it carries the account's current epoch: logout, a new
    # password and disabling raise it, which ends every session of the account at once.
    session_epoch: int = 0

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class AccountStore:
    def __init__(self, path: Path):
        self.path = path
        self._database = Database(path)
        with self._connect() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS accounts (
                    name TEXT PRIMARY KEY,
                    role TEXT NOT NULL,
                    unit TEXT,
                    display_name TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    session_epoch INTEGER NOT NULL DEFAULT 0)"""
            )
        self._add_session_epochs()

    def _add_session_epochs(self) -> None:
        """Upgrade a file from before session epochs in place (every epoch starts at 0)."""
        with self._connect() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(accounts)")}
            if "session_epoch" in columns:
                return
            try:
                db.execute(
                    "ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0"
                )
            except sqlite3.OperationalError as error:
                # Another worker starting at the same moment added it first.
                if "duplicate column" not in str(error):
                    raise

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        # Account changes are rare and must stick (a disabled account stays disabled).
        return self._database.transaction(FULL)

    def add(
        self,
        name: str,
        role: str,
        password: str,
        *,
        unit: str | None = None,
        display_name: str = "",
    ) -> Account:
        if not is_identifier(name):
            raise AccountError(f"账号名无效：{name}（只能使用字母、数字、-、_）")
        if role not in ROLES:
            raise AccountError(f"角色无效：{role}（可选：{'、'.join(ROLES)}）")
        if role == "reporter" and not is_identifier(unit):
            raise AccountError("填报人账号必须绑定一个单位（--unit）")
        if role != "reporter":
            unit = None
        _check_password(password)
        account = Account(name, role, unit, display_name or name)
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO accounts (name, role, unit, display_name, password_hash, "
                    "disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                    (
                        name,
                        role,
                        unit,
                        account.display_name,
                        generate_password_hash(password, method="scrypt"),
                        datetime.now(UTC).isoformat(),
                    ),
                )
        except sqlite3.IntegrityError as error:
            raise AccountError(f"账号已存在：{name}") from error
        return account

    def get(self, name: str) -> Account | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, unit, display_name, disabled, session_epoch "
                "FROM accounts WHERE name = ?",
                (name,),
            ).fetchone()
        return _account(row) if row else None

    def list(self) -> list[Account]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, role, unit, display_name, disabled, session_epoch "
                "FROM accounts ORDER BY name"
            ).fetchall()
        return [_account(row) for row in rows]

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def disable(self, name: str) -> None:
        self._update(
            name, f"UPDATE accounts SET disabled = 1, {_NEXT_EPOCH} WHERE name = ?", (name,)
        )

    def enable(self, name: str) -> None:
        self._update(name, "UPDATE accounts SET disabled = 0 WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        digest = generate_password_hash(password, method="scrypt")
        self._update(
            name,
            f"UPDATE accounts SET password_hash = ?, {_NEXT_EPOCH} WHERE name = ?",
            (digest, name),
        )

    def end_sessions(self, name: str) -> None:
        """End every session of the account (logout)."""
        self._update(name, f"UPDATE accounts SET {_NEXT_EPOCH} WHERE name = ?", (name,))

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the name and password match and it is enabled, else None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, unit, display_name, disabled, session_epoch, password_hash "
                "FROM accounts WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row[6], password):
            return None
        account = _account(row[:6])
        return None if account.disabled else account

    def _update(self, name: str, sql: str, params: tuple[object, ...]) -> None:
        with self._connect() as db:
            changed = db.execute(sql, params).rowcount
        if not changed:
            raise AccountError(f"账号不存在：{name}")


_NEXT_EPOCH = "session_epoch = session_epoch + 1"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")


def _account(row: tuple[object, ...]) -> Account:
    name, role, unit, display_name, disabled, session_epoch = row
    return Account(
        str(name),
        str(role),
        unit if unit is None else str(unit),
        str(display_name),
        bool(disabled),
        int(cast(int, session_epoch)),
    )
