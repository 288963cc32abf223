"""Why a status is what it is, in Chinese, for the pages: the indicator's basis (rule,
inputs, kind, target and, for a pro-rated target, the share expected by now) and the reason
of one unit's status (its value against the target or the date that decided it).

The texts follow the decisions of builder.rules.kinds and builder.progress; they do not
decide anything themselves.
"""

from __future__ import annotations

from datetime import date

from builder.model import Indicator, Status
from builder.rules import RULES, Value, format_value, target_text
from builder.rules.base import FieldTitle
from builder.rules.kinds import KINDS, Timing, expected_share


def indicator_basis(
    indicator: Indicator,
    field_title: FieldTitle,
    timing: Timing,
    expected: float | None,
    as_of: date,
) -> str:
    """计算：……；类型：……；目标：……，截止 ……[；截至 …… 按时间进度应达到目标的 …%（…）]"""
    reads = RULES[indicator.rule].describe(indicator, field_title)
    kind = KINDS[indicator.kind]
    text = (
        f"计算：{reads}；类型：{kind.label}；目标：{target_text(indicator)}，"
        f"截止 {indicator.due.isoformat()}"
    )
    if expected is not None:
        share = expected_share(indicator, timing.plan_start, as_of)
        text += (
            f"；截至 {as_of.isoformat()} 按时间进度应达到目标的 {share:.0%}"
            f"（{format_value(indicator, expected)}）"
        )
    return text


def status_reason(
    indicator: Indicator,
    status: Status,
    value: Value,
    timing: Timing,
    expected: float | None,
) -> str:
    """Why one unit's status on the indicator is `status`, with its value."""
    shown = format_value(indicator, value)
    target = target_text(indicator)
    due = indicator.due.isoformat()
    if status is Status.NOT_APPLICABLE:
        return "不适用于该单位"
    if status is Status.MET:
        if isinstance(value, date):
            return _done_on(value, indicator.due)
        return f"当前值 {shown}，已达到目标 {target}"
    if status is Status.OVERDUE:
        if indicator.kind == "deadline" and timing.carrying_report_due != indicator.due:
            # A day reported after the due date is done (late), so an overdue one has none.
            short = (
                "尚未报送完成日期"
                if _reads_a_day(indicator)
                else f"当前值 {shown} 未达到目标 {target}"
            )
            carrying = timing.carrying_report_due.isoformat()
            return f"应于 {due} 前完成，载明该事项的报送已于 {carrying} 截止，{short}"
        return f"截止日期 {due} 已过，当前值 {shown} 未达到目标 {target}"
    if status is Status.NOT_REPORTED:
        if timing.first_report_due is None:
            return "没有适用的表单报送本指标的数据"
        first_due = timing.first_report_due.isoformat()
        return f"首次报送已于 {first_due} 截止，尚无审核通过的填报"
    if status is Status.BEHIND:
        if expected is not None:
            return f"当前值 {shown}，低于按时间进度应达到的 {format_value(indicator, expected)}"
        return f"当前值 {shown}，未达到须持续保持的目标 {target}（不按时间进度折算）"
    # On track.
    if indicator.target is None and value is not None:
        return "仅跟踪，不设目标：已报送即为进展正常"
    if indicator.kind == "deadline":
        carrying = timing.carrying_report_due.isoformat()
        return f"尚未到期：应于 {due} 前完成，载明该事项的报送截止日期为 {carrying}"
    if value is None:
        first_due = timing.first_report_due.isoformat() if timing.first_report_due else due
        return f"首次报送截止日期 {first_due} 未到"
    if expected is not None:
        return f"当前值 {shown}，不低于按时间进度应达到的 {format_value(indicator, expected)}"
    return f"当前值 {shown}，截止日期 {due} 前达到目标 {target} 即可"


def _reads_a_day(indicator: Indicator) -> bool:
    """Whether the indicator's value is the day a thing was done (its target a day)."""
    return indicator.target is not None and indicator.target.by is not None


def _done_on(day: date, due: date) -> str:
    """A thing done on `day`: on time, or late by so many days (逾期完成, still 已完成)."""
    if day <= due:
        return f"已于 {day.isoformat()} 完成，未超过截止日期 {due.isoformat()}"
    late = (day - due).days
    return f"逾期完成：于 {day.isoformat()} 完成，晚于截止日期 {due.isoformat()} 共 {late} 天"
