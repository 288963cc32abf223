"""Rebuild the site in the background after a merge, and swap it in only when it is good.

Each build gets a fresh folder `sites_dir/<commit>-<n>` built from a copy of main's files
in `sites_dir/.source`, updated from the previous build's commit by the diff between the
two (`forms.checkout`; no working tree of any repository is touched). The build runs in a
long-lived process of its own at a lower priority (`BuildProcess`, `builder.build_worker`)
and is incremental: pages whose inputs did not change are taken over from the previous
build by hard links (`builder.pagecache`), so the new folder is still a complete site.

Publishing is two steps, so that the downloads never hold the pages back: the pages are
built and published first, with the previous build's downloads (`data/`) linked in; then
the export process writes the downloads of the same commit, and each is renamed over the
one carried over: the folder is then exactly what a full build of the commit writes. A
new merge during the exports step stops it; the next pages build comes first. Only a
build that succeeds is published, by atomically replacing the `current` symlink; a failed
build leaves the last good site online. Triggers that arrive during a build collapse into
one more build, and the last few builds are kept so requests in flight can finish.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pygit2

from forms import checkout, repository
from forms.locks import file_lock

log = logging.getLogger(__name__)

CURRENT = "current"
# The page cache of the last successful build (builder.pagecache): the next build renders
# only the pages whose inputs changed and takes the others over from that build's folder.
PAGE_CACHE = ".page-cache.json"
SOURCE = ".source"  # main's files for the builds (forms.checkout)
DOWNLOADS = "data"  # the folder of a site the exports write (builder.exports)
# The build whose downloads step has not finished, and the downloads carried into it from
# the build before: written before the step, removed when it succeeds. A step stopped or
# failed leaves it, so the next trigger writes the downloads even when no newer commit
# came (the merge that stopped them may be the very commit whose pages were built).
DOWNLOADS_PENDING = ".downloads-pending.json"
BUILD_NAME = re.compile(r"^(?P<commit>[0-9a-f]{7,40})-(?P<n>[0-9]+)$")
SHORT = 12

Build = Callable[[Path, Path], None]
# Writes the downloads of the repository at the first path into the folder at the second;
# returns False when it was stopped because the third argument said so.
ExportStep = Callable[[Path, Path, Callable[[], bool]], bool]


# A build is a batch job: run it at this lower priority (nice), so that on a busy machine
# the processes answering the portal get the CPU first.
BUILD_NICENESS = 10
# A build that takes longer than this has hung; the last good site stays online.
BUILD_TIMEOUT = 3600.0
# How often a running export process is asked whether a newer merge wants the CPU.
EXPORT_POLL = 0.05
# Runs a module's main() at a lower priority (a child cannot raise it back).
_NICE_MAIN = (
    "import os, sys, importlib; os.nice(int(sys.argv.pop(1))); "
    "sys.exit(importlib.import_module(sys.argv.pop(1)).main())"
)


class BuildFailed(RuntimeError):
    """The build process failed; the message ends with what it printed (the file at fault)."""


def _niced(module: str, *args: str) -> list[str]:
    return [sys.executable, "-c", _NICE_MAIN, str(BUILD_NICENESS), module, *args]


class BuildProcess:
    """The pages build as the rebuild worker runs it: `builder.build_worker`, one process
    kept for every build, at a lower priority. Its CPU, memory and collector pauses stay
    out of the processes that answer the portal (a build in a thread of the server raised
    their p99 from 4.5 to 44-51 ms, issue 16), and it starts, imports and warms up once
    instead of once per merge. A process that dies, hangs or answers nonsense is killed
    and the next build starts a new one. Thread-safe: one build at a time."""

    def __init__(self, timeout: float = BUILD_TIMEOUT):
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def __call__(self, root: Path, site_dir: Path) -> None:
        """Build the pages of `root` into `site_dir`, incrementally from the page cache
        beside it; BuildFailed with the build's message when it failed."""
        request = {
            "root": str(root),
            "site_dir": str(site_dir),
            "cache": str(site_dir.parent / PAGE_CACHE),
            "exports": False,
        }
        with self._lock:
            try:
                answer = self._ask(request)
            except _Ended:
                # It had ended before the request (idle, or killed): ask a new one once.
                answer = self._ask(request)
        if not answer.get("ok"):
            raise BuildFailed(f"the build failed: {str(answer.get('error'))[-4000:]}")
        log.info("pages of %s built in %s s", site_dir.name, answer.get("seconds"))

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            process.stdin.flush()
        except OSError as error:
            self.close()
            raise _Ended(f"the build process had ended: {error}") from error
        try:
            line = _read_line(process.stdout, self.timeout)
        except (OSError, TimeoutError) as error:
            self.close()
            raise BuildFailed(f"the build process did not answer: {error}") from error
        if not line:
            self.close()
            raise _Ended("the build process ended without an answer")
        try:
            answer = json.loads(line)
            if not isinstance(answer, dict):
                raise ValueError(line[:200])
        except ValueError as error:
            self.close()
            raise BuildFailed(f"the build process answered nonsense: {line[:200]!r}") from error
        return answer

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                _niced("builder.build_worker"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=_child_environment(),
            )
        return self._process

    def close(self) -> None:
        """End the build process (the next build starts a new one)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the worker's loop ends
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class _Ended(BuildFailed):
    """The build process was gone before it answered."""


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from the build process, or TimeoutError; b"" when it ended."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no answer in {timeout:.0f} s")
    return stream.readline()


def _child_environment() -> dict[str, str]:
    """The child imports this very code, wherever it was imported from."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def default_exports(root: Path, out_dir: Path, stopped: Callable[[], bool]) -> bool:
    """The downloads of `root` into out_dir by the export process (`python -m
    builder.exports`), at the build's lower priority, at the as-of date mkdocs.yml gives;
    stopped (False) as soon as `stopped()` says a newer merge is waiting."""
    from builder.build import configured_as_of

    as_of = configured_as_of(root)
    command = _niced(
        "builder.exports.__main__", str(root), as_of.isoformat() if as_of else "", str(out_dir)
    )
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=_child_environment(),
        )
        deadline = time.monotonic() + BUILD_TIMEOUT
        while process.poll() is None:
            if stopped() or time.monotonic() > deadline:
                process.kill()
                process.wait()
                if not stopped():
                    raise BuildFailed(f"the exports did not finish in {BUILD_TIMEOUT:.0f} s")
                return False
            time.sleep(EXPORT_POLL)
        if process.returncode != 0:
            output.seek(0)
            said = output.read().decode("utf-8", "replace").strip()[-4000:]
            raise BuildFailed(f"the exports exited with {process.returncode}: {said}")
    return True


def share_files(source: Path, target: Path, *, only: str = "") -> set[str]:
    """Hard-link the files of folder `source` (under its subfolder `only`, if given) that
    `target` lacks into `target`. Returns the paths linked (relative, POSIX). No file of
    a build folder is ever written into once built (a download is replaced by a rename),
    so sharing its files with the next one is safe; a copy where links are not possible."""
    linked: set[str] = set()
    start = source / only if only else source
    if not start.is_dir():
        return linked
    for folder, _, names in os.walk(start):
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(source).as_posix()
            destination = target / relative
            if destination.exists() or path.is_symlink():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)
            linked.add(relative)
    return linked


def _replace_files(source: Path, target: Path) -> set[str]:
    """Move every file of folder `source` to the same place under `target`, each in one
    rename (readers see the old file or the new one). Returns their relative paths."""
    moved: set[str] = set()
    for folder, _, names in os.walk(source):
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(source).as_posix()
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
            moved.add(relative)
    return moved


def default_build(root: Path, site_dir: Path) -> None:
    """One whole build (pages and downloads) by `plansite build` in a process of its own,
    at the lower priority: for callers that build once (the rebuild worker keeps a
    `BuildProcess` and brings the downloads up to date in a step of their own)."""
    command = _niced(
        "builder.cli",
        "build",
        "--root",
        str(root),
        "--site-dir",
        str(site_dir),
        "--cache",
        str(site_dir.parent / PAGE_CACHE),
    )
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
            env=_child_environment(),
        )
    except subprocess.TimeoutExpired as error:
        raise BuildFailed(f"the build did not finish in {BUILD_TIMEOUT:.0f} s") from error
    if done.returncode != 0:
        said = (done.stderr or done.stdout or "").strip()[-4000:]
        raise BuildFailed(f"the build exited with {done.returncode}: {said}")


def build_number(name: str) -> int | None:
    match = BUILD_NAME.fullmatch(name)
    return int(match["n"]) if match else None


def builds(sites_dir: Path) -> list[Path]:
    """The build folders, oldest first."""
    found = (
        [
            (number, path)
            for path in sites_dir.iterdir()
            if path.is_dir()
            and not path.is_symlink()
            and (number := build_number(path.name)) is not None
        ]
        if sites_dir.is_dir()
        else []
    )
    return [path for _, path in sorted(found)]


def current_build(sites_dir: Path) -> Path | None:
    link = sites_dir / CURRENT
    if not link.is_symlink():
        return None
    target = sites_dir / os.readlink(link)
    return target if target.is_dir() else None


def publish(sites_dir: Path, build: Path) -> None:
    """Point `current` at `build` in one step: readers see the old site or the new one."""
    temporary = sites_dir / f".{CURRENT}-{secrets.token_hex(6)}"
    # Relative target: the sites folder can be moved or mounted elsewhere as a whole.
    os.symlink(build.name, temporary)
    try:
        os.replace(temporary, sites_dir / CURRENT)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def prune(sites_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` builds; never the one being served."""
    live = current_build(sites_dir)
    existing = builds(sites_dir)
    doomed = [
        path
        for path in existing[: max(0, len(existing) - keep)]
        if live is None or path.resolve() != live.resolve()
    ]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


class SiteRebuilder:
    """Builds `branch` of the repository at `source` into `sites_dir` on trigger().

    `build` writes a site into a folder; `exports`, when given, the downloads afterwards
    (the two-step publishing above). By default a `BuildProcess` builds the pages and
    `default_exports` writes the downloads; a `build` given alone writes everything."""

    def __init__(
        self,
        source: Path,
        sites_dir: Path,
        build: Build | None = None,
        *,
        exports: ExportStep | None = None,
        branch: str = "main",
        keep: int = 3,
    ):
        self.source = source
        self.branch = branch
        self.sites_dir = sites_dir
        self.exports: ExportStep | None = exports
        if build is None:
            self.build_process: BuildProcess | None = BuildProcess()
            self.build: Build = self.build_process
            self.exports = exports or default_exports
        else:
            self.build_process = None
            self.build = build
            self.exports = exports
        self.keep = max(1, keep)
        self.last_error: str | None = None
        self.completed = 0  # builds attempted, successful or not
        self._condition = threading.Condition()
        self._pending = False
        self._running = False

    @property
    def current(self) -> Path | None:
        return current_build(self.sites_dir)

    def trigger(self, commit: str | None = None) -> None:
        """Ask for a build of the branch's newest commit (the argument is only logged:
        several merges in a row need one build of the latest, not one each)."""
        with self._condition:
            self._pending = True
            if self._running:
                return
            self._running = True
        log.info("site rebuild triggered (%s)", commit or self.branch)
        threading.Thread(target=self._work, name="plansite-rebuild", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no build is running or pending. False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._running and not self._pending, timeout
            )

    def _work(self) -> None:
        while True:
            with self._condition:
                if not self._pending:
                    self._running = False
                    self._condition.notify_all()
                    return
                self._pending = False
            try:
                # A merge arriving while the downloads are written stops them: its pages
                # come first, and its downloads replace those anyway.
                self.rebuild(stop_exports=self._has_pending)
            except Exception:
                # rebuild() handles build failures; this is a bug or a broken sites folder.
                log.exception("site rebuild crashed")

    def _has_pending(self) -> bool:
        with self._condition:
            return self._pending

    def close(self) -> None:
        """End the build process, if one was started (a later build starts it again)."""
        if self.build_process is not None:
            self.build_process.close()

    def rebuild(
        self, *, force: bool = False, stop_exports: Callable[[], bool] = lambda: False
    ) -> Path | None:
        """Build now, in this thread. Returns the last build published (the pages, then
        the site with its downloads), or None if the build failed or the branch's commit
        is already the one being served."""
        self.sites_dir.mkdir(parents=True, exist_ok=True)
        # One build at a time across processes (several workers may receive a webhook).
        with file_lock(self.sites_dir / ".rebuild.lock"):
            return self._rebuild_locked(force, stop_exports)

    def _new_folder(self, short: str) -> Path:
        numbers = [build_number(p.name) or 0 for p in builds(self.sites_dir)]
        return self.sites_dir / f"{short}-{max(numbers, default=0) + 1}"

    def _rebuild_locked(self, force: bool, stop_exports: Callable[[], bool]) -> Path | None:
        repo = pygit2.Repository(str(self.source))
        commit = repository.resolve(repo, self.branch)
        if commit is None:
            self.last_error = f"branch {self.branch} not found in {self.source}"
            log.error("site rebuild: %s", self.last_error)
            return None
        short = str(commit.id)[:SHORT]
        live = self.current
        # Main's files, kept between builds and updated by the diff between the commits.
        source = self.sites_dir / SOURCE
        if not force and live is not None and live.name.startswith(f"{short}-"):
            carried = self._pending_downloads(live)
            if self.exports is None or carried is None:
                log.info("site rebuild skipped: %s is already published", short)
                return None
            # Its pages are online but its downloads were stopped or failed: write them.
            checkout.update(repo, str(commit.id), source)
            return self._bring_downloads_up_to_date(source, live, carried, stop=stop_exports)
        target = self._new_folder(short)
        try:
            checkout.update(repo, str(commit.id), source)
            self.build(source, target)
            if not (target.is_dir() and any(target.iterdir())):
                raise RuntimeError(f"the build wrote nothing into {target.name}")
        except Exception as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("site build of %s failed; the last good site stays online", short)
            shutil.rmtree(target, ignore_errors=True)
            return None
        finally:
            self.completed += 1
        self.last_error = None
        if self.exports is None:
            self._publish(target)
            return target
        if live is None:
            # The first site waits for its downloads: there are no earlier ones to link.
            return self._bring_downloads_up_to_date(source, target, set(), published=False)
        # Until this commit's downloads are written, the last ones stay downloadable.
        carried = share_files(live, target, only=DOWNLOADS)
        self._publish(target)
        return self._bring_downloads_up_to_date(source, target, carried, stop=stop_exports)

    def _publish(self, build: Path) -> None:
        publish(self.sites_dir, build)
        removed = prune(self.sites_dir, self.keep)
        log.info("site %s published (%d old builds removed)", build.name, len(removed))

    def _pending_downloads(self, build: Path) -> set[str] | None:
        """The downloads carried into `build` if its downloads step has not finished."""
        try:
            pending = json.loads((self.sites_dir / DOWNLOADS_PENDING).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(pending, dict) or pending.get("build") != build.name:
            return None
        return {str(relative) for relative in pending.get("carried", [])}

    def _set_pending_downloads(self, build: Path, carried: set[str]) -> None:
        marker = self.sites_dir / DOWNLOADS_PENDING
        temporary = marker.with_name(f"{marker.name}.tmp")
        state = {"build": build.name, "carried": sorted(carried)}
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, marker)

    def _bring_downloads_up_to_date(
        self,
        source: Path,
        pages: Path,
        carried: set[str],
        *,
        stop: Callable[[], bool] = lambda: False,
        published: bool = True,
    ) -> Path:
        """The second step: the downloads of the pages' commit, each renamed over the one
        carried over in the pages folder (a rename replaces the folder's entry, never the
        linked file, which the previous build keeps), and the carried ones this commit no
        longer has removed. When the downloads fail or are stopped, the carried ones stay."""
        assert self.exports is not None
        self._set_pending_downloads(pages, carried)
        written = Path(tempfile.mkdtemp(prefix=".downloads-", dir=self.sites_dir))
        try:
            if self.exports(source, written, stop):
                fresh = _replace_files(written, pages / DOWNLOADS)
                for relative in carried - {f"{DOWNLOADS}/{name}" for name in fresh}:
                    (pages / relative).unlink(missing_ok=True)
                (self.sites_dir / DOWNLOADS_PENDING).unlink(missing_ok=True)
                log.info("downloads of %s written", pages.name)
            else:
                log.info("downloads of %s stopped by a newer merge", pages.name)
        except Exception as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("downloads of %s failed; the pages are online", pages.name)
        finally:
            shutil.rmtree(written, ignore_errors=True)
        if not published:
            self._publish(pages)
        return pages
