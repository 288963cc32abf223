"""The application factory of the form service."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from builder.local_time import local_minute_text
from forms.accounts import ROLE_LABELS
from forms.auth import current_account
from forms.limits import install_limits, takes_uploads
from forms.proxies import ClientAddressMiddleware, trusted_networks
from forms.security import install_security
from forms.services import EXTENSION, Services
from forms.services import services as current_services
from forms.storage import is_storage_failure

log = logging.getLogger(__name__)

# The Chinese page for each refusal; the description of an abort() overrides the message.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("请求无效", "请求无效，请返回上一页重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("无权访问", "您的账号无权执行此操作。"),
    404: ("页面不存在", "您访问的页面不存在，请检查地址是否正确。"),
    405: ("请求方式不允许", "此页面不支持该请求方式。"),
    413: ("内容过大", "提交的内容过多，请缩短后重试。"),
    415: ("请求无效", "此页面不接受这种格式的内容，请返回上一页重试。"),
    429: ("请求过于频繁", "请求过于频繁，请稍后再试。"),
    500: ("系统错误", "系统出现错误，请稍后再试。如问题持续，请联系管理员。"),
    503: ("服务暂不可用", "服务暂时不可用，请稍后再试。"),
}


def _error_page(error: HTTPException) -> Any:
    code = error.code or 500
    title, message = ERROR_PAGES.get(code, ("出错了", "请求未能完成。"))
    description = error.description
    # Werkzeug's default descriptions are English; only messages we wrote ourselves are shown.
    if description and description != type(error).description:
        message = description
    if code == 413 and takes_uploads(_current_view()):
        limit = _app_limit_mb()
        message = (
            f"上传的内容过大：每个文件不能超过 {limit} MB，每份填报最多 {_app_max_files()} 个文件。"
        )
    return render_template("error.html", title=title, message=message), code


def _current_view() -> Any:
    return current_app.view_functions.get(request.endpoint or "")


def _app_limit_mb() -> int:
    return current_services().settings.evidence_max_bytes // (1024 * 1024)


def _app_max_files() -> int:
    return current_services().settings.evidence_max_files


def _csrf_error(error: CSRFError) -> Any:
    # A form posted after its session ended fails here first (its token went with the
    # session): what was typed is held for the next login, not lost.
    from forms.fill import typing_posted_without_session  # the blueprints load lazily

    held = typing_posted_without_session()
    if held is not None:
        return held
    message = "页面已过期或请求来源无法验证，请刷新页面后重试。"
    return render_template("error.html", title="请求无效", message=message), 400


STORAGE_MESSAGE = "系统暂时无法读写数据（服务器存储空间不足或不可写），请稍后再试或联系管理员。"


def _internal_error(error: Exception) -> Any:
    log.exception("unhandled error", exc_info=error)
    if is_storage_failure(error):
        # A full or read-only disk: a 503 that says so, never a generic "system error".
        return render_template("error.html", title="服务暂不可用", message=STORAGE_MESSAGE), 503
    title, message = ERROR_PAGES[500]
    return render_template("error.html", title=title, message=message), 500


def filesize(size: int) -> str:
    """A file size as people read it: 15 字节, 12.3 KB, 4.5 MB."""
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def moment(value: Any) -> str:
    """An ISO 8601 time (or datetime) as 2022-10-08 09:30, in the plan's time zone.

    Drafts are kept in UTC, reports carry the offset of the server that took them: shown
    each in its own zone they read as different clocks on one page.
    """
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return local_minute_text(when, current_services().content.plan.timezone)


def create_app(services: Services) -> Flask:
    """The Flask app of already built services (forms.services.build_services), kept on
    app.extensions["plansite"]."""
    app = Flask(
        __name__,
        instance_path=str(services.instance),
        static_folder="static",
        static_url_path="/forms/static",
    )
    app.config.update(services.settings.flask_config(services.secret_key))
    app.extensions[EXTENSION] = services
    trusted = trusted_networks(services.settings.trusted_proxies)
    if trusted:
        # request.remote_addr is then the client's, as the trusted proxies forwarded it.
        app.wsgi_app = ClientAddressMiddleware(app.wsgi_app, trusted)  # type: ignore[method-assign]

    # The body limits first: the CSRF check reads the form.
    install_limits(app, signed_in=lambda: current_account() is not None)
    csrf = install_security(app)
    from forms import auth, fill, hooks, portal, receipts, review, site

    app.register_blueprint(auth.bp, url_prefix="/forms")
    app.register_blueprint(portal.bp, url_prefix="/forms")
    app.register_blueprint(fill.bp, url_prefix="/forms")
    app.register_blueprint(review.bp, url_prefix="/forms")
    app.register_blueprint(receipts.bp, url_prefix="/forms")
    app.register_blueprint(hooks.bp, url_prefix="/forms")
    app.register_blueprint(site.bp)
    csrf.exempt(hooks.bp)

    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(Exception, _internal_error)

    @app.after_request
    def private_pages(response: Any) -> Any:
        # Forms pages hold a unit's unpublished data: never cached by browsers or proxies.
        if request.path.startswith("/forms/") and not request.path.startswith("/forms/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    app.add_template_filter(filesize)
    app.add_template_filter(moment)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        try:
            account = current_account()
        except (sqlite3.Error, OSError):
            # The error page of a failing disk must still render (without the account).
            account = None
        return {
            "account": account,
            "plan": services.content.plan,
            "role_labels": ROLE_LABELS,
        }

    return app
