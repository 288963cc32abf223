"""The session cookie: Flask's signed cookie, signed with less work per request.

Flask builds a new URLSafeTimedSerializer (and checks its JSON serializer with a trial
dump) twice per request, to open and to save the session, and signs with a SHA-1 wrapped
in a Python function, which makes hmac fall back to its pure-Python implementation. The
cookie format, the keys (SECRET_KEY and SECRET_KEY_FALLBACKS), the salt and the
signature stay exactly Flask's: cookies issued before and after are interchangeable.

A permanent session is re-signed and sent again when it changed, or when the cookie the
browser sent is older than REFRESH_AFTER seconds, instead of on every response: the
session still expires PERMANENT_SESSION_LIFETIME after the last activity, give or take
that minute, and a page view that changes nothing no longer signs a cookie (about a
tenth of such a request's CPU).
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer

REFRESH_AFTER = 60.0  # seconds


class TimedSession(SecureCookieSession):
    """A cookie session that knows when its cookie was signed (None: a new session)."""

    issued_at: float | None = None


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    session_class = TimedSession
    # hashlib.sha1 itself (a C function): the same digest as Flask's _lazy_sha1, but hmac
    # then uses OpenSSL's HMAC instead of two Python hash objects per signature.
    digest_method = staticmethod(hashlib.sha1)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[tuple[Any, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # Keyed by the keys themselves: a changed secret or fallback list builds a new one.
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        assert serializer is not None
        with self._lock:
            self._cached = (keys, serializer)
        return serializer

    def open_session(self, app: Flask, request: Request) -> TimedSession | None:
        # Flask's own, keeping the signature's timestamp (itsdangerous checks the age).
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return TimedSession()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return TimedSession()
        session = TimedSession(data)
        session.issued_at = signed.timestamp()
        return session

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        issued = getattr(session, "issued_at", None)
        return issued is None or time.time() - issued >= REFRESH_AFTER


def install_sessions(app: Flask) -> None:
    app.session_interface = CachedSerializerSessionInterface()
