"""The known-device cookie: which accounts logged in from this browser, and when.

Set at every successful login, signed with the app's secret key (so it cannot be made up
or changed) and separate from the session: it survives logout and password changes, and
grants nothing by itself. It only tells login throttling that a correct password from this
browser is the rightful user's, so that guesses made elsewhere never lock that user out
(forms.throttle).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "plansite-known-device"
MAX_ACCOUNTS = 8  # accounts remembered per browser, the most recent logins kept


@dataclass(frozen=True)
class KnownDevice:
    id: str
    logins: dict[str, float] = field(default_factory=dict)  # account -> last login here

    @classmethod
    def new(cls) -> KnownDevice:
        return cls(secrets.token_urlsafe(16))

    def knows(self, account: str, now: float, known_for: float) -> bool:
        last = self.logins.get(account)
        return last is not None and 0 <= now - last < known_for

    def with_login(self, account: str, now: float) -> KnownDevice:
        logins = {**self.logins, account: now}
        kept = sorted(logins.items(), key=lambda item: item[1])[-MAX_ACCOUNTS:]
        return KnownDevice(self.id, dict(kept))


class DeviceCookie:
    """Reads and writes KnownDevice as a signed cookie value."""

    def __init__(self, secret_key: str):
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def read(self, value: str | None) -> KnownDevice | None:
        """The device, or None for no cookie or one that is forged, altered or malformed."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        device, logins = data.get("id"), data.get("logins")
        if not isinstance(device, str) or not isinstance(logins, dict):
            return None
        return KnownDevice(
            device,
            {
                str(account): float(when)
                for account, when in logins.items()
                if isinstance(when, int | float)
            },
        )

    def value(self, device: KnownDevice) -> str:
        return str(self._serializer.dumps({"id": device.id, "logins": device.logins}))
