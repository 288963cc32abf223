"""Login throttling that slows guessing down without locking the rightful user out.

Failed logins are counted per key in the instance database, each key earning a delay that
doubles with every failure beyond its free ones (ThrottlePolicy). A login attempt is counted
under three keys:

- its pair: the account from this address, or from this known device (a browser that
  logged in to the account before, forms.devices). Guessing one account from one place is
  slowed there, and only there.
- the account, from every address: guessing from many addresses locks the account, but only
  for clients it does not know. A known device, or an address the account logged in from
  before, still passes with the right password.
- the address, for every account: spraying made-up or public names from one address slows
  that address down for the accounts not known there, never for those that logged in there.

A delayed attempt is refused without checking the password (429), so guesses made while
waiting learn nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forms.database import FULL, NORMAL, Database


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int  # failures allowed before any delay
    base_delay: float  # seconds after the first failure beyond the free ones, then doubled
    max_delay: float
    window: float  # failures older than this are forgotten


class Throttle:
    """Counts failed logins per key and remembers the addresses accounts logged in from, in
    the instance database.

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
            db.execute(
                "CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (last_failure)"
            )
            db.execute(
                """CREATE TABLE IF NOT EXISTS login_addresses (
                    account TEXT NOT NULL,
                    address TEXT NOT NULL,
                    last_login REAL NOT NULL,
                    PRIMARY KEY (account, address))"""
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
            # Forgotten failures are deleted: made-up names sprayed from many addresses
            # would otherwise add rows for ever.
            db.execute(
                "DELETE FROM login_failures WHERE last_failure < ? AND locked_until < ?",
                (now - policy.window, now),
            )

    def reset(self, key: str) -> None:
        with self._database.transaction(FULL) as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    def remember_login(self, account: str, address: str) -> None:
        # NORMAL: losing the last remembered login to a power cut only costs a lock bypass.
        with self._database.transaction(NORMAL) as db:
            db.execute(
                "INSERT OR REPLACE INTO login_addresses VALUES (?, ?, ?)",
                (account, address, self.clock()),
            )

    def last_login(self, account: str, address: str) -> float | None:
        """When the account last logged in from the address, if it ever did."""
        with self._database.transaction(FULL) as db:
            row = db.execute(
                "SELECT last_login FROM login_addresses WHERE account = ? AND address = ?",
                (account, address),
            ).fetchone()
        return None if row is None else float(row[0])


@dataclass(frozen=True)
class LoginPolicies:
    pair: ThrottlePolicy  # one account from one address or known device
    account: ThrottlePolicy  # one account from every client it does not know
    address: ThrottlePolicy  # every account not known at one address
    known_for: float  # seconds an address stays known after the account's last login there


@dataclass(frozen=True)
class LoginAttempt:
    account: str  # the name typed (an account or not)
    address: str  # the client's address (forms.proxies)
    known_device: str | None  # the id of a known-device cookie that names the account


class LoginThrottle:
    """The throttling decision for one login attempt, on the counts of a Throttle."""

    def __init__(self, throttle: Throttle, policies: LoginPolicies):
        self.throttle = throttle
        self.policies = policies

    @staticmethod
    def _pair_key(attempt: LoginAttempt) -> str:
        # The address goes last: it never holds "|", so no typed name can forge a key.
        if attempt.known_device is not None:
            return f"device:{attempt.known_device}|{attempt.account}"
        return f"pair:{attempt.account}|{attempt.address}"

    def is_known(self, attempt: LoginAttempt) -> bool:
        """The rightful user's device, or an address the account logged in from lately."""
        if attempt.known_device is not None:
            return True
        last = self.throttle.last_login(attempt.account, attempt.address)
        return last is not None and self.throttle.clock() - last < self.policies.known_for

    def wait_seconds(self, attempt: LoginAttempt) -> int:
        """Seconds the attempt must wait before its password is even checked; 0: check now."""
        keys = [self._pair_key(attempt)]
        if not self.is_known(attempt):
            keys += [f"account:{attempt.account}", f"address:{attempt.address}"]
        return max(self.throttle.wait_seconds(key) for key in keys)

    def record_failure(self, attempt: LoginAttempt) -> None:
        policies = self.policies
        self.throttle.record_failure(self._pair_key(attempt), policies.pair)
        self.throttle.record_failure(f"account:{attempt.account}", policies.account)
        self.throttle.record_failure(f"address:{attempt.address}", policies.address)

    def record_success(self, attempt: LoginAttempt) -> None:
        # The account and address counts stay: they hold other people's guesses.
        self.throttle.reset(self._pair_key(attempt))
        self.throttle.remember_login(attempt.account, attempt.address)
