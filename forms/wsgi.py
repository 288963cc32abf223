"""The WSGI entry point for production servers: `gunicorn -w 4 forms.wsgi:app` or
`waitress-serve --threads=8 ... --call forms.wsgi:make_app`, with the limits of
forms/serving.py as flags (forms/README.md, "Production", shows them; a test keeps them
equal). Either listens on 127.0.0.1 behind a reverse proxy that buffers requests.

Configured by PLANSITE_CONFIG and the PLANSITE_* variables (forms.settings). Every worker
opens the same instance folder: accounts, drafts and the outbox are sqlite (WAL), the git
layer writes refs atomically and only one worker syncs at a time.
"""

from __future__ import annotations

import logging

from flask import Flask

from builder.model import ContentError
from forms.app import create_app
from forms.services import build_services
from forms.settings import load_settings, with_site_date

log = logging.getLogger(__name__)


def make_app() -> Flask:
    settings = with_site_date(load_settings())
    try:
        services = build_services(settings)
    except ContentError as error:
        # Refuse to serve a broken plan, naming each file and field, not with a traceback.
        for problem in error.problems:
            log.error("%s", problem)
        raise SystemExit(f"方案内容有错误（{len(error.problems)} 处），无法启动填报服务") from None
    services.submissions.start_background_sync(settings.sync_interval)
    services.start_reminders()
    return create_app(services)


def __getattr__(name: str) -> Flask:
    # `forms.wsgi:app` is built on first access (PEP 562), so `--call forms.wsgi:make_app`
    # does not build a second application at import.
    if name == "app":
        application = make_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
