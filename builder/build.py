"""Building the site: one MkDocs build, or the generated Markdown for a plain MkDocs.

`build_site` is what `plansite build` and the form service's rebuild worker call.
`write_pages` writes a self-contained MkDocs project (mkdocs.yml + docs/) whose plain
`mkdocs build`, with no plansite plugin, gives the same pages: a way out of this tool,
and a way to look at exactly the Markdown the plugin feeds MkDocs.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort, MkDocsException

from builder.pagecache import CacheFile
from builder.pages import GeneratedPage, nav
from builder.plugin import PLUGIN_NAME, SiteData, parse_as_of, write_exports

CONFIG_FILE = "mkdocs.yml"


def build_site(
    root: Path,
    site_dir: Path,
    *,
    as_of: date | None = None,
    strict: bool = False,
    cache: Path | CacheFile | None = None,
    exports: bool = True,
) -> None:
    """Build the site of the repository at `root` into `site_dir` (created or replaced).

    With `cache` (a file), the build is incremental when it can be: if the cache names a
    previous build's folder that still exists and site_dir is new or empty, MkDocs renders
    only the pages whose inputs changed and the others are taken over from that folder
    (`builder.pagecache`); the result is the same site a full build writes. After a
    successful build the cache describes this one. The form service's rebuild worker
    builds every commit into a new folder this way. A `CacheFile` (a long-lived process's)
    keeps the cache in memory between builds and writes the file when flushed.

    `exports=False` builds the pages only, not the downloads (`data/`): the rebuild
    worker publishes the pages first and brings the downloads up to date after them.

    Raises mkdocs' exceptions (PluginError with every content problem, Abort on warnings
    in strict mode); the caller decides whether the old site stays.
    """
    root = Path(root).resolve()
    site_dir = Path(site_dir).resolve()
    config = load_config(str(root / CONFIG_FILE), site_dir=str(site_dir), strict=strict)
    plugin = config.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise MkDocsException(f"{root / CONFIG_FILE} 没有启用 {PLUGIN_NAME} 插件")
    plugin.config.root = str(root)
    if as_of is not None:
        plugin.config.as_of = as_of
    plugin.config.exports = plugin.config.exports and exports
    # A path is read and written by this build; a CacheFile's owner flushes it.
    owned = not isinstance(cache, CacheFile)
    cache_file = cache if isinstance(cache, CacheFile) else CacheFile(cache) if cache else None
    previous = cache_file.load() if cache_file is not None else None
    if previous is not None and (previous.site_dir == site_dir or _has_files(site_dir)):
        previous = None  # a dirty build must start from an empty folder
    plugin.record = cache_file is not None
    plugin.previous = previous
    config.plugins.on_startup(command="build", dirty=False)
    try:
        # "dirty": MkDocs then skips the pages the plugin marks unchanged, and does not
        # empty site_dir (it is empty).
        with _quiet_dirty_warning():
            build(config, dirty=previous is not None)
    except Abort:
        if plugin.error is not None:
            raise plugin.error from None
        raise
    finally:
        plugin.record, plugin.previous = False, None
        config.plugins.on_shutdown()
    if cache_file is not None and plugin.cache is not None:
        cache_file.save(plugin.cache, later=not owned)


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


class _DirtyWarningFilter(logging.Filter):
    """MkDocs warns that a dirty build may have stale navigation: true of `mkdocs build
    --dirty` on an old site folder, not of a build whose unchanged pages are known by
    their inputs; the warning would also fail a strict build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("A 'dirty' build is being performed")


@contextmanager
def _quiet_dirty_warning() -> Iterator[None]:
    logger = logging.getLogger("mkdocs.commands.build")
    quiet = _DirtyWarningFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def not_in_nav(pages: list[GeneratedPage]) -> str:
    """gitignore-style patterns for MkDocs' `not_in_nav`: one per folder, not per page,
    so that matching stays linear in the number of units."""
    folders = sorted({p.path.rpartition("/")[0] for p in pages if not p.in_nav})
    lines = [f"/{folder}/*.md" if folder else "/*.md" for folder in folders]
    for page in pages:
        if page.in_nav and page.path.rpartition("/")[0] in folders:
            lines.append(f"!/{page.path}")
    return "\n".join(lines) + "\n"


def _plain_config(root: Path, pages: list[GeneratedPage], forms_url: str) -> dict[str, Any]:
    config = yaml.safe_load((root / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    plugins = config.get("plugins") or []
    config["plugins"] = [
        p for p in plugins if p != PLUGIN_NAME and not (isinstance(p, dict) and PLUGIN_NAME in p)
    ]
    config["docs_dir"] = "docs"
    config["nav"] = nav(pages, forms_url=forms_url)
    config["not_in_nav"] = not_in_nav(pages)
    return config


def _options(root: Path) -> tuple[dict[str, Any], bool]:
    """The plugin's options and use_directory_urls as the repository's mkdocs.yml sets them."""
    config = yaml.safe_load((root / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    options: dict[str, Any] = {}
    for plugin in config.get("plugins") or []:
        if isinstance(plugin, dict) and isinstance(plugin.get(PLUGIN_NAME), dict):
            options = plugin[PLUGIN_NAME]
    return options, bool(config.get("use_directory_urls", True))


def write_pages(root: Path, out_dir: Path, as_of: date | None = None) -> list[GeneratedPage]:
    """Write out_dir/mkdocs.yml and out_dir/docs/ (assets, generated pages, data/)."""
    root = Path(root).resolve()
    out_dir = Path(out_dir)
    options, directory_urls = _options(root)
    data = SiteData(
        root,
        parse_as_of(as_of or options.get("as_of")),
        options.get("forms_url", "/forms/"),
        directory_urls,
    )
    docs = out_dir / "docs"
    if (root / "docs").is_dir():
        shutil.copytree(root / "docs", docs, dirs_exist_ok=True)
    if (root / "overrides").is_dir():
        shutil.copytree(root / "overrides", out_dir / "overrides", dirs_exist_ok=True)
    pages = list(data.pages())
    for page in pages:
        write_if_changed(docs / page.path, page.markdown)
    write_exports(data, docs / "data")
    config = _plain_config(root, pages, options.get("forms_url", "/forms/"))
    write_if_changed(
        out_dir / CONFIG_FILE, yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    )
    return pages


def write_if_changed(path: Path, text: str) -> bool:
    """Write the file only when its content differs, so that a watcher (`mkdocs serve` on
    the written project, rsync, make) sees only the pages that one new report changed."""
    data = text.encode("utf-8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


# --------------------------------------------------------------------------- command


def add_build_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("build", help="build the static site (MkDocs Material)")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    parser.add_argument("--site-dir", type=Path, default=Path("site"), help="output folder")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="progress as of this date (YYYY-MM-DD); default: mkdocs.yml or today",
    )
    parser.add_argument("--strict", action="store_true", help="fail on any MkDocs warning")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="FILE",
        help="page cache: render only the pages changed since the build it "
        "names (into a new, empty --site-dir), then describe this build",
    )
    parser.add_argument(
        "--pages-only",
        type=Path,
        metavar="DIR",
        default=None,
        help="write mkdocs.yml + docs/ for a plain `mkdocs build` instead",
    )
    parser.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    try:
        if args.pages_only is not None:
            pages = write_pages(args.root, args.pages_only, args.as_of)
            print(
                f"已写出 {len(pages)} 个页面到 {args.pages_only}（mkdocs build -f "
                f"{args.pages_only / CONFIG_FILE}）"
            )
        else:
            build_site(
                args.root, args.site_dir, as_of=args.as_of, strict=args.strict, cache=args.cache
            )
            print(f"网站已生成：{args.site_dir}")
    except MkDocsException as error:
        print(f"生成失败：{error}", file=sys.stderr)
        return 1
    return 0


def configured_as_of(root: Path) -> date | None:
    """The as-of date mkdocs.yml gives the plugin, so that the form service's portal
    evaluates progress at the same date as the published site."""
    options, _ = _options(Path(root))
    value = options.get("as_of")
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))
