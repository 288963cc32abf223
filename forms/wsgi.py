"""The WSGI entry point for production servers: `gunicorn -w 4 forms.wsgi:app` or
`waitress-serve --threads 8 --call forms.wsgi:make_app`.

Reads PLANSITE_ROOT, PLANSITE_INSTANCE, PLANSITE_CONFIG and the other PLANSITE_* variables.
Every worker opens the same instance folder: accounts, drafts and the outbox are sqlite
(WAL), the git layer writes refs atomically and only one worker syncs at a time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from forms.app import create_app
from forms.config import load_config

log = logging.getLogger(__name__)


def make_app() -> Flask:
    from builder.model import ContentError
    from builder.plan import load_content
    from forms.cli import embedded_services

    settings = load_config()
    root, instance = Path(settings["ROOT"]), Path(settings["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    try:
        content = load_content(root)
    except ContentError as error:
        # Refuse to serve a broken plan, naming each file and field, not with a traceback.
        for problem in error.problems:
            log.error("%s", problem)
        raise SystemExit(f"方案内容有错误（{len(error.problems)} 处），无法启动填报服务") from None
    submissions, rebuilder = embedded_services(root, instance, content)
    submissions.start_background_sync(int(settings["SYNC_INTERVAL"]))
    return create_app({"CONTENT": content, "SUBMISSIONS": submissions, "REBUILDER": rebuilder})


def __getattr__(name: str) -> Flask:
    # `forms.wsgi:app` is built on first access (PEP 562), so `--call forms.wsgi:make_app`
    # does not build a second application at import.
    if name == "app":
        application = make_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
