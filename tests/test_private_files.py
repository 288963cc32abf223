"""The instance folder and its databases are readable by the service's own user only,
whatever the umask: new ones are created so, existing ones are tightened at start."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.app_fixtures import make_setup

DATABASES = ("accounts.sqlite", "drafts.sqlite", "submissions.sqlite")
COMPANIONS = ("", "-wal", "-shm")


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which files are 0644 and folders 0755 unless asked otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> str:
    """Permission bits as `ls -l` readers think of them: '0o600'."""
    return oct(stat.S_IMODE(path.stat().st_mode))


@contextmanager
def reading(database: Path) -> Iterator[None]:
    """Another connection reading `database`, as a worker does: in WAL mode SQLite keeps
    its -wal and -shm files beside it while a connection is open."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield
    finally:
        connection.close()


def database_files(instance: Path) -> list[Path]:
    return [instance / f"{name}{suffix}" for name in DATABASES for suffix in COMPANIONS]


def test_a_new_instance_folder_and_its_databases_are_private(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    with ExitStack() as open_connections:
        for name in DATABASES:
            open_connections.enter_context(reading(setup.instance / name))
        files = database_files(setup.instance)
        assert all(file.is_file() for file in files)  # the -wal and -shm files too
        assert mode(setup.instance) == "0o700"
        assert {file.name: mode(file) for file in files} == {file.name: "0o600" for file in files}


def test_an_existing_open_instance_is_tightened_at_start(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    with ExitStack() as open_connections:
        for name in DATABASES:
            # Made the way an earlier version made them: by SQLite itself, 0644, in WAL.
            connection = sqlite3.connect(instance / name)
            open_connections.callback(connection.close)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE earlier (x)")
            connection.commit()
        files = database_files(instance)
        assert {mode(file) for file in files} == {"0o644"} and mode(instance) == "0o755"

        make_setup(tmp_path)

        assert mode(instance) == "0o700"
        assert {file.name: mode(file) for file in files} == {file.name: "0o600" for file in files}


def test_the_users_command_run_first_creates_a_private_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.cli import main

    instance = tmp_path / "instance"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long secret\n"))
    command = ["users", "--instance", str(instance), "add", "zhao", "--role", "reviewer"]
    assert main([*command, "--password-stdin"]) == 0
    assert mode(instance) == "0o700"
    assert mode(instance / "accounts.sqlite") == "0o600"


def test_opening_a_store_keeps_the_locks_of_connections_already_open_on_its_file(
    tmp_path: Path,
) -> None:
    """The accounts file holds two stores. Making the second private closed a descriptor
    of the file, which drops every POSIX lock the process held on it: another worker then
    took itself for the last connection, removed the WAL under the first store, and logins
    failed with "disk I/O error" under load."""
    import sqlite3
    import subprocess
    import sys

    from forms.private_files import make_private_database

    path = tmp_path / "accounts.sqlite"
    make_private_database(path)
    first = sqlite3.connect(path)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE t (x)")
    first.commit()
    first.execute("SELECT * FROM t").fetchall()  # open, holding its shared lock on the file

    make_private_database(path)  # the second store of the same file

    other = "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
    other += "db.execute('INSERT INTO t VALUES (1)'); db.commit(); db.close()"
    subprocess.run([sys.executable, "-c", other, str(path)], check=True)
    # Not the last connection: the other process must have left the WAL in place.
    assert path.with_name(path.name + "-wal").exists()
    assert first.execute("SELECT count(*) FROM t").fetchone() == (1,)
