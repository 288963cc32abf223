"""The rebuild worker's copy of main's files: updated by the diff between two commits, it
must hold exactly what a fresh export of the new commit holds, and anything it cannot
trust (no marker, an unknown commit) means exporting the whole tree again."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pygit2
import pytest

from forms import checkout
from forms.repository import export_tree
from tests.fake_forge import git


def snapshot(folder: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under folder: its bytes and whether it is executable."""
    return {
        path.relative_to(folder).as_posix(): (
            path.read_bytes(),
            bool(path.stat().st_mode & stat.S_IXUSR),
        )
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


def folders(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_dir()}


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    (path / "content" / "tasks").mkdir(parents=True)
    (path / "content" / "plan.yml").write_text("title: 计划\n", encoding="utf-8")
    (path / "content" / "tasks" / "01.md").write_text("---\nid: t1\n---\n", encoding="utf-8")
    (path / "data" / "reports" / "f" / "q1" / "u1").mkdir(parents=True)
    (path / "data" / "reports" / "f" / "q1" / "u1" / "r1.json").write_text("{}")
    (path / "data" / "reports" / "f" / "q1" / "u2").mkdir(parents=True)
    (path / "data" / "reports" / "f" / "q1" / "u2" / "r2.json").write_text("{}")
    (path / "notes").write_text("a file that becomes a folder\n")
    (path / "old").mkdir()
    (path / "old" / "inside.txt").write_text("a folder that becomes a file\n")
    commit_all(path, "First")
    return path


def fresh_export(repo: Path, commit: str, folder: Path) -> Path:
    export_tree(pygit2.Repository(str(repo)), commit, folder)
    return folder


def test_the_first_update_exports_the_whole_tree(tmp_path: Path, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    copy = tmp_path / "copy"

    changed = checkout.update(pygit2.Repository(str(repo)), head, copy)

    assert snapshot(copy) == snapshot(fresh_export(repo, head, tmp_path / "export"))
    assert changed == len(snapshot(copy))
    assert checkout.held_commit(copy) == head


def test_an_update_writes_only_the_differences_and_equals_a_fresh_export(
    tmp_path: Path, repo: Path
) -> None:
    copy = tmp_path / "copy"
    checkout.update(pygit2.Repository(str(repo)), git(repo, "rev-parse", "HEAD"), copy)
    untouched = copy / "content" / "tasks" / "01.md"
    before = untouched.stat().st_mtime_ns
    (repo / "content" / "plan.yml").write_text("title: 新计划\n", encoding="utf-8")  # modified
    (repo / "data" / "reports" / "f" / "q1" / "u1" / "r3.json").write_text('{"v": 1}')  # added
    (repo / "data" / "reports" / "f" / "q1" / "u2" / "r2.json").unlink()  # folder left empty
    (repo / "notes").unlink()
    (repo / "notes").mkdir()
    (repo / "notes" / "a.md").write_text("now a folder\n")  # file -> folder
    (repo / "old" / "inside.txt").unlink()
    (repo / "old").rmdir()
    (repo / "old").write_text("now a file\n")  # folder -> file
    (repo / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(repo / "run.sh", 0o755)  # executable
    os.symlink("/etc/passwd", repo / "link")  # never written into the copy
    head = commit_all(repo, "Second")

    changed = checkout.update(pygit2.Repository(str(repo)), head, copy)

    expected = fresh_export(repo, head, tmp_path / "export")
    assert snapshot(copy) == snapshot(expected)
    assert folders(copy) == folders(expected)  # the emptied report folder is gone too
    assert not (copy / "link").exists()
    # plan.yml, r3, r2, notes + notes/a.md, old/inside.txt + old, run.sh; the link is skipped
    assert changed == 8
    assert untouched.stat().st_mtime_ns == before  # an unchanged file is not rewritten
    assert checkout.held_commit(copy) == head


@pytest.mark.parametrize("damage", ["marker removed", "commit unknown"])
def test_a_copy_that_cannot_be_trusted_is_exported_whole(
    tmp_path: Path, repo: Path, damage: str
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    copy = tmp_path / "copy"
    checkout.update(pygit2.Repository(str(repo)), first, copy)
    (copy / "stray.txt").write_text("left by an interrupted update\n")
    marker = copy.with_name("copy.commit")
    if damage == "marker removed":
        marker.unlink()
    else:
        marker.write_text("0" * 40, encoding="ascii")
    (repo / "content" / "plan.yml").write_text("title: 改\n", encoding="utf-8")
    head = commit_all(repo, "Second")

    checkout.update(pygit2.Repository(str(repo)), head, copy)

    assert snapshot(copy) == snapshot(fresh_export(repo, head, tmp_path / "export"))
    assert checkout.held_commit(copy) == head
