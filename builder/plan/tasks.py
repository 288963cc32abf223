"""content/tasks/*.md and content/guarantees/*.md: front matter (indicators, targets,
checklists) and the task's text as the plan states it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from builder.documents import Document, parse_yaml, read_text, split_front_matter
from builder.fields import YES_NO_TYPES
from builder.model import (
    ALL_UNITS,
    FIELD_NAME,
    AppliesTo,
    ChecklistItem,
    FieldRef,
    Indicator,
    Operand,
    Problem,
    Target,
    Task,
    is_identifier,
)
from builder.plan.applies_to import read_applies_to
from builder.plan.files import GUARANTEES_DIR, TASKS_DIR
from builder.plan.references import FieldUse, Reference
from builder.rules import RULES, Rule
from builder.rules.kinds import DEFAULT_KIND, KINDS

TaskKind = Literal["task", "guarantee"]

TASK_KEYS = {"id", "number", "category", "title", "applies_to", "forms", "indicators", "checklist"}
INDICATOR_KEYS = {
    "id", "title", "rule", "field", "numerator", "denominator", "target", "measure", "due",
    "applies_to", "kind",
}  # fmt: skip
FIELD_REF_MESSAGE = "字段引用“{}”应写成 表单标识.字段名（例如 form-id.field_name）"


@dataclass
class TaskFile:
    """One task file as read: the task (None when its front matter is incomplete), its
    indicators with where they are, and the references to check against other files."""

    file: str
    task: Task | None = None
    applies_to: AppliesTo = ALL_UNITS  # the task's, which its indicators narrow
    indicators: list[tuple[str, Indicator]] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    field_uses: list[FieldUse] = field(default_factory=list)


@dataclass
class _Reader:
    """Reads one task file's front matter (the PlanReader a rule reads its keys with)."""

    doc: Document
    read: TaskFile
    forms: list[str] = field(default_factory=list)  # the task's forms

    def field_ref(self, value: Any, where: str, types: tuple[str, ...]) -> FieldRef | None:
        if not isinstance(value, str) or value.count(".") != 1:
            self.doc.problem(where, FIELD_REF_MESSAGE.format(value))
            return None
        form_id, field_name = value.split(".")
        if not is_identifier(form_id) or not FIELD_NAME.fullmatch(field_name):
            self.doc.problem(where, FIELD_REF_MESSAGE.format(value))
            return None
        ref = FieldRef(form_id, field_name)
        use = FieldUse(self.doc.file, where, ref, types, tuple(self.forms))
        self.read.field_uses.append(use)
        return ref

    def operand(self, value: Any, where: str, types: tuple[str, ...]) -> Operand | None:
        doc = self.doc
        entry = doc.mapping(value, where, "比率的分子/分母")
        if entry is None:
            return None
        doc.keys(entry, {"field", "combine", "unit"}, where)
        if ("field" in entry) == ("unit" in entry):
            doc.problem(where, "应当且只能设置 field（表单字段）或 unit（单位数据列）之一")
            return None
        if "unit" in entry:
            if "combine" in entry:
                doc.problem(f"{where}.combine", "单位数据列不需要 combine")
            column = doc.identifier_value(entry["unit"], f"{where}.unit")
            if column is None:
                return None
            self.read.references.append(Reference(doc.file, f"{where}.unit", "attribute", column))
            return Operand(unit_attribute=column)
        combine = entry.get("combine", "latest")
        if combine not in ("sum", "latest"):
            doc.problem(f"{where}.combine", f"combine 应为 sum 或 latest，而不是“{combine}”")
            return None
        ref = self.field_ref(entry["field"], f"{where}.field", types)
        return None if ref is None else Operand(field=ref, combine=combine)

    def applies_to(self, value: Any, path: str) -> AppliesTo:
        return read_applies_to(self.doc, value, path, self.read.references)


def _indicator(reader: _Reader, task_id: str, value: Any, path: str) -> Indicator | None:
    doc = reader.doc
    entry = doc.mapping(value, path, "指标")
    if entry is None:
        return None
    before = len(doc.problems)
    doc.keys(entry, INDICATOR_KEYS, path)
    indicator_id = doc.identifier(entry, "id", path)
    title = doc.text(entry, "title", path)
    due = doc.date(entry, "due", path)
    name = entry.get("rule")
    rule = RULES.get(name) if isinstance(name, str) else None
    if rule is None:
        valid = "、".join(RULES)
        message = f"规则“{name}”无效，应为 {valid} 之一" if name is not None else "缺少 rule"
        doc.problem(f"{path}.rule", message)
        return None
    inputs = rule.read_inputs(entry, path, reader)
    target = None
    if entry.get("target") is not None:
        target = rule.read_target(entry["target"], f"{path}.target", doc)
    elif due is not None:
        target = rule.implied_target(due)
    kind = _kind(doc, entry, path, rule, target)
    measure = doc.text(entry, "measure", path, required=False) or ""
    applies_to = reader.applies_to(entry.get("applies_to"), f"{path}.applies_to")
    if len(doc.problems) > before:
        return None
    assert indicator_id and title and due
    return Indicator(
        id=indicator_id,
        task_id=task_id,
        title=title,
        rule=rule.name,
        due=due,
        field=inputs.field,
        numerator=inputs.numerator,
        denominator=inputs.denominator,
        target=target,
        measure=measure,
        applies_to=applies_to,
        kind=kind,
    )


def _kind(
    doc: Document, entry: dict[str, Any], path: str, rule: Rule, target: Target | None
) -> str:
    """The indicator's kind (builder.rules.kinds), one the rule accepts; by default
    cumulative, or the rule's first kind when it does not accept cumulative (done_on)."""
    default = DEFAULT_KIND if DEFAULT_KIND in rule.kinds else rule.kinds[0]
    name = entry.get("kind", default)
    if name not in KINDS or name not in rule.kinds:
        valid = "、".join(rule.kinds)
        doc.problem(f"{path}.kind", f"指标类型“{name}”无效，{rule.name} 规则可用：{valid}")
        return default
    if KINDS[name].needs_target and target is None and entry.get("target") is None:
        doc.problem(f"{path}.target", f"{name}（{KINDS[name].label}）类指标需要设置 target")
    return str(name)


def _checklist(reader: _Reader, items: list[Any]) -> list[ChecklistItem]:
    doc = reader.doc
    checklist = []
    for index, item in enumerate(items):
        where = f"checklist[{index}]"
        if isinstance(item, str) and item.strip():
            checklist.append(ChecklistItem(item.strip()))
            continue
        entry = doc.mapping(item, where, "清单项")
        if entry is None:
            continue
        doc.keys(entry, {"title", "field"}, where)
        title = doc.text(entry, "title", where)
        ref = None
        if entry.get("field") is not None:
            ref = reader.field_ref(entry["field"], f"{where}.field", YES_NO_TYPES)
            if ref is None:
                continue
        if title:
            checklist.append(ChecklistItem(title, ref))
    return checklist


def _front_matter(file: str, text: str, problems: list[Problem]) -> tuple[Any, str] | None:
    parts = split_front_matter(text)
    if parts is None:
        message = "缺少 YAML 头信息（文件应以 --- 开头，并以 --- 结束头信息）"
        problems.append(Problem(file, "", message))
        return None
    front, body = parts
    before = len(problems)
    # The front matter starts on the file's second line.
    data = parse_yaml(file, front, problems, line_offset=1)
    return None if len(problems) > before else (data, body)


def _category(reader: _Reader, entry: dict[str, Any], kind: TaskKind) -> str | None:
    doc = reader.doc
    if kind == "guarantee":
        if "category" in entry:
            doc.problem("category", "组织保障不属于任何类别，请删除 category")
        return None
    category = doc.identifier(entry, "category")
    if category:
        reader.read.references.append(Reference(doc.file, "category", "category", category))
    return category


def _forms(reader: _Reader, entry: dict[str, Any]) -> None:
    for index, item in enumerate(reader.doc.items(entry, "forms")):
        where = f"forms[{index}]"
        form_id = reader.doc.identifier_value(item, where)
        if form_id is not None:
            reader.read.references.append(Reference(reader.doc.file, where, "form", form_id))
            reader.forms.append(form_id)


def read_task(root: Path, file: str, kind: TaskKind, problems: list[Problem]) -> TaskFile:
    read = TaskFile(file)
    text = read_text(root, file, problems)
    parsed = None if text is None else _front_matter(file, text, problems)
    if parsed is None:
        return read
    data, body = parsed
    before = len(problems)
    doc = Document(file, problems)
    entry = doc.mapping(data, "", "头信息")
    if entry is None:
        return read
    reader = _Reader(doc, read)
    doc.keys(entry, TASK_KEYS, "")
    task_id = doc.identifier(entry, "id")
    number = doc.integer(entry, "number")
    if number is not None and number < 1:
        doc.problem("number", "编号应为正整数")
    title = doc.text(entry, "title")
    category = _category(reader, entry, kind)
    applies_to = read.applies_to = reader.applies_to(entry.get("applies_to"), "applies_to")
    _forms(reader, entry)
    for index, item in enumerate(doc.items(entry, "indicators")):
        path = f"indicators[{index}]"
        indicator = _indicator(reader, task_id or "", item, path)
        if indicator is not None:
            read.indicators.append((path, indicator))
    checklist = _checklist(reader, doc.items(entry, "checklist"))
    if not body.strip():
        doc.problem("", "正文为空（应为方案原文）")
    if len(problems) > before:
        return read
    assert task_id and number is not None and title
    read.task = Task(
        id=task_id,
        number=number,
        title=title,
        body=body.strip() + "\n",
        kind=kind,
        category=category,
        applies_to=applies_to,
        forms=tuple(reader.forms),
        indicators=tuple(indicator for _, indicator in read.indicators),
        checklist=tuple(checklist),
        source=file,
    )
    return read


def _task_files(root: Path, folder: str) -> list[str]:
    directory = root / folder
    if not directory.is_dir():
        return []
    return sorted(f"{folder}/{path.name}" for path in directory.glob("*.md") if path.is_file())


def read_tasks(root: Path, problems: list[Problem]) -> list[TaskFile]:
    task_files = _task_files(root, TASKS_DIR)
    if not task_files:
        problems.append(Problem(TASKS_DIR, "", "没有任何任务文件（*.md）"))
    guarantee_files = _task_files(root, GUARANTEES_DIR)
    return [read_task(root, file, "task", problems) for file in task_files] + [
        read_task(root, file, "guarantee", problems) for file in guarantee_files
    ]
