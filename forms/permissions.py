"""Who may do what: the one place every view asks. Refusals are 403 with a Chinese message.

Identifiers from URLs are resolved here too, before any permission check can leak whether
something exists: a value that is not an identifier at all (`..`, a dot, a control
character, too long) is a malformed request, 400; a well-formed identifier that names
nothing in the content is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn, Protocol, TypeVar

from flask import abort

from builder.model import Content, Form, Period, Unit, is_identifier
from forms.accounts import Account

REPORTER, REVIEWER, ADMIN = "reporter", "reviewer", "admin"


def can_view_unit(account: Account, unit_id: str) -> bool:
    if account.role in (REVIEWER, ADMIN):
        return True
    return account.role == REPORTER and account.unit == unit_id


def can_submit(account: Account, unit_id: str) -> bool:
    # Reviewers read every unit but do not report for one; admins may fill in for a unit.
    if account.role == ADMIN:
        return True
    return account.role == REPORTER and account.unit == unit_id


def can_review(account: Account) -> bool:
    return account.role in (REVIEWER, ADMIN)


MALFORMED_MESSAGE = "地址中的编号格式无效，请检查地址是否正确。"


def refuse(message: str) -> NoReturn:
    abort(403, description=message)


def malformed() -> NoReturn:
    abort(400, description=MALFORMED_MESSAGE)


def require_view_unit(account: Account, unit_id: str) -> None:
    if not can_view_unit(account, unit_id):
        refuse("您的账号无权查看该单位的填报信息。")


def require_submit(account: Account, unit_id: str) -> None:
    if not can_submit(account, unit_id):
        refuse("您的账号无权为该单位填报。")


def require_review(account: Account) -> None:
    if not can_review(account):
        refuse("只有审核人或管理员可以审核填报。")


class Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified)


def by_id(items: Iterable[T], wanted: str) -> T | None:
    """The first of `items` with this id, None when there is none."""
    return next((item for item in items if item.id == wanted), None)


def resolve_unit(content: Content, unit_id: str) -> Unit:
    require_identifier(unit_id)
    unit = by_id(content.units, unit_id)
    if unit is None:
        abort(404)
    return unit


def resolve_form(content: Content, unit: Unit, form_id: str, period_id: str) -> tuple[Form, Period]:
    """The form and period, when the form applies to the unit and the period is one of its own."""
    require_identifier(form_id)
    require_identifier(period_id)
    form = by_id(content.forms, form_id)
    if form is None or not form.applies_to.matches(unit) or period_id not in form.periods:
        abort(404)
    period = by_id(content.periods, period_id)
    if period is None:
        abort(404)
    return form, period


def require_identifier(value: str) -> str:
    if not is_identifier(value):
        malformed()
    return value
