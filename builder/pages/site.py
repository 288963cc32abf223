"""What every page of one build needs: the content and its progress, the options, lookups
by id, which tasks apply to which unit, and rendering a template into a GeneratedPage."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup

from builder.charts import percent
from builder.model import Content, FieldRef, Indicator, Report, Status, Task, Unit
from builder.obligations import (
    COLOUR_LABELS,
    STATE_LABELS,
    Colour,
    Obligation,
    ObligationCounts,
    colour,
    count,
    plan_obligations,
    standing,
)
from builder.pages.fragments import Fragments
from builder.pages.links import PageLinks
from builder.pages.page import BLOCK_TOKEN, GeneratedPage
from builder.pages.text import (
    ESCALATION_SHORT,
    SHORT_LABELS,
    STATUS_SORT,
    size_text,
    task_label,
    task_sort_key,
)
from builder.progress import SEVERITY, IndicatorResult, Progress, Rollup, applies, indicator_timing
from builder.reporting import reports_after
from builder.rules import target_text
from builder.rules.kinds import KINDS, Timing
from builder.status_reasons import indicator_basis, status_reason
from builder.templating import environment

# Where a table's rows go in its block (see Site.render): a comment, which no escaped text
# can forge.
_ROWS = Markup("<!--plansite-rows-->")


@dataclass(frozen=True)
class SiteOptions:
    as_of: date | None = None  # None: the progress's own as-of date
    forms_url: str = "/forms/"  # where the form service is mounted (absolute or relative)
    directory_urls: bool = True  # MkDocs `use_directory_urls`: decides relative links
    flag_labels: Mapping[str, str] = field(default_factory=dict)  # unit flag -> Chinese label
    overdue_limit: int = 100  # rows of the home page's overdue table; the rest is counted


@dataclass(frozen=True)
class UnitStanding:
    """How one unit stands, as every summary of it states it: its reports, its 督办 colour
    and the one status shown for it (never "all fine" while a report is missing)."""

    counts: ObligationCounts
    colour: Colour
    status: Status


class Site:
    """The shared context of one build's pages."""

    def __init__(
        self, content: Content, reports: Sequence[Report], progress: Progress, options: SiteOptions
    ):
        self.content = content
        self.progress = progress
        self.options = options
        self.plan = content.plan
        self.as_of = options.as_of or progress.as_of
        self.tasks = {t.id: t for t in content.tasks}
        self.units = {u.id: u for u in content.units}
        self.forms = {f.id: f for f in content.forms}
        self.periods = {p.id: p for p in content.periods}
        self.categories = {c.id: c for c in content.plan.categories}
        self.unit_type_labels = {t.id: t.label for t in content.plan.unit_types}
        self.units_by_type: dict[str, list[Unit]] = {}
        for unit in content.units:
            self.units_by_type.setdefault(unit.type, []).append(unit)
        self.indicators: dict[str, tuple[Task, Indicator]] = {
            i.id: (t, i) for t in content.tasks for i in t.indicators
        }
        self.main_tasks = [t for t in content.tasks if t.kind == "task"]
        self.guarantees = [t for t in content.tasks if t.kind == "guarantee"]
        self.unit_tasks, self.task_units = _applicable_tasks(content)
        # Approved reports received after the date progress counts to, by unit: listed on
        # their unit's page, not counted.
        self.reports_after = reports_after(reports, progress.as_of)
        # Every unit x form x period as an obligation, worked out once per build: the unit
        # pages, the indexes, the matrix and the status page all state the same ones.
        self.escalation = content.escalation
        self.obligations = plan_obligations(
            progress.reporting_states, progress.as_of, content.escalation
        )
        self.plan_obligation_counts = count(
            item for items in self.obligations.values() for item in items
        )
        self._standings: dict[str, UnitStanding] = {}
        self._timings: dict[str, Timing] = {}
        self._bases: dict[str, str] = {}
        self._whys: dict[tuple[object, ...], str] = {}
        self.env = environment()
        # The demo notice at the top of every page: the same on each, so rendered once
        # rather than included by each of thousands of renders.
        self.banner = Markup(self.env.get_template("_banner.md").render(plan=self.plan))
        self.fragments = Fragments(
            self.env.get_template("_macros.html").make_module(self._macro_globals())
        )
        # The legend of the escalation colours, its thresholds from content/: the same on
        # every page that colours units, so rendered once.
        self.escalation_legend = self._render_escalation_legend()

    def _macro_globals(self) -> dict[str, Any]:
        """What the macros of `_macros.html` (the cells and rows of the big tables) use."""
        return {
            "site": self,
            "badge_class": _badge_class,
            "status_sort": STATUS_SORT,
            "short_labels": SHORT_LABELS,
            "state_labels": STATE_LABELS,
            "colour_labels": COLOUR_LABELS,
            "escalation_short": ESCALATION_SHORT,
            "check_marks": CHECK_MARKS,
            "percent": percent,
            "size_text": size_text,
            "target_text": target_text,
            "task_sort_key": task_sort_key,
        }

    def _render_escalation_legend(self) -> Markup:
        return Markup(
            self.env.get_template("_escalation_legend.html").render(
                colour_labels=COLOUR_LABELS,
                escalation_short=ESCALATION_SHORT,
                due_soon_days=self.content.escalation.due_soon_days,
            )
        )

    def unit_obligations(self, unit_id: str) -> tuple[Obligation, ...]:
        return self.obligations.get(unit_id, ())

    def standing(self, unit_id: str) -> UnitStanding:
        """The unit's report counts, colour and overall status (worked out once per build)."""
        known = self._standings.get(unit_id)
        if known is None:
            items = self.unit_obligations(unit_id)
            rollup = self.progress.unit_rollup(unit_id)
            statuses = [status for status, n in rollup.counts.items() if n]
            known = self._standings[unit_id] = UnitStanding(
                count(items), colour(items, statuses), standing(rollup.status, items)
            )
        return known

    def escalation_badge(self, unit_id: str) -> Markup:
        return self.fragments("escalation_badge", self.standing(unit_id).colour)

    def label(self, task: Task) -> str:
        return task_label(task, self.plan.guarantees_title)

    def _timing(self, indicator_id: str) -> Timing:
        timing = self._timings.get(indicator_id)
        if timing is None:
            task, indicator = self.indicators[indicator_id]
            timing = self._timings[indicator_id] = indicator_timing(self.content, task, indicator)
        return timing

    def field_title(self, ref: FieldRef) -> str:
        form = self.forms.get(ref.form)
        field_ = form.field_named(ref.field) if form is not None else None
        return field_.title if field_ is not None and field_.title else ref.field

    def indicator_basis(self, indicator_id: str) -> str:
        """How the indicator's status is worked out: rule, inputs, kind, target and the share
        expected by now (builder.status_reasons)."""
        basis = self._bases.get(indicator_id)
        if basis is None:
            indicator = self.indicators[indicator_id][1]
            timing, as_of = self._timing(indicator_id), self.progress.as_of
            expected = KINDS[indicator.kind].expected(indicator, timing, as_of)
            basis = self._bases[indicator_id] = indicator_basis(
                indicator, self.field_title, timing, expected, as_of
            )
        return basis

    def status_why(self, result: IndicatorResult) -> str:
        """The status with the reason for it: 进度滞后：当前值 3 次，低于…… Units share a
        handful of (status, value) pairs per indicator: each text is made once."""
        value = result.value
        key = (result.indicator, result.status, type(value), value)
        why = self._whys.get(key)
        if why is None:
            indicator = self.indicators[result.indicator][1]
            timing = self._timing(result.indicator)
            reason = status_reason(indicator, result.status, value, timing, result.expected)
            why = self._whys[key] = f"{result.status.label}：{reason}"
        return why

    @staticmethod
    def spread_text(item: Rollup) -> str:
        """The counts of a roll-up's statuses, worst first, those present only."""
        return " · ".join(f"{s.label} {item.counts[s]}" for s in SEVERITY if item.counts[s])

    def type_label(self, unit: Unit) -> str:
        """Plan.unit_type_label of the unit's type."""
        return self.unit_type_labels.get(unit.type, unit.type)

    def flag_facts(self, unit: Unit) -> list[tuple[str, str]]:
        """Each flag column of units.csv for the unit, in column order: its label in the
        units schema (often a question, 是否……) and 是 or 否."""
        labels = self.options.flag_labels
        return [(labels.get(flag, flag), "是" if on else "否") for flag, on in unit.flags.items()]

    def links(self, path: str) -> PageLinks:
        return PageLinks(path, self.options.directory_urls)

    def unit_link(self, link: Callable[[str], str], unit: Unit) -> Markup:
        return self.fragments("unit_link", link(f"units/{unit.id}.md"), unit.id, unit.name)

    def task_link(self, link: Callable[[str], str], task: Task, text: str) -> Markup:
        return self.fragments("task_link", link(f"tasks/{task.id}.md"), task.id, text)

    def render(
        self,
        template: str,
        path: str,
        title: str,
        in_nav: bool = True,
        search_tags: Sequence[str] = (),
        **context: Any,
    ) -> GeneratedPage:
        """The page of a template of `templates/`. A template puts each big table into
        `{% call block() %}...{% endcall %}`, or HTML built whole into `{{ html_block(html) }}`:
        the table becomes one of the page's blocks (see GeneratedPage), its place in the
        Markdown a placeholder. `banner` is the demo notice (`{{ banner -}}`: it brings its
        own blank line when there is one)."""
        link = self.links(path)
        blocks = _PageBlocks()
        source = self.env.get_template(template).render(
            site=self,
            block=blocks.block,
            html_block=blocks.html_block,
            banner=self.banner,
            escalation_legend=self.escalation_legend,
            plan=self.plan,
            as_of=self.as_of,
            title=title,
            link=link,
            unit_link=lambda unit: self.unit_link(link, unit),
            task_link=lambda task, text: self.task_link(link, task, text),
            badge=self.badge,
            status_cell=self.status_cell,
            share_cell=self.share_cell,
            percent=percent,
            **context,
        )
        return GeneratedPage(
            path=path,
            title=title,
            source=source,
            in_nav=in_nav,
            blocks=tuple(blocks.html),
            search_tags=tuple(search_tags),
        )

    def badge(self, status: Status) -> Markup:
        return self.fragments("badge", status)

    def status_cell(self, status: Status) -> Markup:
        return self.fragments("status_cell", status)

    def share_cell(self, item: Rollup) -> Markup:
        return self.fragments("share_cell", item.share)


class _PageBlocks:
    """The blocks of one page being rendered (see GeneratedPage): each big table's HTML,
    kept out of the Markdown, where a placeholder stands for it."""

    def __init__(self) -> None:
        self.html: list[str] = []

    def block(self, rows: Sequence[str] | None = None, *, caller: Callable[..., str]) -> Markup:
        # `{% call(rows) block(pieces) %}<table>...{{ rows }}...</table>{% endcall %}`:
        # a table whose rows are built in Python, as pieces joined once with the table
        # around them (megabytes on a task page, the matrix and thousands of unit pages).
        if rows is None:
            html = str(caller()).strip("\n")
        else:
            head, _, tail = str(caller(_ROWS)).partition(_ROWS)
            html = "".join([head.lstrip("\n"), *rows, tail.rstrip("\n")])
        self.html.append(html)
        return Markup(BLOCK_TOKEN.format(len(self.html) - 1) + "\n")

    def html_block(self, html: str) -> Markup:
        # `{{ html_block(html) }}`: HTML the macros have built whole (a unit's task list,
        # checklists, report contents) as one of the page's blocks; a `{% call %}` that
        # only prints it would cost a Jinja macro call on each of thousands of pages.
        self.html.append(str(html).strip("\n"))
        return Markup(BLOCK_TOKEN.format(len(self.html) - 1))


# A checklist item's class, tick and state, by whether the unit's latest report ticks it
# (None: no report says).
CHECK_MARKS: dict[bool | None, tuple[str, str, str]] = {
    True: ("done", "✔", "（已落实）"),
    False: ("open", "✘", "（未落实）"),
    None: ("unknown", "·", "（尚未报送）"),
}


def _badge_class(status: Status) -> str:
    return f"ps-status ps-status--{status.value}"


def _applicable_tasks(
    content: Content,
) -> tuple[dict[str, tuple[Task, ...]], dict[str, list[Unit]]]:
    """The tasks that apply to each unit and the units of each task, in plan and registry
    order. Whether a task applies depends on the unit's profile only (Unit.profile), and
    thousands of units share a handful of those: each profile's tasks are worked out once."""
    by_profile: dict[tuple[str, frozenset[str]], tuple[Task, ...]] = {}
    unit_tasks: dict[str, tuple[Task, ...]] = {}
    task_units: dict[str, list[Unit]] = {t.id: [] for t in content.tasks}
    for unit in content.units:
        tasks = by_profile.get(unit.profile)
        if tasks is None:
            tasks = by_profile[unit.profile] = tuple(
                t for t in content.tasks if _task_applies(content, t, unit)
            )
        unit_tasks[unit.id] = tasks
        for task in tasks:
            task_units[task.id].append(unit)
    return unit_tasks, task_units


def _task_applies(content: Content, task: Task, unit: Unit) -> bool:
    if not task.applies_to.matches(unit):
        return False
    if not task.indicators:
        return True
    return any(applies(content, task, indicator, unit) for indicator in task.indicators)
