"""Serves the built static site at / on the same origin as the form service.

The rebuild worker builds into instance/sites/<build>/ and swaps the `current` symlink;
the link is resolved on every request so a new build is served as soon as it is swapped in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

from builder.pages import page_url
from forms.security import SITE_CSP
from forms.services import services

bp = Blueprint("site", __name__)


def current_site(sites_dir: Path) -> Path | None:
    current = sites_dir / "current"
    try:
        target = current.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return None
    return target if (target / "index.html").is_file() else None


def published_page_url(sites_dir: Path, markdown_path: str) -> str | None:
    """The URL this service serves a generated page at ("/reporting/"), whichever of
    MkDocs' URL styles the plan's site uses; None while no built site has that page (none
    is built yet, or the site is published elsewhere)."""
    site = current_site(sites_dir)
    if site is None:
        return None
    for directory_urls in (True, False):
        url = page_url(markdown_path, directory_urls)
        file = site / (url + "index.html" if url.endswith("/") or not url else url)
        if file.is_file():
            return "/" + url
    return None


def _send(path: Path, status: int = 200) -> Any:
    response = send_file(path, conditional=status == 200, max_age=0)
    if status != 200:
        response.status_code = status
    if path.suffix == ".html":
        response.headers["Content-Security-Policy"] = SITE_CSP
    return response


@bp.route("/", defaults={"path": ""})
@bp.route("/<path:path>")
def serve(path: str) -> Any:
    if path == "forms" or path.startswith("forms/"):
        # The form service's own address space, never a site file. This catch-all rule
        # shadows "method not allowed" for form routes (GET /forms/logout): restore it.
        adapter = current_app.url_map.bind("localhost")
        for method in ("POST", "GET"):
            try:
                endpoint, _ = adapter.match(f"/{path}", method=method)
            except HTTPException:
                continue
            if endpoint != request.endpoint:
                abort(405)
        abort(404)
    sites_dir = services().settings.sites_dir
    root = current_site(sites_dir)
    if root is None:
        if path:
            abort(404)  # assets of a site that is not built yet: nothing to wait for
        return render_template("site_missing.html"), 503
    joined = safe_join(str(root), path) if path else str(root)
    if joined is None:
        abort(404)
    target = Path(joined)
    if target.is_dir():
        if path and not path.endswith("/"):
            query = request.query_string.decode("latin-1")
            return redirect(f"/{path}/" + (f"?{query}" if query else ""), code=308)
        target = target / "index.html"
    if target.is_file():
        return _send(target)
    not_found = root / "404.html"
    if not_found.is_file():
        return _send(not_found, status=404)
    abort(404)
