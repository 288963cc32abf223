"""Reliability under load and concurrency, through HTTP against the service run as in
production: gunicorn with several worker processes on `forms.wsgi:app`, configured only by
PLANSITE_* environment variables, on 127.0.0.1, real git repositories, the real builder.

Figures: 1,000 submissions from 16 clients by default (PLANSITE_FULL=1: 3,000), then every
one approved by 16 concurrent reviewer sessions, then the rebuilt site checked.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pygit2
import pytest

from builder.model import Unit, report_path
from builder.plan import load_content
from forms.outbox import APPROVED, IN_REVIEW, SUPERSEDED, Outbox
from tests.reliability_support import (
    FULL,
    Client,
    Server,
    Slot,
    Tally,
    add_accounts,
    files_on,
    fsck,
    git,
    logged_in,
    plan_repository,
    running,
    shuffled,
    slots,
    submission_branches,
    valid_values,
    wait_for,
)

pytestmark = pytest.mark.slow

CLIENTS = 16
SUBMISSIONS = 3000 if FULL else 1000
QUOTA = 10  # submissions per unit and hour (forms.quotas)
FIGURES: dict[str, Any] = {}  # printed at the end of each test for tests/README.md


def submit_all(
    server: Server, accounts: list[str], work: list[Slot], seed: int, units: Sequence[Unit]
) -> Tally:
    """CLIENTS threads, each a logged-in browser submitting its share of `work` in turn."""
    tally = Tally()
    lock = threading.Lock()
    values = {form.id: valid_values(form, 50, seed, units) for form in {s.form for s in work}}

    def client(number: int) -> None:
        browser = logged_in(server.port, accounts[number % len(accounts)])
        for position, slot in enumerate(work[number::CLIENTS]):
            posted = {
                **values[slot.form.id][position % 50],
                # A value unique to the submission, where the form has free text.
                **{
                    f.name: f"load-{slot.unit}-{slot.period}"
                    for f in slot.form.fields
                    if f.type == "string" and not f.enum and (f.max_length or 99) >= 40
                },
            }
            try:
                status, submission_id, _ = browser.submit(slot, posted)
            except OSError as error:
                with lock:
                    tally.errors.append(repr(error))
                continue
            with lock:
                if submission_id is None:
                    tally.refused.append((status, slot.fill_url))
                else:
                    tally.acknowledged[submission_id] = (slot, posted)

    run_clients(client)
    return tally


def submit_repeatedly(server: Server, slot: Slot, times: int, units: Sequence[Unit]) -> Tally:
    """One unit's reporter sending `times` reports for one slot (each correcting the last)."""
    tally = Tally()
    browser = logged_in(server.port, slot.unit)
    for posted in valid_values(slot.form, times, 9, units):
        status, submission_id, _ = browser.submit(slot, posted)
        if submission_id is None:
            tally.refused.append((status, slot.fill_url))
        else:
            tally.acknowledged[submission_id] = (slot, posted)
    return tally


def run_clients(work: Callable[[int], None]) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(work, n) for n in range(CLIENTS)]:
            future.result(timeout=1800)


def approve_all(server: Server, reviewers: list[str], ids: list[str]) -> list[str]:
    """CLIENTS reviewer sessions approving their share at once; the ids NOT approved."""
    failed: list[str] = []
    lock = threading.Lock()

    def reviewer(number: int) -> None:
        browser = logged_in(server.port, reviewers[number % len(reviewers)])
        for submission_id in ids[number::CLIENTS]:
            if not browser.approve(submission_id):
                with lock:
                    failed.append(submission_id)

    run_clients(reviewer)
    return failed


def as_posted(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_branches(service_git: Path, tally: Tally) -> None:
    """Every acknowledged submission: exactly one commit, on its own branch, on top of main,
    adding exactly its report with the values that were posted."""
    repo = pygit2.Repository(str(service_git))
    branches = submission_branches(service_git)
    assert set(branches) == set(tally.acknowledged)
    assert len(set(branches.values())) == len(branches)  # no commit shared by two branches
    main_history = {c.id for c in repo.walk(repo.references["refs/heads/main"].target)}
    for submission_id, (slot, posted) in tally.acknowledged.items():
        commit = repo[branches[submission_id]].peel(pygit2.Commit)
        assert len(commit.parents) == 1 and commit.parents[0].id in main_history
        diff = repo.diff(commit.parents[0].tree, commit.tree)
        path = report_path(slot.form.id, slot.period, slot.unit, submission_id)
        assert [d.new_file.path for d in diff.deltas] == [path]
        stored = json.loads(repo[commit.tree[path].id].data)["values"]
        assert {k: as_posted(v) for k, v in stored.items()} == posted


def test_a_thousand_submissions_from_16_clients_are_each_stored_once_approved_and_published(
    tmp_path: Path,
) -> None:
    repo = plan_repository(tmp_path, units=SUBMISSIONS // 5 + 1)
    content = load_content(repo)
    # One unit sends more than its hourly quota meanwhile; every other unit 5 reports.
    greedy_unit = content.units[-1].id
    greedy_slot = next(s for s in slots(content) if s.unit == greedy_unit)
    work = shuffled([s for s in slots(content) if s.unit != greedy_unit], 1)[:SUBMISSIONS]
    assert len(work) == SUBMISSIONS
    instance = tmp_path / "instance"
    clerks = [f"clerk-{n}" for n in range(4)]  # admins fill in for any unit
    reviewers = [f"reviewer-{n}" for n in range(2)]
    add_accounts(
        instance,
        {
            **{c: ("admin", None) for c in clerks},
            **{r: ("reviewer", None) for r in reviewers},
            greedy_unit: ("reporter", greedy_unit),
        },
    )

    with running(repo, instance, workers=4, threads=4, SUBMISSIONS_PER_HOUR=str(QUOTA)) as server:
        start = time.monotonic()
        with ThreadPoolExecutor(1) as pool:
            greedy = pool.submit(submit_repeatedly, server, greedy_slot, QUOTA + 4, content.units)
            tally = submit_all(server, clerks, work, 1, content.units)
            greedy_tally = greedy.result(timeout=1800)
        FIGURES["submit_seconds"] = time.monotonic() - start
        assert tally.errors == [] and tally.refused == []
        assert len(tally.acknowledged) == SUBMISSIONS
        # The quota refused the greedy unit's submissions past it, and only those.
        assert len(greedy_tally.acknowledged) == QUOTA
        assert [status for status, _ in greedy_tally.refused] == [429] * 4
        tally.acknowledged.update(greedy_tally.acknowledged)

        service_git, remote = instance / "service.git", instance / "remote.git"
        check_branches(service_git, tally)
        outbox = Outbox(instance / "submissions.sqlite")
        assert {r.id for r in outbox.records()} == set(tally.acknowledged)
        fsck(service_git)
        # The greedy unit's reports each corrected the one before: all but the last were
        # superseded (issue 13: one live submission per slot) and are neither delivered
        # nor approved. The background sync delivers every other branch to the remote.
        superseded = set(list(greedy_tally.acknowledged)[:-1])
        live = set(tally.acknowledged) - superseded
        wait_for(
            lambda: live <= set(submission_branches(remote)),
            300,
            what="every branch on the remote",
        )
        wait_for(
            lambda: {r.id for r in outbox.records(state=IN_REVIEW)} == live,
            120,
            what="every submission in review",
        )
        assert {r.id for r in outbox.records(state=SUPERSEDED)} == superseded

        for submission_id in superseded:
            del tally.acknowledged[submission_id]
        ids = shuffled(list(tally.acknowledged), 2)
        start = time.monotonic()
        failed = approve_all(server, reviewers, ids)
        FIGURES["approve_seconds"] = time.monotonic() - start
        assert failed == []
        assert {r.id for r in outbox.records(state=APPROVED)} == live
        on_main = files_on(remote)
        for submission_id, (slot, _) in tally.acknowledged.items():
            assert report_path(slot.form.id, slot.period, slot.unit, submission_id) in on_main
        merges = git(remote, "log", "--merges", "--format=%s", "main").splitlines()
        assert sum(m.startswith("Approve submission ") for m in merges) == len(tally.acknowledged)
        fsck(remote)
        fsck(service_git)

        # The site is rebuilt from the final main and published: its data package has a row
        # for every submission with the values that were posted.
        tip = git(remote, "rev-parse", "main").strip()
        start = time.monotonic()
        wait_for(lambda: published(instance, tip), 600, interval=1, what="the rebuilt site")
        FIGURES["publish_wait_seconds"] = time.monotonic() - start
        # The pages go first; the downloads of the same commit follow in a step of their own.
        wait_for(
            lambda: len(published_rows(server, content)) == len(tally.acknowledged),
            600,
            interval=1,
            what="the rebuilt site's downloads",
        )
        FIGURES["downloads_wait_seconds"] = time.monotonic() - start
        rows = published_rows(server, content)
        assert not superseded & set(rows)
        for submission_id, (slot, posted) in tally.acknowledged.items():
            row = rows[submission_id]
            assert (row["unit-id"], row["period-id"]) == (slot.unit, slot.period)
            for name, value in posted.items():
                assert row[name] == value, (submission_id, name)
        assert len(rows) == len(tally.acknowledged)
    print(
        f"\nload figures: {SUBMISSIONS} submissions, {CLIENTS} clients, "
        + ", ".join(f"{k} {v:.1f}" for k, v in FIGURES.items())
    )


def published(instance: Path, tip: str) -> bool:
    current = instance / "sites" / "current"
    return current.is_symlink() and current.resolve().name.startswith(tip[:12] + "-")


def published_rows(server: Server, content: Any) -> dict[str, dict[str, str]]:
    """report id -> CSV row of the data package, fetched from the running service."""
    import csv
    import io

    client = Client(server.port)
    rows: dict[str, dict[str, str]] = {}
    for form in content.forms:
        status, _, text = client.get(f"/data/reports-{form.id}.csv")
        assert status == 200, text[:500]
        for row in csv.DictReader(io.StringIO(text)):
            assert row["submission-id"] not in rows
            rows[row["submission-id"]] = row
    return rows


# -- approvals racing each other and a plan editor's pushes ------------------------------------


EDITS = 20 if FULL else 8
RACE_SUBMISSIONS = 200 if FULL else 50


def push_edits(remote: Path, clone: Path, edits: int, stop: threading.Event) -> list[str]:
    """A plan editor pushing content edits to main while reviewers approve (rebase, retry)."""
    git(clone.parent, "clone", "-q", str(remote), str(clone))
    made: list[str] = []
    identity = ("-c", "user.name=Plan Editor", "-c", "user.email=editor@example.invalid")
    for n in range(edits):
        page = clone / "content" / "guarantees" / f"99-note-{n}.txt"
        page.write_text(f"edit {n}\n", encoding="utf-8")
        git(clone, "add", "-A")
        git(clone, *identity, "commit", "-qm", f"Edit the plan ({n})")
        for _ in range(200):  # bounded: the race with the approvals is won eventually
            try:
                git(clone, "push", "-q", "origin", "HEAD:main")
                break
            except subprocess.CalledProcessError:
                git(clone, *identity, "pull", "-q", "--rebase", "origin", "main")
        else:
            raise AssertionError("the editor's push never got through")
        made.append(page.relative_to(clone).as_posix())
        if stop.is_set():
            break
    return made


def test_concurrent_approvals_and_a_content_push_to_main_lose_no_merge(tmp_path: Path) -> None:
    repo = plan_repository(tmp_path, units=RACE_SUBMISSIONS // 5)
    content = load_content(repo)
    work = slots(content)[:RACE_SUBMISSIONS]
    assert len(work) == RACE_SUBMISSIONS
    instance = tmp_path / "instance"
    reviewers = [f"reviewer-{n}" for n in range(4)]
    add_accounts(instance, {"clerk": ("admin", None), **{r: ("reviewer", None) for r in reviewers}})

    with running(repo, instance, workers=4, threads=4) as server:
        tally = submit_all(server, ["clerk"], work, 3, content.units)
        assert len(tally.acknowledged) == RACE_SUBMISSIONS
        remote = instance / "remote.git"
        ids = shuffled(list(tally.acknowledged), 4)
        # Half of them approved while still queued (not yet on the remote): the approval
        # delivers them itself, racing the background sync.
        stop = threading.Event()
        with ThreadPoolExecutor(1) as editor:
            edits = editor.submit(push_edits, remote, tmp_path / "editor", EDITS, stop)
            failed = approve_all(server, reviewers, ids)
            stop.set()
            made = edits.result(timeout=600)
        assert failed == []
        on_main = set(git(remote, "ls-tree", "-r", "--name-only", "main").splitlines())
        for submission_id, (slot, _) in tally.acknowledged.items():
            assert report_path(slot.form.id, slot.period, slot.unit, submission_id) in on_main
        assert set(made) <= on_main and len(made) >= 1
        merges = git(remote, "log", "--merges", "--format=%s", "main").splitlines()
        assert sum(m.startswith("Approve submission ") for m in merges) == RACE_SUBMISSIONS
        outbox = Outbox(instance / "submissions.sqlite")
        assert all(r.state == APPROVED for r in outbox.records())
        # Each approval page says so, and a second approval is refused, not repeated.
        browser = logged_in(server.port, reviewers[0])
        assert not browser.approve(ids[0])
        merges_after = git(remote, "log", "--merges", "--format=%s", "main").splitlines()
        assert len(merges_after) == len(merges)
        fsck(remote)
    print(
        f"\nrace figures: {RACE_SUBMISSIONS} approvals by {CLIENTS} sessions, "
        f"{len(made)} content pushes"
    )
