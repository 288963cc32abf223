"""The instance folder and its databases, readable by the service's own user only.

The folder holds password hashes, drafts and the session secret: it is created 0700 and
its databases 0600 whatever the umask, and a folder or file found more open (made by an
earlier version, or copied in) is tightened when the service opens it. SQLite gives a
database's -wal and -shm files the database file's own mode, so a private database keeps
its companions private too; those found lying about are tightened as well.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_folder(path: Path) -> None:
    """Create `path` (and missing parents, with the umask's mode) as 0700, or tighten it."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)  # mode: the last one only
    _tighten(path, PRIVATE_FOLDER)


def make_private_database(path: Path) -> None:
    """Create the database file `path` empty as 0600 before SQLite first opens it (SQLite
    would create it 0644), or tighten it and its companion files."""
    # Only a file that does not exist yet is opened here: closing any descriptor of a file
    # drops every POSIX lock this process holds on it, those of SQLite connections already
    # open on it included (the accounts file has two stores), and another worker may then
    # reset the WAL under them ("disk I/O error").
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    _tighten(path, PRIVATE_FILE)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        # A -wal or -shm file SQLite removed meanwhile (another worker's last connection
        # closed): nothing left to tighten.
        return
    if current & ~mode == 0:
        return
    try:
        path.chmod(current & mode)
    except PermissionError:
        # Owned by another user (created by hand as root, say): the service runs on, but
        # says so, since other local users may read it.
        log.warning("cannot restrict %s (mode %o) to its owner", path, current)
