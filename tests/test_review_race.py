"""Two reviewers in two OS processes, each with its own app over the same instance folder
and remote, approve and return the same submissions at the same moment: every submission
ends as exactly one decision, and what it shows matches main and the published site."""

from __future__ import annotations

import csv
import multiprocessing
from pathlib import Path
from typing import Any

import pygit2
import pytest

from builder.model import report_path
from forms.app import create_app
from forms.rebuild import SiteRebuilder
from forms.services import build_services
from forms.settings import load_settings
from tests.app_fixtures import PASSWORD, confirm_token, csrf_token, make_repository, submitted
from tests.test_forms_browser import plan_with_site

pytestmark = pytest.mark.slow

SUBMISSIONS = 12


def settings_of(repo: Path, instance: Path) -> Any:
    return load_settings(
        {
            "ROOT": str(repo),
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "race-test",
            "TIMEZONE": "Asia/Shanghai",
        },
        environ={},
    )


def reviewer_process(
    repo: str, instance: str, decision: str, ids: list[str], start: Any, out: Any
) -> None:
    """One reviewer in a process of its own: ask for each decision's confirmation page
    first, then confirm each at the same moment as the other process."""
    app = create_app(build_services(settings_of(Path(repo), Path(instance)), rebuild_site=False))
    client = app.test_client()
    client.post(
        "/forms/login",
        data={"name": decision, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    token = csrf_token(client)
    confirmations = {}
    for sid in ids:
        page = client.post(
            f"/forms/review/{sid}/{decision}",
            data={"csrf_token": token, "reason": "数据有误，请核实"},
        ).get_data(as_text=True)
        confirmations[sid] = confirm_token(page)
    answers = {}
    for sid in ids:
        start.wait(timeout=120)  # both confirm this submission at the same moment
        response = client.post(
            f"/forms/review/{sid}/{decision}",
            data={"csrf_token": token, "confirm": confirmations[sid]},
        )
        answers[sid] = response.status_code
    out.put((decision, answers))


def test_approve_and_reject_from_two_processes_leave_state_main_and_site_consistent(
    tmp_path: Path,
) -> None:
    repo = make_repository(tmp_path / "repo", plan_with_site(tmp_path))
    instance = tmp_path / "instance"
    store = build_services(settings_of(repo, instance), rebuild_site=False)
    store.accounts.add("approve", "reviewer", PASSWORD, display_name="审核甲")
    store.accounts.add("reject", "reviewer", PASSWORD, display_name="审核乙")
    content = store.content
    slots = [
        (unit.id, form.id, period)
        for form in content.forms
        for period in form.periods
        for unit in content.units
        if form.applies_to.matches(unit)
    ][:SUBMISSIONS]
    ids = [submitted(store, unit, form, period, n) for n, (unit, form, period) in enumerate(slots)]

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    out = context.Queue()
    processes = [
        context.Process(
            target=reviewer_process,
            args=(str(repo), str(instance), decision, ids, start, out),
        )
        for decision in ("approve", "reject")
    ]
    for process in processes:
        process.start()
    answers = dict(out.get(timeout=300) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    # Every answer is a decision or a refusal sent back to the submission, never an error.
    assert {code for codes in answers.values() for code in codes.values()} <= {302}
    remote = pygit2.Repository(str(instance / "remote.git"))
    main = remote.branches.local["main"].peel(pygit2.Commit)
    states = {}
    for sid, (unit, form, period) in zip(ids, slots, strict=True):
        state = store.submissions.get(sid).state
        states[sid] = state
        assert state in ("approved", "rejected"), (sid, state)
        on_main = report_path(form, period, unit, sid) in main.tree
        assert on_main == (state == "approved"), (sid, state, on_main)
    # The site built from main lists exactly the approved ones.
    rebuilder = SiteRebuilder(instance / "remote.git", instance / "sites")
    assert rebuilder.rebuild() is not None, rebuilder.last_error
    published = set()
    for form in content.forms:
        path = instance / "sites" / "current" / "data" / f"reports-{form.id}.csv"
        with path.open(encoding="utf-8") as file:
            published |= {row["submission-id"] for row in csv.DictReader(file)}
    assert {s for s in ids if states[s] == "approved"} == published & set(ids)
    print(
        f"\n{SUBMISSIONS} submissions raced: "
        f"{sum(s == 'approved' for s in states.values())} approved, "
        f"{sum(s == 'rejected' for s in states.values())} returned"
    )
