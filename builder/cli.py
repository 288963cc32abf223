"""The `plansite` command.

Each subcommand is registered by one `add_*_command(subparsers)` function, named in
COMMANDS as "module:function" and imported only when the command line is parsed, so
`plansite validate` does not import the web stack. A registration function adds its
parser and sets `handler`, a callable taking the parsed arguments and returning the exit
code:

    def add_build_command(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("build", help="...")
        parser.set_defaults(handler=run_build)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# To add a subcommand, add one line here.
COMMANDS: list[str] = [
    "builder.cli:add_validate_command",
    "builder.build:add_build_command",
    "forms.cli:add_commands",  # serve, users
]


def add_validate_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "validate", help="check the plan, the schemas and every report; exit 1 on any problem"
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from builder.validate import validate_repository

    root: Path = args.root
    if not (root / "content").is_dir():
        print(f"{root}: 找不到 content 目录，请用 --root 指定仓库根目录", file=sys.stderr)
        return 2
    problems = validate_repository(root)
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    warnings = len(problems) - len(errors)
    noted = f"，另有 {warnings} 个警告" if warnings else ""
    if errors:
        files = len({problem.file for problem in errors})
        print(f"校验未通过：{files} 个文件中共有 {len(errors)} 个问题{noted}")
        return 1
    # Warnings are likely mistakes, not errors: the plan still builds.
    print(f"校验通过（有 {warnings} 个警告，请核实）" if warnings else "校验通过")
    return 0


def _registration(spec: str) -> Callable[[argparse._SubParsersAction], None]:  # type: ignore[type-arg]
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plansite", description="A work plan kept in git, published as a static site."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for spec in COMMANDS:
        _registration(spec)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
