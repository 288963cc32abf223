"""Times as the plan's readers see them: in the plan's own time zone (plan.yml
`timezone`), to the minute, never with an offset.

A report carries the offset it was submitted with, drafts and review decisions are kept
in UTC; shown side by side in their own offsets they read as different clocks
("(UTC+00:00)" next to "(UTC+08:00)"). Every page, the portal, the review queue and the
downloads go through `local_minute_text` (or `local_datetime` for a spreadsheet cell).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

MINUTE_FORMAT = "%Y-%m-%d %H:%M"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_datetime(moment: datetime, zone: str) -> datetime:
    """The wall-clock time in `zone`, naive (a spreadsheet cell keeps no offset). A naive
    `moment` is read as UTC, the way the service keeps its own times."""
    aware = moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(_zone(zone)).replace(tzinfo=None)


def local_minute_text(moment: datetime, zone: str) -> str:
    """`moment` in `zone` as 2022-10-20 14:05."""
    return local_datetime(moment, zone).strftime(MINUTE_FORMAT)
