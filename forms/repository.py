"""Git plumbing for the form service: commits, branches, merges, fetch and push, with pygit2.

Everything here works on bare repositories and in-memory trees, never on a working tree:
several processes (gunicorn workers, the sync loop, a reviewer) use the same repositories
at once, and a working tree cannot be shared safely. Concurrency rests on two facts of
git's storage: objects are content-addressed and written by rename (two writers of the
same object agree), and a ref is updated under a lock file with a compare-and-swap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2

from builder.model import is_identifier

log = logging.getLogger(__name__)

BRANCH_PREFIX = "refs/heads/"
SUBMISSION_BRANCH_PREFIX = "submit"


class RepositoryError(Exception):
    """A git operation of the form service failed."""

    user_message = "填报数据未能保存，请联系管理员"


class RefExists(RepositoryError):
    """The branch already exists: an id was used twice. Nothing was changed."""

    user_message = "该填报编号已存在，请重新提交"


class PathExists(RepositoryError):
    """A file the commit would add is already in the base tree."""


class MergeConflict(RepositoryError):
    """The branch cannot be merged without a human (it changes a file main changed too)."""

    user_message = "该填报与已发布的数据冲突，需要管理员处理"


class StorageFailure(RepositoryError):
    """Git could not write to the service's own repository (disk full, read-only, failing).
    libgit2 reports a full disk as a bare GitError ("no error"), so it is named here."""

    user_message = "服务器存储空间不足或不可写，请稍后再试或联系管理员"


class RemoteUnavailable(RepositoryError):
    """The remote could not be reached or refused the update; retry later."""

    user_message = "暂时无法连接数据服务器，请稍后重试"


@dataclass(frozen=True)
class Identity:
    """A git author or committer."""

    name: str
    email: str

    def __post_init__(self) -> None:
        # git's signature format has no escaping: these characters would forge another field.
        for value in (self.name, self.email):
            if not value.strip() or any(c in value for c in "<>\n\r\0"):
                raise ValueError(f"unusable git identity: {self.name!r} <{self.email!r}>")

    @classmethod
    def cleaned(cls, name: str, email: str) -> Identity:
        """An identity from user-typed text: characters git cannot store are dropped."""

        def clean(value: str, fallback: str) -> str:
            kept = "".join(c for c in value if c not in "<>\0" and c.isprintable()).strip()
            return kept or fallback

        return cls(clean(name, "unknown"), clean(email, "unknown@localhost"))

    def signature(self, when: datetime | None = None) -> pygit2.Signature:
        if when is None:
            return pygit2.Signature(self.name, self.email)
        offset = when.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        return pygit2.Signature(self.name, self.email, int(when.timestamp()), minutes)


def enable_durable_writes() -> None:
    """Make libgit2 fsync objects and refs (process-wide): an acknowledged submission
    must survive a power cut, not only a crash of the process."""
    pygit2.settings.enable_fsync_gitdir(True)


def branch_ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else BRANCH_PREFIX + branch


def submission_branch(unit: str, submission_id: str) -> str:
    """`submit/<unit>/<id>`: built only from identifiers, so always a valid, harmless ref."""
    for value in (unit, submission_id):
        if not is_identifier(value):
            raise ValueError(f"not an identifier: {value!r}")
    return f"{SUBMISSION_BRANCH_PREFIX}/{unit}/{submission_id}"


def parse_submission_branch(ref: str) -> tuple[str, str] | None:
    """(unit, id) of a `submit/<unit>/<id>` branch or ref, None for anything else."""
    name = ref.removeprefix(BRANCH_PREFIX)
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != SUBMISSION_BRANCH_PREFIX:
        return None
    if not (is_identifier(parts[1]) and is_identifier(parts[2])):
        return None
    return parts[1], parts[2]


def open_or_init_bare(path: Path) -> pygit2.Repository:
    """Open a bare repository, creating it if needed; safe when several processes race."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        pygit2.init_repository(str(staging), bare=True, initial_head="main")
        try:
            staging.rename(path)
        except OSError:
            # Another process created it first; theirs is as good as ours.
            shutil.rmtree(staging, ignore_errors=True)
    return pygit2.Repository(str(path))


def resolve(repo: pygit2.Repository, ref: str) -> pygit2.Commit | None:
    try:
        reference = repo.references[branch_ref(ref)]
    except KeyError:
        return None
    return repo[reference.target].peel(pygit2.Commit)


def tree_with_files(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    files: Mapping[str, bytes],
    *,
    replace: bool = False,
) -> pygit2.Oid:
    """Write a tree that is `base` plus `files` (path -> content) and return its id.

    Only the trees on the paths of the new files are rewritten (TreeBuilder), so the cost
    does not grow with the number of reports already in the repository.
    """
    nested: dict[str, object] = {}
    for path, data in files.items():
        parts = path.split("/")
        if any(p in ("", ".", "..", ".git") for p in parts):
            raise ValueError(f"unsafe path in tree: {path!r}")
        node = nested
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"path is both a file and a folder: {path!r}")
            node = child
        if parts[-1] in node:
            raise ValueError(f"path given twice: {path!r}")
        node[parts[-1]] = data
    return _write_tree(repo, base, nested, "", replace)


def _write_tree(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    nested: Mapping[str, object],
    prefix: str,
    replace: bool,
) -> pygit2.Oid:
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for name, value in nested.items():
        existing = base[name] if base is not None and name in base else None
        if isinstance(value, dict):
            subtree = existing if isinstance(existing, pygit2.Tree) else None
            if existing is not None and subtree is None and not replace:
                raise PathExists(f"{prefix}{name} is a file, not a folder")
            oid = _write_tree(repo, subtree, value, f"{prefix}{name}/", replace)
            builder.insert(name, oid, pygit2.enums.FileMode.TREE)
        else:
            if existing is not None and not replace:
                raise PathExists(f"{prefix}{name} already exists")
            assert isinstance(value, bytes)
            builder.insert(name, repo.create_blob(value), pygit2.enums.FileMode.BLOB)
    return builder.write()


def commit_on_new_branch(
    repo: pygit2.Repository,
    branch: str,
    parent: pygit2.Commit,
    files: Mapping[str, bytes],
    message: str,
    author: pygit2.Signature,
    committer: pygit2.Signature,
) -> pygit2.Oid:
    """One commit adding `files` on top of `parent`, published as a new branch; durable
    (objects and ref fsynced) when it returns.

    The commit is written unattached and the branch is created afterwards with
    force=False: two processes that picked the same name cannot overwrite each other,
    the loser gets RefExists and its commit stays an unreachable object.
    """
    name = branch_ref(branch)
    if name in repo.references:
        raise RefExists(f"branch {branch} exists")
    try:
        staging, staged = _staging_repository(repo)
        base = staging[parent.id].peel(pygit2.Commit)
        tree = tree_with_files(staging, base.tree, files)
        oid = staging.create_commit(None, author, committer, message, tree, [base.id])
        write_objects_durably(Path(repo.path) / "objects", staged.objects)
    except (pygit2.GitError, OSError) as error:
        raise StorageFailure(f"cannot write the objects of {branch}: {error}") from error
    refs = Path(repo.path)
    new_folders = [f for f in _ref_folders(refs, name) if not f.is_dir()]
    for attempt in range(40):
        try:
            # libgit2 writes the ref through a lock file, fsyncs it and its folder
            # (enable_durable_writes): the branch is on disk when create() returns.
            repo.references.create(name, oid, force=False)
            break
        except pygit2.AlreadyExistsError as error:
            raise RefExists(f"branch {branch} exists") from error
        except (OSError, pygit2.GitError) as error:
            # "failed to lock file": another process is creating this very ref right now.
            # Once it is done the name is taken; a lock that never goes away is an error.
            log.debug("ref %s locked (%d): %s", name, attempt, error)
            time.sleep(0.01 * (attempt + 1))
            if name in repo.references:
                raise RefExists(f"branch {branch} exists") from error
    else:
        raise RepositoryError(f"could not create {name}: its lock file stays in place")
    if new_folders:
        # libgit2 fsyncs only the ref's own folder; the unit's first submission also
        # created that folder, whose entry in its parent must be on disk too.
        try:
            _fsync_all([f.parent for f in new_folders])
        except OSError as error:
            raise StorageFailure(f"cannot sync the folders of {branch}: {error}") from error
    return oid


def _ref_folders(git_dir: Path, ref: str) -> list[Path]:
    """The folders a loose ref lives in, below refs/ (refs/heads/submit/u for ...)."""
    parts = ref.split("/")[:-1]
    return [git_dir.joinpath(*parts[: n + 1]) for n in range(1, len(parts))]


class _StagedObjects(pygit2.OdbBackend):
    """An object database backend that keeps the objects written to it in memory.

    libgit2 fsyncs every loose object it writes, and its folder, one after the other
    (about 16 waits for the disk per submission). Objects are built here instead and
    written by write_objects_durably, which lets the disk flush them together.
    """

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, tuple[int, bytes]] = {}

    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self.objects[str(oid)]  # KeyError: not here, libgit2 asks the next backend

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        kind, data = self.objects[str(oid)]
        return kind, len(data)

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        return str(oid) in self.objects

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        self.objects[str(oid)] = (kind, bytes(data))

    def refresh_cb(self) -> None:
        pass

    def __iter__(self) -> Iterator[pygit2.Oid]:
        return (pygit2.Oid(hex=key) for key in list(self.objects))


def _staging_repository(repo: pygit2.Repository) -> tuple[pygit2.Repository, _StagedObjects]:
    """A handle on `repo` that reads its objects from disk and writes new ones to memory."""
    objects = os.path.join(repo.path, "objects")
    staged = _StagedObjects()
    odb = pygit2.Odb()
    # libgit2 writes to the first backend (highest priority) that can write: ours.
    odb.add_backend(staged, 3)
    odb.add_backend(pygit2.OdbBackendPack(objects), 2)
    odb.add_backend(pygit2.OdbBackendLoose(objects, 1, False), 1)  # read only here
    staging = pygit2.Repository(repo.path)
    staging.set_odb(odb)
    return staging, staged


_OBJECT_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}


def write_objects_durably(objects_dir: Path, objects: Mapping[str, tuple[int, bytes]]) -> None:
    """Write git objects (hex id -> (type, data)) as loose objects, on disk when it returns.

    git's own order: each object is written to a temporary file, fsynced, then renamed to
    its name, so a name never points at a half-written file, even after a power cut;
    then the folders holding the new names are fsynced. Objects already present are
    left alone (same id, same content). The fsyncs of each step run at the same time:
    the file system flushes them in one journal commit instead of one after another.
    """
    root = str(objects_dir)
    pending: list[tuple[int, str, str]] = []
    folders: set[str] = set()
    try:
        for hex_id, (kind, data) in objects.items():
            folder = f"{root}/{hex_id[:2]}"
            final = f"{folder}/{hex_id[2:]}"
            if os.path.exists(final):
                continue
            if folder not in folders and not os.path.isdir(folder):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder)
                folders.add(root)
            header = _OBJECT_TYPES[kind] + b" %d\0" % len(data)
            # A new file of a random name (O_EXCL), never one another writer opened.
            temporary = f"{folder}/tmp_obj_{secrets.token_hex(8)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
            pending.append((fd, temporary, final))
            _write_all(fd, zlib.compress(header + data, 1))
            folders.add(folder)
        _fsync_all([fd for fd, _, _ in pending])
        while pending:
            fd, temporary, final = pending[-1]
            # If another process put the same object there meanwhile, it is replaced by
            # the same bytes, at once.
            os.rename(temporary, final)
            pending.pop()
            os.close(fd)
        _fsync_all(sorted(folders))
    finally:
        for fd, temporary, _ in pending:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


FSYNC_THREADS = 16
_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _fsync_pool() -> ThreadPoolExecutor:
    """This process's fsync threads. Threads do not survive fork: a gunicorn worker starts
    its own pool on first use."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(FSYNC_THREADS, "plansite-fsync"))
        return _pool[1]


def _fsync_one(target: int | str | Path) -> None:
    if isinstance(target, int):
        os.fsync(target)
        return
    fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(targets: Sequence[int | str | Path]) -> None:
    """fsync open files (descriptors) and folders (paths) at the same time, so that the file
    system flushes them in one journal commit; raise the first failure once all have
    finished."""
    if len(targets) <= 1:
        for target in targets:
            _fsync_one(target)
        return
    futures = [_fsync_pool().submit(_fsync_one, target) for target in targets]
    wait(futures)
    for future in futures:
        future.result()


@dataclass(frozen=True)
class MergeResult:
    commit: str  # the new tip of the target branch
    merged: bool  # False when the source was already contained in the target


def merge_into(
    repo: pygit2.Repository,
    target: str,
    source: str,
    message: str,
    author: pygit2.Signature,
    committer: pygit2.Signature,
    *,
    attempts: int = 50,
) -> MergeResult:
    """Merge branch `source` into branch `target` with a merge commit, in a bare repository.

    The target is updated with a compare-and-swap (libgit2 checks the old value under the
    ref's lock): if anyone moved it meanwhile - another approval, a push of content edits -
    the merge is recomputed on the new tip, so nothing anyone committed is lost.
    """
    source_commit = resolve(repo, source)
    if source_commit is None:
        raise RepositoryError(f"branch {source} does not exist")
    for attempt in range(attempts):
        reference = repo.references[branch_ref(target)]
        tip = repo[reference.target].peel(pygit2.Commit)
        if tip.id == source_commit.id or repo.descendant_of(tip.id, source_commit.id):
            return MergeResult(str(tip.id), merged=False)
        base = repo.merge_base(tip.id, source_commit.id)
        ancestor = repo[base].peel(pygit2.Commit).tree if base is not None else None
        index = repo.merge_trees(ancestor, tip.tree, source_commit.tree)
        if index.conflicts is not None:
            paths = sorted(
                {e.path for entries in index.conflicts for e in entries if e is not None}
            )
            raise MergeConflict(f"{source} conflicts with {target} on {', '.join(paths)}")
        tree = index.write_tree(repo)
        oid = repo.create_commit(None, author, committer, message, tree, [tip.id, source_commit.id])
        try:
            reference.set_target(oid, f"merge {source}")
            return MergeResult(str(oid), merged=True)
        except (pygit2.GitError, OSError) as error:
            # "old reference value does not match" (someone moved it) or "failed to lock
            # file" (someone is moving it): recompute on the new tip after a short pause.
            log.debug("merge of %s into %s retried (%d): %s", source, target, attempt, error)
            time.sleep(min(0.2, 0.005 * 2 ** min(attempt, 6)) * random.random())
    raise RepositoryError(f"could not update {target} after {attempts} attempts")


def remove_stale_ref_locks(
    git_dir: Path, refs: list[str], max_age: float, *, now: float | None = None
) -> list[str]:
    """Delete the lock files of `refs` (e.g. "refs/heads/main") older than `max_age` seconds.

    A ref is locked for milliseconds; a lock file that stays is what a process killed
    while updating the ref leaves behind (SIGKILL, power cut), and libgit2, like git,
    then refuses every later update of that ref for ever. Returns the refs unlocked.
    """
    now = time.time() if now is None else now
    removed = []
    for ref in refs:
        lock = git_dir / f"{ref}.lock"
        try:
            if now - lock.stat().st_mtime < max_age:
                continue
            lock.unlink()
        except OSError:
            continue  # no lock (or no such folder): nothing to clear; unremovable: a later try
        log.warning("removed the stale lock %s (left by a killed process)", lock)
        removed.append(ref)
    return removed


def credentials_callbacks(username: str = "", password: str = "") -> pygit2.RemoteCallbacks:
    """Callbacks that collect per-ref push results and answer HTTPS auth with a token."""
    return _Callbacks(username, password)


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, username: str, password: str):
        super().__init__()
        self._username = username
        self._password = password
        self.rejected: dict[str, str] = {}

    def credentials(self, url, username_from_url, allowed_types):  # type: ignore[no-untyped-def]
        if self._password and allowed_types & pygit2.enums.CredentialType.USERPASS_PLAINTEXT:
            return pygit2.UserPass(self._username or username_from_url or "git", self._password)
        raise pygit2.GitError("no credentials for this remote")

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message is not None:
            self.rejected[refname] = message


def fetch_branch(
    repo: pygit2.Repository,
    url: str,
    branch: str,
    into: str,
    *,
    username: str = "",
    password: str = "",
) -> pygit2.Oid:
    """Fetch `branch` of the remote at `url` into the local ref `into` (forced: a mirror)."""
    remote = repo.remotes.create_anonymous(url)
    spec = f"+{branch_ref(branch)}:{branch_ref(into)}"
    try:
        remote.fetch([spec], callbacks=credentials_callbacks(username, password))
    except (pygit2.GitError, OSError) as error:
        raise RemoteUnavailable(f"fetch {branch} from remote failed: {error}") from error
    commit = resolve(repo, into)
    if commit is None:
        raise RemoteUnavailable(f"remote has no branch {branch}")
    return commit.id


def push_branches(
    repo: pygit2.Repository,
    url: str,
    branches: list[str],
    *,
    username: str = "",
    password: str = "",
) -> dict[str, str]:
    """Push branches (same name on the remote, never forced). Returns refused ref -> reason.

    Raises RemoteUnavailable when the remote cannot be reached at all.
    """
    if not branches:
        return {}
    remote = repo.remotes.create_anonymous(url)
    callbacks = _Callbacks(username, password)
    specs = [f"{branch_ref(b)}:{branch_ref(b)}" for b in branches]
    try:
        remote.push(specs, callbacks=callbacks)
    except (pygit2.GitError, OSError) as error:
        raise RemoteUnavailable(f"push to remote failed: {error}") from error
    return dict(callbacks.rejected)


def read_blob(repo: pygit2.Repository, commit_id: str, path: str) -> bytes:
    commit = repo[commit_id].peel(pygit2.Commit)
    try:
        entry = commit.tree[path]
    except KeyError as error:
        raise FileNotFoundError(path) from error
    blob = repo[entry.id]
    if not isinstance(blob, pygit2.Blob):
        raise FileNotFoundError(path)
    return blob.data


def files_under(
    repo: pygit2.Repository, commit_id: str, folder: str, suffix: str
) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every regular file under `folder` of a commit whose name ends
    with `suffix`; nothing when the folder is not there."""
    commit = repo[commit_id].peel(pygit2.Commit)
    try:
        top = commit.tree[folder]
    except KeyError:
        return
    if top.filemode != pygit2.enums.FileMode.TREE:
        return
    stack: list[tuple[pygit2.Tree, str]] = [(repo[top.id].peel(pygit2.Tree), folder)]
    while stack:
        tree, path = stack.pop()
        for entry in tree:
            name = f"{path}/{entry.name}"
            if entry.filemode == pygit2.enums.FileMode.TREE:
                stack.append((repo[entry.id].peel(pygit2.Tree), name))
            elif entry.filemode == pygit2.enums.FileMode.BLOB and name.endswith(suffix):
                yield name, repo[entry.id].peel(pygit2.Blob).data


def diff_to_parent(repo: pygit2.Repository, commit_id: str) -> str:
    """The patch a commit introduces against its first parent (its base)."""
    commit = repo[commit_id].peel(pygit2.Commit)
    if commit.parents:
        diff = commit.parents[0].tree.diff_to_tree(commit.tree)
    else:
        diff = commit.tree.diff_to_tree(swap=True)
    return diff.patch or ""


def export_tree(repo: pygit2.Repository, commit_id: str, dest: Path) -> int:
    """Write the files of a commit into `dest` (which must be empty). Returns the file count.

    Symbolic links and submodules are skipped on purpose: a link in the repository must
    not be able to pull a file from outside it into the published site.
    """
    commit = repo[commit_id].peel(pygit2.Commit)
    count = 0
    stack: list[tuple[pygit2.Tree, Path]] = [(commit.tree, dest)]
    while stack:
        tree, folder = stack.pop()
        folder.mkdir(parents=True, exist_ok=True)
        for entry in tree:
            if entry.filemode == pygit2.enums.FileMode.TREE:
                stack.append((repo[entry.id].peel(pygit2.Tree), folder / str(entry.name)))
            elif entry.filemode in (
                pygit2.enums.FileMode.BLOB,
                pygit2.enums.FileMode.BLOB_EXECUTABLE,
            ):
                target = folder / str(entry.name)
                target.write_bytes(repo[entry.id].peel(pygit2.Blob).data)
                if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                    target.chmod(0o755)
                count += 1
    return count


def seed_bare_from_worktree(worktree: Path, dest: Path, branch: str) -> None:
    """Create bare repository `dest` whose `branch` is the committed HEAD of `worktree`.

    Uncommitted changes in the working tree are ignored on purpose: only what is
    committed is history. Built in a temporary folder and renamed into place, so a
    process that loses the race leaves the winner's repository untouched.
    """
    source = pygit2.Repository(str(worktree))
    head = source.head.peel(pygit2.Commit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        pygit2.init_repository(str(staging), bare=True, initial_head=branch)
        # git's local transport copies exactly the objects reachable from HEAD; argv is
        # fixed (paths and a validated branch name), no shell.
        subprocess.run(
            [
                "git",
                "-C",
                str(worktree),
                "push",
                "--quiet",
                str(staging),
                f"{head.id}:{branch_ref(branch)}",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        staging.rename(dest)
    except OSError:
        if not dest.exists():
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
