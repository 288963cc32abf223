"""The session cookie: Flask's signed cookie, with its signing serializer built once.

Flask builds a new URLSafeTimedSerializer (and checks its JSON serializer with a trial
dump) twice per request, to open and to save the session, and signs with a SHA-1 wrapped
in a Python function, which makes hmac fall back to its pure-Python implementation. The
cookie format, the keys (SECRET_KEY and SECRET_KEY_FALLBACKS), the salt and the
signature stay exactly Flask's: cookies issued before and after are interchangeable.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
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


def install_sessions(app: Flask) -> None:
    app.session_interface = CachedSerializerSessionInterface()
