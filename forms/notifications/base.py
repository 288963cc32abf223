"""What every notification channel does: deliver one message to one contact, or say why not.

A notifier is built from the settings (forms.settings) and holds no connection between
sends; nothing is fetched when its module is imported. Every network call has a timeout.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol


class SendFailed(Exception):
    """The channel did not take the message; the text says why (kept in the ledger, logged)."""


@dataclass(frozen=True)
class Contact:
    """Where one recipient is told things: a person's e-mail or a group robot."""

    id: int
    recipient: str  # "unit:<id>" or "reviewer:<account>" (builder.reminders)
    name: str  # the person's or group's name
    channel: str  # a name in forms.notifications.CHANNELS
    address: str  # the e-mail address or the robot's webhook URL
    secret: str = ""  # the robot's signing secret (DingTalk), "" if none


@dataclass(frozen=True)
class Message:
    title: str
    body: str  # plain text; the title is its first line


class Notifier(Protocol):
    def send(self, contact: Contact, message: Message) -> None:
        """Deliver `message` to `contact`; raise SendFailed when it was not taken."""


def post_json(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a JSON body and read a JSON answer; every failure is a SendFailed."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read(1024 * 1024) or b"{}")
    except urllib.error.HTTPError as error:
        raise SendFailed(f"HTTP {error.code}") from error
    except (OSError, ValueError) as error:  # refused, timed out, not JSON
        raise SendFailed(f"{type(error).__name__}: {error}") from error
    if not isinstance(answer, dict):
        raise SendFailed("the answer is not a JSON object")
    return answer


def robot_answer_ok(answer: dict[str, Any]) -> None:
    """Both robots answer {"errcode": 0, "errmsg": "ok"} when they took the message."""
    if answer.get("errcode") != 0:
        raise SendFailed(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


def truncated(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, saying so at the end."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    tail = "\n……（内容过长，其余部分从略）"
    room = limit - len(tail.encode("utf-8"))
    return data[:room].decode("utf-8", errors="ignore") + tail
