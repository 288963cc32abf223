"""How large a request body each route takes, set before anything reads the body.

Flask's MAX_CONTENT_LENGTH is one figure for every route, and the upload page needs about
51 MB. Given to every route, a url-encoded body that size is parsed whole into memory (by
the CSRF check, before login): one anonymous 52 MB request cost 17 s of CPU and 1.9 GB.
So every request gets the small limit of a form without files (MAX_FORM_BYTES), except
those of a signed-in user sending multipart to a view marked `accepts_uploads` (someone
not signed in gets the small limit there too), and multipart is refused where no view
takes files. The hook runs before the CSRF check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request

View = TypeVar("View", bound=Callable[..., Any])

_UPLOADS = "plansite_accepts_uploads"
_LIMIT = "plansite_body_limit"
# A multipart body of an upload page: the form's fields and the evidence files.
MAX_UPLOAD_PARTS = 200
UNSUPPORTED_BODY = "此页面不接受上传文件，请返回上一页重试。"


def accepts_uploads(view: View) -> View:
    """Mark a view that takes evidence files (multipart, up to MAX_CONTENT_LENGTH)."""
    setattr(view, _UPLOADS, True)
    return view


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """Give a view its own limit (forge webhooks: signed bodies of a known size)."""

    def mark(view: View) -> View:
        setattr(view, _LIMIT, max_bytes)
        return view

    return mark


def takes_uploads(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, _UPLOADS, False))


def install_limits(app: Flask, *, signed_in: Callable[[], bool]) -> None:
    """Register the limits hook; call it before anything that reads request.form."""
    settings = app.extensions["plansite"].settings

    @app.before_request
    def limit_the_body() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        multipart = request.mimetype == "multipart/form-data"
        request.max_form_memory_size = settings.max_form_bytes
        if multipart and takes_uploads(view) and signed_in():
            request.max_content_length = settings.max_content_length
            request.max_form_parts = MAX_UPLOAD_PARTS
            return
        limit = getattr(view, _LIMIT, settings.max_form_bytes)
        request.max_content_length = limit
        if (request.content_length or 0) > limit:
            abort(413)
        if multipart and not takes_uploads(view):
            abort(415, description=UNSUPPORTED_BODY)
