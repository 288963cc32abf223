"""A long-lived build process: builds the site on request, one build after another.

The rebuild worker (`forms.rebuild.BuildProcess`) starts it once and sends it a request
per merge. A fresh `plansite build` per merge paid, before it rendered anything, for the
interpreter, importing MkDocs, Material and the builder, compiling the theme's templates,
jieba's dictionary (1-3 s alone) and reading the page cache back; this process pays them
once. What it keeps between builds is only what cannot make a build wrong: imported
modules, warmed libraries and the page cache it wrote itself (`builder.pagecache.
CacheFile`, checked against the file). Every build still loads and evaluates the whole
plan and generates every page's Markdown, and renders through the theme only the pages
whose key changed.

The protocol is one JSON object per line. Request on stdin:
`{"root": ..., "site_dir": ..., "cache": ..., "exports": false}`; answer on stdout:
`{"ok": true, "seconds": 1.2}` or `{"ok": false, "error": "..."}`. Anything else the build
prints goes to stderr. The process ends when stdin closes (its parent is gone) or after
`IDLE_EXIT` seconds without a request: each worker process of a server keeps one, and a
build's peak memory (hundreds of MB at 2,000 units) should not stay held all night.

    python -m builder.build_worker
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from mkdocs.exceptions import MkDocsException

from builder.build import build_site
from builder.pagecache import CacheFile

IDLE_EXIT = 900.0  # seconds without a request, then the process ends


class BuildWorker:
    """The state kept between the builds of one process: a page cache file per path."""

    def __init__(self) -> None:
        self.caches: dict[Path, CacheFile] = {}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            cache_path = request.get("cache")
            cache = None
            if cache_path:
                path = Path(cache_path).resolve()
                cache = self.caches.setdefault(path, CacheFile(path))
            build_site(
                Path(request["root"]),
                Path(request["site_dir"]),
                cache=cache,
                exports=bool(request.get("exports", True)),
            )
        except MkDocsException as error:
            return {"ok": False, "error": str(error)}
        except Exception:  # a bug or a broken folder: the parent logs it, the site stays
            return {"ok": False, "error": traceback.format_exc()[-4000:]}
        return {"ok": True, "seconds": round(time.perf_counter() - started, 3)}

    def flush(self) -> None:
        """Write the page caches after the answer: nobody waits for them."""
        for cache in self.caches.values():
            try:
                cache.flush()
            except OSError:
                logging.getLogger(__name__).exception("writing the page cache failed")


def serve(requests: TextIO, answers: TextIO, idle_exit: float = IDLE_EXIT) -> None:
    worker = BuildWorker()
    while True:
        # One request per line, written whole: readline after select does not block.
        ready, _, _ = select.select([requests], [], [], idle_exit)
        if not ready:
            return
        line = requests.readline()
        if not line:
            return
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            answer: dict[str, Any] = {"ok": False, "error": f"not a request: {line[:200]!r}"}
        else:
            answer = worker.handle(request)
        answers.write(json.dumps(answer, ensure_ascii=False) + "\n")
        answers.flush()
        worker.flush()


def main() -> int:
    # The answers keep the real stdout; anything the build prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
