"""Calendars of the due dates: an iCalendar feed (.ics) for every unit and one for the plan.

A unit's feed holds one all-day event per report it owes (each form that applies to it x
each of the form's periods, on the period's due date) and one per indicator that applies
to it (on the indicator's due date). The plan's feed holds each form x period and each
indicator once. Calendar apps (Outlook, phones, DingTalk) subscribe to the published URL
and fetch it again; every event keeps the same UID from build to build, so that a moved due
date moves the event instead of adding a second one.

The feeds hold due dates, not states: whether a report is in changes with every approval
and is the pages' and the portal's business; a due date changes only with the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from markupsafe import Markup

from builder.exports.downloads import Download, Export
from builder.model import Content, Indicator, Report, Unit
from builder.progress import Progress, applies
from builder.rules import target_text

FOLDER = "calendars"  # under the site's data/ folder, beside the other downloads
PLAN_CALENDAR = f"{FOLDER}/plan.ics"
PRODUCT_ID = "-//plansite//due dates//ZH"
# Calendar apps fetch a subscribed feed again about this often (RFC 7986, and Outlook's
# older X-PUBLISHED-TTL); the site changes at most with each approval.
REFRESH = timedelta(days=1)


def unit_calendar(unit_id: str) -> str:
    """The unit's feed, relative to the site's data/ folder (unit ids are identifiers, so
    they are safe as file names)."""
    return f"{FOLDER}/{unit_id}.ics"


class DueDate(NamedTuple):
    """One event of a feed: a due date and what is due on it.

    Its DESCRIPTION reads "<unit>：<description>\n填报地址：<url>" (the unit and the address
    when there are). The description is the same for every unit, so that thousands of
    feeds fold it once (see `calendar`)."""

    uid: str
    due: date
    summary: str
    description: str
    url: str | None = None  # the form to fill, when the form service's address is absolute
    unit_name: str = ""


def is_absolute(url: str) -> bool:
    return url.startswith(("https://", "http://"))


class DueDates:
    """The due dates of one plan, worked out once for all of its feeds."""

    def __init__(self, content: Content, progress: Progress, forms_url: str):
        self.content = content
        self.progress = progress
        self.forms_url = forms_url if is_absolute(forms_url) else None
        self._plan_id = content.plan.id
        periods = {period.id: period for period in content.periods}
        # (form, period) -> (summary, description), the same in every unit's feed.
        self._reports: dict[tuple[str, str], tuple[str, str]] = {}
        for form in content.forms:
            for period_id in form.periods:
                period = periods.get(period_id)
                if period is None:
                    continue
                description = f"{form.title}，{period.title}，截止日期 {period.due.isoformat()}。"
                if self.forms_url is None:
                    description += "\n请登录填报系统填写此表。"
                self._reports[(form.id, period_id)] = (
                    f"报送：{form.title}（{period.title}）",
                    description,
                )
        self._indicators = {
            indicator.id: (
                f"指标截止：{indicator.title}",
                f"任务：{task.number}. {task.title}\n目标：{target_text(indicator)}",
            )
            for task in content.tasks
            for indicator in task.indicators
        }
        # Which indicators apply depends on the unit's profile only (type and flags).
        self._applicable: dict[tuple[str, frozenset[str]], tuple[Indicator, ...]] = {}

    def applicable(self, unit: Unit) -> tuple[Indicator, ...]:
        """The indicators that apply to the unit, in plan order."""
        found = self._applicable.get(unit.profile)
        if found is None:
            found = tuple(
                indicator
                for task in self.content.tasks
                for indicator in task.indicators
                if applies(self.content, task, indicator, unit)
            )
            self._applicable[unit.profile] = found
        return found

    def unit(self, unit: Unit) -> Iterator[DueDate]:
        """The unit's reports (each form that applies x its periods, as the reporting
        states list them), then its indicators."""
        # Imported here: builder.pages imports the exports for its downloads page.
        from builder.pages.links import form_link

        plan = self._plan_id
        for state in self.progress.reporting(unit.id):
            summary, description = self._reports[(state.form, state.period)]
            link = (
                form_link(self.forms_url, unit.id, state.form, state.period)
                if self.forms_url is not None
                else None
            )
            yield DueDate(
                f"report.{plan}.{state.form}.{state.period}.{unit.id}@plansite",
                state.due,
                summary,
                description,
                link,
                unit.name,
            )
        for indicator in self.applicable(unit):
            summary, description = self._indicators[indicator.id]
            yield DueDate(
                f"indicator.{plan}.{indicator.id}.{unit.id}@plansite",
                indicator.due,
                summary,
                description,
                unit_name=unit.name,
            )

    def plan(self) -> Iterator[DueDate]:
        """Each form x period once (with how many units owe it), then each indicator once."""
        plan = self._plan_id
        owing: dict[tuple[str, str], int] = {}
        for states in self.progress.reporting_states.values():
            for state in states:
                owing[(state.form, state.period)] = owing.get((state.form, state.period), 0) + 1
        periods = {period.id: period for period in self.content.periods}
        for (form_id, period_id), (summary, _) in self._reports.items():
            period = periods[period_id]
            form = self.content.form(form_id)
            yield DueDate(
                f"report.{plan}.{form_id}.{period_id}@plansite",
                period.due,
                summary,
                f"{form.title}，{period.title}：应报单位 {owing.get((form_id, period_id), 0)} "
                f"个，截止日期 {period.due.isoformat()}。",
            )
        for task in self.content.tasks:
            for indicator in task.indicators:
                summary, description = self._indicators[indicator.id]
                yield DueDate(
                    f"indicator.{plan}.{indicator.id}@plansite", indicator.due, summary, description
                )


# Control characters other than a tab are not allowed in TEXT (RFC 5545 3.3.11); line
# breaks are escaped before this runs.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_OCTETS = 75  # RFC 5545 3.1: content lines are folded after 75 octets
_FOLD = b"\r\n "  # a line break and the space that says the line goes on


def ical_text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 3.3.11 says: backslash, semicolon, comma, and line
    breaks as \\n."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return _CONTROL.sub(" ", value)


def _pieces(text: str, first: int) -> bytes:
    """The text folded: the first piece at most `first` octets, each later one at most 74
    (after its leading space), never inside a UTF-8 character (Chinese is 3 octets each)."""
    if text.isascii() and len(text) <= first:
        return text.encode("ascii")
    data = text.encode("utf-8")
    pieces = []
    start, limit = 0, first
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation octet
            end -= 1
        pieces.append(data[start:end])
        start, limit = end, _LINE_OCTETS - 1
    return _FOLD.join(pieces)


def folded(line: str) -> bytes:
    """One content line, folded into pieces of at most 75 octets."""
    return _pieces(line, _LINE_OCTETS) + b"\r\n"


# A content line may be folded anywhere, so one line is written in parts: a part that does
# not end the line ends with a fold, and the next part is folded as a continuation. The
# parts that thousands of feeds share are folded once.
@lru_cache(maxsize=4096)
def _shared(line: str) -> bytes:
    return folded(line)


@lru_cache(maxsize=4096)
def _shared_opening(start: str) -> bytes:
    return _pieces(start, _LINE_OCTETS) + _FOLD


@lru_cache(maxsize=4096)
def _shared_middle(text: str) -> bytes:
    return _pieces(text, _LINE_OCTETS - 1) + _FOLD


@lru_cache(maxsize=4096)
def _shared_end(text: str) -> bytes:
    return _pieces(text, _LINE_OCTETS - 1) + b"\r\n"


@lru_cache(maxsize=1024)
def _dates(due: date) -> bytes:
    return _shared(f"DTSTART;VALUE=DATE:{due:%Y%m%d}") + _shared(
        f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}"
    )


@lru_cache(maxsize=4096)
def _summary(text: str) -> bytes:
    return _shared(f"SUMMARY:{ical_text(text)}")


@lru_cache(maxsize=4096)
def _description_parts(description: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A shared description folded as each kind of event needs it: alone, opening the line
    before the address, after the unit's name, between the unit's name and the address."""
    text = ical_text(description)
    line = f"DESCRIPTION:{text}"
    address = _shared_middle("\\n填报地址：")
    return (
        _shared(line),
        _shared_opening(line) + address,
        _shared_end(text),
        _shared_middle(text) + address,
    )


def _description(item: DueDate, unit_part: bytes | None) -> bytes:
    alone, before_address, after_unit, between = _description_parts(item.description)
    if item.url is None:
        return alone if unit_part is None else unit_part + after_unit
    start = before_address if unit_part is None else unit_part + between
    return start + _pieces(ical_text(item.url), _LINE_OCTETS - 1) + b"\r\n"


def calendar(name: str, description: str, due_dates: Iterable[DueDate], stamp: datetime) -> bytes:
    """One feed. Every event is all-day (a DATE, so no time zone): DTEND is the next day,
    as RFC 5545 wants for a one-day event, and it is shown free, not busy.

    Written here rather than with the icalendar library, which the tests parse every feed
    with: icalendar takes about 4 ms an event, minutes for a few thousand units' feeds."""
    ttl = f"P{REFRESH.days}D"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{ical_text(name)}",
        f"X-WR-CALNAME:{ical_text(name)}",
        f"DESCRIPTION:{ical_text(description)}",
        f"X-WR-CALDESC:{ical_text(description)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{ttl}",
        f"X-PUBLISHED-TTL:{ttl}",
    ]
    out = [folded(line) for line in lines]
    begin = _shared("BEGIN:VEVENT") + _shared(f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    end = _shared("TRANSP:TRANSPARENT")
    units: dict[str, bytes] = {}  # a unit's name opens each of its descriptions
    for item in due_dates:
        unit_part = None
        if item.unit_name:
            unit_part = units.get(item.unit_name)
            if unit_part is None:
                unit_part = units[item.unit_name] = (
                    _pieces(f"DESCRIPTION:{ical_text(item.unit_name)}：", _LINE_OCTETS) + _FOLD
                )
        out += [
            begin,
            folded(f"UID:{item.uid}"),
            _dates(item.due),
            _summary(item.summary),
            _description(item, unit_part),
            end,
        ]
        if item.url:
            out.append(folded(f"URL:{_CONTROL.sub('', item.url)}"))
        out.append(_shared("END:VEVENT"))
    out.append(_shared("END:VCALENDAR"))
    return b"".join(out)


def write_calendars(
    content: Content, progress: Progress, out_dir: Path, forms_url: str = "/forms/"
) -> list[Path]:
    """Write calendars/<unit>.ics for every unit and calendars/plan.ics; return their paths."""
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    # The build's date, not the clock: the same plan and date give the same bytes.
    stamp = datetime.combine(progress.as_of, time(), tzinfo=UTC)
    title = content.plan.short_title or content.plan.title
    due_dates = DueDates(content, progress, forms_url)
    written = []
    for unit in content.units:
        path = out_dir / unit_calendar(unit.id)
        path.write_bytes(
            calendar(
                f"{unit.name}：报送与指标截止日期",
                f"{title}：{unit.name}需报送的报表和所承担指标的截止日期。",
                due_dates.unit(unit),
                stamp,
            )
        )
        written.append(path)
    path = out_dir / PLAN_CALENDAR
    path.write_bytes(
        calendar(
            f"{title}：报送与指标截止日期",
            f"{title}：各报表每个报送周期的截止日期和各项指标的截止日期。",
            due_dates.plan(),
            stamp,
        )
    )
    written.append(path)
    return written


def _write(
    content: Content, reports: Sequence[Report], progress: Progress, out_dir: Path, forms_url: str
) -> None:
    write_calendars(content, progress, out_dir, forms_url)


def _downloads(content: Content) -> list[Download]:
    return [
        Download(
            PLAN_CALENDAR,
            "全方案截止日期日历",
            Markup(
                "iCalendar（.ics）日历：各报表每个报送周期和各项指标的截止日期。"
                "复制链接即可在 Outlook、手机日历、钉钉日历中订阅；"
                "各单位自己的日历在其单位页面顶部。"
            ),
            save=False,
        )
    ]


EXPORT = Export("calendars", _write, _downloads)
