"""The contacts of reminders: who hears about a unit or a reviewer's queue, and where.

Names, e-mail addresses, robot URLs (their tokens are credentials) and signing secrets
are personal data: they live in the instance folder's notifications.sqlite (0600, see
forms.private_files), are managed with `plansite contacts`, and are never written to git.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from forms.database import Database
from forms.notifications.base import Contact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    added REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_recipient ON contacts (recipient);
"""

_COLUMNS = "id, recipient, name, channel, address, secret"


class ContactError(Exception):
    """A contact refused, with the Chinese reason shown to the admin."""


def notifications_database(instance: Path) -> Path:
    return instance / "notifications.sqlite"


class ContactBook:
    def __init__(self, path: Path):
        self._db = Database(path)
        with self._db.transaction() as db:
            db.executescript(_SCHEMA)

    def add(
        self, recipient: str, name: str, channel: str, address: str, secret: str = ""
    ) -> Contact:
        from forms.notifications import CHANNELS

        if channel not in CHANNELS:
            raise ContactError(f"不支持的通知方式：{channel}")
        if secret and not CHANNELS[channel].needs_secret:
            raise ContactError(f"{CHANNELS[channel].label}不使用签名密钥")
        _check_address(channel, address)
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO contacts (recipient, name, channel, address, secret, added) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (recipient, name.strip(), channel, address.strip(), secret.strip(), time.time()),
            )
            contact_id = cursor.lastrowid
        assert contact_id is not None
        return Contact(
            contact_id, recipient, name.strip(), channel, address.strip(), secret.strip()
        )

    def remove(self, contact_id: int) -> None:
        with self._db.transaction() as db:
            if db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,)).rowcount != 1:
                raise ContactError(f"联系人不存在：{contact_id}")

    def all(self) -> list[Contact]:
        with self._db.transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM contacts ORDER BY recipient, id").fetchall()
        return [Contact(*row) for row in rows]

    def by_recipient(self) -> dict[str, list[Contact]]:
        grouped: dict[str, list[Contact]] = {}
        for contact in self.all():
            grouped.setdefault(contact.recipient, []).append(contact)
        return grouped


def _check_address(channel: str, address: str) -> None:
    address = address.strip()
    if channel == "email":
        local, _, domain = address.rpartition("@")
        if not local or "." not in domain or any(c.isspace() for c in address):
            raise ContactError(f"电子邮件地址无效：{address}")
        return
    parts = urlsplit(address)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ContactError(f"机器人地址应为 http(s) 网址：{shown_address(channel, address)}")


def shown_address(channel: str, address: str) -> str:
    """The address as listings show it: a robot URL without its query (the token or key
    in it is the robot's credential)."""
    if channel == "email":
        return address
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
