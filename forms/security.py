"""Security headers on every response and CSRF protection on every POST."""

from __future__ import annotations

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

# The form service's own pages: no inline script or style at all, nothing from elsewhere.
FORMS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# The built static site: scripts only from files of the site itself, never inline, so that
# markup injected into a page cannot run. Material for MkDocs' own inline scripts are
# served as files (overrides/partials/javascripts/); its configuration stays inline as a
# JSON data block (`<script type="application/json">`), which the browser never executes
# and CSP does not govern. Its templates and the inline SVG charts use style attributes,
# which need 'unsafe-inline' for styles only; styles cannot run code.
SITE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",  # Material's search runs in a web worker, loaded from its file
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", FORMS_CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    return response


def install_security(app: Flask) -> CSRFProtect:
    csrf = CSRFProtect(app)
    app.after_request(add_security_headers)
    return csrf
