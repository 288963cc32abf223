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


def site_csp(script_hashes: list[str]) -> str:
    """The policy for the built static site.

    Material for MkDocs puts a few small inline scripts in every page (they differ per page:
    the relative base path), so they are allowed by their exact sha256 rather than with
    'unsafe-inline'. Its templates and the inline SVG charts use style attributes, which
    need 'unsafe-inline' for styles only; styles cannot run code.
    """
    scripts = " ".join(["'self'", *(f"'sha256-{digest}'" for digest in script_hashes)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",  # Material's search runs in a web worker
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
