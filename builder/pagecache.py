"""The page cache: what an incremental rebuild may take over from the previous build.

MkDocs renders every page of every build (Markdown, the theme's template, the search
index), and that is most of a build's time. After one approved report only a few pages
change: the unit's page, and the pages whose roll-ups moved. So each build records, per
generated page, a key of everything its HTML is made from and the search index entries
it contributed. The next build renders only the pages whose key changed; for the others
it links the previous build's HTML file into the new site folder and puts their recorded
entries back into the search index, in page order. The new folder therefore holds a
complete site, with a complete search index, identical to a full build's (the tests
compare them file by file), and it is published only when the whole build succeeded.

A page's key covers its generated Markdown and HTML blocks, whether it is in the
navigation, and an environment key: mkdocs.yml, the navigation, the versions of MkDocs,
the theme and Markdown, the theme overrides and the builder's own code. Anything else
that changes (a hand-written page, an asset) is rebuilt or copied by MkDocs as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File

from builder.pages import GeneratedPage

VERSION = 2
# Distributions whose code turns a page's Markdown into its HTML.
RENDERERS = ("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "jinja2")
SEARCH_PLUGINS = ("search", "material/search")

SearchEntry = dict[str, Any]


@dataclass
class CachedPage:
    key: str
    dest: str  # the output file, relative to the site folder
    entries: list[SearchEntry] = field(default_factory=list)


@dataclass
class PageCache:
    """The pages of one finished build in `site_dir`, by their path in docs_dir."""

    site_dir: Path
    pages: dict[str, CachedPage] = field(default_factory=dict)
    # Static files (theme assets, images of docs_dir) by their output path: a stamp of
    # their source file as this build copied it (`static_stamp`).
    statics: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PageCache | None:
        """The cache at `path`, or None when there is none to use: missing, unreadable,
        written by another version, or its site folder is gone (then a full build)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                return None
            # Relative to the cache's folder: the two can be moved together.
            site_dir = (Path(path).parent / data["site_dir"]).resolve()
            pages = {
                src: CachedPage(
                    key=str(page["key"]), dest=str(page["dest"]), entries=list(page["entries"])
                )
                for src, page in data["pages"].items()
            }
            statics = {str(dest): str(stamp) for dest, stamp in data["statics"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not site_dir.is_dir():
            return None
        return cls(site_dir=site_dir, pages=pages, statics=statics)

    def save(self, path: Path) -> None:
        """Write the cache atomically: a crash leaves the old cache or the new one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": VERSION,
            "site_dir": os.path.relpath(self.site_dir, path.parent.resolve()),
            "pages": {
                src: {"key": page.key, "dest": page.dest, "entries": page.entries}
                for src, page in self.pages.items()
            },
            "statics": self.statics,
        }
        handle, temporary = tempfile.mkstemp(prefix=".pagecache-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, ensure_ascii=False, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def reusable_static(self, dest: str, stamp: str) -> bool:
        """Whether the previous build copied the same source file to `dest`, still there."""
        return self.statics.get(dest) == stamp and (self.site_dir / dest).is_file()

    def reusable(self, src: str, key: str) -> CachedPage | None:
        """The previous build's page if its key is `key` and its HTML file is still there."""
        page = self.pages.get(src)
        if page is None or page.key != key or not (self.site_dir / page.dest).is_file():
            return None
        return page


class CacheFile:
    """The page cache file of a series of builds, held in memory between the builds of one
    long-lived process (`builder.build_worker`): reading it back costs as much as a small
    build's pages (every page's search entries), and the process wrote it itself.

    What is held is trusted only while the file is the one this object wrote (same size,
    time and inode); anything else reads the file again. `save(later=True)` keeps the
    cache in memory and writes the file on `flush`, so that the process can answer first
    and write the file while nobody waits for it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._held: PageCache | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._unsaved = False

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_size, stat.st_mtime_ns, stat.st_ino)

    def load(self) -> PageCache | None:
        held = self._held
        if held is not None and (self._unsaved or self._file_stamp() == self._stamp):
            return held if held.site_dir.is_dir() else None
        self._held, self._unsaved = None, False
        return PageCache.load(self.path)

    def save(self, cache: PageCache, *, later: bool = False) -> None:
        self._held, self._unsaved = cache, True
        if not later:
            self.flush()

    def flush(self) -> None:
        """Write the cache held in memory if it has not been written yet."""
        if self._held is None or not self._unsaved:
            return
        self._held.save(self.path)
        self._stamp, self._unsaved = self._file_stamp(), False


class ReusedFile(File):
    """A generated page whose HTML is taken over from the previous build: MkDocs, in a
    dirty build, neither renders nor writes a file that is not modified."""

    def is_modified(self) -> bool:
        return False


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        # Length-prefixed, so that moving text from one part to the next changes the key.
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _tree_digest(folder: Path | None) -> str:
    """Names and contents of every file under folder (caches aside)."""
    if folder is None or not folder.is_dir():
        return ""
    parts: list[str | bytes] = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return _digest(*parts)


def _versions() -> str:
    found = []
    for name in RENDERERS:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=-")
    return ";".join(found)


def _config_texts(config_file: Path | None) -> list[bytes]:
    """mkdocs.yml and the files it INHERITs from (MkDocs' config inheritance)."""
    texts: list[bytes] = []
    while config_file is not None and config_file.is_file() and len(texts) < 10:
        text = config_file.read_bytes()
        texts.append(text)
        try:
            parent = (yaml.load(text, Loader=_ConfigLoader) or {}).get("INHERIT")
        except (yaml.YAMLError, AttributeError):
            parent = None  # MkDocs has read it already; anything odd: the text is the key
        config_file = config_file.parent / parent if isinstance(parent, str) else None
    return texts


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml whatever its tags (`!ENV`, `!relative`, python names): only the
    INHERIT key matters here."""


_ConfigLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def environment_key(config: MkDocsConfig) -> str:
    """Everything besides its own Markdown that a generated page's HTML depends on."""
    config_file = Path(config.config_file_path) if config.config_file_path else None
    custom_dir = config.theme.custom_dir
    return _digest(
        str(VERSION),
        *_config_texts(config_file),
        json.dumps(config.nav, ensure_ascii=False, sort_keys=True, default=str),
        str(config.use_directory_urls),
        _versions(),
        _tree_digest(Path(custom_dir) if custom_dir else None),
        _tree_digest(Path(__file__).resolve().parent),
    )


def page_digest(page: GeneratedPage, blocks: Sequence[bytes] | None = None) -> str:
    """What a generated page is made of. `blocks`: its blocks already encoded as UTF-8,
    when the caller has them so (the plugin spools them), else its own blocks."""
    encoded = blocks if blocks is not None else [block.encode("utf-8") for block in page.blocks]
    return _digest(page.path, str(page.in_nav), page.source, *encoded, *page.search_tags)


def page_key(environment: str, digest: str) -> str:
    """The key of a page whose `page_digest` is `digest`, in this environment."""
    return _digest(environment, digest)


def static_stamp(environment: str, source: str) -> str:
    """What a static file's copy is made from: its source file's path, size and time (a
    file changed in place gets a new time), and the environment (the theme's version)."""
    stat = os.stat(source)
    return _digest(environment, source, str(stat.st_size), str(stat.st_mtime_ns))


def take_over(previous: PageCache, page: CachedPage, site_dir: Path) -> None:
    """Put the previous build's HTML of `page` into site_dir."""
    take_over_file(previous, page.dest, site_dir)


def take_over_file(previous: PageCache, dest: str, site_dir: Path) -> None:
    """Put the previous build's file `dest` into site_dir. A hard link where the file
    system allows it: no build ever writes into an existing file of another build's
    folder (each build gets a new one), so sharing the file is safe."""
    source = previous.site_dir / dest
    target = Path(site_dir) / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class SearchEntries:
    """The entry list of the configured search plugin (MkDocs' or Material's)."""

    def __init__(self, entries: list[SearchEntry]):
        self.entries = entries
        self.mark = 0

    @classmethod
    def of(cls, config: MkDocsConfig) -> SearchEntries | bool | None:
        """The adapter; None when no search plugin is enabled; False when one is, but of a
        kind whose index this cache cannot fill (then nothing may be taken over)."""
        for name in SEARCH_PLUGINS:
            plugin = config.plugins.get(name)
            if plugin is None:
                continue
            if getattr(plugin, "config", {}).get("enabled", True) is False:
                return None
            index = getattr(plugin, "search_index", None)
            entries = getattr(index, "entries", None)  # Material
            if entries is None:
                entries = getattr(index, "_entries", None)  # MkDocs' own search
            return cls(entries) if isinstance(entries, list) else False
        return None

    def new_entries(self) -> list[SearchEntry]:
        """The entries added since the last call: those of the page just indexed."""
        added = self.entries[self.mark :]
        self.mark = len(self.entries)
        return added

    def replace(self, entries: list[SearchEntry]) -> None:
        self.entries[:] = entries
        self.mark = len(self.entries)
