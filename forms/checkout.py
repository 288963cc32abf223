"""The rebuild worker's copy of main's files, kept up to date by tree diffs.

After a merge only a handful of files differ, so the copy is kept between builds and
only the files that changed between the commit it holds and the new one are written or
removed, instead of exporting every report file for every build (bench/README.md).
A marker file names the commit the copy holds; it is removed before an update starts
and written after it finished, so an update interrupted half-way (a crash, a full disk)
is never trusted: the next one exports the whole tree again.

Like `forms.repository.export_tree`, only regular and executable files are written:
a symbolic link or submodule in the repository must not pull anything from outside it
into the published site.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, FileMode

from forms import repository

log = logging.getLogger(__name__)

FILE_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


class UnsafePath(ValueError):
    """A path in the repository that would leave the copy's folder."""


def _marker(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.commit")


def held_commit(folder: Path) -> str | None:
    """The commit whose files the folder holds, if it is known and the folder exists."""
    try:
        commit = _marker(folder).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if commit and folder.is_dir() else None


def discard(folder: Path) -> None:
    """Remove the copy and its marker: the next update exports the whole tree."""
    _marker(folder).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _target(folder: Path, path: str) -> Path:
    parts = path.split("/")
    if any(part in ("", ".", "..", ".git") or "\\" in part for part in parts):
        raise UnsafePath(path)
    return folder.joinpath(*parts)


def _remove(folder: Path, path: Path) -> None:
    """Remove a file and the folders it leaves empty, up to (not including) `folder`."""
    path.unlink(missing_ok=True)
    parent = path.parent
    while parent != folder and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _apply(repo: pygit2.Repository, old: str, new: str, folder: Path) -> int:
    """Write the differences between two commits' trees into folder; the files changed."""
    old_tree = repo[old].peel(pygit2.Commit).tree
    new_tree = repo[new].peel(pygit2.Commit).tree
    deltas = list(old_tree.diff_to_tree(new_tree).deltas)
    # Removals first: a file may become a folder of the same name, or the other way round.
    for delta in deltas:
        if delta.status in (DeltaStatus.DELETED, DeltaStatus.MODIFIED, DeltaStatus.TYPECHANGE):
            _remove(folder, _target(folder, delta.old_file.path))
    changed = 0
    for delta in deltas:
        if delta.status == DeltaStatus.DELETED or delta.new_file.mode not in FILE_MODES:
            changed += delta.status == DeltaStatus.DELETED
            continue
        target = _target(folder, delta.new_file.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo[delta.new_file.id].peel(pygit2.Blob).data)
        if delta.new_file.mode == FileMode.BLOB_EXECUTABLE:
            target.chmod(0o755)
        changed += 1
    return changed


def update(repo: pygit2.Repository, commit_id: str, folder: Path) -> int:
    """Make `folder` hold exactly the files of `commit_id`. Returns the number of files
    written or removed (all of them when the whole tree had to be exported)."""
    held = held_commit(folder)
    marker = _marker(folder)
    marker.unlink(missing_ok=True)  # from here until the end, the folder is not trusted
    changed: int | None = None
    if held is not None and held in repo:
        try:
            changed = _apply(repo, held, commit_id, folder)
        except (OSError, UnsafePath, pygit2.GitError, KeyError, ValueError) as error:
            log.warning(
                "updating the site source from %s failed (%s); exporting it whole", held[:12], error
            )
    if changed is None:
        discard(folder)
        folder.mkdir(parents=True)
        changed = repository.export_tree(repo, commit_id, folder)
    temporary = marker.with_name(f".{marker.name}.tmp")
    temporary.write_text(commit_id, encoding="ascii")
    os.replace(temporary, marker)
    return changed
