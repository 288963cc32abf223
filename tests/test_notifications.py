"""forms.notifications: reminders go out through real channels (an SMTP server and robot
webhooks on local sockets) exactly once, across restarts and failed sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from builder.cli import main as plansite
from forms.notifications import make_notifiers
from forms.notifications.base import Contact, Message, SendFailed
from forms.notifications.dingtalk import DingTalkNotifier
from forms.notifications.runs import Reminders
from forms.notifications.wecom import WeComNotifier
from forms.settings import load_settings
from tests.app_fixtures import decide, logged_in, make_setup
from tests.test_app_review import submit

SECRET = "SECtest-signing-secret"


class Robot:
    """A group robot on a local socket: answers as DingTalk/WeCom do, keeps what it took."""

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.refused: list[str] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                error = robot.check(self.path)
                if error:
                    robot.refused.append(error)
                    answer = {"errcode": 310000, "errmsg": error}
                else:
                    robot.received.append(body)
                    answer = {"errcode": 0, "errmsg": "ok"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token=tok"

    def check(self, path: str) -> str:
        """DingTalk's check of a signed request: timestamp within an hour, sign recomputed."""
        if not self.secret:
            return ""
        query = parse_qs(urlsplit(path).query)
        if "timestamp" not in query or "sign" not in query:
            return "sign not match"
        timestamp = query["timestamp"][0]
        if abs(int(timestamp) - time.time() * 1000) > 3600 * 1000:
            return "timestamp expired"
        expected = base64.b64encode(
            hmac.new(
                self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256
            ).digest()
        ).decode()
        return "" if hmac.compare_digest(query["sign"][0], expected) else "sign not match"

    def texts(self) -> list[str]:
        return [body["text"]["content"] for body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot() -> Iterator[Robot]:
    server = Robot(SECRET)
    yield server
    server.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message() -> Message:
    return Message("【计划】测试单位填报通知", "【计划】测试单位填报通知\n\n1. 请按时报送。")


def test_dingtalk_messages_are_signed_as_dingtalk_checks_them(robot: Robot) -> None:
    contact = Contact(1, "unit:u", "一组", "dingtalk", robot.url, SECRET)
    DingTalkNotifier(timeout=5).send(contact, message())
    assert robot.texts() == [message().body] and robot.refused == []
    assert robot.received[0]["msgtype"] == "text"


def test_a_wrong_secret_or_an_old_clock_is_a_failed_send(robot: Robot) -> None:
    wrong = Contact(1, "unit:u", "一组", "dingtalk", robot.url, "SECother")
    with pytest.raises(SendFailed, match="sign not match"):
        DingTalkNotifier(timeout=5).send(wrong, message())
    right = Contact(1, "unit:u", "一组", "dingtalk", robot.url, SECRET)
    with pytest.raises(SendFailed, match="timestamp expired"):
        DingTalkNotifier(timeout=5, clock=lambda: time.time() - 7200).send(right, message())
    assert robot.received == []


def test_wecom_takes_a_text_message_of_at_most_2048_bytes() -> None:
    robot = Robot()
    try:
        contact = Contact(1, "unit:u", "二组", "wecom", robot.url)
        long = Message("标题", "标题\n\n" + "逾期未报。" * 400)
        WeComNotifier(timeout=5).send(contact, long)
        (text,) = robot.texts()
        assert len(text.encode()) <= 2048 and text.endswith("其余部分从略）")
    finally:
        robot.close()


def test_a_robot_that_is_down_is_a_failed_send_within_the_timeout() -> None:
    contact = Contact(1, "unit:u", "二组", "wecom", f"http://127.0.0.1:{free_port()}/send?key=k")
    started = time.monotonic()
    with pytest.raises(SendFailed):
        WeComNotifier(timeout=2).send(contact, message())
    assert time.monotonic() - started < 3


def test_email_goes_through_a_real_smtp_server_in_chinese() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = load_settings(
            {
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(controller.port),
                "SMTP_SECURITY": "none",
                "SMTP_SENDER": "plan@example.invalid",
            },
            environ={},
        )
        contact = Contact(1, "unit:u", "王老师", "email", "wang@example.invalid")
        make_notifiers(settings)["email"].send(contact, message())
    finally:
        controller.stop()
    (mail,) = mailbox.messages
    assert str(make_header(decode_header(mail["Subject"]))) == message().title
    body = mail.get_payload(decode=True).decode("utf-8")
    assert body.replace("\r\n", "\n").strip() == message().body  # SMTP lines end in CRLF


def test_starttls_refused_by_a_server_without_it_is_a_failed_send() -> None:
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = load_settings(
            {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port)}, environ={}
        )
        contact = Contact(1, "unit:u", "王老师", "email", "wang@example.invalid")
        with pytest.raises(SendFailed, match="STARTTLS"):
            make_notifiers(settings)["email"].send(contact, message())
    finally:
        controller.stop()


# -- runs: sent once ------------------------------------------------------------------------


def _reminders(setup: Any, **overrides: str) -> Reminders:
    """A new Reminders over the same instance, as a restarted service builds it."""
    settings = load_settings({"NOTIFY_TIMEOUT": "3", **overrides}, environ={})
    services = setup.services
    return Reminders(
        services.content, services.submissions, setup.instance, make_notifiers(settings)
    )


def _reminder_day(setup: Any) -> tuple[date, str]:
    """A day with a due-soon reminder for the first unit, and that unit."""
    content = setup.services.content
    unit = content.units[0]
    period = next(p for p in content.periods if p.due > date(2025, 8, 1))
    return period.due - timedelta(days=content.escalation.remind_before[0]), unit.id


def test_a_reminder_is_sent_once_across_a_restart_and_a_failed_send(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    day, unit = _reminder_day(setup)
    port = free_port()
    mail = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none"}
    first = _reminders(setup, **mail)
    first.contacts.add(f"unit:{unit}", "王老师", "email", "wang@example.invalid")
    # The SMTP server is down: the send fails, is recorded and reported.
    down = first.run(day)
    assert (down.sent, down.failed) == (0, 1) and "ConnectionRefusedError" in down.failures[0]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # Restarted (a new process would build the same), the next day: tried again, once.
        later = day + timedelta(days=1)
        again = _reminders(setup, **mail).run(later)
        assert (again.sent, again.failed) == (1, 0)
        # And again after another restart, the same day and the next: nothing twice.
        assert _reminders(setup, **mail).run(later).sent == 0
        rerun = _reminders(setup, **mail).run(day)  # the day it was first due, run again
        assert (rerun.sent, rerun.already_sent) == (0, 1)
    finally:
        controller.stop()
    (sent,) = mailbox.messages
    assert "到期" in sent.get_payload(decode=True).decode("utf-8")


def test_a_decision_in_the_review_queue_is_told_at_once_once_and_earlier_ones_never(
    tmp_path: Path, robot: Robot
) -> None:
    setup = make_setup(tmp_path)
    old = submit(setup)
    setup.submissions.approve(old, "赵审核", "checker@example.invalid")
    reminders = setup.services.reminders
    assert reminders is not None
    reminders.contacts.add("unit:dongfeng-ps", "一组", "dingtalk", robot.url, SECRET)
    # The first look records what was decided before reminders were set up: not news.
    assert reminders.run(date(2025, 8, 1), scheduled=False).sent == 0
    stop = reminders.start_background(-1, 600, lambda: date(2025, 8, 1))
    try:
        new = submit(setup)
        response = decide(logged_in(setup, "checker"), new, "reject", {"reason": "照片不清楚"})
        assert response.status_code == 302
        deadline = time.monotonic() + 10
        while not robot.received and time.monotonic() < deadline:
            time.sleep(0.05)  # the loop waits 600 s unless the decision wakes it
    finally:
        stop.set()
        reminders.decided()
    (text,) = robot.texts()
    assert "已被退回" in text and "照片不清楚" in text
    # A restarted service finds it told.
    assert _reminders(setup).run(date(2025, 8, 1), scheduled=False).sent == 0
    assert len(robot.received) == 1


def test_plansite_remind_dry_run_prints_and_sends_nothing_then_a_run_sends(
    tmp_path: Path, robot: Robot, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path)
    day, unit = _reminder_day(setup)
    instance = ["--instance", str(setup.instance), "--root", str(setup.repo)]
    secret = io.StringIO(SECRET + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", secret)
        assert (
            plansite(
                [
                    "contacts",
                    *instance,
                    "add",
                    "--unit",
                    unit,
                    "--name",
                    "一组",
                    "--dingtalk",
                    robot.url,
                    "--secret-stdin",
                ]
            )
            == 0
        )
    assert plansite(["contacts", *instance, "list"]) == 0
    listing = capsys.readouterr().out
    assert "tok" not in listing and SECRET not in listing and "已设签名密钥" in listing
    remind = ["remind", *instance, "--date", day.isoformat()]
    assert plansite([*remind, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "到期" in printed and robot.received == []
    assert plansite(remind) == 0
    assert len(robot.received) == 1 and robot.refused == []
    assert plansite(remind) == 0
    assert len(robot.received) == 1
    assert (setup.instance / "notifications.sqlite").stat().st_mode & 0o077 == 0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as an intranet's own CA would issue."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_trusts_the_configured_ca_and_nothing_else(
    certificate: tuple[Path, Path], security: str
) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    tls = (
        {"tls_context": context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": context}
    )
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **tls)
    controller.start()
    try:
        smtp = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "SMTP_SECURITY": security,
        }
        contact = Contact(1, "unit:u", "王老师", "email", "wang@example.invalid")
        untrusted = make_notifiers(load_settings(smtp, environ={}))["email"]
        with pytest.raises(SendFailed, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(contact, message())
        trusted = load_settings({**smtp, "SMTP_CA_FILE": str(cert)}, environ={})
        make_notifiers(trusted)["email"].send(contact, message())
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize(
    ("channel", "address", "secret", "refusal"),
    [
        ("email", "not-an-address", "", "电子邮件地址无效"),
        ("email", "wang@localhost", "", "电子邮件地址无效"),
        ("dingtalk", "file:///etc/passwd", "", "机器人地址应为 http(s) 网址"),
        (
            "wecom",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "SECx",
            "不使用签名密钥",
        ),
        ("sms", "13800000000", "", "不支持的通知方式"),
    ],
)
def test_a_contact_the_channel_cannot_use_is_refused_in_chinese(
    tmp_path: Path, channel: str, address: str, secret: str, refusal: str
) -> None:
    from forms.notifications.contacts import ContactBook, ContactError

    book = ContactBook(tmp_path / "notifications.sqlite")
    with pytest.raises(ContactError, match=re.escape(refusal)):
        book.add("unit:u", "王老师", channel, address, secret)
    assert book.all() == []


def test_plansite_remind_exits_1_naming_the_failed_send_and_sends_it_on_a_later_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path)
    day, unit = _reminder_day(setup)
    port = free_port()
    url = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"
    setup.services.reminders.contacts.add(f"unit:{unit}", "二组", "wecom", url)  # type: ignore[union-attr]
    remind = ["remind", "--instance", str(setup.instance), "--root", str(setup.repo)]
    assert plansite([*remind, "--date", day.isoformat()]) == 1
    output = capsys.readouterr()
    assert "发送失败：" in output.err and "二组" in output.err and "key=k" not in output.err
    assert "发送失败 1 条" in output.out
    robot = Robot(port=port)  # the robot is back
    try:
        later = (day + timedelta(days=1)).isoformat()
        assert plansite([*remind, "--date", later]) == 0
        assert "已发送 1 条" in capsys.readouterr().out
    finally:
        robot.close()
    (text,) = robot.texts()
    assert "还有" in text  # the reminder, with the later day's figures


def test_a_failed_notice_of_a_decision_is_retried_with_growing_delays_not_every_look(
    tmp_path: Path,
) -> None:
    now = [1_000_000.0]
    setup = make_setup(tmp_path)
    port = free_port()
    settings = load_settings({"NOTIFY_TIMEOUT": "3"}, environ={})
    services = setup.services
    reminders = Reminders(
        services.content,
        services.submissions,
        setup.instance,
        make_notifiers(settings),
        clock=lambda: now[0],
    )
    url = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"
    reminders.contacts.add("unit:dongfeng-ps", "二组", "wecom", url)
    day = date(2025, 8, 1)
    reminders.run(day, scheduled=False)  # the first look: nothing decided yet
    setup.submissions.reject(submit(setup), "赵审核", "照片不清楚")
    assert reminders.run(day, scheduled=False).failed == 1  # the robot is down
    now[0] += 30  # the loop's next looks, within the first delay: not tried
    assert reminders.run(day, scheduled=False).failed == 0
    now[0] += 60  # past it, still down: tried, and the delay doubles
    assert reminders.run(day, scheduled=False).failed == 1
    now[0] += 90
    assert reminders.run(day, scheduled=False).failed == 0
    robot = Robot(port=port)
    try:
        now[0] += 60
        assert reminders.run(day, scheduled=False).sent == 1
    finally:
        robot.close()
    assert "照片不清楚" in robot.texts()[0]


def test_decisions_made_before_the_first_contact_was_added_are_history(
    tmp_path: Path, robot: Robot
) -> None:
    setup = make_setup(tmp_path)
    reminders = setup.services.reminders
    assert reminders is not None
    day = date(2025, 8, 1)
    assert reminders.run(day, scheduled=False).sent == 0  # the loop's looks, nobody to tell
    setup.submissions.reject(submit(setup), "赵审核", "照片不清楚")
    assert reminders.run(day, scheduled=False).sent == 0
    reminders.contacts.add("unit:dongfeng-ps", "一组", "dingtalk", robot.url, SECRET)
    assert reminders.run(day, scheduled=False).sent == 0
    setup.submissions.approve(submit(setup), "赵审核", "checker@example.invalid")
    assert reminders.run(day, scheduled=False).sent == 1
    (text,) = robot.texts()
    assert "已审核通过" in text and "照片不清楚" not in text
