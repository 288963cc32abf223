"""The exported tables as a person reads them in Excel, beside the machine-readable ones.

The data package keeps its identifiers and types for programs (and `frictionless
validate`); a person opening a download wants the words of the site instead: Chinese
headers (the schemas' titles), 是/否 rather than true/false, the plan's own period titles
(2022年第一季度) rather than their ids, times on the plan's clock, and none of the codes
that only repeat a column beside them. The unit's code stays beside its name: it is how a
unit is looked up in other files. The CSV for people (readable_csv) and the workbook
both write these tables, so they never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from builder.exports.tables import Table
from builder.local_time import local_datetime
from builder.model import Content

# Columns that only repeat, as a code or a bare number, the column beside them for people
# (progress: `value` beside `value-text`, `status` beside `status-label`, an indicator's
# code beside its title).
MACHINE_ONLY = frozenset({"value", "status", "indicator-id"})
# Headers that change with what the column shows to people.
READABLE_HEADERS = {"task-id": "任务", "value-text": "值"}


@dataclass(frozen=True)
class ReadableTable:
    title: str
    names: tuple[str, ...]  # the machine column each comes from (for number formats)
    headers: tuple[str, ...]
    rows: Callable[[], Iterator[list[Any]]]  # a fresh generator each call


def _machine_only(name: str, names: set[str]) -> bool:
    """A column only programs need: listed, a code whose title stands beside it (a form's,
    a period's; a unit keeps its code, people quote it), a state whose label does."""
    if name in MACHINE_ONLY or f"{name}-label" in names:
        return True
    return name.endswith("-id") and name != "unit-id" and f"{name[:-3]}-title" in names


def readable_table(table: Table, content: Content) -> ReadableTable:
    names = {column.name for column in table.columns}
    kept = [i for i, column in enumerate(table.columns) if not _machine_only(column.name, names)]
    converters = [_converter(table.columns[i].name, content) for i in kept]

    def rows() -> Iterator[list[Any]]:
        for row in table.rows():
            yield [convert(row[i]) for i, convert in zip(kept, converters, strict=True)]

    return ReadableTable(
        title=table.title,
        names=tuple(table.columns[i].name for i in kept),
        headers=tuple(
            READABLE_HEADERS.get(table.columns[i].name, table.columns[i].title) for i in kept
        ),
        rows=rows,
    )


def _converter(name: str, content: Content) -> Callable[[Any], Any]:
    zone = content.plan.timezone
    if name == "period-id":
        titles = {p.id: p.title for p in content.periods}
        return lambda value: titles.get(value, value)
    if name == "task-id":
        # Imported here: builder.pages imports builder.exports for the downloads page.
        from builder.pages.text import task_label

        labels = {
            t.id: f"{task_label(t, content.plan.guarantees_title)} {t.title}" for t in content.tasks
        }
        return lambda value: labels.get(value, value)
    return lambda value: readable_value(value, zone)


def readable_value(value: Any, zone: str) -> Any:
    """A cell's value for people: 是/否, times on the plan's clock (no zone), lists joined."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return local_datetime(value, zone)
    if isinstance(value, date | int | float | str) or value is None:
        return value
    if isinstance(value, Sequence):
        return "、".join(str(readable_value(item, zone)) for item in value)
    return json.dumps(value, ensure_ascii=False)
