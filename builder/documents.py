"""Reading the plan's files: YAML (front matter too) and JSON, every problem located.

The helpers here never raise on bad input: a syntax error, a missing key or a value of
the wrong type becomes a `Problem` (file, field, Chinese message) and reading goes on, so
that `plansite validate` can name every problem at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, cast

import yaml

from builder.model import Problem, is_identifier

IDENTIFIER_MESSAGE = (
    "不是有效的标识符（只能使用字母、数字、- 和 _，以字母或数字开头和结尾，最长 64 个字符）"
)


# --------------------------------------------------------------------------- YAML


class _DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML would silently keep the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key; construct_mapping reports it
            continue
        if duplicate:
            raise _DuplicateKeyError(None, None, f"键“{key}”重复出现", key_node.start_mark)
    return loader.construct_mapping(node, deep=True)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML raises a bare ValueError on 2025-13-40; keep the text so that the date
    # check names the field instead.
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _yaml_problem(file: str, error: yaml.YAMLError, line_offset: int = 0) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    detail = getattr(error, "problem", None) or str(error)
    # Our own duplicate-key message is Chinese; PyYAML's are English, kept as a detail.
    message = str(detail) if isinstance(error, _DuplicateKeyError) else f"无法解析（{detail}）"
    if mark is None:
        return Problem(file, "", f"YAML 语法错误：{message}")
    line = mark.line + 1 + line_offset
    return Problem(
        file, f"line {line}", f"YAML 语法错误（第 {line} 行第 {mark.column + 1} 列）：{message}"
    )


# A key followed by a full-width colon, as a Chinese input method types it: `rule：ratio`.
FULL_WIDTH_KEY = re.compile(r"^\s*(?:-\s+)?[A-Za-z_][A-Za-z0-9_-]*\s*：")


def _full_width_problem(file: str, text: str, error: yaml.YAMLError, offset: int) -> Problem | None:
    """The line, at or before where PyYAML gave up, whose key ends in a full-width colon:
    `rule：ratio` is read as text and the error surfaces a line or more later."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    lines = text.splitlines()
    last = mark.line if mark is not None else len(lines) - 1
    for number in range(min(last, len(lines) - 1), -1, -1):
        if FULL_WIDTH_KEY.match(lines[number]):
            line = number + 1 + offset
            message = (
                f"YAML 语法错误（第 {line} 行）：键后是全角标点“：”，"
                "请改为半角冒号“:”并在其后留一个空格（例如 rule: ratio）"
            )
            return Problem(file, f"line {line}", message)
    return None


def parse_yaml(file: str, text: str, problems: list[Problem], line_offset: int = 0) -> Any:
    """Parse YAML text; a syntax error becomes a problem with its line number (None returned)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        hint = _full_width_problem(file, text, error, line_offset)
        problems.append(hint or _yaml_problem(file, error, line_offset))
        return None


def split_front_matter(text: str) -> tuple[str, str] | None:
    """(YAML front matter, Markdown body) of a `---` delimited file, None without front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None


def read_text(root: Path, file: str, problems: list[Problem]) -> str | None:
    path = root / file
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(file, "", "文件不存在"))
    except UnicodeDecodeError:
        problems.append(Problem(file, "", "文件不是 UTF-8 编码"))
    except OSError as error:
        problems.append(Problem(file, "", f"无法读取文件（{error.strerror}）"))
    return None


# ------------------------------------------------------------------ field readers


@dataclass
class Document:
    """One file being read: where problems go and how they are located."""

    file: str
    problems: list[Problem]

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def keys(self, data: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(join_path(path, str(key)), f"未知的键“{key}”")

    def mapping(self, value: Any, path: str, what: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(path, f"{what}应为映射（键: 值）")
        return None

    def items(
        self, data: dict[str, Any], key: str, path: str = "", *, required: bool = False
    ) -> list[Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(join_path(path, key), f"缺少 {key}")
            return []
        if not isinstance(value, list):
            self.problem(join_path(path, key), "应为列表")
            return []
        return value

    def text(
        self, data: dict[str, Any], key: str, path: str = "", *, required: bool = True
    ) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.problem(join_path(path, key), f"缺少 {key}")
                return None
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(join_path(path, key), "应为文字")
            return None
        text = str(value).strip()
        if required and not text:  # only spaces: as good as missing
            self.problem(join_path(path, key), f"{key} 不能为空")
            return None
        return text

    def identifier(self, data: dict[str, Any], key: str, path: str = "") -> str | None:
        value = data.get(key)
        where = join_path(path, key)
        if value is None or value == "":
            self.problem(where, f"缺少 {key}")
            return None
        return self.identifier_value(value, where)

    def identifier_value(self, value: Any, where: str) -> str | None:
        # An unquoted year in YAML (id: 2022) is an integer; it is still a fine identifier.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not is_identifier(value):
            self.problem(where, f"“{value}”{IDENTIFIER_MESSAGE}")
            return None
        return cast(str, value)

    def integer(self, data: dict[str, Any], key: str, path: str = "") -> int | None:
        value = data.get(key)
        if value is None:
            self.problem(join_path(path, key), f"缺少 {key}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(join_path(path, key), "应为整数")
            return None
        return value

    def number(self, value: Any, where: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(where, "应为数字")
            return None
        return float(value)

    def date(self, data: dict[str, Any], key: str, path: str = "") -> date | None:
        value = data.get(key)
        where = join_path(path, key)
        if value is None or value == "":
            self.problem(where, f"缺少 {key}")
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(where, f"日期“{value}”无效，应写成 YYYY-MM-DD")
        return None

    def boolean(
        self, data: dict[str, Any], key: str, path: str = "", default: bool = False
    ) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem(join_path(path, key), "应为 true 或 false")
            return default
        return value


def read_yaml_mapping(
    root: Path, file: str, problems: list[Problem]
) -> tuple[Document, dict[str, Any]] | None:
    """A YAML file's top-level mapping and the Document that reads it; None when the file
    is missing, unreadable, not YAML or not a mapping (each already a problem)."""
    text = read_text(root, file, problems)
    if text is None:
        return None
    before = len(problems)
    data = parse_yaml(file, text, problems)
    if len(problems) > before:
        return None
    doc = Document(file, problems)
    mapping = doc.mapping(data, "", f"{PurePosixPath(file).name} 的内容")
    if mapping is None:
        return None
    return doc, mapping


# ------------------------------------------------------------------ declared records

# Reads `key` of a mapping at `path`: the value, or None after reporting a problem.
ValueReader = Callable[[Document, dict[str, Any], str, str], Any]


@dataclass(frozen=True)
class Key:
    """One key of a Record: how its value is read, and whether the record needs it."""

    read: ValueReader
    required: bool = True


IDENTIFIER_KEY = Key(lambda doc, entry, key, path: doc.identifier(entry, key, path))
TEXT_KEY = Key(lambda doc, entry, key, path: doc.text(entry, key, path))
OPTIONAL_TEXT_KEY = Key(
    lambda doc, entry, key, path: doc.text(entry, key, path, required=False) or "",
    required=False,
)
DATE_KEY = Key(lambda doc, entry, key, path: doc.date(entry, key, path))


@dataclass(frozen=True)
class Record:
    """The declared shape of a small mapping (a period, a unit type, a category...).

    Reading one reports a value that is not a mapping, every unknown key and every key
    read wrongly, then runs `check` (for relations between keys) on what was read.
    """

    what: str  # the mapping's Chinese name, for "…应为映射"
    keys: Mapping[str, Key]
    check: Callable[[Document, dict[str, Any], str], None] | None = None

    def read(self, doc: Document, value: Any, path: str) -> dict[str, Any] | None:
        """The values by key; None when it is not a mapping or a required value is wanting."""
        entry = doc.mapping(value, path, self.what)
        if entry is None:
            return None
        doc.keys(entry, set(self.keys), path)
        values = {key: spec.read(doc, entry, key, path) for key, spec in self.keys.items()}
        if self.check is not None:
            self.check(doc, values, path)
        if all(values[key] for key, spec in self.keys.items() if spec.required):
            return values
        return None

    def read_list(
        self, doc: Document, data: dict[str, Any], key: str, *, required: bool = False
    ) -> list[dict[str, Any]]:
        """The records listed under `key`, leaving out those that could not be read."""
        records = []
        for index, item in enumerate(doc.items(data, key, required=required)):
            values = self.read(doc, item, f"{key}[{index}]")
            if values is not None:
                records.append(values)
        return records


def dates_in_order(doc: Document, values: dict[str, Any], path: str) -> None:
    """A Record check: the end is not before the start."""
    start, end = values.get("start"), values.get("end")
    if start and end and start > end:
        doc.problem(join_path(path, "end"), "结束日期早于开始日期")


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def duplicates(values: list[str]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return repeated


# ------------------------------------------------------------------ JSON


def read_json(root: Path, file: str, problems: list[Problem]) -> Any:
    text = read_text(root, file, problems)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(json_problem(file, error))
        return None


def json_problem(file: str, error: json.JSONDecodeError) -> Problem:
    return Problem(
        file,
        f"line {error.lineno}",
        f"JSON 格式错误（第 {error.lineno} 行第 {error.colno} 列）：{error.msg}",
    )


# ------------------------------------------------------------------ problems


def _natural(text: str) -> tuple[Any, ...]:
    # indicators[10] after indicators[2], row 14 after row 9.
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Problems deduplicated, by file, then field (numbers in natural order), then message."""
    return sorted(set(problems), key=lambda p: (_natural(p.file), _natural(p.field), p.message))
