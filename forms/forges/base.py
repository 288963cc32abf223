"""The forge interface, the pull request text and webhook signature checks they share."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from builder.local_time import local_minute_text
from builder.model import DEFAULT_TIMEZONE, Report

if TYPE_CHECKING:
    from forms.outbox import SubmissionRecord
    from forms.repository import Identity

OPEN = "open"
MERGED = "merged"
CLOSED = "closed"  # closed without merging: rejected on the forge

TITLE_LIMIT = 250  # GitHub refuses titles over 256 characters
BODY_LIMIT = 65_536  # GitHub refuses longer pull request bodies (422) and would forever
BODY_CUT_NOTE = "\n\n……（内容过长，以下从略；完整内容见本请求的文件改动）\n"


class ForgeError(Exception):
    """The forge refused a request (wrong token, unknown repository, not mergeable...)."""

    user_message = "代码托管平台拒绝了该操作，请联系管理员"

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ForgeUnavailable(ForgeError):
    """The forge could not be reached or had a server error; the request may be retried."""

    user_message = "代码托管平台暂时无法连接，请稍后重试"


class ForgeRateLimited(ForgeUnavailable):
    """The forge's rate limit is used up: nothing should be sent until it resets.

    `reset_at` is the forge's own reset time (epoch seconds, `x-ratelimit-reset`),
    `retry_after` the seconds a `Retry-After` asks for; one of them is set."""

    user_message = "代码托管平台的请求次数已达上限，服务已暂停访问，请稍后重试"
    longest_pause = 3600.0  # a reset further away than this is a clock skew, not a limit

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        reset_at: float | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status)
        self.reset_at = reset_at
        self.retry_after = retry_after

    def resume_at(self, now: float) -> float:
        """When to send again, at least a second and at most an hour from `now`."""
        if self.retry_after is not None:
            wanted = now + self.retry_after
        elif self.reset_at is not None:
            wanted = self.reset_at
        else:
            wanted = now + 60.0
        return min(max(wanted, now + 1.0), now + self.longest_pause)

    @classmethod
    def paused(cls, until: float, now: float) -> ForgeRateLimited:
        """The refusal the service gives itself while a pause lasts (no request sent)."""
        error = cls(f"forge paused for its rate limit until {until:.0f}", reset_at=until)
        minutes = max(1, round((until - now) / 60))
        error.user_message = (
            f"代码托管平台的请求次数已达上限，服务已暂停访问，请约 {minutes} 分钟后重试"
        )
        return error


class HeadMoved(ForgeError):
    """The pull request's head is no longer the commit that was submitted and reviewed."""

    user_message = (
        "代码托管平台上该填报的分支已被改动，与审核的内容不一致，未合并。"
        "请联系管理员核对该合并请求。"
    )


class NotMergeable(ForgeError):
    """The forge still refuses to merge after waiting (conflicts, or a check that lasts)."""

    user_message = (
        "代码托管平台暂时无法合并该请求（仍在检查能否合并，或存在冲突），请稍后重试或联系管理员。"
    )


class PullRequestDecided(ForgeError):
    """The pull request was merged or closed on the forge before our own decision."""

    def __init__(self, message: str, state: str):
        super().__init__(message)
        self.state = state  # MERGED or CLOSED


@dataclass(frozen=True)
class ForgeConfig:
    """The settings of a forge (forms.settings reads them; forms.forges.FORGES makes it)."""

    kind: str = "local"  # a name in forms.forges.FORGES
    api_url: str = ""  # gitea: the server root; github: https://api.github.com by default
    owner: str = ""
    repo: str = ""
    token: str = ""
    webhook_secret: str = ""
    timeout: float = 15.0


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook delivery, reduced to what the service acts on."""

    kind: str  # "pull_request", "push", "ping" or the forge's other event name
    action: str = ""
    number: int | None = None  # pull request number
    branch: str = ""  # pull request head branch
    merged: bool = False
    repository: str = ""  # "owner/name" of the repository the event is about
    head_repository: str = ""  # pull request: "owner/name" the head branch lives in
    base_branch: str = ""  # pull request: the branch it merges into
    ref: str = ""  # push: the updated ref
    commit: str = ""  # push: the new tip; pull request: the merge commit
    actor: str = ""  # who merged / closed / pushed


class Forge(Protocol):
    """Where a submission's pull request is opened, watched, merged or closed."""

    kind: str
    full_name: str  # "owner/name" of the repository on the forge ("" for the local forge)

    def open_pull_request(self, record: SubmissionRecord, title: str, body: str) -> tuple[int, str]:
        """Open (or find the already open) pull request of the record's branch: (number, url)."""
        ...

    def pull_request_state(self, number: int) -> str:
        """OPEN, MERGED or CLOSED."""
        ...

    def merge_pull_request(
        self, record: SubmissionRecord, number: int, title: str, message: str, reviewer: Identity
    ) -> None:
        """Merge the record's commit into main (idempotent: an already merged request is
        left alone). HeadMoved if the head is another commit, PullRequestDecided(CLOSED)
        if it was closed meanwhile, NotMergeable if the forge keeps refusing."""
        ...

    def close_pull_request(self, record: SubmissionRecord, number: int, comment: str) -> None:
        """Close without merging, leaving `comment` (the reason) on it;
        PullRequestDecided(MERGED) if it was merged meanwhile."""
        ...

    def branch_exists(self, branch: str) -> bool:
        """Whether the branch is on the forge (a deleted head branch closes its request)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """The event if the signature is valid, None otherwise (missing, wrong, no secret)."""
        ...


@dataclass(frozen=True)
class ReportLabels:
    """The human names of a report's identifiers, supplied by whoever knows the content."""

    unit_name: str
    form_title: str
    period_title: str
    field_titles: Mapping[str, str] = field(default_factory=dict)  # field name -> title
    timezone: str = DEFAULT_TIMEZONE  # the plan's: the submission time is shown in it


@dataclass(frozen=True)
class PullRequestText:
    title: str
    body: str


def identifier_labels(report: Report) -> ReportLabels:
    """Fallback when no content is at hand: the identifiers stand for themselves."""
    return ReportLabels(unit_name=report.unit, form_title=report.form, period_title=report.period)


def pull_request_text(report: Report, labels: ReportLabels) -> PullRequestText:
    """Title "【填报】<unit> <form> <period>" and a Markdown table of field title / value."""
    title = one_line(f"【填报】{labels.unit_name} {labels.form_title} {labels.period_title}")
    who = report.submitted_by
    lines = [
        f"**填报单位**：{markdown_text(labels.unit_name)}  ",
        f"**报表**：{markdown_text(labels.form_title)}  ",
        f"**报送期**：{markdown_text(labels.period_title)}  ",
        f"**填报人**：{markdown_text(str(who.get('name', '')))}"
        f"（{markdown_text(str(who.get('account', '')))}）  ",
        f"**提交时间**：{markdown_text(local_minute_text(report.submitted_at, labels.timezone))}  ",
        f"**编号**：`{markdown_text(report.id)}`",
        "",
        "| 项目 | 填报内容 |",
        "| --- | --- |",
    ]
    for name, value in report.values.items():
        label = labels.field_titles.get(name, name)
        lines.append(f"| {table_cell(label)} | {table_cell(display_value(value))} |")
    if report.evidence:
        lines += ["", "**佐证材料**：", ""]
        lines += [f"- {markdown_text(item.name)}" for item in report.evidence]
    lines += ["", "审核通过请合并本请求；如需退回，请关闭本请求并在评论中说明原因。", ""]
    return PullRequestText(title=title, body="\n".join(lines))


def bounded_body(body: str, limit: int = BODY_LIMIT) -> str:
    """The body as the forge accepts it: cut with a note when it is too long."""
    if len(body) <= limit:
        return body
    return body[: limit - len(BODY_CUT_NOTE)] + BODY_CUT_NOTE


def display_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "、".join(display_value(v) for v in value)
    return str(value)


def one_line(text: str, limit: int = TITLE_LIMIT) -> str:
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown_text(text: str) -> str:
    """User text as literal Markdown: no links, images, HTML or emphasis it did not intend."""
    text = "".join(c for c in text if c.isprintable() or c in "\n")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def table_cell(text: str) -> str:
    """A table cell: escaped, newlines as <br> so the row stays one line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(markdown_text(line) for line in lines)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name (a plain dict is not case-insensitive)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def hmac_sha256(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, given: str) -> bool:
    """Constant-time comparison; an empty secret never verifies anything."""
    if not secret or not given:
        return False
    return hmac.compare_digest(hmac_sha256(secret, body), given.strip().lower())


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def delivery_payload(headers: Mapping[str, str], body: bytes) -> bytes | None:
    """The JSON payload of a delivery: the body itself, or a form delivery's `payload`
    field (both forges offer form deliveries; GitHub's default content type is form).
    None for a form without exactly one payload."""
    media_type = header(headers, "Content-Type").split(";")[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        return body
    try:
        fields = urllib.parse.parse_qs(body.decode(), strict_parsing=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("payload", [])
    return values[0].encode() if len(values) == 1 else None


def event_from_delivery(kind: str, payload: bytes) -> WebhookEvent | None:
    try:
        return event_from_payload(kind, json.loads(payload))
    except ValueError:
        return None


def event_from_payload(kind: str, payload: Any) -> WebhookEvent:
    """Gitea, Forgejo and GitHub share the shape of pull_request and push payloads: the
    repository in `repository`, a pull request's head and base with their own `repo`."""
    if not isinstance(payload, dict):
        return WebhookEvent(kind=kind)
    actor = _text(payload.get("sender"), "login")
    repository = _text(payload.get("repository"), "full_name")
    if kind == "pull_request":
        given = payload.get("pull_request")
        pull: dict[str, Any] = given if isinstance(given, dict) else {}
        number = pull.get("number", payload.get("number"))
        head = pull.get("head") if isinstance(pull.get("head"), dict) else {}
        return WebhookEvent(
            kind=kind,
            action=str(payload.get("action", "")),
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            branch=_text(head, "ref"),
            merged=pull.get("merged") is True,
            repository=repository,
            head_repository=_text(head.get("repo") if head else None, "full_name"),
            base_branch=_text(pull.get("base"), "ref"),
            commit=str(pull.get("merge_commit_sha") or ""),
            actor=_text(pull.get("merged_by"), "login") or actor,
        )
    if kind == "push":
        return WebhookEvent(
            kind=kind,
            ref=str(payload.get("ref", "")),
            commit=str(payload.get("after", "")),
            actor=actor,
            repository=repository,
        )
    return WebhookEvent(
        kind=kind, action=str(payload.get("action", "")), actor=actor, repository=repository
    )


def _text(value: Any, key: str) -> str:
    return str(value.get(key) or "") if isinstance(value, dict) else ""
