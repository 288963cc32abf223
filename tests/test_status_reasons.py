"""builder.status_reasons: each status says why, in the terms of its indicator's kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from builder.model import FieldRef, Indicator, Status, Target
from builder.rules.kinds import Timing
from builder.status_reasons import indicator_basis, status_reason

RATE = Indicator(
    "fixed-rate", "t1", "30日内整改率", "latest", date(2025, 12, 31),
    field=FieldRef("security", "fixed_rate"), target=Target(minimum=0.95), kind="threshold",
)  # fmt: skip
FILED = Indicator(
    "filed", "t1", "完成备案", "yes_no", date(2025, 6, 30),
    field=FieldRef("security", "filed"), target=Target(equals=True), kind="deadline",
)  # fmt: skip
FILED_ON = Indicator(
    "filed-on", "t1", "完成备案", "done_on", date(2025, 6, 30),
    field=FieldRef("security", "filed_on"), target=Target(by=date(2025, 6, 30)), kind="deadline",
)  # fmt: skip
# Quarterly reports: the first due 04-10; the one carrying 06-30 due 07-10.
TIMING = Timing(date(2025, 1, 1), date(2025, 4, 10), date(2025, 7, 10))
TITLES = {"fixed_rate": "30日内整改率", "filed": "是否完成备案", "filed_on": "备案日期"}


def title(ref: FieldRef) -> str:
    return TITLES[ref.field]


def test_a_threshold_in_october_is_behind_because_it_is_never_pro_rated() -> None:
    assert status_reason(RATE, Status.BEHIND, 0.83, TIMING, None) == (
        "当前值 0.83，未达到须持续保持的目标 ≥ 0.95（不按时间进度折算）"
    )
    basis = indicator_basis(RATE, title, TIMING, None, date(2025, 10, 20))
    assert basis == "计算：最近一期的“30日内整改率”；类型：持续保持；目标：≥ 0.95，截止 2025-12-31"


def test_a_deadline_item_between_its_date_and_its_report_s_due_date_is_not_yet_due() -> None:
    assert status_reason(FILED, Status.ON_TRACK, None, TIMING, None) == (
        "尚未到期：应于 2025-06-30 前完成，载明该事项的报送截止日期为 2025-07-10"
    )
    assert status_reason(FILED, Status.OVERDUE, False, TIMING, None) == (
        "应于 2025-06-30 前完成，载明该事项的报送已于 2025-07-10 截止，当前值 否 未达到目标 是"
    )


def test_a_tracked_only_indicator_says_it_has_no_target() -> None:
    tracked = replace(RATE, target=None, kind="cumulative")
    assert status_reason(tracked, Status.ON_TRACK, 0.5, TIMING, None) == (
        "仅跟踪，不设目标：已报送即为进展正常"
    )


def test_not_reported_names_the_first_due_date() -> None:
    assert status_reason(RATE, Status.NOT_REPORTED, None, TIMING, None) == (
        "首次报送已于 2025-04-10 截止，尚无审核通过的填报"
    )


def test_a_day_done_by_the_due_date_says_when_it_was_done() -> None:
    assert status_reason(FILED_ON, Status.MET, date(2025, 6, 30), TIMING, None) == (
        "已于 2025-06-30 完成，未超过截止日期 2025-06-30"
    )
    basis = indicator_basis(FILED_ON, title, TIMING, None, date(2025, 7, 5))
    assert basis == (
        "计算：最近一期报送的“备案日期”（完成日期）；类型：限期完成；"
        "目标：按期完成，截止 2025-06-30"
    )


def test_a_day_after_the_due_date_is_done_late_by_so_many_days() -> None:
    assert status_reason(FILED_ON, Status.MET, date(2025, 7, 5), TIMING, None) == (
        "逾期完成：于 2025-07-05 完成，晚于截止日期 2025-06-30 共 5 天"
    )


def test_a_day_not_reported_is_not_yet_due_then_overdue_by_its_carrying_report() -> None:
    assert status_reason(FILED_ON, Status.ON_TRACK, None, TIMING, None) == (
        "尚未到期：应于 2025-06-30 前完成，载明该事项的报送截止日期为 2025-07-10"
    )
    assert status_reason(FILED_ON, Status.OVERDUE, None, TIMING, None) == (
        "应于 2025-06-30 前完成，载明该事项的报送已于 2025-07-10 截止，尚未报送完成日期"
    )
