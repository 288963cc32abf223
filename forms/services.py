"""The services one application instance uses, kept on app.extensions (no global state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

from builder.model import Content

if TYPE_CHECKING:
    from forms.accounts import AccountStore
    from forms.auth import Throttle
    from forms.drafts import DraftStore

EXTENSION = "plansite"


@dataclass
class Services:
    root: Path
    instance: Path
    content: Content
    accounts: AccountStore
    throttle: Throttle
    drafts: DraftStore
    submissions: Any  # forms.submissions.SubmissionService (opened lazily, see app.py)
    rebuilder: Any | None  # forms.rebuild.SiteRebuilder, or None when no site is served
    as_of: date | None = None


def services() -> Services:
    return current_app.extensions[EXTENSION]
