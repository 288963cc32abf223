"""Webhooks from the forge (pull request merged or closed). CSRF-exempt: the git layer
verifies the forge's signature instead; anything unsigned or wrongly signed is a 403."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, request

from forms.limits import body_limit
from forms.permissions import require_identifier
from forms.services import services

bp = Blueprint("hooks", __name__)
log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # forge events are small; refuse anything larger before reading it


@bp.route("/hooks/<forge>", methods=["POST"])
@body_limit(MAX_BODY)
def receive(forge: str) -> Any:
    require_identifier(forge)
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.get_data(cache=False)
    headers = {name: value for name, value in request.headers.items()}
    if not services().submissions.handle_webhook(forge, headers, body):
        log.warning("webhook from %s refused: bad or missing signature", forge)
        abort(403, description="签名校验失败。")
    return "", 204
