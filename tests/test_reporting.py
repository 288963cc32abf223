"""builder.reporting: which reports count as of a date, whatever zone they were sent from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from builder.model import Report
from builder.reporting import effective_reports, reports_after
from tests.factories import make_report

CST = timezone(timedelta(hours=8))


def at(moment: datetime, rid: str) -> Report:
    return make_report("u1", "Q1", {}, moment, form="qp", rid=rid)


@pytest.mark.parametrize(
    "earlier",
    [
        datetime(2022, 4, 5, 2, 59, tzinfo=UTC),
        datetime(2022, 4, 5, 10, 59, tzinfo=CST),
        datetime(2022, 4, 5, 2, 59),  # naive: read as UTC
        datetime(2022, 4, 5, 4, 59, tzinfo=ZoneInfo("Europe/Berlin")),  # CEST, +02:00
    ],
)
@pytest.mark.parametrize(
    "later",
    [
        datetime(2022, 4, 5, 3, 0, tzinfo=UTC),
        datetime(2022, 4, 5, 11, 0, tzinfo=CST),
        datetime(2022, 4, 5, 3, 0),
        datetime(2022, 4, 5, 5, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
)
def test_submission_times_of_any_zone_or_none_order_by_their_instant(
    earlier: datetime, later: datetime
) -> None:
    # The earlier report has the larger id: only the instant can make the later one win.
    first, correction = at(earlier, "20220405-zzzz"), at(later, "20220405-aaaa")
    for order in ([first, correction], [correction, first]):
        effective = effective_reports(order, date(2022, 12, 31))
        assert list(effective.values()) == [correction]
        assert reports_after(order, date(2022, 4, 1)) == {"u1": (first, correction)}


def test_the_same_instant_in_two_offsets_is_a_tie_broken_by_the_larger_id() -> None:
    china = at(datetime(2022, 4, 5, 11, 0, tzinfo=CST), "20220405-aaaa")
    utc = at(datetime(2022, 4, 5, 3, 0, tzinfo=UTC), "20220405-bbbb")
    for order in ([china, utc], [utc, china]):
        effective = effective_reports(order, date(2022, 12, 31))
        assert list(effective.values()) == [utc]
