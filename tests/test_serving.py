"""`plansite serve` as an operator runs it: a real waitress on a free port, whose limits keep
idle and half-sent connections from taking the server (forms/serving.py), and the
production setup that forms/README.md documents."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forms.serving import waitress_options
from forms.settings import load_settings
from tests.app_fixtures import git
from tests.reliability_support import HOST, free_port, plan_repository

ROOT = Path(__file__).resolve().parents[1]
HALF_SENT = 110  # waitress' default connection limit is 100


def get(port: int, path: str, timeout: float) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@contextlib.contextmanager
def plansite_serve(tmp_path: Path, repo: Path | None = None) -> Iterator[int]:
    """`plansite serve` in a process group of its own, stopped (by its id) at the end."""
    repo = repo or plan_repository(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-m",
        "builder.cli",
        "serve",
        "--root",
        str(repo),
        "--instance",
        str(tmp_path / "instance"),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PLANSITE_")}
    env["PYTHONPATH"] = str(ROOT)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            with contextlib.suppress(OSError):
                if get(port, "/forms/login", timeout=5) == 200:
                    break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@pytest.mark.slow  # a real `plansite serve`, which builds its site at start
def test_half_sent_requests_do_not_stop_other_clients(tmp_path: Path) -> None:
    with plansite_serve(tmp_path) as port, contextlib.ExitStack() as stack:
        for _ in range(HALF_SENT):
            # A request line and one header, never the blank line that ends them.
            idle = stack.enter_context(socket.create_connection((HOST, port), timeout=5))
            idle.sendall(b"GET /forms/login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(1)  # let the server accept them all before the real client comes

        started = time.monotonic()
        status = get(port, "/forms/login", timeout=10)
        elapsed = time.monotonic() - started
        print(f"{HALF_SENT} half-sent requests open: a normal GET answered in {elapsed:.2f} s")
        assert status == 200
        assert elapsed < 3


def published_commit(instance: Path) -> str | None:
    """The commit of the site being served (its folder is named `<commit>-<n>`)."""
    current = instance / "sites" / "current"
    return current.resolve().name.split("-")[0] if current.is_symlink() else None


def wait_until_published(instance: Path, remote: Path, seconds: float) -> None:
    tip = git(remote, "rev-parse", "main").strip()
    deadline = time.monotonic() + seconds
    while published_commit(instance) is None or not tip.startswith(str(published_commit(instance))):
        assert time.monotonic() < deadline, (published_commit(instance), tip)
        time.sleep(0.5)


@pytest.mark.slow  # two real `plansite serve` runs, each building the site
def test_a_restarted_serve_publishes_what_main_gained_while_it_was_down(tmp_path: Path) -> None:
    repo = plan_repository(tmp_path)
    instance = tmp_path / "instance"
    remote = instance / "remote.git"  # the embedded default's remote
    with plansite_serve(tmp_path, repo):
        wait_until_published(instance, remote, 300)
    # A merge made while the service was down (by a forge, or a push from outside).
    tree = git(remote, "rev-parse", "main^{tree}").strip()
    commit = git(remote, "commit-tree", tree, "-p", "main", "-m", "Merged while down").strip()
    git(remote, "update-ref", "refs/heads/main", commit)

    with plansite_serve(tmp_path, repo):
        wait_until_published(instance, remote, 300)


def test_the_documented_waitress_serve_command_has_the_limits_plansite_serve_uses() -> None:
    from waitress.adjustments import Adjustments

    readme = (ROOT / "forms" / "README.md").read_text(encoding="utf-8")
    found = re.search(r"waitress-serve (.+?) --call forms\.wsgi:make_app", readme, re.DOTALL)
    assert found, "forms/README.md shows no waitress-serve command"
    arguments, _ = Adjustments.parse_args(shlex.split(found.group(1).replace("\\\n", " ")))
    assert not arguments.pop("help") and not arguments.pop("call")  # flags, not settings
    documented = Adjustments(**arguments)
    options = waitress_options(load_settings({}, {}), threads=8)
    assert {name: getattr(documented, name) for name in options} == options


@pytest.mark.parametrize("option", ["channel_timeout", "connection_limit", "cleanup_interval"])
def test_the_limits_are_tighter_than_waitress_defaults_where_it_matters(option: str) -> None:
    from waitress.adjustments import Adjustments

    ours = waitress_options(load_settings({}, {}), threads=8)[option]
    default = getattr(Adjustments, option)
    assert ours > default if option == "connection_limit" else ours < default
