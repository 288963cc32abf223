"""E-mail through an SMTP server (smtplib): plain text, UTF-8, one message per digest.

`security`: "starttls" (port 587: plain connection upgraded with STARTTLS, refused if the
server does not offer it), "ssl" (port 465: TLS from the first byte) or "none" (a relay
on the same host or network). A login is made only when a user is set. The server's
certificate is always verified, against the system's CAs or SMTP_CA_FILE.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from forms.notifications.base import Contact, Message, SendFailed

SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # one of SECURITY
    user: str
    password: str
    sender: str  # the From address
    sender_name: str = "填报提醒"
    # An intranet's server may have a certificate of the organisation's own CA: trusted
    # from this PEM file instead of the system's CAs. The name is checked all the same.
    ca_file: str = ""


class EmailNotifier:
    def __init__(self, config: SmtpConfig, timeout: float):
        if config.security not in SECURITY:
            raise ValueError(f"SMTP security must be one of {SECURITY}: {config.security!r}")
        self.config = config
        self.timeout = timeout

    def send(self, contact: Contact, message: Message) -> None:
        config = self.config
        if not config.host:
            raise SendFailed("no SMTP server configured (SMTP_HOST)")
        mail = EmailMessage()
        mail["From"] = formataddr((config.sender_name, config.sender))
        mail["To"] = formataddr((contact.name, contact.address))
        mail["Subject"] = message.title
        mail["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
        mail.set_content(message.body, charset="utf-8")
        try:
            self._deliver(mail)
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from error

    def _deliver(self, mail: EmailMessage) -> None:
        config = self.config
        context = ssl.create_default_context(cafile=config.ca_file or None)
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)  # raises SMTPNotSupportedError if not offered
            if config.user:
                smtp.login(config.user, config.password)
            smtp.send_message(mail)
