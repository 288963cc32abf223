"""What the form service's speed-ups must not change: session cookies stay Flask's, a kept
repository handle sees what other processes write, and concurrent fsyncs report failures."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from forms import repository
from forms.sessions import CachedSerializerSessionInterface, install_sessions
from forms.submissions import SubmissionService
from tests.fake_forge import make_plan_worktree, sample_report

# -- session cookies ---------------------------------------------------------------------


def _app(secret: str, fallbacks: list[str] | None = None) -> Flask:
    app = Flask(__name__)
    app.secret_key = secret
    app.config["SECRET_KEY_FALLBACKS"] = fallbacks or []
    install_sessions(app)

    @app.post("/login/<name>")
    def login(name: str) -> str:
        session["account"] = name
        session.permanent = True
        return "ok"

    @app.post("/note/<text>")
    def note(text: str) -> str:
        session["note"] = text
        return "ok"

    @app.get("/who")
    def who() -> str:
        return str(session.get("account"))

    return app


def _cookie(app: Flask, name: str) -> str:
    client = app.test_client()
    client.post(f"/login/{name}")
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _who(app: Flask, cookie: str) -> str:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/who").text


def test_a_session_cookie_is_the_same_as_flasks_own_in_both_directions() -> None:
    ours = _app("s" * 64)
    flasks = Flask(__name__)
    flasks.secret_key = "s" * 64
    assert isinstance(ours.session_interface, CachedSerializerSessionInterface)
    theirs = SecureCookieSessionInterface().get_signing_serializer(flasks)
    mine = ours.session_interface.get_signing_serializer(ours)
    assert theirs is not None and mine is not None
    data = {"account": "unit-a", "_permanent": True}
    assert mine.loads(theirs.dumps(data)) == data
    assert theirs.loads(mine.dumps(data)) == data
    assert _who(ours, _cookie(ours, "unit-a")) == "unit-a"


def test_a_new_secret_key_refuses_the_old_cookies_unless_it_is_a_fallback() -> None:
    app = _app("old" * 20)
    cookie = _cookie(app, "unit-a")
    assert _who(app, cookie) == "unit-a"  # the serializer is now built and kept
    app.secret_key = "new" * 20
    assert _who(app, cookie) == "None"
    app.config["SECRET_KEY_FALLBACKS"] = ["old" * 20]
    assert _who(app, cookie) == "unit-a"
    assert _who(app, _cookie(app, "unit-b")) == "unit-b"


def test_a_tampered_cookie_opens_an_empty_session() -> None:
    app = _app("s" * 64)
    cookie = _cookie(app, "unit-a")
    payload, _, signature = cookie.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _who(app, forged) == "None"


def _sets_cookie(app: Flask, cookie: str, method: str = "GET", path: str = "/who") -> bool:
    client = app.test_client()
    client.set_cookie("session", cookie)
    response = client.open(path, method=method)
    return any(h.startswith("session=") for h in response.headers.getlist("Set-Cookie"))


def test_an_unchanged_session_is_signed_again_only_once_its_cookie_is_a_minute_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from forms import sessions

    app = _app("s" * 64)
    cookie = _cookie(app, "unit-a")
    assert not _sets_cookie(app, cookie)  # fresh: nothing to sign
    assert _sets_cookie(app, cookie, "POST", "/note/x")  # changed: always signed
    monkeypatch.setattr(sessions, "REFRESH_AFTER", 0.0)  # as if a minute had passed
    assert _sets_cookie(app, cookie)  # the expiry slides forward again


def test_a_cookie_older_than_the_session_lifetime_opens_an_empty_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    app = _app("s" * 64)
    real = time.time
    lifetime = app.permanent_session_lifetime.total_seconds()
    monkeypatch.setattr(time, "time", lambda: real() - lifetime - 60)
    old = _cookie(app, "unit-a")  # signed "a lifetime and a minute ago"
    monkeypatch.setattr(time, "time", real)
    assert _who(app, old) == "None"
    assert _who(app, _cookie(app, "unit-a")) == "unit-a"


# -- the kept repository handle ----------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> SubmissionService:
    return SubmissionService.open_default(tmp_path / "instance", make_plan_worktree(tmp_path / "p"))


def test_a_kept_handle_reads_a_submission_another_process_committed(
    service: SubmissionService, tmp_path: Path
) -> None:
    kept = service._repo()  # opened before the other process writes anything
    other = SubmissionService.open_default(tmp_path / "instance", tmp_path / "p")
    record = other.submit(sample_report("r-2"), [], "李四", "b@example.org")
    assert service._repo() is kept
    assert service.read_report(record.id)["id"] == "r-2"
    assert f"refs/heads/{record.branch}" in kept.references


def test_each_thread_and_each_forked_process_opens_its_own_handle(
    service: SubmissionService,
) -> None:
    main = service._repo()
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(service._repo()))
    thread.start()
    thread.join()
    assert seen and seen[0] is not main
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a handle of its own, which works
        try:
            fresh = service._repo() is not main and service.list() == []
            os.write(writer, b"1" if fresh and "refs/heads/main" in service._repo().references
                     else b"0")
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 1)
    os.waitpid(pid, 0)
    os.close(reader)
    assert answer == b"1"


# -- concurrent fsyncs -------------------------------------------------------------------


def test_every_fsync_runs_and_the_first_failure_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [tmp_path / f"d{n}" for n in range(6)]
    for folder in folders:
        folder.mkdir()
    synced: list[str] = []
    lock = threading.Lock()
    real_fsync = os.fsync

    def watched_fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        with lock:
            synced.append(path)
        if path.endswith("/d3"):
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    with pytest.raises(OSError) as raised:
        repository._fsync_all(folders)
    assert raised.value.errno == errno.EIO
    assert sorted(synced) == sorted(str(f) for f in folders)
    # The helpers are still there and still work after a failure.
    synced.clear()
    repository._fsync_all(folders[:3])
    assert sorted(synced) == sorted(str(f) for f in folders[:3])


# -- plan lookups ------------------------------------------------------------------------


def test_the_plan_index_finds_what_a_scan_finds_and_follows_a_reloaded_plan(
    tmp_path: Path,
) -> None:
    from bench.workload import make_workload
    from builder.plan import load_content
    from forms.permissions import content_index

    root = make_workload(tmp_path / "plan", 30, 1).root
    content = load_content(root)
    assert len(content.units) >= 30
    index = content_index(content)
    assert content_index(content) is index
    for unit in content.units:
        assert index.units[unit.id] is next(u for u in content.units if u.id == unit.id)
    assert set(index.forms) == {f.id for f in content.forms}
    assert set(index.periods) == {p.id for p in content.periods}
    reloaded = load_content(root)
    assert content_index(reloaded) is not index
    assert content_index(reloaded).units.keys() == index.units.keys()
