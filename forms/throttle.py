"""Failed logins counted per key ("account:NAME", "ip:ADDR"), and the delay they earn."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forms.database import FULL, Database


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int  # failures allowed before any delay
    base_delay: float  # seconds after the first failure beyond the free ones, then doubled
    max_delay: float
    window: float  # failures older than this are forgotten


class Throttle:
    """Counts failed logins per key ("account:NAME", "ip:ADDR") in the instance database.

    Stored in sqlite rather than memory so that several worker processes share the count
    and a restart does not reset it.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self.clock = clock
        self._database = Database(path)
        with self._database.transaction(FULL) as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS login_failures (
                    key TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    last_failure REAL NOT NULL,
                    locked_until REAL NOT NULL)"""
            )

    def wait_seconds(self, key: str) -> int:
        """Seconds until the key may try again; 0 when it may try now."""
        with self._database.transaction(FULL) as db:
            row = db.execute(
                "SELECT locked_until FROM login_failures WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return 0
        locked_until: float = row[0]
        return max(0, math.ceil(locked_until - self.clock()))

    def record_failure(self, key: str, policy: ThrottlePolicy) -> None:
        now = self.clock()
        with self._database.transaction(FULL) as db:
            row = db.execute(
                "SELECT failures, last_failure FROM login_failures WHERE key = ?", (key,)
            ).fetchone()
            failures = 1
            if row is not None and now - row[1] < policy.window:
                failures = row[0] + 1
            excess = failures - policy.free_attempts
            delay = (
                min(policy.base_delay * 2 ** (excess - 1), policy.max_delay) if excess > 0 else 0
            )
            db.execute(
                "INSERT OR REPLACE INTO login_failures VALUES (?, ?, ?, ?)",
                (key, failures, now, now + delay),
            )

    def reset(self, key: str) -> None:
        with self._database.transaction(FULL) as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
