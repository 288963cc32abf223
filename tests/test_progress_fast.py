"""The shortcuts evaluate() takes for speed give the same results as the plain code.

builder.progress builds its results without the dataclass' __init__ and compares fixed
offset submission times without converting them; these tests hold both to the plain
behaviour, so that a new field or a new kind of time zone cannot drift silently.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from builder.model import Report, Status
from builder.progress import IndicatorResult, _result, effective_reports, reports_after
from tests.factories import make_report

CST = timezone(timedelta(hours=8))


def test_a_result_built_by_the_shortcut_is_the_one_init_builds() -> None:
    arguments = ("u1", "t1", "i1", 2.5, Status.BEHIND, ("r1", "r2"), 3.0)
    fast, plain = _result(*arguments), IndicatorResult(*arguments)
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert dataclasses.astuple(fast) == arguments
    # Every field is set: a field added to IndicatorResult must be added to _result too.
    assert len(dataclasses.fields(IndicatorResult)) == len(arguments)


def test_the_shortcut_s_expected_defaults_to_none_as_the_dataclass_s_does() -> None:
    assert _result("u", "t", "i", None, Status.NOT_APPLICABLE, ()) == IndicatorResult(
        "u", "t", "i", None, Status.NOT_APPLICABLE, ()
    )


def test_a_result_built_by_the_shortcut_is_frozen() -> None:
    result = _result("u", "t", "i", None, Status.NOT_REPORTED, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 1.0  # type: ignore[misc]


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
