"""Property-based fuzzing of every form route: random and malformed fields, wrong types,
huge values, unicode edge cases, missing and extra fields, forged units and periods.

Two properties, checked on every response and after every run:
- the service never answers 500 (nor anything outside the statuses the route documents);
- nothing invalid is ever committed: every submit/* branch of the service repository holds
  reports that pass builder.records.read_record and builder.validate.validate_repository.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.records import read_record
from builder.validate import validate_repository
from forms import repository
from tests.app_fixtures import (
    CONFIRM_INPUT,
    FILL_URL,
    INSPECTION_OK,
    PASSWORD,
    logged_in,
    make_setup,
    post,
)

# How many inputs each route was given (printed at the end of each test; see tests/README.md).
INPUTS: Counter[str] = Counter()

DRILL_OK = {
    "drills_held": "2",
    "participants": "300",
    "duration_minutes": "4.5",
    "lab_drill": "true",
    "notes": "演练顺利。",
}
DRILL_URL = "/forms/units/dongfeng-ps/drill/2025-T2/"
FIELDS = list(INSPECTION_OK) + list(DRILL_OK)
CONTROLS = ["action", "remove_file", "csrf_token", "evidence"]
HUGE = "长" * 1_000_000  # 1 M characters, 3 MB of UTF-8
EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil.pdf",
    "\u202e\u202d\u200f\u200e",
    "e\u0301\u0301\u0301",
    "\u0300" * 200,
    "\ufeff",
    "\uffff",
    "\U0001f600" * 10,
    "𠀀𪚥",
    "\r\n\r\n",
    "\t",
    "\x1b[31m",
    "' OR 1=1 --",
    "<script>",
    "{{7*7}}",
    "../../etc/passwd",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "1e309",
    "1e400",
    "sNaN",
    "-sNaN",
    "-0",
    "0x10",
    "1_000",
    "١٢٣",
    "１２３",
    "+5",
    "5.0",
    "9" * 400,
    "-9" * 30,
    "true",
    "True",
    "1",
    "yes",
    "是",
    "null",
    "[]",
    "{}",
    "2025-02-30",
    "2025-13-01",
    "0000-01-01",
    "9999-12-31",
    "2025-07-05T00:00:00",
    "２０２５-０７-０５",
    HUGE,
    "x" * 501,
    "合格",
    "基本合格",
    "不合格",
    "合格 ",
    "合 格",
]
text_values = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=600),
    st.integers().map(str),
    st.floats().map(str),
    st.dates().map(lambda d: d.isoformat()),
)
# A form post may repeat a name: the second value is a wrong "type" (a list) for a field.
posted_value = st.one_of(text_values, st.lists(text_values, min_size=2, max_size=3))
field_names = st.one_of(st.sampled_from(FIELDS + CONTROLS), st.text(min_size=1, max_size=20))

UNITS = [
    "dongfeng-ps",
    "shiyan-ms",
    "nobody",
    "..",
    "dongfeng-ps.lock",
    "dongfeng ps",
    "~x",
    "a" * 70,
    "%2e%2e",
    "@{0}",
    "x^",
    "a:b",
]
FORMS = ["inspection", "drill", "nothing", "..", "inspection.lock"]
PERIODS = ["2025-T1", "2025-T2", "2025-SUMMER", "2099", "..", "2025-T2..x", "HEAD", "@{-1}"]
# Statuses the form routes may answer with; 500 (or anything else) is a defect.
ALLOWED = {200, 302, 400, 401, 403, 404, 405, 413, 415, 422, 429}


def fuzz(examples: int) -> settings:
    # No example database: runs are independent; a failure prints its reproduction blob.
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=True,
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # One unit submits far more than an hour's quota here (tests/test_app_quotas.py).
    return make_setup(tmp_path_factory.mktemp("fuzz"), SUBMISSIONS_PER_HOUR="100000")


def check_response(response: Any, route: str) -> None:
    INPUTS[route] += 1
    status = response.status_code
    assert status != 500, f"{route}: 500\n{response.get_data(as_text=True)[:2000]}"
    assert status in ALLOWED, f"{route}: unexpected {status}"
    if status >= 400:
        # Refusals are explained in Chinese, never a bare framework page.
        page = response.get_data(as_text=True)
        assert 'lang="zh-CN"' in page, f"{route}: {status} without the Chinese error page"


def submission_files(service_repo: Path) -> dict[str, dict[str, bytes]]:
    """Every file each submit/* branch adds or changes, by branch."""
    repo = pygit2.Repository(str(service_repo))
    found: dict[str, dict[str, bytes]] = {}
    for ref in repo.references:
        if repository.parse_submission_branch(ref) is None:
            continue
        commit = repo[repo.references[ref].target].peel(pygit2.Commit)
        parent = commit.parents[0].tree if commit.parents else None
        diff = repo.diff(parent, commit.tree) if parent is not None else commit.tree.diff_to_tree()
        found[ref] = {
            delta.new_file.path: repo[delta.new_file.id].data
            for delta in diff.deltas
            if delta.status != pygit2.enums.DeltaStatus.DELETED
        }
    return found


def assert_committed_reports_valid(setup: Any, scratch: Path) -> int:
    """Every submission branch holds one valid report (and its evidence) under data/reports/.

    The branches' files are laid over a copy of the plan and the whole is validated once by
    `plansite validate`'s own function. Returns the number of branches checked.
    """
    forms = {form.id: form for form in setup.services.content.forms}
    branches = submission_files(setup.instance / "service.git")
    tree = scratch / "validated"
    if tree.exists():
        shutil.rmtree(tree)
    subprocess.run(["git", "-C", str(setup.repo), "worktree", "prune"], check=True)
    shutil.copytree(setup.repo, tree, ignore=shutil.ignore_patterns(".git"))
    for ref, files in branches.items():
        reports = [p for p in files if p.endswith(".json")]
        assert len(reports) == 1, (ref, sorted(files))
        assert all(p.startswith("data/reports/") for p in files), (ref, sorted(files))
        document = json.loads(files[reports[0]])
        _, errors = read_record(forms[document["form"]], document["values"])
        assert errors == {}, (ref, errors)
        for path, data in files.items():
            target = tree / path
            assert target.resolve().is_relative_to(tree / "data" / "reports")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    # Warnings are not invalid (validate exits 0): a history check compares each report with
    # the unit's last of an earlier period, and laying every branch over the plan at once
    # makes reports earlier ones that were never approved when the later was submitted.
    errors = [problem for problem in validate_repository(tree) if not problem.warning]
    assert errors == [], errors[:10]
    return len(branches)


def report_inputs(route: str, branches: int | None = None) -> None:
    extra = f", {branches} submission branches validated" if branches is not None else ""
    print(f"\nfuzz {route}: {INPUTS[route]} inputs{extra}")


def fill_url(unit: str, form: str, period: str) -> str:
    return f"/forms/units/{unit}/{form}/{period}/"


def test_fill_posts_never_fail_and_never_commit_invalid_data(setup: Any, tmp_path: Path) -> None:
    client = logged_in(setup, "dongfeng")

    @fuzz(300)
    @given(
        changes=st.one_of(
            st.dictionaries(field_names, posted_value, max_size=6),
            # Mostly valid posts too, so that many reach the commit with odd but valid values.
            st.fixed_dictionaries({"notes": st.text(max_size=500)}),
            st.fixed_dictionaries(
                {
                    "duration_minutes": st.one_of(
                        st.sampled_from(
                            [
                                "NaN",
                                "sNaN",
                                "Infinity",
                                "-Infinity",
                                "1e309",
                                "1e400",
                                "-0",
                                "4.",
                                ".5",
                                "1e-400",
                                "60.0000000000000001",
                                "0x1",
                            ]
                        ),
                        st.floats().map(str),
                    ),
                    "participants": st.one_of(st.integers(-1, 20000).map(str), text_values),
                }
            ),
            st.fixed_dictionaries(
                {
                    "hazards_found": st.integers(-5, 600).map(str),
                    "inspected_on": st.one_of(st.dates().map(str), text_values),
                    "extinguishers_checked": st.one_of(st.integers(-1, 6000).map(str), text_values),
                    "exits_clear": st.sampled_from(["true", "false", "", "TRUE", "1", "是"]),
                }
            ),
        ),
        dropped=st.sets(st.sampled_from(FIELDS), max_size=2),
        action=st.sampled_from(["continue", "continue", "continue", "save", "", "submit", "\x00"]),
        where=st.tuples(st.sampled_from(UNITS), st.sampled_from(FORMS), st.sampled_from(PERIODS)),
        forged=st.sampled_from([False, False, False, True]),
        then_submit=st.sampled_from([True, True, False]),
        drill=st.booleans(),
    )
    def run(changes, dropped, action, where, forged, then_submit, drill) -> None:
        url = fill_url(*where) if forged else DRILL_URL if drill else FILL_URL
        base = DRILL_OK if drill else INSPECTION_OK
        data: dict[str, Any] = {k: v for k, v in base.items() if k not in dropped}
        data.update({k: v for k, v in changes.items() if k != "csrf_token"})
        data["action"] = action
        response = post(client, url, data)
        check_response(response, "fill POST")
        if (
            then_submit
            and response.status_code == 302
            and response.headers["Location"].endswith("/check")
        ):
            check_response(post(client, response.headers["Location"]), "check POST")

    run()
    branches = assert_committed_reports_valid(setup, tmp_path)
    report_inputs("fill POST", branches)
    report_inputs("check POST")


def test_check_posts_with_forged_units_and_periods_never_fail(setup: Any, tmp_path: Path) -> None:
    client = logged_in(setup, "dongfeng")
    before = set(submission_files(setup.instance / "service.git"))

    @fuzz(60)
    @given(
        where=st.tuples(st.sampled_from(UNITS), st.sampled_from(FORMS), st.sampled_from(PERIODS)),
        extra=st.dictionaries(field_names, text_values, max_size=3),
    )
    def run(where, extra) -> None:
        response = post(client, fill_url(*where) + "check", extra)
        check_response(response, "check POST (forged)")
        if where[0] != "dongfeng-ps":
            assert response.status_code in (400, 403, 404, 413)  # 413: over MAX_FORM_BYTES

    run()
    # No draft of this reporter was valid for another unit: nothing new except own units.
    after = submission_files(setup.instance / "service.git")
    assert all("/dongfeng-ps/" in ref for ref in set(after) - before)
    report_inputs("check POST (forged)", assert_committed_reports_valid(setup, tmp_path))


def test_drafts_keep_whatever_was_typed_and_render_it_back(setup: Any) -> None:
    client = logged_in(setup, "dongfeng")
    url = fill_url("dongfeng-ps", "inspection", "2025-SUMMER")

    @fuzz(80)
    @given(
        changes=st.dictionaries(st.sampled_from(list(INSPECTION_OK)), text_values, max_size=5),
        removed=st.lists(st.sampled_from(["1", "-1", "x", "99999999999999999999", ""]), max_size=2),
    )
    def run(changes, removed) -> None:
        response = post(client, url, {**changes, "action": "save", "remove_file": removed})
        check_response(response, "draft save")
        if len(urlencode(changes).encode()) > setup.services.settings.max_form_bytes:
            # More than a form without files may carry (HUGE): refused before it is read,
            # with a Chinese 413; the draft stays as it was.
            assert response.status_code == 413
            return
        assert response.status_code == 302
        page = client.get(url)
        check_response(page, "draft resume")
        assert page.status_code == 200
        draft = setup.services.drafts.load("dongfeng-ps", "inspection", "2025-SUMMER")
        assert draft is not None
        assert draft.values == {k: v.strip() for k, v in changes.items()}

    run()
    report_inputs("draft save")


def office_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


FILE_CONTENTS = [
    b"%PDF-1.7\n%%EOF\n",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,
    b"\xff\xd8\xff\xe0" + b"\x00" * 16,
    office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<d/>"}),
    office_zip({"[Content_Types].xml": b"<Types/>", "xl/big.xml": b"\x00" * 5_000_000}),
    b"MZ\x90\x00" + b"\x00" * 60,
    b"PK\x03\x04broken",
    b"",
    b"<html><script>alert(1)</script></html>",
]
FILE_NAMES = [
    "报告.pdf",
    "../../x.pdf",
    "con.pdf",
    "a\x00b.pdf",
    "x" * 300 + ".pdf",
    ".htaccess",
    "\u202efdp.exe",
    "照片.PNG",
    "a.jpeg",
    "a.docx",
    "a.xlsx",
    "no-extension",
    "..",
    "/",
    "C:\\boot.ini",
    "<svg onload=alert(1)>.png",
    "a.pdf.exe",
    "e\u0301.pdf",
]


def test_evidence_uploads_never_fail(setup: Any, tmp_path: Path) -> None:
    client = logged_in(setup, "dongfeng")
    url = fill_url("dongfeng-ps", "drill", "2025-T1")

    @fuzz(60)
    @given(
        files=st.lists(
            st.tuples(
                st.one_of(st.sampled_from(FILE_CONTENTS), st.binary(max_size=300)),
                st.one_of(st.sampled_from(FILE_NAMES), st.text(max_size=40)),
            ),
            max_size=3,
        ),
        action=st.sampled_from(["save", "continue"]),
    )
    def run(files, action) -> None:
        uploads = [(io.BytesIO(data), name) for data, name in files]
        response = post(
            client, url, {"action": action, "evidence": uploads}, content_type="multipart/form-data"
        )
        check_response(response, "evidence upload")
        draft = setup.services.drafts.load("dongfeng-ps", "drill", "2025-T1")
        for held in draft.files if draft else ():
            assert "/" not in held.name and "\\" not in held.name
            assert "\x00" not in held.name and not held.name.startswith(".")
        # Clear the draft's files so that the 5-file limit does not mask later inputs.
        setup.services.drafts.delete("dongfeng-ps", "drill", "2025-T1")

    run()
    report_inputs("evidence upload")


def test_review_decisions_never_fail(setup: Any, tmp_path: Path) -> None:
    reporter = logged_in(setup, "dongfeng")
    ids = []
    for period in ("2025-T1", "2025-SUMMER"):
        url = fill_url("dongfeng-ps", "inspection", period)
        post(reporter, url, {**INSPECTION_OK, "action": "continue"})
        ids.append(post(reporter, url + "check").headers["Location"].rsplit("/", 1)[1])
    reviewer = logged_in(setup, "checker")

    @fuzz(80)
    @given(
        submission=st.one_of(
            st.sampled_from(
                [*ids, "20250101000000-00000000", "..", "a.b", "x" * 80, "HEAD", "main", "@{0}"]
            ),
            st.text(alphabet="abcdef0123456789-._~", min_size=1, max_size=30),
        ),
        decision=st.sampled_from(["approve", "reject"]),
        reason=posted_value,
        comment=posted_value,
        confirm=st.booleans(),
    )
    def run(submission, decision, reason, comment, confirm) -> None:
        url = f"/forms/review/{submission}/{decision}"
        response = post(reviewer, url, {"reason": reason, "comment": comment})
        check_response(response, "review decision")
        token = CONFIRM_INPUT.search(response.get_data(as_text=True))
        if confirm and token:  # the confirmation page's button
            check_response(post(reviewer, url, {"confirm": token.group(1)}), "review decision")

    run()
    report_inputs("review decision", assert_committed_reports_valid(setup, tmp_path))


def test_login_never_fails(tmp_path: Path) -> None:
    # Its own app: the failures it provokes throttle the address for every other test.
    setup = make_setup(tmp_path)

    @fuzz(40)
    @given(
        name=st.one_of(st.sampled_from(["dongfeng", "boss", "", " boss ", "a" * 500]), text_values),
        password=st.one_of(st.just(PASSWORD), text_values),
        next_url=st.one_of(
            st.none(),
            st.sampled_from(
                ["//evil.example/", "/forms/\\x", "javascript:alert(1)", "/forms/../x"]
            ),
            text_values,
        ),
    )
    def run(name, password, next_url) -> None:
        client = setup.client()
        data = {"name": name, "password": password}
        if next_url is not None:
            data["next"] = next_url
        response = post(client, "/forms/login", data)
        check_response(response, "login")
        if response.status_code == 302:
            location = response.headers["Location"]
            assert location.startswith("/forms/") and not location.startswith("//")

    run()
    report_inputs("login")


RAW_BODIES = [
    b"notes=%ED%A0%80&action=save",  # a UTF-16 surrogate encoded as UTF-8
    b"notes=\xff\xfe\xfd&action=save",  # not UTF-8 at all
    b"notes=%00%00&action=continue",
    b"action=save&" + b"&".join(b"f%d=x" % n for n in range(2000)),  # many fields
    b"%%%%=%%&action=save",
    b"action",
    b"=",
    b"",
]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/json",
        "text/plain",
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=xyz",
    ],
)
def test_raw_and_mistyped_bodies_never_fail(setup: Any, content_type: str) -> None:
    client = logged_in(setup, "dongfeng")
    from tests.app_fixtures import csrf_token

    token = csrf_token(client)
    urls = [FILL_URL, FILL_URL + "check", "/forms/login", "/forms/review/x/reject"]
    for url in urls:
        for body in RAW_BODIES:
            response = client.post(
                url, data=body + b"&csrf_token=" + token.encode(), content_type=content_type
            )
            check_response(response, "raw body")
        response = client.post(url, json={"csrf_token": token, "notes": ["a", {"b": 1}]})
        check_response(response, "raw body")
    assert setup.services.accounts.get("dongfeng") is not None
