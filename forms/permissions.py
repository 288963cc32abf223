"""Who may do what: the one place every view asks. Refusals are 403 with a Chinese message.

Identifiers from URLs are resolved here too, before any permission check can leak whether
something exists: a value that is not an identifier at all (`..`, a dot, a control
character, too long) is a malformed request, 400; a well-formed identifier that names
nothing in the content is a 404.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NoReturn

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


@dataclass(frozen=True)
class ContentIndex:
    """The plan's units, forms and periods by id: a request looks one up in constant time
    instead of scanning every unit of the plan (thousands in a large one)."""

    units: dict[str, Unit]
    forms: dict[str, Form]
    periods: dict[str, Period]


_indexes: dict[int, tuple[Content, ContentIndex]] = {}
_indexes_lock = threading.Lock()


def content_index(content: Content) -> ContentIndex:
    """The index of a loaded plan, built once per process. Keyed by identity (hashing a
    whole plan would cost more than the scan); the entry keeps the plan alive, so its id
    cannot be reused by another one while it is cached."""
    entry = _indexes.get(id(content))
    if entry is not None and entry[0] is content:
        return entry[1]
    # Reversed: with a duplicated id (the loader refuses them) the first one wins, as in
    # a scan.
    index = ContentIndex(
        units={u.id: u for u in reversed(content.units)},
        forms={f.id: f for f in reversed(content.forms)},
        periods={p.id: p for p in reversed(content.periods)},
    )
    with _indexes_lock:
        if len(_indexes) >= 8:  # a process serves one plan; tests build many
            _indexes.clear()
        _indexes[id(content)] = (content, index)
    return index


def resolve_unit(content: Content, unit_id: str) -> Unit:
    require_identifier(unit_id)
    unit = content_index(content).units.get(unit_id)
    if unit is None:
        abort(404)
    return unit


def resolve_form(content: Content, unit: Unit, form_id: str, period_id: str) -> tuple[Form, Period]:
    """The form and period, when the form applies to the unit and the period is one of its own."""
    require_identifier(form_id)
    require_identifier(period_id)
    index = content_index(content)
    form = index.forms.get(form_id)
    if form is None or not form.applies_to.matches(unit) or period_id not in form.periods:
        abort(404)
    period = index.periods.get(period_id)
    if period is None:
        abort(404)
    return form, period


def require_identifier(value: str) -> str:
    if not is_identifier(value):
        malformed()
    return value
