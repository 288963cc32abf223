"""Telling a failing disk from a bug: a full, read-only or failing disk is answered with a
503 that says so (forms.app) and keeps what the user typed (forms.fill)."""

from __future__ import annotations

import errno
import sqlite3

from forms.repository import StorageFailure

_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO}
# sqlite primary result codes of a disk that is full, read-only or failing (not of a bug).
_SQLITE_STORAGE_CODES = {8, 10, 13, 14}  # READONLY, IOERR, FULL, CANTOPEN


def is_storage_failure(error: BaseException) -> bool:
    """The disk is full, read-only or failing: not the user's doing, and not a bug."""
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_STORAGE_CODES
    if isinstance(error, OSError):
        return error.errno in _STORAGE_ERRNOS
    return isinstance(error, StorageFailure)
