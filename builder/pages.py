"""The generated site's pages as Markdown: home, plan text, tasks, units, matrix, data.

`render_pages` is pure: content, reports and progress in, a list of `GeneratedPage` out.
The MkDocs plugin adds them as virtual files; `plansite build --pages-only` writes them.

Everything a user or a plan editor typed is escaped by the templates (autoescape, plus
the `md` filter in Markdown context); only the plan's own text (task bodies, preamble)
is passed through as Markdown, because it *is* the plan's formatted text, reviewed in
pull requests like code.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from markupsafe import Markup, escape

from builder.charts import Bar, percent, share_bars, status_stack
from builder.gcpause import without_collection
from builder.model import (
    AppliesTo,
    ChecklistItem,
    Content,
    Form,
    Indicator,
    Period,
    Report,
    Status,
    Task,
    Unit,
    is_identifier,
)
from builder.progress import (
    SEVERITY,
    IndicatorResult,
    Progress,
    ReportingState,
    Rollup,
    applies,
    format_value,
    next_due,
    reports_after,
    rollup,
)
from builder.templating import environment, html_text, markdown_text


@dataclass(frozen=True)
class SiteOptions:
    as_of: date | None = None  # None: the progress's own as-of date
    forms_url: str = "/forms/"  # where the form service is mounted (absolute or relative)
    directory_urls: bool = True  # MkDocs `use_directory_urls`: decides relative links
    flag_labels: Mapping[str, str] = field(default_factory=dict)  # unit flag -> Chinese label
    overdue_limit: int = 100  # rows of the home page's overdue table; the rest is counted


@dataclass(frozen=True)
class GeneratedPage:
    """One page. Its big generated HTML (tables) is kept out of the Markdown: `source` holds
    a placeholder comment per block and `blocks` the finished, escaped HTML. Python-Markdown
    would only hand raw HTML through unchanged, at a cost of one parser callback per tag,
    so the plugin converts `source` and puts the blocks into the converted page;
    `markdown` is the same page as self-contained Markdown for a plain MkDocs build."""

    path: str  # relative to docs_dir, e.g. "units/fgw.md"
    title: str  # plain text
    source: str  # Markdown with a BLOCK_TOKEN in place of each block
    in_nav: bool = True
    blocks: tuple[str, ...] = ()

    @property
    def markdown(self) -> str:
        return insert_blocks(self.source, self.blocks)


# A block's placeholder: an HTML comment, which Python-Markdown passes through untouched
# and the search plugin ignores. Text typed by users is escaped, so it cannot forge one.
BLOCK_TOKEN = "<!--plansite-block-{}-->"
_BLOCK_PREFIX = "<!--plansite-block-"  # a placeholder is this, decimal digits, "-->"


def insert_blocks(text: str, blocks: Sequence[str]) -> str:
    """The text (Markdown or the HTML converted from it) with each placeholder replaced by
    its block; a placeholder with no block (plan text quoting one) stays as it is."""
    if not blocks:
        return text
    # str.split instead of a regular expression's sub with a callback: the same result
    # (a property test compares them), for less on every page of every build.
    pieces = text.split(_BLOCK_PREFIX)
    out = [pieces[0]]
    for piece in pieces[1:]:
        end = piece.find("-->")
        number = piece[:end] if end > 0 else ""
        if number.isdecimal() and int(number) < len(blocks):
            out += (blocks[int(number)], piece[end + 3:])
        else:
            out += (_BLOCK_PREFIX, piece)
    return "".join(out)


# Labels of a unit's reporting state for one form x period.
REPORTING_LABELS: dict[str, str] = {
    "reported": "已报送",
    "late": "逾期报送",
    "missing": "未报送",
    "open": "待报送",
}

# Short cell text of the units x tasks matrix; the full label is in the cell's <abbr>.
SHORT_LABELS: dict[Status, str] = {
    Status.MET: "完成",
    Status.ON_TRACK: "正常",
    Status.BEHIND: "滞后",
    Status.NOT_REPORTED: "未报",
    Status.OVERDUE: "逾期",
    Status.NOT_APPLICABLE: "—",
}

# Sort key of a status in sortable tables: worst first when sorted ascending.
STATUS_SORT: dict[Status, int] = {
    **{status: index for index, status in enumerate(SEVERITY)},
    Status.NOT_APPLICABLE: len(SEVERITY),
}


# --------------------------------------------------------------------------- links


def page_url(path: str, directory_urls: bool = True) -> str:
    """The URL (relative to the site root) MkDocs gives a docs file."""
    if not path.endswith(".md"):
        return path  # a static file keeps its path
    stem = path.removesuffix(".md")
    if not directory_urls:
        return stem + ".html"
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def url_base(from_path: str, directory_urls: bool = True) -> str:
    """The folder (site URL) that a page's relative links start from."""
    here = page_url(from_path, directory_urls)
    return here if here == "" or here.endswith("/") else posixpath.dirname(here)


def relative_url(from_path: str, to_path: str, directory_urls: bool = True) -> str:
    """A link from one docs file to another (or to a static file), relative, as MkDocs would."""
    return _relative_from(url_base(from_path, directory_urls), to_path, directory_urls)


def _relative_from(base: str, to_path: str, directory_urls: bool) -> str:
    target = page_url(to_path, directory_urls)
    rel = _relpath(target, base)
    if target == "" or target.endswith("/"):
        return "./" if rel == "." else rel + "/"
    return rel


def _relpath(target: str, base: str) -> str:
    """posixpath.relpath for the site's own relative URLs (no "..", no "."), without its
    abspath and getcwd calls: the pages ask for tens of thousands of links."""
    to = [part for part in target.split("/") if part]
    start = [part for part in base.split("/") if part]
    common = 0
    for a, b in zip(to, start, strict=False):
        if a != b:
            break
        common += 1
    parts = [".."] * (len(start) - common) + to[common:]
    return "/".join(parts) if parts else "."


def form_link(forms_url: str, unit: str, form: str, period: str) -> str | None:
    """The form service's page for one unit x form x period; None for a non-identifier."""
    if not all(is_identifier(v) for v in (unit, form, period)):
        return None
    return f"{_forms_base(forms_url)}units/{unit}/{form}/{period}/"


def _forms_base(forms_url: str) -> str:
    return forms_url if forms_url.endswith("/") else forms_url + "/"


# --------------------------------------------------------------------------- display


def target_text(indicator: Indicator) -> str:
    """The indicator's target in words: "≥ 100%", "1–2 次", "是", "仅跟踪"."""
    target = indicator.target
    if target is None:
        return "仅跟踪"
    if target.equals is not None:
        return format_value(indicator, target.equals)
    low = format_value(indicator, target.minimum) if target.minimum is not None else None
    high = format_value(indicator, target.maximum) if target.maximum is not None else None
    if low and high:
        return f"{low} 至 {high}"
    if low:
        return f"≥ {low}"
    return f"≤ {high}" if high else "仅跟踪"


def share_text(item: Rollup) -> str:
    return percent(item.share)


def applies_text(content: Content, applies_to: AppliesTo, flag_labels: Mapping[str, str]) -> str:
    if applies_to.is_all:
        return "全部单位"
    parts = [content.plan.unit_type_label(t) for t in applies_to.unit_types]
    parts += [flag_labels.get(flag, flag) for flag in applies_to.flags]
    return "、".join(parts)


def cell_value(form_field_type: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and form_field_type == "integer":
        return str(int(value))
    return str(value)


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def task_label(task: Task, guarantees_title: str) -> str:
    """How a task is numbered for readers: "任务5" or "组织保障1"."""
    return f"任务{task.number}" if task.kind == "task" else f"{guarantees_title}{task.number}"


# --------------------------------------------------------------------------- the site


_CACHED_VALUE_TYPES = frozenset({str, int, bool, type(None)})
_ABSENT = object()

# A form field as a report's contents table shows it: name, type, the row's HTML up to the
# value, and its finished rows by (type, value) of a value (see _Site.detail_cells).
_DetailField = tuple[str, str, str, dict[tuple[type, Any], str]]

# Where a table's rows go in a template's block (see `_Site.render`): a comment, which no
# escaped text can forge.
_ROWS = Markup("<!--plansite-rows-->")


class _Site:
    """Lookups shared by every page, built once per render (no per-page scans)."""

    def __init__(self, content: Content, reports: Sequence[Report], progress: Progress,
                 options: SiteOptions):
        self.content = content
        self.reports = reports
        self.progress = progress
        self.options = options
        self.as_of = options.as_of or progress.as_of
        self.plan = content.plan
        self.tasks = {t.id: t for t in content.tasks}
        self.units = {u.id: u for u in content.units}
        self.forms = {f.id: f for f in content.forms}
        self.periods = {p.id: p for p in content.periods}
        self.categories = {c.id: c for c in content.plan.categories}
        self.indicators = {i.id: (t, i) for t in content.tasks for i in t.indicators}
        self.main_tasks = [t for t in content.tasks if t.kind == "task"]
        self.guarantees = [t for t in content.tasks if t.kind == "guarantee"]
        self.env = environment()
        self.macros = self.env.get_template("_macros.html").make_module({
            "badge_class": _badge_class,
            "status_sort": STATUS_SORT,
            "short_labels": SHORT_LABELS,
            "percent": percent,
        })
        self.fragments: dict[tuple[Any, ...], Markup] = {}
        self.linkers: dict[str, Callable[[str], str]] = {}
        self.links: dict[str | int, dict[str, str]] = {}
        self.targets: dict[str, str | None] = {}
        self.escaped: dict[str, str] = {}
        self.details: dict[tuple[str, str], list[_DetailField]] = {}
        self.values: dict[tuple[str, type, Any], str] = {}
        self.banner_text: str | None = None
        self.value_texts: dict[tuple[str, type, Any], str] = {}
        # A reporting row's form and period cells and its form link's path after the unit.
        self.reporting_cells: dict[tuple[str, str, date, str], tuple[str, str | None]] = {}
        self.value_cells: dict[str, dict[tuple[str, type, Any], Markup]] = {}
        self.unit_row_heads: dict[int, dict[str, str]] = {}
        self.unit_row_tails: dict[tuple[int, str, str, type, Any], str] = {}
        self.status_cells = {status: self.fragment("status_cell", status) for status in Status}
        # The tasks that apply to each unit and the units of each task, in plan and registry
        # order (the tasks index, each task page and each unit page ask: 3 x units x tasks).
        # Whether a task applies depends on the unit's profile only (Unit.profile), and
        # thousands of units share a handful of those, so each profile's tasks are worked
        # out once.
        by_profile: dict[tuple[str, frozenset[str]], tuple[Task, ...]] = {}
        self.unit_tasks: dict[str, tuple[Task, ...]] = {}
        self.task_units: dict[str, list[Unit]] = {t.id: [] for t in content.tasks}
        for unit in content.units:
            profile = unit.profile
            tasks = by_profile.get(profile)
            if tasks is None:
                tasks = by_profile[profile] = tuple(
                    t for t in content.tasks if self.task_applies(t, unit))
            self.unit_tasks[unit.id] = tasks
            for task in tasks:
                self.task_units[task.id].append(unit)
        # Approved reports received after the date progress counts to, by unit: listed on
        # their unit's page, not counted. Usually none (as_of = today): one dict read a page.
        self.reports_after = reports_after(self.reports, progress.as_of)

    def link(self, from_path: str, to_path: str) -> str:
        """relative_url from one docs file to another."""
        return self.linker(from_path)(to_path)

    def linker(self, from_path: str) -> Callable[[str], str]:
        """The `link` function of one page: its URL folder is worked out once."""
        linker = self.linkers.get(from_path)
        if linker is None:
            linker = self.linkers[from_path] = self._linker(from_path)
        return linker

    def _linker(self, from_path: str) -> Callable[[str], str]:
        """relative_url from one page, computed once per distinct result. With directory
        URLs every page is its own folder ("units/u1/"), but a link whose target shares no
        leading folder with it is only "../" per level + the target: every unit page links
        to a task page by the same URL, every task page to a unit page."""
        directory_urls = self.options.directory_urls
        base = url_base(from_path, directory_urls)
        parts = [part for part in base.split("/") if part]
        head = parts[0] if parts else None
        own = self.links.setdefault(base, {})
        shared = self.links.setdefault(len(parts), {})
        targets = self.targets

        def link(to_path: str) -> str:
            if to_path in targets:
                first = targets[to_path]
            else:
                target_parts = [p for p in page_url(to_path, directory_urls).split("/") if p]
                first = targets[to_path] = target_parts[0] if target_parts else None
            links = own if head is not None and head == first else shared
            url = links.get(to_path)
            if url is None:
                url = links[to_path] = _relative_from(base, to_path, directory_urls)
            return url

        return link

    def text(self, value: str) -> str:
        """HTML-escaped text, once per distinct value (titles repeat on every row)."""
        html = self.escaped.get(value)
        if html is None:
            html = self.escaped[value] = html_text(value)
        return html

    def value_html(self, kind: str, value: Any) -> str:
        """A report value as escaped cell text, once per distinct value of a field type:
        counts, yes/no and dates repeat across thousands of reports."""
        if value.__class__ not in _CACHED_VALUE_TYPES:  # floats: 0.0 == -0.0, shown apart
            return html_text(cell_value(kind, value))
        key = (kind, value.__class__, value)  # True == 1, but "是" != "1"
        html = self.values.get(key)
        if html is None:
            html = self.values[key] = html_text(cell_value(kind, value))
        return html

    def value_text(self, indicator: Indicator, value: float | bool | None) -> str:
        """format_value, once per indicator and value: both the unit and the task pages
        show every result, and most results share a handful of values."""
        key = (indicator.id, value.__class__, value)  # True == 1, but "是" != "1 次"
        text = self.value_texts.get(key)
        if text is None:
            text = self.value_texts[key] = format_value(indicator, value)
        return text

    def detail_cells(self, form: Form) -> list[_DetailField]:
        """(name, type, the row's HTML up to the value, its finished rows by value) of each
        field of a form, in form order: the labels of a report's contents table, the same
        for every report, and its rows, filled as reports show values."""
        key = ("detail-cells", form.id)
        cells = self.details.get(key)
        if cells is None:
            cells = self.details[key] = [
                (f.name, f.type, f'<tr><td>{self.text(f.title or f.name)}</td>'
                                 '<td class="ps-report-value">', {})
                for f in form.fields
            ]
        return cells

    def unit_link(self, href: str, unit_id: str, name: str) -> Markup:
        """The `unit_link` macro's HTML, written here: every unit is linked from the task
        pages, the units index and the matrix, thousands of distinct calls a build, each a
        Jinja macro call. Same cache and the same escaping (a property test compares)."""
        key = ("unit_link", href, unit_id, name)
        html = self.fragments.get(key)
        if html is None:
            if href.__class__ is str and unit_id.__class__ is str and name.__class__ is str:
                html = self.fragments[key] = Markup(
                    f'<a href="{html_text(href)}" data-unit="{html_text(unit_id)}">'
                    f"{html_text(name)}</a>"
                )
            else:  # Markup or another type: the macro knows how Jinja shows it
                html = self.fragment(*key)
        return html

    def value_cell(self, indicator_id: str, status: Status, value: str) -> Markup:
        """The `value_cell` macro's HTML, written here (one per indicator, status and
        shown value: about a thousand distinct calls). Same cache and escaping."""
        key = ("value_cell", indicator_id, status, value)
        html = self.fragments.get(key)
        if html is None:
            if indicator_id.__class__ is str and value.__class__ is str:
                html = self.fragments[key] = Markup(
                    f'<td data-indicator="{html_text(indicator_id)}" '
                    f'data-sort="{STATUS_SORT[status]}"><span class="ps-value">'
                    f'{html_text(value)}</span> {self.fragment("badge", status)}</td>'
                )
            else:
                html = self.fragment(*key)
        return html

    def fragment(self, macro: str, *args: Any) -> Markup:
        """A macro of _macros.html, rendered once per distinct call: the big tables repeat
        the same few badges, cells and links thousands of times."""
        key = (macro, *args)
        html = self.fragments.get(key)
        if html is None:
            html = self.fragments[key] = Markup(getattr(self.macros, macro)(*args))
        return html

    def render(self, template: str, path: str, title: str, in_nav: bool = True,
               **context: Any) -> GeneratedPage:
        link = self.linker(path)

        fragment = self.fragment
        site_unit_link = self.unit_link

        def unit_link(unit: Unit) -> Markup:
            return site_unit_link(link(f"units/{unit.id}.md"), unit.id, unit.name)

        def task_link(task: Task, text: str) -> Markup:
            return fragment("task_link", link(f"tasks/{task.id}.md"), task.id, text)

        blocks: list[str] = []

        def block(rows: Sequence[str] | None = None, *,
                  caller: Callable[..., str]) -> Markup:
            # `{% call block() %}<table>...</table>{% endcall %}` in a template, or
            # `{% call(rows) block(pieces) %}...<tbody>{{ rows }}</tbody>...{% endcall %}`
            # for a table whose rows are built here, as a list of pieces: megabytes on a
            # task page or the matrix, joined once with the template's part around them,
            # where a template variable is copied into the template's output, its Markup,
            # the block's str and its strip.
            if rows is None:
                html = str(caller()).strip("\n")
            else:
                head, _, tail = str(caller(_ROWS)).partition(_ROWS)
                if head.strip("\n") and tail.strip("\n"):  # the same as stripping it all
                    html = "".join([head.lstrip("\n"), *rows, tail.rstrip("\n")])
                else:
                    html = "".join([head, *rows, tail]).strip("\n")
            blocks.append(html)
            return Markup(BLOCK_TOKEN.format(len(blocks) - 1) + "\n")

        source = self.env.get_template(template).render(
            site=self,
            block=block,
            plan=self.plan,
            as_of=self.as_of,
            title=title,
            link=link,
            unit_link=unit_link,
            task_link=task_link,
            badge=partial(fragment, "badge"),
            status_cell=partial(fragment, "status_cell"),
            share_cell=lambda item: fragment("share_cell", item.share),
            value_cell=self.value_cell,
            matrix_cell=partial(fragment, "matrix_cell"),
            status_sort=STATUS_SORT,
            short_labels=SHORT_LABELS,
            percent=percent,
            **context,
        )
        return GeneratedPage(path=path, title=title, source=source, in_nav=in_nav,
                             blocks=tuple(blocks))

    def task_applies(self, task: Task, unit: Unit) -> bool:
        if not task.applies_to.matches(unit):
            return False
        if not task.indicators:
            return True
        return any(applies(self.content, task, ind, unit) for ind in task.indicators)

    def banner(self) -> str:
        """The demo banner (_banner.md), as the templates include it."""
        if self.banner_text is None:
            self.banner_text = self.env.get_template("_banner.md").render(plan=self.plan)
        return self.banner_text

    def label(self, task: Task) -> str:
        return task_label(task, self.plan.guarantees_title)


def _badge_class(status: Status) -> str:
    return f"ps-status ps-status--{status.value}"


# --------------------------------------------------------------------------- pages


def _home(site: _Site) -> GeneratedPage:
    progress = site.progress
    plan_rollup = progress.plan_rollup()
    category_bars = []
    for category in site.plan.categories:
        item = progress.category_rollup(category.id)
        category_bars.append(
            Bar(f"（{category.number}）{category.title}", item.share,
                f"{item.met}/{item.applicable}")
        )
    guarantee_rollup = rollup(r for t in site.guarantees for i in t.indicators
                              for r in progress.for_indicator(i.id))
    if site.guarantees:
        category_bars.append(
            Bar(site.plan.guarantees_title, guarantee_rollup.share,
                f"{guarantee_rollup.met}/{guarantee_rollup.applicable}")
        )
    type_bars = []
    for unit_type in site.plan.unit_types:
        units = [u for u in site.content.units if u.type == unit_type.id]
        if not units:
            continue
        item = rollup(r for u in units for r in progress.for_unit(u.id))
        type_bars.append(Bar(f"{unit_type.label}（{len(units)}个）", item.share,
                             f"{item.met}/{item.applicable}"))
    overdue = progress.overdue()
    shown = sorted(overdue, key=lambda r: (site.indicators[r.indicator][1].due,
                                           site.tasks[r.task].number))
    overdue_rows = [_indicator_row(site, r) for r in shown[: site.options.overdue_limit]]
    return site.render(
        "home.md",
        "index.md",
        "首页",
        plan_rollup=plan_rollup,
        unit_count=len(site.content.units),
        indicator_count=len(site.content.indicators),
        next_period=next_due(site.content, site.as_of),
        category_chart=share_bars("各类别指标完成率", category_bars,
                                  chart_id="ps-chart-categories"),
        type_chart=share_bars("各类型单位指标完成率", type_bars, chart_id="ps-chart-unit-types"),
        status_chart=status_stack("全部指标状态分布", plan_rollup.counts,
                                  chart_id="ps-chart-status"),
        overdue_total=len(overdue),
        overdue_rows=overdue_rows,
    )


def _indicator_row(site: _Site, result: IndicatorResult) -> dict[str, Any]:
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


def _plan(site: _Site) -> GeneratedPage:
    by_category: dict[str, list[Task]] = {c.id: [] for c in site.plan.categories}
    for task in site.main_tasks:
        by_category.setdefault(task.category or "", []).append(task)
    return site.render(
        "plan.md",
        "plan.md",
        "方案全文",
        by_category=by_category,
        trusted=_trusted_markdown,
    )


def _trusted_markdown(text: str) -> Markup:
    """The plan's own text is Markdown written by plan editors and reviewed in pull
    requests, so it is rendered as Markdown; nothing a unit submits ever goes here."""
    return Markup(text.strip())


def _tasks_index(site: _Site) -> GeneratedPage:
    return site.render(
        "tasks_index.md",
        "tasks/index.md",
        "任务总览",
        groups=[("主要任务", site.main_tasks), (site.plan.guarantees_title, site.guarantees)],
        applicable_count={t.id: len(site.task_units[t.id]) for t in site.content.tasks},
    )


def _task_page(site: _Site, task: Task) -> GeneratedPage:
    units = site.task_units[task.id]
    progress = site.progress
    path = f"tasks/{task.id}.md"
    indicators = [
        {
            "indicator": ind,
            "target": target_text(ind),
            "applies": applies_text(site.content, ind.applies_to, site.options.flag_labels),
            "rollup": rollup(progress.for_indicator(ind.id)),
        }
        for ind in task.indicators
    ]
    return site.render(
        "task.md",
        path,
        f"{site.label(task)} {task.title}",
        task=task,
        label=site.label(task),
        category=site.categories.get(task.category or ""),
        applies=applies_text(site.content, task.applies_to, site.options.flag_labels),
        forms=[site.forms[f] for f in task.forms if f in site.forms],
        indicators=indicators,
        task_rollup=progress.task_rollup(task.id),
        unit_count=len(units),
        unit_rows=_task_unit_rows(site, path, task, units),
        trusted=_trusted_markdown,
    )


def _unit_link(site: _Site, path: str, unit: Unit) -> str:
    return site.unit_link(site.link(path, f"units/{unit.id}.md"), unit.id, unit.name)


def _task_unit_rows(site: _Site, path: str, task: Task, units: Sequence[Unit]) -> list[str]:
    """The table's rows as pieces, for the page's block to join once."""
    link = site.linker(path)
    for_indicator, rollup_of = site.progress.for_indicator, site.progress.unit_task_rollup
    cells, fragment = site.fragments, site.fragment
    indicators = task.indicators
    # A unit's row head is the same on every task page of one depth: a task page's folder
    # never shares a leading folder with a unit page's, so the link is "../" per level.
    heads = site.unit_row_heads.setdefault(url_base(path, site.options.directory_urls)
                                           .count("/"), {})
    # A value cell by the raw result, so that most cells skip formatting their value.
    # Keys hold the status' value: a str hashes in C, an Enum member in Python.
    value_cells = [site.value_cells.setdefault(indicator.id, {}) for indicator in indicators]
    # Each indicator's results by unit, from its column (as Progress.result finds them, the
    # last for a unit id wins): one dict read per cell instead of a method call.
    columns = [{r.unit: r for r in for_indicator(indicator.id)} for indicator in indicators]
    parts: list[str] = []
    for unit in units:
        head = heads.get(unit.id)
        if head is None:
            head = heads[unit.id] = _unit_row_head(site, link, unit)
        parts.append(head)
        for indicator, by_value, column in zip(indicators, value_cells, columns, strict=True):
            result = column[unit.id]
            value = result.value
            key = (result.status._value_, value.__class__, value)  # True == 1
            cell = by_value.get(key)
            if cell is None:
                cell = by_value[key] = site.value_cell(
                    indicator.id, result.status, site.value_text(indicator, value))
            parts.append(cell)
        if indicators:
            item = rollup_of(unit.id, task.id)
            key = ("rollup-cells", item.share, item.status._value_)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Markup(fragment("share_cell", item.share)
                                           + fragment("status_cell", item.status))
            parts.append(cell)
        parts.append("</tr>\n")
    return parts


def _unit_row_head(site: _Site, link: Callable[[str], str], unit: Unit) -> str:
    """A unit's row up to its first value."""
    href = link(f"units/{unit.id}.md")
    return Markup(
        f'<tr data-unit="{site.text(unit.id)}"><td>'
        f"{site.unit_link(href, unit.id, unit.name)}</td>"
        f"<td>{site.text(site.plan.unit_type_label(unit.type))}</td>"
    )


def _units_index(site: _Site) -> GeneratedPage:
    path = "units/index.md"
    statuses = SEVERITY[::-1]
    rows = []
    for unit in site.content.units:
        item = site.progress.unit_rollup(unit.id)
        counts = "".join(f"<td>{item.counts.get(status, 0)}</td>" for status in statuses)
        rows.append(
            f'<tr data-unit="{site.text(unit.id)}"><td>{_unit_link(site, path, unit)}</td>'
            f"<td>{site.text(site.plan.unit_type_label(unit.type))}</td>"
            f'{site.fragment("share_cell", item.share)}{counts}'
            f'{site.fragment("status_cell", item.status)}</tr>\n'
        )
    return site.render("units_index.md", path, "单位总览", unit_count=len(rows),
                       unit_rows=rows, statuses=statuses)


def _latest_reports(ordered: Sequence[ReportingState]) -> dict[str, list[Report]]:
    """The unit's effective reports by form, latest period first (`ordered` is in calendar
    order): where checklist items look for the unit's latest answer."""
    latest: dict[str, list[Report]] = {}
    for state in reversed(ordered):
        if state.report is not None:
            latest.setdefault(state.form, []).append(state.report)
    return latest


def _ticks(latest: Mapping[str, Sequence[Report]],
           items: Sequence[ChecklistItem]) -> tuple[bool | None, ...]:
    """Whether the unit's latest report ticks each item of a checklist (None when nothing
    says), in one loop: every unit page asks for dozens of items."""
    ticks: list[bool | None] = []
    for item in items:
        tick = None
        ref = item.field
        if ref is not None:
            name = ref.field
            for report in latest.get(ref.form, ()):
                value = report.values.get(name)
                if value.__class__ is bool:
                    tick = value
                    break
        ticks.append(tick)
    return tuple(ticks)


def _unit_page(site: _Site, unit: Unit) -> GeneratedPage:
    progress = site.progress
    results = [r for r in progress.for_unit(unit.id) if r.status is not Status.NOT_APPLICABLE]
    states = progress.reporting(unit.id)
    tasks = site.unit_tasks[unit.id]
    checklists: list[tuple[Task, tuple[bool | None, ...]]] = []
    if any(task.checklist for task in tasks):
        periods = site.periods
        latest = _latest_reports(sorted(states, key=lambda s: (periods[s.period].end, s.period)))
        checklists = [(task, _ticks(latest, task.checklist)) for task in tasks if task.checklist]
    history = [
        (state, site.forms[state.form], site.periods[state.period])
        for state in states
        if state.form in site.forms and state.period in site.periods
    ]
    path = f"units/{unit.id}.md"
    link = site.linker(path)
    return GeneratedPage(path=path, title=unit.name, in_nav=False, **_unit_source(
        site, unit,
        indicator_tbody=_unit_indicator_rows(site, path, link, unit, results),
        task_items=_task_items(site, path, link, unit),
        checklists_html=_checklists_html(site, checklists),
        history_tbody=_reporting_rows(site, unit, history),
        report_details=_report_details_html(site, history),
    ))


# The unit page is the one page built thousands of times, so it is written here as strings,
# like the rows below, instead of by a template: a Jinja render (context, include, five
# call blocks) cost as much as all of the page's tables. Everything shown is escaped.
_UNIT_INDICATORS_HEAD = (
    '<table data-ps-table="unit-indicators" data-search-exclude>\n'
    "<thead><tr><th>任务</th><th>指标</th><th>目标</th><th>截止日期</th><th>当前值</th>"
    "<th>状态</th></tr></thead>\n<tbody>\n"
)
_UNIT_REPORTING_HEAD = (
    '<table data-ps-table="unit-reporting" data-search-exclude>\n'
    "<thead><tr><th>表单</th><th>报送周期</th><th>截止日期</th><th>状态</th><th>提交时间</th>"
    "<th>提交人</th><th>佐证材料</th><th>填报</th></tr></thead>\n<tbody>\n"
)


def _unit_source(site: _Site, unit: Unit, *, indicator_tbody: str, task_items: str,
                 checklists_html: str, history_tbody: str,
                 report_details: str) -> dict[str, Any]:
    """The unit page's Markdown (`source`) and its HTML `blocks`."""
    blocks: list[str] = []

    def block(html: str) -> str:
        blocks.append(html.strip("\n"))
        return BLOCK_TOKEN.format(len(blocks) - 1) + "\n"

    item = site.progress.unit_rollup(unit.id)
    unit_id = site.text(unit.id)
    parts = [
        f"---\nhide:\n  - toc\n---\n# {markdown_text(unit.name)} {{#ps-unit}}\n\n",
        site.banner(),
        f'<dl class="ps-facts" data-unit="{unit_id}">\n'
        f"<div><dt>单位类型</dt><dd>{site.text(site.plan.unit_type_label(unit.type))}</dd></div>\n"
        f"<div><dt>单位代码</dt><dd><code>{unit_id}</code></dd></div>\n"
        f'<div><dt>指标完成率</dt><dd><span data-ps="unit-share">{html_text(percent(item.share))}'
        f"</span>（{item.met}/{item.applicable}） {site.fragment('badge', item.status)}"
        "</dd></div>\n"
        f"<div><dt>统计截至</dt><dd>{site.as_of.isoformat()}</dd></div>\n</dl>\n\n"
        "## 指标进度 {#ps-indicators}\n\n",
        block(f"{_UNIT_INDICATORS_HEAD}{indicator_tbody}</tbody>\n</table>") if indicator_tbody
        else '<p class="ps-empty">本单位没有适用的考核指标。</p>\n',
        "\n## 适用任务 {#ps-tasks}\n\n",
        block(f'<ul class="ps-task-list" data-search-exclude>\n{task_items}</ul>'),
        "\n",
    ]
    if checklists_html:
        parts += ["## 工作清单 {#ps-checklist}\n\n", block(checklists_html), "\n"]
    parts += [
        "## 报送情况 {#ps-reporting}\n\n",
        block(f"{_UNIT_REPORTING_HEAD}{history_tbody}</tbody>\n</table>") if history_tbody
        else '<p class="ps-empty">本单位没有需要报送的表单。</p>\n',
        "\n",
    ]
    received_after = site.reports_after.get(unit.id)
    if received_after:
        as_of = site.progress.as_of.isoformat()
        parts += [
            "## 统计日期后收到的填报 {#ps-reports-after}\n\n",
            f"以下填报已审核通过，但在统计日期之后提交，未计入上方的指标进度和报送情况"
            f"（统计截至 {as_of}）。\n\n",
            block(_reports_after_table(site, received_after)),
            "\n",
        ]
    if report_details:
        parts += ["## 报送内容 {#ps-reports}\n\n", block(report_details)]
    return {"source": "".join(parts), "blocks": tuple(blocks)}


def _reports_after_table(site: _Site, reports: Sequence[Report]) -> str:
    """The reports a unit sent after the as-of date: what, for when, when and by whom."""
    rows = []
    for report in reports:
        form, period = site.forms.get(report.form), site.periods.get(report.period)
        by = report.submitted_by.get("name") or report.submitted_by.get("account") or "—"
        rows.append(
            f'<tr data-report="{html_text(report.id)}" data-form="{site.text(report.form)}" '
            f'data-period="{site.text(report.period)}">'
            f"<td>{site.text(form.title if form else report.form)}</td>"
            f"<td>{site.text(period.title if period else report.period)}</td>"
            f"<td>{minute_text(report.submitted_at)}</td><td>{html_text(by)}</td></tr>\n"
        )
    return (
        '<table data-ps-table="unit-reports-after" data-search-exclude>\n'
        "<thead><tr><th>表单</th><th>报送周期</th><th>提交时间</th><th>提交人</th></tr></thead>\n"
        f"<tbody>\n{''.join(rows)}</tbody>\n</table>"
    )


# The big tables' rows are built as plain strings: a unit page has dozens of rows and the
# site thousands of unit pages, and a Jinja loop with a macro call per cell costs several
# times more. Every value is escaped here (`_Site.text`, `html_text`); the links and badges
# are the macros of _macros.html, rendered once per distinct call (`_Site.fragment`), and
# whatever is the same on every unit page (an indicator's cells, a task's link, a form's
# labels) is built once per build.


def _indicator_cells(site: _Site, link: Callable[[str], str], indicator_id: str) -> str:
    """The row's cells before its value: the same on every unit page for one indicator."""
    task, indicator = site.indicators[indicator_id]
    href = link(f"tasks/{task.id}.md")
    key = ("indicator-cells", href, indicator_id)
    html = site.fragments.get(key)
    if html is None:
        sort = f"{task.number:04d}" if task.kind == "task" else f"9{task.number:03d}"
        task_link = site.fragment("task_link", href, task.id, site.label(task))
        html = site.fragments[key] = Markup(
            f'{site.text(indicator.id)}"><td data-sort="{sort}">{task_link}</td>'
            f"<td>{site.text(indicator.title)}</td><td>{site.text(target_text(indicator))}</td>"
            f"<td>{indicator.due.isoformat()}</td>"
        )
    return html


# The unit page's tables are returned as str, not Markup: they go straight into the page's
# source, and a Markup of a finished table is one more copy of it.


def _unit_indicator_rows(site: _Site, path: str, link: Callable[[str], str], unit: Unit,
                         results: Sequence[IndicatorResult]) -> str:
    head = f'<tr data-unit="{site.text(unit.id)}" data-indicator="'
    indicators, status_cells = site.indicators, site.status_cells
    # The row after the unit, once per indicator, status and raw value. Its task link is
    # the same from every unit page of one depth: a unit page's folder never shares a
    # leading folder with a task page's, so the link is "../" per level + the target.
    depth = url_base(path, site.options.directory_urls).count("/")
    tails = site.unit_row_tails
    rows = []
    for result in results:
        value = result.value
        key = (depth, result.indicator, result.status._value_, value.__class__, value)  # 1, True
        tail = tails.get(key)
        if tail is None:
            indicator = indicators[result.indicator][1]
            tail = tails[key] = (f"{_indicator_cells(site, link, result.indicator)}"
                                 f"<td>{html_text(site.value_text(indicator, value))}</td>"
                                 f"{status_cells[result.status]}</tr>\n")
        rows += (head, tail)  # no concatenated copy of each row
    return "".join(rows)


def _task_items(site: _Site, path: str, link: Callable[[str], str], unit: Unit) -> str:
    # The same list on every unit page of one depth (see _unit_indicator_rows) whose unit
    # has the same tasks, that is the same Unit.profile: a handful a build.
    key = ("task-items", url_base(path, site.options.directory_urls).count("/"),
           unit.profile)
    html = site.fragments.get(key)
    if html is None:
        html = site.fragments[key] = Markup(_task_item_list(site, link, site.unit_tasks[unit.id]))
    return html


def _task_item_list(site: _Site, link: Callable[[str], str], tasks: Sequence[Task]) -> str:
    items = []
    for task in tasks:
        href = link(f"tasks/{task.id}.md")
        key = ("task-item", href, task.id)
        item = site.fragments.get(key)
        if item is None:
            task_link = site.fragment("task_link", href, task.id,
                                      f"{site.label(task)}　{task.title}")
            item = site.fragments[key] = Markup(f"<li>{task_link}</li>\n")
        items.append(item)
    return "".join(items)


# A checklist item's tick and state, by whether the latest report ticks it (None: unknown).
_CHECK_MARKS = {
    True: ("done", "✔", "（已落实）"),
    False: ("open", "✘", "（未落实）"),
    None: ("unknown", "·", "（尚未报送）"),
}


# The unit page's blocks are made without a newline at either end: `block` strips them,
# and a strip that removes anything copies the whole text (tens of KB a page).


def _checklists_html(site: _Site,
                     checklists: Sequence[tuple[Task, tuple[bool | None, ...]]]) -> str:
    parts = []
    for task, ticks in checklists:
        # A task's list looks the same on every unit page whose reports tick the same items.
        key = ("checklist", task.id, *ticks)
        group = site.fragments.get(key)
        if group is None:
            group = site.fragments[key] = Markup(
                _checklist_group(site, task, list(zip(task.checklist, ticks, strict=True))))
        parts.append(group)
    return "\n".join(parts)


def _checklist_group(site: _Site, task: Task,
                     items: Sequence[tuple[ChecklistItem, bool | None]]) -> str:
    parts = [
        f'<div class="ps-checklist-group" data-task="{site.text(task.id)}" '
        f"data-search-exclude>\n<p><strong>{site.text(site.label(task))}　"
        f'{site.text(task.title)}</strong></p>\n<ul class="ps-checklist">\n'
    ]
    for item, checked in items:
        state = None if checked is None else bool(checked)
        kind, tick, label = _CHECK_MARKS[state]
        # An item no form field reports on has no state to show.
        note = f'<span class="ps-checklist__state">{label}</span>' \
            if state is not None or item.field else ""
        parts.append(
            f'<li class="ps-checklist__item ps-checklist__item--{kind}"><span class="ps-tick" '
            f'aria-hidden="true">{tick}</span> {site.text(item.title)}{note}</li>\n'
        )
    parts.append("</ul>\n</div>")
    return "".join(parts)


History = Sequence[tuple[ReportingState, Form, Period]]


def _reporting_rows(site: _Site, unit: Unit, history: History) -> str:
    unit_id = site.text(unit.id)
    forms_url = site.options.forms_url
    # form_link, with the unit checked once per page and each form x period once per build
    # (the link is only identifiers after the escaped base, so it is escaped in parts).
    unit_url = (f"{html_text(_forms_base(forms_url))}units/{unit.id}/"
                if is_identifier(unit.id) else None)
    cached = site.reporting_cells
    rows = []
    for state, form, period in history:
        key = (form.id, period.id, state.due, state.state)
        known = cached.get(key)
        if known is None:  # the same for every unit with this form, period and state
            path = (f"{state.form}/{state.period}/"
                    if is_identifier(state.form) and is_identifier(state.period) else None)
            known = cached[key] = (_reporting_cells(site, state, form, period), path)
        cells, path = known
        report = state.report
        if report is not None:
            submitted = minute_text(report.submitted_at)  # digits and punctuation only
            by = report.submitted_by.get("name") or report.submitted_by.get("account") or "—"
            evidence = "<br>".join(
                f'<span class="ps-evidence">{html_text(ev.name)}（{html_text(size_text(ev.size))}）'
                "</span>" for ev in report.evidence
            ) if report.evidence else "—"
        else:
            submitted, by, evidence = "—", "—", "—"
        action = (f'<a class="ps-form-link" href="{unit_url}{path}">'
                  f'{"更正" if report else "填报"}</a>') if unit_url and path else "—"
        rows.append(
            f'<tr data-unit="{unit_id}" {cells}<td>{submitted}</td>'
            f"<td>{site.text(by)}</td><td>{evidence}</td><td>{action}</td></tr>\n"
        )
    return "".join(rows)


def minute_text(moment: datetime) -> str:
    """`moment.strftime("%Y-%m-%d %H:%M")`: isoformat gives the same for 4-digit years at
    a third of the cost (a unit page shows every report's submission time)."""
    if moment.year >= 1000:
        return moment.isoformat(" ", "minutes")[:16]
    return moment.strftime("%Y-%m-%d %H:%M")


def _reporting_cells(site: _Site, state: ReportingState, form: Form, period: Period) -> str:
    text = site.text
    reporting = html_text(state.state)
    return (
        f'data-form="{text(form.id)}" data-period="{text(period.id)}" '
        f'data-reporting="{reporting}">'
        f"<td>{text(form.title)}</td><td data-sort=\"{period.end.isoformat()}\">"
        f"{text(period.title)}</td><td>{state.due.isoformat()}</td>"
        f'<td><span class="ps-report ps-report--{reporting}">'
        f"{html_text(REPORTING_LABELS.get(state.state, state.state))}</span></td>"
    )


def _report_details_html(site: _Site, history: History) -> str:
    parts = []
    for state, form, period in history:
        report = state.report
        if report is None:
            continue
        values = report.values
        details = []
        for name, kind, cells, rows in site.detail_cells(form):
            value = values.get(name, _ABSENT)
            if value is _ABSENT:
                continue
            # The finished row, once per field and value (as value_html, whose cache this
            # is in front of): a unit page shows ~50 report values, most of them repeats.
            if value.__class__ in _CACHED_VALUE_TYPES:
                key = (value.__class__, value)  # True == 1, but "是" != "1"
                row = rows.get(key)
                if row is None:
                    row = rows[key] = f"{cells}{site.value_html(kind, value)}</td></tr>\n"
            else:
                row = f"{cells}{site.value_html(kind, value)}</td></tr>\n"
            details.append(row)
        if not details:
            continue
        report_id = html_text(report.id)
        if parts:  # newlines between reports, none at the end (see _checklists_html)
            parts.append("\n")
        parts.append(
            f'<details class="ps-report-details" data-report="{report_id}" data-search-exclude>\n'
            f"<summary>{site.text(form.title)} · {site.text(period.title)}"
            f"（编号 {report_id}）</summary>\n<table>\n"
            "<thead><tr><th>填报项</th><th>内容</th></tr></thead>\n<tbody>\n"
        )
        parts.extend(details)
        parts.append("</tbody>\n</table>\n</details>")
    return "".join(parts)


def _matrix(site: _Site) -> GeneratedPage:
    tasks = [t for t in site.content.tasks if t.indicators]
    path = "matrix.md"
    rollup_of = site.progress.unit_task_rollup
    # A cell by its task and counts, the status by its value: a str hashes in C, an Enum
    # member in Python, and the matrix has units x tasks cells.
    by_task: list[tuple[Task, dict[tuple[str, int, int], Markup]]] = [(t, {}) for t in tasks]
    parts: list[str] = []  # every row's pieces, for the block to join once
    for unit in site.content.units:
        parts.append(f'<tr data-unit="{site.text(unit.id)}"><td>{_unit_link(site, path, unit)}'
                     "</td>")
        for task, known in by_task:
            item = rollup_of(unit.id, task.id)
            key = (item.status._value_, item.met, item.applicable)
            cell = known.get(key)
            if cell is None:
                cell = known[key] = site.fragment("matrix_cell", task.id, item.status,
                                                  item.met, item.applicable)
            parts.append(cell)
        parts.append("</tr>\n")
    return site.render("matrix.md", path, "进度矩阵", tasks=tasks,
                       unit_rows=parts, legend=list(SHORT_LABELS.items()))


def _data(site: _Site) -> GeneratedPage:
    return site.render("data.md", "data.md", "数据下载", forms=site.content.forms)


@without_collection
def render_pages(content: Content, reports: Iterable[Report], progress: Progress,
                 options: SiteOptions | None = None) -> list[GeneratedPage]:
    """Every page of the site, in navigation order; unit pages last and not in nav."""
    site = _Site(content, tuple(reports), progress, options or SiteOptions())
    pages = [_home(site), _plan(site), _tasks_index(site)]
    pages += [_task_page(site, task) for task in content.tasks]
    pages += [_units_index(site), _matrix(site), _data(site)]
    pages += [_unit_page(site, unit) for unit in content.units]
    return pages


def nav(pages: Sequence[GeneratedPage]) -> list[Any]:
    """The MkDocs `nav` for the pages: tasks grouped, unit pages left out."""
    entries: list[Any] = []
    tasks: list[dict[str, str]] = []
    for page in pages:
        if not page.in_nav:
            continue
        if page.path.startswith("tasks/"):
            if not tasks:
                entries.append({"任务": tasks})
            tasks.append({_nav_title(page.title): page.path})
        else:
            entries.append({_nav_title(page.title): page.path})
    return entries


def _nav_title(title: str) -> str:
    # The theme prints nav titles as HTML without escaping them.
    return str(escape(title))
