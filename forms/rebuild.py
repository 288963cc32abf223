"""Rebuild the site in the background after a merge, and swap it in only when it is good.

Each build gets a fresh folder `sites_dir/<commit>-<n>` built from a copy of main's files
in `sites_dir/.source`, updated from the previous build's commit by the diff between the
two (`forms.checkout`; no working tree of any repository is touched). The build is
incremental: pages whose inputs did not change are taken over from the previous build
(`builder.pagecache`), so the new folder is still a complete site. Only a build
that succeeds is published, by atomically replacing the `current` symlink; a failed build
leaves the last good site online. Triggers that arrive during a build collapse into one
more build, and the last few builds are kept so requests in flight can finish.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pygit2

from forms import checkout, repository
from forms.locks import file_lock

log = logging.getLogger(__name__)

CURRENT = "current"
# The page cache of the last successful build (builder.pagecache): the next build renders
# only the pages whose inputs changed and takes the others over from that build's folder.
PAGE_CACHE = ".page-cache.json"
SOURCE = ".source"  # main's files for the builds (forms.checkout)
BUILD_NAME = re.compile(r"^(?P<commit>[0-9a-f]{7,40})-(?P<n>[0-9]+)$")
SHORT = 12

Build = Callable[[Path, Path], None]


# A build is a batch job: run it at this lower priority (nice), so that on a busy machine
# the processes answering the portal get the CPU first.
BUILD_NICENESS = 10
# A build that takes longer than this has hung; the last good site stays online.
BUILD_TIMEOUT = 3600.0
# Runs the `plansite build` command at a lower priority (a child cannot raise it back).
_NICE_BUILD = (
    "import os, sys; os.nice(int(sys.argv.pop(1))); from builder.cli import main; sys.exit(main())"
)


class BuildFailed(RuntimeError):
    """The build process failed; the message ends with what it printed (the file at fault)."""


def default_build(root: Path, site_dir: Path) -> None:
    """`plansite build` in a process of its own, at a lower priority: the build's CPU,
    memory and collector pauses stay out of the processes that answer the portal (a
    build in a thread of the server raised its p99 from 4.5 to 44-51 ms, issue 16)."""
    command = [
        sys.executable,
        "-c",
        _NICE_BUILD,
        str(BUILD_NICENESS),
        "build",
        "--root",
        str(root),
        "--site-dir",
        str(site_dir),
        "--cache",
        str(site_dir.parent / PAGE_CACHE),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
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
    """Builds `branch` of the repository at `source` into `sites_dir` on trigger()."""

    def __init__(
        self,
        source: Path,
        sites_dir: Path,
        build: Build | None = None,
        *,
        branch: str = "main",
        keep: int = 3,
    ):
        self.source = source
        self.branch = branch
        self.sites_dir = sites_dir
        self.build = build or default_build
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
                self.rebuild()
            except Exception:
                # rebuild() handles build failures; this is a bug or a broken sites folder.
                log.exception("site rebuild crashed")

    def rebuild(self, *, force: bool = False) -> Path | None:
        """Build now, in this thread. Returns the published build, or None if the build
        failed or the branch's commit is already the one being served."""
        self.sites_dir.mkdir(parents=True, exist_ok=True)
        # One build at a time across processes (several workers may receive a webhook).
        with file_lock(self.sites_dir / ".rebuild.lock"):
            return self._rebuild_locked(force)

    def _rebuild_locked(self, force: bool) -> Path | None:
        repo = pygit2.Repository(str(self.source))
        commit = repository.resolve(repo, self.branch)
        if commit is None:
            self.last_error = f"branch {self.branch} not found in {self.source}"
            log.error("site rebuild: %s", self.last_error)
            return None
        short = str(commit.id)[:SHORT]
        live = self.current
        if not force and live is not None and live.name.startswith(f"{short}-"):
            log.info("site rebuild skipped: %s is already published", short)
            return None
        numbers = [build_number(p.name) or 0 for p in builds(self.sites_dir)]
        target = self.sites_dir / f"{short}-{max(numbers, default=0) + 1}"
        # Main's files, kept between builds and updated by the diff between the commits.
        source = self.sites_dir / SOURCE
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
        publish(self.sites_dir, target)
        self.last_error = None
        removed = prune(self.sites_dir, self.keep)
        log.info("site %s published (%d old builds removed)", target.name, len(removed))
        return target
