"""The home page: overall share, charts by category and unit type, what is overdue."""

from __future__ import annotations

from typing import Any

from builder.charts import Bar, share_bars, status_stack
from builder.pages.page import GeneratedPage
from builder.pages.site import Site
from builder.progress import IndicatorResult, next_due, rollup
from builder.rules import format_value, target_text


def home_page(site: Site) -> GeneratedPage:
    progress = site.progress
    plan_rollup = progress.plan_rollup()
    overdue = progress.overdue()
    shown = sorted(
        overdue, key=lambda r: (site.indicators[r.indicator][1].due, site.tasks[r.task].number)
    )
    return site.render(
        "home.md",
        "index.md",
        "首页",
        plan_rollup=plan_rollup,
        unit_count=len(site.content.units),
        indicator_count=len(site.content.indicators),
        next_period=next_due(site.content, site.as_of),
        category_chart=share_bars(
            "各类别指标完成率", _category_bars(site), chart_id="ps-chart-categories"
        ),
        type_chart=share_bars(
            "各类型单位指标完成率", _unit_type_bars(site), chart_id="ps-chart-unit-types"
        ),
        status_chart=status_stack(
            "全部指标状态分布", plan_rollup.counts, chart_id="ps-chart-status"
        ),
        overdue_total=len(overdue),
        reports=site.plan_obligation_counts,
        forms_url=site.options.forms_url,
        overdue_rows=[_overdue_row(site, r) for r in shown[: site.options.overdue_limit]],
    )


def _category_bars(site: Site) -> list[Bar]:
    """The share met of each category's tasks, and of the guarantees."""
    bars = []
    for category in site.plan.categories:
        item = site.progress.category_rollup(category.id)
        bars.append(
            Bar(
                f"（{category.number}）{category.title}",
                item.share,
                f"{item.met}/{item.applicable}",
            )
        )
    if site.guarantees:
        item = rollup(
            r
            for t in site.guarantees
            for i in t.indicators
            for r in site.progress.for_indicator(i.id)
        )
        bars.append(Bar(site.plan.guarantees_title, item.share, f"{item.met}/{item.applicable}"))
    return bars


def _unit_type_bars(site: Site) -> list[Bar]:
    """The share met of each unit type's units (types without units left out)."""
    bars = []
    for unit_type in site.plan.unit_types:
        units = [u for u in site.content.units if u.type == unit_type.id]
        if units:
            item = rollup(r for u in units for r in site.progress.for_unit(u.id))
            bars.append(
                Bar(
                    f"{unit_type.label}（{len(units)}个）",
                    item.share,
                    f"{item.met}/{item.applicable}",
                )
            )
    return bars


def _overdue_row(site: Site, result: IndicatorResult) -> dict[str, Any]:
    task, indicator = site.indicators[result.indicator]
    return {
        "unit": site.units[result.unit],
        "task": task,
        "task_label": site.label(task),
        "indicator": indicator,
        "target": target_text(indicator),
        "value": format_value(indicator, result.value),
        "result": result,
    }
