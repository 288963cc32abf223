"""Serves the built static site at / on the same origin as the form service.

The rebuild worker builds into instance/sites/<build>/ and swaps the `current` symlink;
the link is resolved on every request so a new build is served as soon as it is swapped in.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

from forms.security import site_csp
from forms.services import services

bp = Blueprint("site", __name__)

INLINE_SCRIPT = re.compile(
    rb"<script\b(?P<attributes>[^>]*)>(?P<body>.*?)</script\s*>", re.DOTALL | re.IGNORECASE
)


def current_site(sites_dir: Path) -> Path | None:
    current = sites_dir / "current"
    try:
        target = current.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return None
    return target if (target / "index.html").is_file() else None


def inline_script_hashes(html: bytes) -> list[str]:
    """sha256 (base64) of every inline script, as a Content-Security-Policy source lists them."""
    hashes: list[str] = []
    for match in INLINE_SCRIPT.finditer(html):
        if re.search(rb"\bsrc\s*=", match.group("attributes"), re.IGNORECASE):
            continue
        digest = base64.b64encode(hashlib.sha256(match.group("body")).digest()).decode("ascii")
        if digest not in hashes:
            hashes.append(digest)
    return hashes


@lru_cache(maxsize=2048)
def _cached_hashes(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    # Keyed by modification time and size: a rebuilt page is a new key.
    return tuple(inline_script_hashes(Path(path).read_bytes()))


def page_hashes(path: Path) -> list[str]:
    stat = path.stat()
    return list(_cached_hashes(str(path), stat.st_mtime_ns, stat.st_size))


def _send(path: Path, status: int = 200) -> Any:
    response = send_file(path, conditional=status == 200, max_age=0)
    if status != 200:
        response.status_code = status
    if path.suffix == ".html":
        response.headers["Content-Security-Policy"] = site_csp(page_hashes(path))
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
