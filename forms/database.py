"""One sqlite file of the instance folder, with one open connection per thread.

Connections are kept: SQLite runs a checkpoint (with two fsyncs) whenever the last
connection to a WAL database closes. A connection is not safe to share between threads or to carry
across fork (gunicorn forks its workers), so each thread of each process gets its own,
opened on first use and kept.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forms.private_files import make_private_database, make_private_folder

# synchronous=FULL: a commit is on disk when it returns (the WAL is fsynced on every
# commit). NORMAL: a commit survives a crash of the process, and the file is never
# corrupted, but a power cut may undo the last commits (the WAL is fsynced only at
# checkpoints). Each store says which of its writes must survive a power cut.
FULL = "FULL"
NORMAL = "NORMAL"

# Connections a forked child inherited: never used, never closed (closing them in the
# child could touch the parent's locks), only kept from the garbage collector.
_INHERITED: list[sqlite3.Connection] = []


class Database:
    """Transactions on `path` through this thread's connection (WAL mode)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0):
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        make_private_folder(path.parent)  # the instance folder: password hashes, drafts
        make_private_database(path)
        # Set up with a connection of its own, closed at once: the store may be built
        # before gunicorn forks, and no connection may cross the fork.
        with _closing(sqlite3.connect(path, timeout=busy_timeout)) as db:
            _use_wal(db, busy_timeout)

    def _connection(self, synchronous: str) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # New thread, or a thread forked from one that had a connection: never reuse
            # the parent's connection (its locks belong to the parent), open our own.
            if getattr(local, "connection", None) is not None:
                _INHERITED.append(local.connection)
            local.connection = sqlite3.connect(self.path, timeout=self._busy_timeout)
            local.pid = os.getpid()
            local.synchronous = None
        if local.synchronous != synchronous:
            local.connection.execute(f"PRAGMA synchronous={synchronous}")
            local.synchronous = synchronous
        return local.connection  # type: ignore[no-any-return]

    @contextmanager
    def transaction(self, synchronous: str = FULL) -> Iterator[sqlite3.Connection]:
        """Everything in the block commits together (or not at all on an exception)."""
        try:
            db = self._connection(synchronous)
            with db:
                yield db
        except sqlite3.Error:
            # A failing disk or a broken file: start from a fresh connection next time.
            self.close()
            raise

    def close(self) -> None:
        """Close this thread's connection (the next transaction opens a new one)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            connection.close()
        self._local.__dict__.clear()


def _use_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode. WAL is a property of the file: set once, not on every
    connection. Readers then never wait for a writer.

    Switching needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy handler, while another process holds it: gunicorn's workers all
    open a new instance's files together, and one worker failing to boot stops the whole
    server. So it tries again until the busy timeout; once another worker has switched
    the file, there is nothing left to do."""
    deadline = time.monotonic() + busy_timeout
    while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # or an extended BUSY_*
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def _closing(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        with db:
            yield db
    finally:
        db.close()
