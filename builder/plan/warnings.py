"""Likely mistakes in a plan that loads: `plansite validate` prints them as 警告 and still
succeeds (the plan builds). Each is a `Problem` with `warning=True`, located at the file and
field of the indicator concerned.

* a ratio target above 1 (ratios are fractions: `min: 100` can never be met, 1.0 is 100%);
* a due date outside the plan's period;
* an indicator id used in two tasks (ids are the indicator's key in every figure);
* a target the field's own constraints never let a unit reach (a `maximum` of 10 per report
  against a `min: 50` over two reports).
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.model import Content, Form, Indicator, Problem, Task
from builder.rules import RULES, format_value


def plan_warnings(content: Content) -> list[Problem]:
    """Every warning of a plan that loaded without problems, in plan order."""
    warnings: list[Problem] = []
    forms = {form.id: form for form in content.forms}
    first_task: dict[str, Task] = {}
    for task in content.tasks:
        for index, indicator in enumerate(task.indicators):
            where = f"indicators[{index}]"
            for field, message in _indicator_warnings(content, forms, indicator):
                warnings.append(Problem(task.source, f"{where}{field}", message, warning=True))
            earlier = first_task.setdefault(indicator.id, task)
            if earlier is not task:
                message = (
                    f"指标标识“{indicator.id}”已在 {earlier.source} 中使用；"
                    "指标标识应在整个方案中唯一，否则两个指标的数据会相互覆盖"
                )
                warnings.append(Problem(task.source, f"{where}.id", message, warning=True))
    return warnings


def _indicator_warnings(
    content: Content, forms: dict[str, Form], indicator: Indicator
) -> Iterator[tuple[str, str]]:
    plan = content.plan
    if not plan.start <= indicator.due <= plan.end:
        yield ".due", f"截止日期 {indicator.due} 不在方案期限（{plan.start} 至 {plan.end}）内"
    target = indicator.target
    if target is None:
        return
    if RULES[indicator.rule].name == "ratio":
        for key, bound in (("min", target.minimum), ("max", target.maximum)):
            if bound is not None and bound > 1:
                yield (
                    f".target.{key}",
                    f"比率目标 {key}: {bound:g} 大于 1（100%），永远无法达到；"
                    "比率应写成小数，例如 1.0 表示 100%、0.95 表示 95%",
                )
    reachable = _reachable(content, forms, indicator)
    if reachable is None:
        return
    low, high = reachable
    if target.minimum is not None and high is not None and high < target.minimum:
        yield (
            ".target.min",
            f"目标 {format_value(indicator, target.minimum)} 无法达到："
            f"按表单字段的取值上限，最多只能达到 {format_value(indicator, high)}",
        )
    if target.maximum is not None and low is not None and low > target.maximum:
        yield (
            ".target.max",
            f"目标 ≤ {format_value(indicator, target.maximum)} 无法达到："
            f"按表单字段的取值下限，至少为 {format_value(indicator, low)}",
        )


def _reachable(
    content: Content, forms: dict[str, Form], indicator: Indicator
) -> tuple[float | None, float | None] | None:
    """The lowest and highest value the field's constraints allow the indicator's rule
    (highest for `sum`: every period of its form at its maximum); None for other rules."""
    ref = indicator.field
    if ref is None or indicator.rule not in ("sum", "latest"):
        return None
    form = forms.get(ref.form)
    field = form.field_named(ref.field) if form is not None else None
    if form is None or field is None:
        return None
    reports = len(form.periods) if indicator.rule == "sum" else 1
    high = field.maximum * reports if field.maximum is not None else None
    # The least a unit that reported at all can have: one report (others may be missing).
    return field.minimum, high
