"""WeCom (企业微信) group robot: a JSON text message POSTed to its webhook URL.

The URL carries the robot's key (`.../cgi-bin/webhook/send?key=...`), which is its only
credential; the body is {"msgtype": "text", "text": {"content": ...}}, at most 2,048
UTF-8 bytes; it answers {"errcode": 0, "errmsg": "ok"} when it took the message.
"""

from __future__ import annotations

from forms.notifications.base import Contact, Message, post_json, robot_answer_ok, truncated

MAX_BYTES = 2048


class WeComNotifier:
    def __init__(self, timeout: float):
        self.timeout = timeout

    def send(self, contact: Contact, message: Message) -> None:
        payload = {"msgtype": "text", "text": {"content": truncated(message.body, MAX_BYTES)}}
        robot_answer_ok(post_json(contact.address, payload, self.timeout))
