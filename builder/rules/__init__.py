"""Indicator rules, looked up by name: `RULES[indicator.rule]`.

Each rule is one module of this package holding one `Rule` object (see builder.rules.base
for what a rule decides). To add a rule: write the module, add it to `_BUILT_IN` below and
describe it in content/README.md. The loader, progress, the pages and the synthetic
generator find it here.
"""

from __future__ import annotations

from datetime import date

from builder.model import Indicator
from builder.rules import done_on, latest, ratio, yes_no
from builder.rules import sum as sum_rule
from builder.rules.base import Measured, Rule, UnitReports, Value

__all__ = ["RULES", "Measured", "Rule", "UnitReports", "Value", "format_value", "register"]

# name -> rule, in the order the plan editor's error message lists them.
RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Make `rule` known under its name (a rule of the same name is replaced)."""
    RULES[rule.name] = rule
    return rule


_BUILT_IN = (sum_rule.RULE, latest.RULE, ratio.RULE, yes_no.RULE, done_on.RULE)
for _rule in _BUILT_IN:
    register(_rule)


def format_value(indicator: Indicator, value: Value) -> str:
    """The value as shown to users: "85%", "3 次", "是"/"否", "2025-06-20", "—" when there
    is none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    return RULES[indicator.rule].format_number(indicator, value)


def target_text(indicator: Indicator) -> str:
    """The indicator's target in words: "≥ 100%", "1–2 次", "是", "按期完成", "仅跟踪"."""
    target = indicator.target
    if target is None:
        return "仅跟踪"
    if target.by is not None:  # the indicator's own due date, shown beside it
        return "按期完成"
    if target.equals is not None:
        return format_value(indicator, target.equals)
    low = format_value(indicator, target.minimum) if target.minimum is not None else None
    high = format_value(indicator, target.maximum) if target.maximum is not None else None
    if low and high:
        return f"{low} 至 {high}"
    if low:
        return f"≥ {low}"
    return f"≤ {high}" if high else "仅跟踪"
