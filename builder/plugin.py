"""The MkDocs plugin: the plan's pages as virtual files of a Material site.

A thin wrapper: it loads the plan and reports (`builder.plan`, `builder.reports`),
evaluates progress (`builder.progress`), renders the pages (`builder.pages`) and hands them
to MkDocs. A plan with problems never builds: every problem is listed in the error.

    plugins:
      - search: {lang: zh}
      - plansite: {as_of: 2022-10-20, forms_url: /forms/}
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import jinja2
from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from builder import search
from builder.model import Content, ContentError, Report
from builder.pagecache import (
    CachedPage,
    PageCache,
    ReusedFile,
    SearchEntries,
    environment_key,
    page_digest,
    page_key,
    static_stamp,
    take_over,
    take_over_file,
)
from builder.pages import GeneratedPage, SiteOptions, insert_blocks, iter_pages, nav
from builder.plan import load_content
from builder.progress import Progress, evaluate
from builder.reporting import progress_date
from builder.reports import load_reports
from builder.spool import BlockSpool, Spooled, encode_blocks

if TYPE_CHECKING:  # imported where used: a plain `mkdocs build` needs neither
    from mkdocs.livereload import LiveReloadServer
    from tqdm import tqdm

log = logging.getLogger("mkdocs.plugins.plansite")

PLUGIN_NAME = "plansite"  # the entry point name in pyproject.toml

# Folders of the repository whose changes change the site (`mkdocs serve` reloads).
WATCHED = ("content", "schemas", "data")


class PlansiteConfig(Config):
    root = c.Optional(c.Type(str))  # repository root; default: the folder of mkdocs.yml
    as_of = c.Optional(c.Type((date, str)))  # progress as of this date; default: today
    forms_url = c.Type(str, default="/forms/")
    progress_bar = c.Optional(c.Type(bool))  # tqdm on stderr; default: when stderr is a TTY
    exports = c.Type(bool, default=True)  # write data/ (CSV, data package, xlsx) after the build


def parse_as_of(value: object) -> date | None:
    """The configured as-of date; None when there is none (today: builder.progress.
    progress_date, which needs the reports)."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise PluginError(f"plansite: as_of 不是有效日期（应为 YYYY-MM-DD）：{value!r}") from error


def flag_labels(root: Path) -> dict[str, str]:
    """Chinese labels of the unit flags, from the titles in the units schema."""
    path = root / "schemas" / "units.schema.json"
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # the loader has already reported a broken schema
    return {
        f["name"]: f.get("title") or f["name"]
        for f in descriptor.get("fields", [])
        if isinstance(f, dict) and f.get("type") == "boolean" and "name" in f
    }


def published_forms_url(forms_url: str, site_url: str | None) -> str:
    """Where the form service is as seen from outside the site: absolute when it is
    configured so, or when the site's own address (MkDocs' site_url) is known. Exports
    read away from the site (a calendar app) can link to the forms only by such a URL."""
    if forms_url.startswith(("https://", "http://")) or not site_url:
        return forms_url
    return urljoin(site_url if site_url.endswith("/") else site_url + "/", forms_url)


# The folders load_content reads (builder.plan.files); data/ holds the reports.
PLAN_FOLDERS = ("content", "schemas")


def _plan_stamp(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every file load_content reads, by path, size, time and inode."""
    found = []
    for name in PLAN_FOLDERS:
        for folder, _, files in os.walk(root / name):
            for file in files:
                stat = os.stat(os.path.join(folder, file))
                relative = os.path.relpath(os.path.join(folder, file), root)
                found.append((relative, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(sorted(found))


class LoadedPlans:
    """The plan the last build of this process loaded, and a stamp of its files: a
    long-lived build process (`builder.build_worker`) reads and checks the plan again only
    when one of them changed, not after every approval (which changes data/ only). The
    YAML of the plan's files was a fifth of a rebuild's time at 50 units."""

    def __init__(self) -> None:
        self._held: tuple[Path, tuple[tuple[str, int, int, int], ...], Content] | None = None

    def load(self, root: Path) -> Content:
        """load_content(root), or the same plan if no file of it changed since."""
        stamp = _plan_stamp(root)
        held = self._held
        if held is not None and held[0] == root and held[1] == stamp:
            return held[2]
        self._held = None
        content = load_content(root)
        self._held = (root, stamp, content)
        return content


LOADED_PLANS = LoadedPlans()


class SiteData:
    """Everything one build reads: loaded once, used by every event."""

    def __init__(self, root: Path, as_of: date | None, forms_url: str, directory_urls: bool):
        """`as_of`: the configured date progress counts to; None for today."""
        self.root = root
        self.forms_url = forms_url
        try:
            self.content: Content = LOADED_PLANS.load(root)
            self.reports: list[Report] = load_reports(root, self.content)
        except ContentError as error:
            listed = "\n".join(f"  {problem}" for problem in error.problems)
            raise PluginError(
                f"方案内容有 {len(error.problems)} 个问题，网站未生成：\n{listed}"
            ) from error
        self.as_of = as_of = progress_date(as_of, self.reports, date.today())
        self.progress: Progress = evaluate(self.content, self.reports, as_of)
        self.options = SiteOptions(
            as_of=as_of,
            forms_url=forms_url,
            directory_urls=directory_urls,
            flag_labels=flag_labels(root),
        )

    def pages(self) -> Iterator[GeneratedPage]:
        """The site's pages in navigation order, each rendered when it is asked for."""
        return iter_pages(self.content, self.reports, self.progress, self.options)


@dataclass(frozen=True)
class PendingPage:
    """A generated page between rendering and MkDocs: its blocks are in the build's spool."""

    page: GeneratedPage  # without its blocks
    blocks: Spooled
    digest: str  # page_digest, for the page cache's key; "" when no cache is kept


class CompiledTemplates(jinja2.BytecodeCache):
    """The theme's templates compiled, kept by the process: MkDocs makes a new Jinja
    environment for every build, and a long-lived build process (`builder.build_worker`)
    would compile the same templates again each time. Jinja checks each entry against its
    template's source, so a changed template is compiled again."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


class PlansitePlugin(BasePlugin[PlansiteConfig]):
    def __init__(self) -> None:
        self.as_of: date | None = None  # the date progress counts to, once loaded
        # This build's generated pages from on_config to on_files; then MkDocs' files hold
        # their Markdown and `blocks` where their HTML blocks are in `spool`.
        self.pages: list[PendingPage] = []
        self.spool: BlockSpool | None = None
        self.root = Path(".")
        self.bar: tqdm[Any] | None = None
        self.blocks: dict[str, Spooled] = {}  # docs path -> its page's HTML blocks
        self.search_tags: dict[str, tuple[str, ...]] = {}  # docs path -> its search tags
        self.exports: ExportJob | None = None
        # MkDocs logs a PluginError and raises a bare Abort; build_site re-raises this one
        # so that callers (the CLI, the rebuild worker) get the list of problems.
        self.error: PluginError | None = None
        # Incremental rebuilds (builder.pagecache): build_site sets `record` when it keeps a
        # page cache, and `previous` for a dirty build into an empty folder; `cache`
        # describes this build once it has finished (None when not recorded).
        self.record = False
        self.previous: PageCache | None = None
        self.cache: PageCache | None = None
        self.reused: dict[str, CachedPage] = {}
        self.search: SearchEntries | None = None
        self.indexed: dict[str, list[Any]] = {}  # docs path -> its search entries, this build
        self.files: Files | None = None

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        config_dir = Path(config.config_file_path or ".").resolve().parent
        self.root = Path(self.config.root).resolve() if self.config.root else config_dir
        self.error = None
        as_of = parse_as_of(self.config.as_of)
        self._cancel_exports()
        if self.config.exports:
            # Started first, so that the exports run on the second core while this one
            # loads, renders and MkDocs builds the pages; joined in on_post_build.
            self.exports = ExportJob(
                self.root, as_of, published_forms_url(self.config.forms_url, config.site_url)
            )
        try:
            plan = SiteData(self.root, as_of, self.config.forms_url, config.use_directory_urls)
        except PluginError as error:
            self.error = error
            self._cancel_exports()
            raise
        search.add_words(search.search_words(plan.content))
        self.as_of = plan.as_of
        self._close_spool()
        self.spool = BlockSpool()
        # Page keys cost a hash of every page: only for builds that keep a page cache.
        keyed = self.record or self.previous is not None
        # One page at a time: its blocks go to the spool before the next page is rendered,
        # so that the site's tables are never all in memory. Nor is `plan` (the reports and
        # their evaluation) kept past this event: the exports are another process's.
        self.pages = [self._pending(page, keyed) for page in plan.pages()]
        config.nav = nav([p.page for p in self.pages], forms_url=self.config.forms_url)
        return config

    def _pending(self, page: GeneratedPage, keyed: bool) -> PendingPage:
        assert self.spool is not None
        encoded = encode_blocks(page.blocks)
        digest = page_digest(page, encoded) if keyed else ""
        spooled = self.spool.put(encoded)
        return PendingPage(replace(page, blocks=()), spooled, digest)

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        pending, self.pages = self.pages, []  # from here on, MkDocs' files hold the pages
        self.blocks = {}
        self.search_tags = {p.page.path: p.page.search_tags for p in pending}
        self.files = files
        self.reused = {}
        self.indexed = {}
        # Page keys cost a hash of every page: only for builds that keep a page cache.
        self.cache = (
            PageCache(site_dir=Path(config.site_dir).resolve())
            if self.record or self.previous is not None
            else None
        )
        search_entries = SearchEntries.of(config) if self.cache is not None else None
        self.search = search_entries if isinstance(search_entries, SearchEntries) else None
        previous = self.previous if search_entries is not False else None
        environment = environment_key(config) if self.cache is not None else ""
        present = files.src_uris
        for entry in pending:
            page = entry.page
            existing = present.get(page.path)
            if existing is not None:  # a generated page replaces a hand-written one
                files.remove(existing)
            inclusion = InclusionLevel.UNDEFINED if page.in_nav else InclusionLevel.NOT_IN_NAV
            key = page_key(environment, entry.digest) if self.cache is not None else ""
            cached = previous.reusable(page.path, key) if previous is not None else None
            kind = File if cached is None else ReusedFile
            file = kind.generated(config, page.path, content=page.source, inclusion=inclusion)
            files.append(file)
            if cached is not None:
                self.reused[page.path] = cached
            elif entry.blocks.sizes:
                self.blocks[page.path] = entry.blocks
            if self.cache is not None:
                self.cache.pages[page.path] = CachedPage(key=key, dest=file.dest_uri)
        if self.cache is not None:
            self._take_over_static_files(files, config, environment, previous)
        show = self.config.progress_bar
        if show is None:
            show = sys.stderr.isatty()
        if show:
            from tqdm import tqdm

            self.bar = tqdm(
                total=len(pending) - len(self.reused),
                desc="生成页面",
                unit="页",
                file=sys.stderr,
                leave=False,
            )
        return files

    def _take_over_static_files(
        self, files: Files, config: MkDocsConfig, environment: str, previous: PageCache | None
    ) -> None:
        """Record the static files' sources; link those copied from the same source by the
        previous build into this one, and tell MkDocs not to copy them again (a copy would
        write through the link into the previous build's file)."""
        assert self.cache is not None
        site_dir = Path(config.site_dir)
        for file in list(files):
            source = file.abs_src_path
            if (
                file.is_documentation_page()
                or file.is_static_page()
                or file.generated_by is not None
                or source is None
                or not os.path.isfile(source)
            ):
                continue
            stamp = static_stamp(environment, source)
            self.cache.statics[file.dest_uri] = stamp
            if previous is None or not previous.reusable_static(file.dest_uri, stamp):
                continue
            take_over_file(previous, file.dest_uri, site_dir)
            files.remove(file)
            files.append(
                ReusedFile(
                    file.src_uri,
                    file.src_dir,
                    file.dest_dir,
                    file.use_directory_urls,
                    dest_uri=file.dest_uri,
                    inclusion=file.inclusion,
                )
            )

    def on_env(
        self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files
    ) -> jinja2.Environment:
        # A page's "last modified" (sitemap.xml, and the time inside sitemap.xml.gz) is the
        # date progress counts to, not the day of the build: the same commit gives the same
        # bytes whenever and however incrementally it is built, and a page taken over from
        # yesterday's build is not older than one rendered today.
        if self.as_of is not None:
            updated = self.as_of.isoformat()
            for file in files.documentation_pages():
                if file.page is not None:
                    file.page.update_date = updated
        env.bytecode_cache = COMPILED_TEMPLATES
        return env

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        if self.bar is not None:
            self.bar.update()
        tags = self.search_tags.get(page.file.src_uri)
        if tags:
            # Read by the search plugin when it indexes the page (on_page_context).
            page.meta.update(search.page_meta(tags))
        return markdown

    # After every other plugin (the search plugin runs at the default priority 0): the
    # search index gets headings and prose without parsing and segmenting every table cell,
    # which the browser's search would only drown unit pages in anyway.
    @event_priority(-100)
    def on_page_context(
        self, context: TemplateContext, *, page: Page, config: MkDocsConfig, nav: Navigation
    ) -> TemplateContext:
        if self.search is not None:
            # The search plugin (priority 0) has just indexed this page.
            self.indexed[page.file.src_uri] = self.search.new_entries()
        spooled = self.blocks.pop(page.file.src_uri, None)
        if spooled is not None and self.spool is not None and page.content is not None:
            page.content = insert_blocks(page.content, self.spool.take(spooled))
        return context

    # After every other plugin: the page's HTML is in `output`, which MkDocs writes next.
    # A generated page's content (its tables included) is not needed again by this build;
    # held until the end, the whole site's would be.
    @event_priority(-100)
    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        if page.file.src_uri in self.search_tags:  # one of this plugin's pages
            page.content = None
        return output

    # Before the search plugin writes its index (priority 0).
    @event_priority(100)
    def _take_over_unchanged_pages(self, *, config: MkDocsConfig) -> None:
        """Record each page's search entries in this build's cache; take the unchanged
        pages over from the previous build: their HTML files, and their entries back into
        the index at their place in page order (the index a full build writes)."""
        if self.cache is None or self.files is None:
            return  # no page cache kept or used by this build
        ordered: list[Any] = []
        for file in self.files.documentation_pages():
            src = file.src_uri
            reused = self.reused.get(src)
            entries = reused.entries if reused is not None else self.indexed.get(src, [])
            if src in self.cache.pages:
                self.cache.pages[src].entries = entries
            ordered += entries
        if self.search is not None and self.reused:
            self.search.replace(ordered)
        if self.previous is not None:
            for cached in self.reused.values():
                take_over(self.previous, cached, Path(config.site_dir))

    # After the unchanged pages' entries are back in the index, before the search plugin
    # (priority 0) writes it.
    @event_priority(50)
    def _join_one_character_words(self, *, config: MkDocsConfig) -> None:
        entries = SearchEntries.of(config)
        if isinstance(entries, SearchEntries):
            search.join_one_character_words_of(entries.entries)

    @event_priority(0)
    def _finish_exports(self, *, config: MkDocsConfig) -> None:
        self._close_spool()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.exports is not None:
            job, self.exports = self.exports, None
            try:
                job.finish(Path(config.site_dir) / "data")
            except PluginError as error:
                self.error = error  # build_site re-raises it past MkDocs' bare Abort
                raise

    on_post_build = CombinedEvent(
        _take_over_unchanged_pages, _join_one_character_words, _finish_exports
    )

    def on_build_error(self, *, error: Exception) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._close_spool()
        self._cancel_exports()

    def on_shutdown(self) -> None:
        self._close_spool()
        self._cancel_exports()

    def _close_spool(self) -> None:
        self.pages, self.blocks = [], {}
        if self.spool is not None:
            spool, self.spool = self.spool, None
            spool.close()

    def _cancel_exports(self) -> None:
        if self.exports is not None:
            job, self.exports = self.exports, None
            job.cancel()

    def on_serve(
        self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any
    ) -> LiveReloadServer:
        for name in WATCHED:
            if (self.root / name).is_dir():
                server.watch(str(self.root / name))
        return server


class ExportJob:
    """The exports (data package and workbook) written by a separate process while MkDocs
    builds the pages: the build is single-threaded, the machine has a second core.

    The process is a fresh interpreter (`python -m builder.exports`), not a fork: the form
    service's rebuild worker runs builds in a thread of a threaded server, and a fork would
    copy its locks mid-use; nor multiprocessing's spawn, which re-imports the caller's main
    script. It writes into a temporary folder, because MkDocs empties site_dir after
    on_config; `finish` moves the files into site_dir, so a failed export never leaves half
    a download behind."""

    def __init__(self, root: Path, as_of: date | None, forms_url: str = "/forms/"):
        self.folder = Path(tempfile.mkdtemp(prefix="plansite-exports-"))
        # The child must import this very builder package, wherever it was imported from.
        package_parent = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by finish or cancel)
        self.process = subprocess.Popen(
            # No as_of: "today", which the child works out from the reports as SiteData does.
            [
                sys.executable,
                "-m",
                "builder.exports",
                str(root),
                as_of.isoformat() if as_of else "",
                str(self.folder),
                forms_url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": path},
        )

    def finish(self, out_dir: Path) -> None:
        """Wait for the exports and move them into out_dir; PluginError if they failed."""
        try:
            code = self.process.wait()
            if code != 0:
                self.log.seek(0)
                output = self.log.read().decode("utf-8", "replace")
                log.error("export process exited %s:\n%s", code, output[-4000:])
                raise PluginError(f"数据导出失败（导出进程退出码 {code}），网站未生成")
            out_dir.mkdir(parents=True, exist_ok=True)
            for path in sorted(self.folder.iterdir()):
                shutil.move(str(path), str(out_dir / path.name))
        finally:
            self._clean()

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait()
        self._clean()

    def _clean(self) -> None:
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def write_exports(plan: SiteData, out_dir: Path) -> None:
    """The downloads of the data page: CSV + data package, the workbook, the calendars."""
    from builder.exports import write_exports

    write_exports(plan.content, plan.reports, plan.progress, out_dir, plan.forms_url)
