"""`plansite serve` and `plansite users ...`, registered in builder.cli by add_commands."""

from __future__ import annotations

import argparse
import functools
import getpass
import logging
import secrets
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from builder.reminders import reviewer_recipient, unit_recipient
from forms.accounts import AccountError, AccountStore
from forms.notifications import CHANNELS
from forms.notifications.base import Contact, Message
from forms.notifications.contacts import (
    ContactBook,
    ContactError,
    notifications_database,
    shown_address,
)
from forms.private_files import make_private_folder
from forms.settings import Settings, load_settings, with_site_date

if TYPE_CHECKING:
    from forms.services import Services

log = logging.getLogger(__name__)

DEMO_UNITS = 3  # demo reporter accounts created on first run


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    add_serve_command(subparsers)
    add_users_command(subparsers)
    add_contacts_command(subparsers)
    add_remind_command(subparsers)


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve", help="serve the site at / and the form service at /forms/ (waitress)"
    )
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: .)")
    parser.add_argument("--instance", type=Path, default=None, help="instance folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8)
    parser.set_defaults(handler=run_serve)


def add_users_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("users", help="manage the form service's accounts")
    parser.add_argument("--instance", type=Path, default=None, help="instance folder")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    commands = parser.add_subparsers(dest="users_command", required=True)

    add = commands.add_parser("add", help="add an account")
    add.add_argument("name")
    add.add_argument("--role", choices=("reporter", "reviewer", "admin"), required=True)
    add.add_argument("--unit", help="the unit a reporter reports for")
    add.add_argument("--display-name", default="", help="the person's name, shown in the UI")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=run_users_add)

    listing = commands.add_parser("list", help="list accounts")
    listing.set_defaults(handler=run_users_list)

    disable = commands.add_parser("disable", help="disable an account")
    disable.add_argument("name")
    disable.set_defaults(handler=run_users_disable)

    passwd = commands.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=run_users_passwd)


def _store(args: argparse.Namespace) -> AccountStore:
    instance: Path = args.instance or load_settings().instance
    return AccountStore(instance / "accounts.sqlite")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码：")
    if first != getpass.getpass("再次输入密码："):
        raise AccountError("两次输入的密码不一致")
    return first


def _known_units(root: Path) -> set[str] | None:
    """The unit ids of the plan, or None when there is no plan to check against."""
    if not (root / "content").is_dir():
        return None
    from builder.plan import load_content

    return {unit.id for unit in load_content(root).units}


Command = Callable[[argparse.Namespace], int]


def _refusal_exits_1(command: Command) -> Command:
    """An account change the store refuses (unknown unit, taken name, passwords that differ)
    prints the Chinese reason on stderr and exits 1 instead of a traceback."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AccountError as error:
            print(error, file=sys.stderr)
            return 1

    return run


@_refusal_exits_1
def run_users_add(args: argparse.Namespace) -> int:
    if args.role == "reporter" and args.unit:
        units = _known_units(args.root)
        if units is not None and args.unit not in units:
            raise AccountError(f"单位不存在：{args.unit}")
    password = _read_password(args.password_stdin)
    account = _store(args).add(
        args.name, args.role, password, unit=args.unit, display_name=args.display_name
    )
    print(f"已添加账号 {account.name}（{account.role_label}）")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    for account in _store(args).list():
        state = "已停用" if account.disabled else "正常"
        columns = (account.name, account.role, account.unit or "-", account.display_name, state)
        print("\t".join(columns))
    return 0


@_refusal_exits_1
def run_users_disable(args: argparse.Namespace) -> int:
    _store(args).disable(args.name)
    print(f"已停用账号 {args.name}")
    return 0


@_refusal_exits_1
def run_users_passwd(args: argparse.Namespace) -> int:
    _store(args).set_password(args.name, _read_password(args.password_stdin))
    print(f"已更新账号 {args.name} 的密码")
    return 0


def create_demo_accounts(store: AccountStore, units: list[tuple[str, str]]) -> dict[str, str]:
    """On first run: reporters for the first few units, a reviewer and an admin.

    Passwords are random, printed once, stored only hashed. Names are the unit ids (they
    are identifiers already), so nothing plan-specific is written here.
    """
    if store.count():
        return {}
    created: dict[str, str] = {}
    for unit_id, unit_name in units[:DEMO_UNITS]:
        created[unit_id] = secrets.token_urlsafe(9)
        display = f"{unit_name}填报人"
        store.add(unit_id, "reporter", created[unit_id], unit=unit_id, display_name=display)
    for name, role, display in (("reviewer", "reviewer", "审核人"), ("admin", "admin", "管理员")):
        created[name] = secrets.token_urlsafe(9)
        store.add(name, role, created[name], display_name=display)
    return created


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from builder.model import ContentError
    from forms.app import create_app
    from forms.services import build_services
    from forms.site import current_site

    settings = serve_settings(args)
    try:
        services = build_services(settings)
    except ContentError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("方案内容有错误，无法启动填报服务", file=sys.stderr)
        return 1
    if services.rebuilder is not None:
        # Builds the site if there is none, catches up with merges made while the service
        # was down and finishes downloads a stop left pending; else it finds nothing to do.
        if current_site(settings.sites_dir) is None:
            log.info("no built site yet: building it in the background")
        services.rebuilder.trigger()
    show_demo_accounts(services)
    services.submissions.start_background_sync(settings.sync_interval)
    services.start_reminders()
    app = create_app(services)
    from forms.serving import serve

    print(f"网站：http://{args.host}:{args.port}/  填报系统：http://{args.host}:{args.port}/forms/")
    serve(app, settings, host=args.host, port=args.port, threads=args.threads)
    return 0


def serve_settings(args: argparse.Namespace) -> Settings:
    """The settings, with --root and --instance winning; the portal's date defaults to the
    site's (mkdocs.yml `as_of`: the demo plan is evaluated as of 2022)."""
    overrides = {
        key: str(value)
        for key, value in (("ROOT", args.root), ("INSTANCE_PATH", args.instance))
        if value is not None
    }
    return with_site_date(load_settings(overrides))


def show_demo_accounts(services: Services) -> None:
    """On first run, create the demo accounts; at every start, print them."""
    accounts = services.accounts
    units = [(unit.id, unit.name) for unit in services.content.units]
    created = create_demo_accounts(accounts, units)
    # Demo passwords are stored hashed; a copy readable only by the owner stays in the
    # instance folder (never in the repository) so every start-up can print them again.
    demo_file = services.instance / "demo-accounts.txt"
    if created:
        lines = []
        for name, password in created.items():
            account = accounts.get(name)
            role = account.role_label if account else ""
            lines.append(f"  {name:<24} {role:<6} {password}")
        demo_file.touch(mode=0o600)
        demo_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if demo_file.exists():
        print(f"演示账号（账号 角色 密码；仅供演示，保存在 {demo_file}）：")
        print(demo_file.read_text(encoding="utf-8"), end="")


def add_contacts_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "contacts", help="who hears reminders (personal data: kept in the instance folder)"
    )
    parser.add_argument("--instance", type=Path, default=None, help="instance folder")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    commands = parser.add_subparsers(dest="contacts_command", required=True)

    add = commands.add_parser("add", help="add a contact of a unit or a reviewer")
    whom = add.add_mutually_exclusive_group(required=True)
    whom.add_argument("--unit", help="the unit whose reminders it hears")
    whom.add_argument("--reviewer", help="the reviewer account whose queue it hears about")
    add.add_argument("--name", required=True, help="the person's or the group's name")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--email", help="an e-mail address")
    where.add_argument("--dingtalk", help="a DingTalk group robot's webhook URL")
    where.add_argument("--wecom", help="a WeCom group robot's webhook URL")
    add.add_argument(
        "--secret-stdin", action="store_true", help="read the robot's signing secret from stdin"
    )
    add.set_defaults(handler=run_contacts_add)

    listing = commands.add_parser("list", help="list contacts (robot tokens and secrets hidden)")
    listing.set_defaults(handler=run_contacts_list)

    remove = commands.add_parser("remove", help="remove a contact")
    remove.add_argument("id", type=int)
    remove.set_defaults(handler=run_contacts_remove)


def _contact_book(args: argparse.Namespace) -> ContactBook:
    instance: Path = args.instance or load_settings().instance
    make_private_folder(instance)
    return ContactBook(notifications_database(instance))


def _contact_refusal_exits_1(command: Command) -> Command:
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ContactError as error:
            print(error, file=sys.stderr)
            return 1

    return run


@_contact_refusal_exits_1
def run_contacts_add(args: argparse.Namespace) -> int:
    if args.unit:
        units = _known_units(args.root)
        if units is not None and args.unit not in units:
            raise ContactError(f"单位不存在：{args.unit}")
        recipient = unit_recipient(args.unit)
    else:
        recipient = reviewer_recipient(args.reviewer)
    channel, address = next(
        (name, value)
        for name, value in (
            ("email", args.email),
            ("dingtalk", args.dingtalk),
            ("wecom", args.wecom),
        )
        if value
    )
    secret = sys.stdin.readline().strip() if args.secret_stdin else ""
    contact = _contact_book(args).add(recipient, args.name, channel, address, secret)
    print(f"已添加联系人 {contact.id}：{contact.name}（{CHANNELS[channel].label}）")
    return 0


def run_contacts_list(args: argparse.Namespace) -> int:
    for contact in _contact_book(args).all():
        columns = (
            str(contact.id),
            contact.recipient,
            contact.name,
            contact.channel,
            shown_address(contact.channel, contact.address),
            "已设签名密钥" if contact.secret else "-",
        )
        print("\t".join(columns))
    return 0


@_contact_refusal_exits_1
def run_contacts_remove(args: argparse.Namespace) -> int:
    _contact_book(args).remove(args.id)
    print(f"已删除联系人 {args.id}")
    return 0


def add_remind_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "remind", help="send each unit and reviewer the reminders due on a date (once)"
    )
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: .)")
    parser.add_argument("--instance", type=Path, default=None, help="instance folder")
    parser.add_argument(
        "--date", type=date.fromisoformat, default=None, help="the day (default: AS_OF or today)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent")
    parser.set_defaults(handler=run_remind)


def run_remind(args: argparse.Namespace) -> int:
    """Exit 0 when everything due was sent (or had been), 1 when a send failed (it is tried
    again on the next run), 2 when the plan does not load."""
    from builder.model import ContentError
    from forms.services import build_services, reminder_date

    settings = serve_settings(args)
    try:
        services = build_services(settings, rebuild_site=False)
    except ContentError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    assert services.reminders is not None
    day = args.date or reminder_date(settings)

    def show(contact: Contact, message: Message) -> None:
        shown = shown_address(contact.channel, contact.address)
        print(f"=== {contact.name} <{shown}>（{CHANNELS[contact.channel].label}）")
        print(message.body)
        print()

    if not services.reminders.contacts.all():
        print("尚未添加联系人，没有可发送的提醒（添加：plansite contacts add）")
        return 0
    summary = services.reminders.run(day, dry_run=args.dry_run, show=show if args.dry_run else None)
    if args.dry_run:
        print(f"（试运行，未发送）共 {summary.sent} 条，此前已发送 {summary.already_sent} 条")
        return 0
    for failure in summary.failures:
        print(f"发送失败：{failure}", file=sys.stderr)
    print(summary.text)
    return 1 if summary.failed else 0
