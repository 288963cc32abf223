"""builder/local_time.py: every time a person sees, in the plan's zone, to the minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from builder.local_time import local_datetime, local_minute_text

BEIJING = "Asia/Shanghai"


def test_an_aware_time_is_shown_in_the_plans_zone_without_offset() -> None:
    assert local_minute_text(datetime(2022, 10, 20, 6, 5, tzinfo=UTC), BEIJING) == (
        "2022-10-20 14:05"
    )
    minus_five = timezone(timedelta(hours=-5))
    assert local_minute_text(datetime(2022, 10, 20, 1, 5, 59, tzinfo=minus_five), BEIJING) == (
        "2022-10-20 14:05"
    )


def test_a_naive_time_is_read_as_utc_as_the_service_keeps_it() -> None:
    assert local_minute_text(datetime(2022, 10, 20, 23, 30), BEIJING) == "2022-10-21 07:30"


def test_a_spreadsheet_gets_the_wall_clock_time_without_a_zone() -> None:
    local = local_datetime(datetime(2022, 3, 31, 16, 0, tzinfo=UTC), BEIJING)
    assert local == datetime(2022, 4, 1, 0, 0) and local.tzinfo is None
