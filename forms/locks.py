"""Advisory file locks shared by the processes of one instance (gunicorn workers).

flock(2) locks are released by the kernel when their holder dies, so a SIGKILLed worker
never leaves one behind (unlike git's `.lock` files, see repository.remove_stale_ref_locks).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block.

    Yields True when held; with blocking=False yields False at once if another holds it.
    """
    with Path(path).open("a") as handle:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
