"""Reminders and notices to units and reviewers (issue: who owes what, by when).

`builder.reminders` works out what each recipient hears; this package holds the rest:
the contacts (personal data, in the instance folder only), the ledger of what was sent,
one notifier module per channel (registered in CHANNELS below) and the runs that tie
them together (forms.notifications.runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from forms.notifications.base import Notifier
from forms.notifications.dingtalk import DingTalkNotifier
from forms.notifications.mail import EmailNotifier, SmtpConfig
from forms.notifications.wecom import WeComNotifier
from forms.settings import Settings


@dataclass(frozen=True)
class Channel:
    label: str  # how `plansite contacts list` names it
    needs_secret: bool  # whether a signing secret may go with the address
    make: Callable[[Settings], Notifier]


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_sender,
        ca_file=settings.smtp_ca_file,
    )


CHANNELS: Mapping[str, Channel] = {
    "email": Channel("电子邮件", False, lambda s: EmailNotifier(smtp_config(s), s.notify_timeout)),
    "dingtalk": Channel("钉钉群机器人", True, lambda s: DingTalkNotifier(s.notify_timeout)),
    "wecom": Channel("企业微信群机器人", False, lambda s: WeComNotifier(s.notify_timeout)),
}


def make_notifiers(settings: Settings) -> dict[str, Notifier]:
    """One notifier per channel, built from the settings (nothing connects yet)."""
    return {name: channel.make(settings) for name, channel in CHANNELS.items()}
