"""DingTalk (钉钉) custom group robot: a JSON text message POSTed to its webhook URL.

With 加签 (signing) on, DingTalk documents the URL's extra query: `timestamp` (ms) and
`sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))); the
robot refuses a timestamp more than an hour off. It answers {"errcode": 0} when it took
the message (an HTTP 200 with another errcode is a refusal: bad sign, keyword, rate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable

from forms.notifications.base import Contact, Message, post_json, robot_answer_ok, truncated

# DingTalk's text messages are limited to 20,000 bytes.
MAX_BYTES = 20000


def signature(timestamp_ms: int, secret: str) -> str:
    """The `sign` query value, before URL encoding."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    if not secret:
        return url
    query = urllib.parse.urlencode(
        {"timestamp": timestamp_ms, "sign": signature(timestamp_ms, secret)}
    )
    return f"{url}{'&' if '?' in url else '?'}{query}"


class DingTalkNotifier:
    def __init__(self, timeout: float, clock: Callable[[], float] = time.time):
        self.timeout = timeout
        self.clock = clock

    def send(self, contact: Contact, message: Message) -> None:
        url = signed_url(contact.address, contact.secret, int(self.clock() * 1000))
        payload = {"msgtype": "text", "text": {"content": truncated(message.body, MAX_BYTES)}}
        robot_answer_ok(post_json(url, payload, self.timeout))
