"""`python -m builder.exports ROOT AS_OF OUT_DIR [FORMS_URL]`: the plugin's export process
(an empty AS_OF: today; FORMS_URL: where the form service is, /forms/ when not given)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from builder.exports import export_repository


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        print("usage: python -m builder.exports ROOT AS_OF OUT_DIR [FORMS_URL]", file=sys.stderr)
        return 2
    as_of = date.fromisoformat(args[1]) if args[1] else None
    forms_url = args[3] if len(args) == 4 else "/forms/"
    export_repository(Path(args[0]), as_of, Path(args[2]), forms_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
