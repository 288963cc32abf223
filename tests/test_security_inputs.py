"""Hostile input at the edges: identifiers in URLs, uploaded files, and spreadsheet formulas
in the exports.

Identifier rule, the same for every position (unit, form, period, submission id, evidence
file name, forge): a value that is not a well-formed identifier is 400; a well-formed one
that names nothing is 404; a value whose slash changes the URL's shape matches no route
at all and is 404 too. Webhooks are the one exception: every well-formed forge name gets
the same 403 without a valid signature. Nothing is ever written because of such a request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import zipfile
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pygit2
import pytest
from openpyxl import load_workbook

from builder.exports import FORMULA_TRIGGERS, write_data_package, write_workbook
from builder.plan import load_content
from builder.progress import evaluate
from builder.reporting import progress_date
from builder.reports import load_reports, report_document
from tests.app_fixtures import (
    FILL_URL,
    INSPECTION_OK,
    PASSWORD,
    csrf_token,
    decide,
    git,
    logged_in,
    make_setup,
    post,
)

MB = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"

HOSTILE = [
    "../",
    "..",
    "/",
    "%2e%2e%2f",
    "%2e%2e",
    ".",
    "~",
    "~root",
    "^",
    "x^{}",
    ":",
    "a:b",
    " ",
    "a b",
    "%20",
    "\x01",
    "%01",
    "%00",
    "a%0ab",
    "%7f",
    "x.lock",
    "main.lock",
    "@{",
    "@{-1}",
    "a..b",
    "-lead",
    "trail-",
    "a" * 65,
    "a" * 300,
    "%ff",
    "ü",
    "东风",
    "*",
    "%3Fx",
    "[x]",
    "\\",
]
# Well-formed identifiers that name nothing (or a git ref, which must not matter).
UNKNOWN = ["nobody", "main", "HEAD", "refs", "20250101000000-00000000"]
OK_SUBMISSION = "20250101000000-00000000"


def positions(submission: str) -> list[tuple[str, str, str]]:
    """(position, method, URL template with {} for the hostile value)."""
    return [
        ("unit", "GET", "/forms/units/{}/"),
        ("unit", "POST", "/forms/units/{}/inspection/2025-T2/"),
        ("form", "GET", "/forms/units/dongfeng-ps/{}/2025-T2/"),
        ("form", "POST", "/forms/units/dongfeng-ps/{}/2025-T2/check"),
        ("period", "GET", "/forms/units/dongfeng-ps/inspection/{}/"),
        ("period", "POST", "/forms/units/dongfeng-ps/inspection/{}/"),
        ("period", "POST", "/forms/units/dongfeng-ps/inspection/{}/check"),
        ("submission", "GET", "/forms/submissions/{}"),
        ("submission", "GET", "/forms/submissions/{}/receipt"),
        ("submission", "GET", "/forms/submissions/{}/evidence/1-a.pdf"),
        ("submission", "GET", "/forms/review/{}"),
        ("submission", "POST", "/forms/review/{}/approve"),
        ("submission", "POST", "/forms/review/{}/reject"),
        ("file", "GET", f"/forms/submissions/{submission}/evidence/{{}}"),
        ("forge", "POST", "/forms/hooks/{}"),
    ]


def snapshot(root: Path, repo: Path, service: Path) -> tuple[set[str], str, set[str]]:
    """Every file under the test's folder, the working tree's content, the service refs."""
    files = {str(p.relative_to(root)) for p in root.rglob("*")}
    tree = hashlib.sha256(git(repo, "status", "--porcelain", "--ignored").encode())
    tree.update(git(repo, "rev-parse", "HEAD").encode())
    refs = set(pygit2.Repository(str(service)).references)
    return files, tree.hexdigest(), refs


def expected_status(position: str, value: str) -> set[int]:
    decoded = unquote(value)
    if "/" in decoded:
        # The slash makes another URL shape: malformed, no such page, no such method there,
        # or a redirect that merges a double slash (followed and checked below).
        return {400, 404, 405, 308}
    if position == "file" and "\n" in decoded:
        return {400, 404}  # the path converter does not match a line break: no route
    return {400}


def test_hostile_identifiers_in_every_position_are_refused_and_write_nothing(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path)
    admin = logged_in(setup, "boss")
    # A real submission, so that the evidence position is reached behind a real record.
    reporter = logged_in(setup, "dongfeng")
    post(reporter, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    submission = post(reporter, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]
    token = csrf_token(admin)
    admin.get("/forms/units/dongfeng-ps/")  # databases and their journals exist from here on
    before = snapshot(tmp_path, setup.repo, setup.instance / "service.git")

    tried, wrong = 0, []
    for position, method, template in positions(submission):
        for value in HOSTILE + UNKNOWN:
            if position == "file" and value in UNKNOWN:
                continue
            url = template.format(value)
            data = {"csrf_token": token, "action": "continue", "reason": "x", **INSPECTION_OK}
            response = admin.get(url) if method == "GET" else admin.post(url, data=data)
            tried += 1
            want = {404} if value in UNKNOWN else expected_status(position, value)
            if position == "forge" and value in UNKNOWN:
                # Any well-formed forge name is answered alike: the signature decides, and
                # the answer does not reveal which forge is configured.
                want = {403}
            if response.status_code == 308:
                location = response.headers["Location"]
                assert "//" not in location.split("://")[-1], location
                followed = (
                    admin.get(location) if method == "GET" else admin.post(location, data=data)
                )
                assert followed.status_code in {400, 404, 405}, (url, location)
            if response.status_code not in want:
                wrong.append((method, url, response.status_code, want))
            elif response.status_code == 400:
                assert "地址中的编号格式无效" in response.get_data(as_text=True)
    assert not wrong, "\n".join(map(repr, wrong))
    assert snapshot(tmp_path, setup.repo, setup.instance / "service.git") == before
    assert len(setup.submissions.list()) == 1
    print(f"\nhostile identifiers: {tried} requests on {len(positions(submission))} positions")


def test_a_request_body_over_the_limit_gets_a_chinese_413_page(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, MAX_CONTENT_LENGTH=MB)
    client = logged_in(setup, "dongfeng")
    big = PDF + b"\x00" * (2 * MB)
    response = post(
        client,
        FILL_URL,
        {"action": "save", "evidence": [(io.BytesIO(big), "a.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传的内容过大" in page and 'lang="zh-CN"' in page
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None


def post_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    """A URL for every rule of the app that takes POST, its arguments filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()):
            values = {name: "x" for name in rule.arguments}
            values.update(forge="gitea", unit_id="dongfeng-ps", form_id="inspection")
            values.update(period_id="2025-T2")
            urls.append(rule.build(values, append_unknown=False)[1])
    return urls


def test_every_route_refuses_a_large_body_before_reading_it(tmp_path: Path) -> None:
    """Security finding 14.2: any POST took a url-encoded body up to the upload limit
    (~51 MB) and the CSRF check parsed it whole before login: 17 s of CPU and +1.9 GB
    for one anonymous request. Now every route but a signed-in upload takes at most
    MAX_FORM_BYTES, refused with a Chinese 413 before the body is read."""
    import tracemalloc

    setup = make_setup(tmp_path)
    limit = setup.services.settings.max_form_bytes
    anonymous = setup.client()
    signed_in = logged_in(setup, "dongfeng")
    body = b"a=1&" * (4 * MB // 4)  # 4 MB: far over the form limit, under the upload one
    urls = post_routes(setup.app)
    assert len(urls) >= 6
    tracemalloc.start()
    try:
        for client in (anonymous, signed_in):
            for url in urls:
                response = client.post(
                    url, data=body, content_type="application/x-www-form-urlencoded"
                )
                assert response.status_code == 413, url
                assert 'lang="zh-CN"' in response.get_data(as_text=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MB  # never parsed (parsing it would take several times its size)
    # A form of ordinary size still goes through.
    small = {"notes": "x" * (limit // 2), "action": "save"}
    assert post(signed_in, FILL_URL, small).status_code == 302


def test_multipart_is_taken_only_where_files_are_uploaded_by_a_signed_in_user(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path)
    signed_in = logged_in(setup, "dongfeng")

    def upload() -> dict[str, object]:
        return {"action": "save", "evidence": [(io.BytesIO(PDF), "a.pdf")]}

    for url in [FILL_URL + "check", "/forms/login", "/forms/logout"]:
        response = post(signed_in, url, upload(), content_type="multipart/form-data")
        assert response.status_code == 415, url
        assert "不接受" in response.get_data(as_text=True)
    # The same upload, big, from someone not signed in: refused before it is read.
    big = {"action": "save", "evidence": [(io.BytesIO(PDF + b"\0" * MB), "a.pdf")]}
    anonymous = setup.client()
    response = post(anonymous, FILL_URL, big, content_type="multipart/form-data")
    assert response.status_code == 413
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None
    # Signed in, the upload page takes it.
    response = post(signed_in, FILL_URL, upload(), content_type="multipart/form-data")
    assert response.status_code == 302


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


REFUSED_UPLOADS = [
    # (content, uploaded name, Chinese message part)
    (b"MZ\x90\x00" + b"\x00" * 60, "报告.pdf", "类型不受支持"),
    (b"<html><script>alert(1)</script></html>", "照片.png", "类型不受支持"),
    (b"#!/bin/sh\nrm -rf /\n", "run.sh", "类型不受支持"),
    (PDF, "方案.docx", "扩展名与实际内容不符"),
    (PDF, ".htaccess", "扩展名与实际内容不符"),
    (PDF, "a.pdf.exe", "扩展名与实际内容不符"),
    (docx({"word/media/bomb.bin": b"\x00" * (120 * MB)}), "方案.docx", "解压后体积异常"),
    (docx({f"word/{n}.xml": b"" for n in range(6000)}), "多.docx", "压缩包内文件过多"),
    (PDF + b"\x00" * (2 * MB), "大.pdf", "超过 1 MB"),
    (b"", "空.pdf", "空文件"),
]


def test_disguised_bombed_oversized_and_empty_files_are_refused_in_chinese(
    tmp_path: Path,
) -> None:
    setup = make_setup(tmp_path, EVIDENCE_MAX_BYTES=MB)
    client = logged_in(setup, "dongfeng")
    for data, name, message in REFUSED_UPLOADS:
        response = post(
            client,
            FILL_URL,
            {"action": "save", "evidence": [(io.BytesIO(data), name)]},
            content_type="multipart/form-data",
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert message in page, (name, message)
        draft = setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2")
        assert draft is None or draft.files == (), name


MALICIOUS_NAMES = {
    "../../x.pdf": "x.pdf",
    "/etc/x.pdf": "x.pdf",
    "con.pdf": "con.pdf",  # stored as "<n>-con.pdf": never a bare device name
    "a\x00b.pdf": "ab.pdf",
    "\u202efdp.pdf": "fdp.pdf",
    "x" * 300 + ".pdf": "x" * 76 + ".pdf",
    "<img src=x onerror=alert(1)>.pdf": "img_src_x_onerror_alert(1).pdf",
}


def test_malicious_file_names_are_sanitised_down_to_the_committed_path(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    client = logged_in(setup, "dongfeng")
    uploads = [(io.BytesIO(PDF), name) for name in list(MALICIOUS_NAMES)[:5]]
    post(
        client,
        FILL_URL,
        {"action": "save", "evidence": uploads},
        content_type="multipart/form-data",
    )
    # At most five files per report: the other names go in a second report.
    draft = setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2")
    assert [f.name for f in draft.files] == list(MALICIOUS_NAMES.values())[:5]
    post(client, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    submission = post(client, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]

    rest = list(MALICIOUS_NAMES)[5:]
    url = "/forms/units/dongfeng-ps/inspection/2025-T1/"
    post(
        client,
        url,
        {
            **INSPECTION_OK,
            "action": "continue",
            "evidence": [(io.BytesIO(PDF), name) for name in rest],
        },
        content_type="multipart/form-data",
    )
    second = post(client, url + "check").headers["Location"].rsplit("/", 1)[1]

    stored: list[str] = []
    for sid in (submission, second):
        record = setup.submissions.get(sid)
        report = report_document(setup.submissions.read_report(sid))
        folder = f"data/reports/inspection/{record.period}/dongfeng-ps/{sid}/"
        repo = pygit2.Repository(str(setup.instance / "service.git"))
        commit = repo[record.commit].peel(pygit2.Commit)
        diff = repo.diff(commit.parents[0].tree, commit.tree)
        paths = [d.new_file.path for d in diff.deltas]
        for entry in report["evidence"]:
            assert folder + entry["file"] in paths
            assert client.get(f"/forms/submissions/{sid}/evidence/{entry['file']}").data == PDF
            stored.append(entry["name"])
        assert all(p.startswith(folder) or p.endswith(f"{sid}.json") for p in paths)
    assert stored == list(MALICIOUS_NAMES.values())


def test_non_finite_numbers_are_refused_with_a_message_not_committed(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    client = logged_in(setup, "dongfeng")
    url = "/forms/units/dongfeng-ps/drill/2025-T1/"
    for value in ("NaN", "sNaN", "Infinity", "-inf", "1e400"):
        response = post(
            client,
            url,
            {
                "drills_held": "1",
                "participants": "10",
                "duration_minutes": value,
                "action": "continue",
            },
        )
        assert response.status_code == 422, value
        assert "最近一次疏散用时" in response.get_data(as_text=True)
    assert setup.submissions.list() == []


# Text a spreadsheet would run, one per report slot; the form strips surrounding blanks, so
# a leading TAB or CR reaches the file as the formula behind it and must be caught there.
FORMULAS = [
    "=cmd|' /C calc'!A0",
    '+HYPERLINK("http://evil.example","点我")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
]
SLOTS = [
    ("dongfeng-ps", "inspection", "2025-T1"),
    ("dongfeng-ps", "inspection", "2025-SUMMER"),
    ("dongfeng-ps", "inspection", "2025-T2"),
    ("hongqi-ps", "inspection", "2025-T1"),
    ("hongqi-ps", "inspection", "2025-SUMMER"),
    ("hongqi-ps", "inspection", "2025-T2"),
]


def neutralised(text: str) -> bool:
    if not text.startswith(FORMULA_TRIGGERS):
        return True
    try:
        float(text)  # a negative number is a number, not a formula
        return True
    except ValueError:
        return False


def test_formulas_typed_into_forms_are_neutralised_in_every_export(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    setup.services.accounts.add(
        "eve", "admin", PASSWORD, display_name='=HYPERLINK("http://evil.example")'
    )
    filler = logged_in(setup, "eve")
    reviewer = logged_in(setup, "checker")
    for (unit, form, period), formula in zip(SLOTS, FORMULAS, strict=True):
        url = f"/forms/units/{unit}/{form}/{period}/"
        response = post(filler, url, {**INSPECTION_OK, "notes": formula, "action": "continue"})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        sid = post(filler, url + "check").headers["Location"].rsplit("/", 1)[1]
        assert decide(reviewer, sid, "approve").status_code == 302
        assert setup.submissions.get(sid).state == "approved"

    merged = tmp_path / "merged"
    subprocess.run(
        ["git", "clone", "--quiet", str(setup.instance / "remote.git"), str(merged)], check=True
    )
    content = load_content(merged)
    reports = load_reports(merged, content)
    typed = {r.values.get("notes") for r in reports}
    assert {f.strip() for f in FORMULAS} <= typed  # the formulas really went through
    # As the build counts "today": the reports are dated in +08:00, tomorrow for a UTC
    # machine after 16:00.
    progress = evaluate(content, reports, progress_date(None, reports, date.today()))
    package = tmp_path / "package"
    write_data_package(content, reports, progress, package)
    workbook_path = tmp_path / "plan.xlsx"
    write_workbook(content, reports, progress, workbook_path)

    cells, found = 0, 0
    for path in sorted(package.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    cells += 1
                    assert neutralised(cell), (path.name, cell)
                    found += cell.lstrip("'") in typed
    workbook = load_workbook(workbook_path)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                cells += 1
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and not neutralised(cell.value):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                    found += 1
    assert found >= 2 * len(FORMULAS)  # each formula seen in the CSV and in the workbook
    print(f"\nformula injection: {len(FORMULAS)} formulas, {cells} exported cells checked")


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/", "https://evil.example/forms/", "/forms/\\\\evil", "javascript:alert(1)"],
)
def test_login_never_redirects_off_site(
    tmp_path_factory: pytest.TempPathFactory, next_url: str
) -> None:
    setup = make_setup(tmp_path_factory.mktemp("next"))
    client = setup.client()
    response = post(
        client, f"/forms/login?next={next_url}", {"name": "dongfeng", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/forms/"


@pytest.mark.parametrize("control", ["\r\n", "\n", "\r", "\t", "\x00", "\x7f"])
def test_a_next_address_with_control_characters_is_treated_as_absent(
    tmp_path_factory: pytest.TempPathFactory, control: str
) -> None:
    """Security finding 14.11: `next=` with CR/LF on login answered 500."""
    setup = make_setup(tmp_path_factory.mktemp("next"))
    client = setup.client()
    next_url = f"/forms/units/{control}Set-Cookie: evil=1"
    page = client.get("/forms/login", query_string={"next": next_url})
    assert page.status_code == 200
    response = post(
        client,
        "/forms/login",
        {"name": "dongfeng", "password": PASSWORD, "next": next_url},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/forms/"
    assert "evil" not in str(response.headers)


def test_evidence_names_outside_the_bmp_are_stored_whole_and_submitted(tmp_path: Path) -> None:
    """Security finding 14.11: 70 characters outside the Basic Multilingual Plane passed the
    upload and failed the submit with a 500, leaving the draft stuck."""
    setup = make_setup(tmp_path)
    client = logged_in(setup, "dongfeng")
    name = "\U0001f600" * 70 + "𠀀" * 30 + ".pdf"
    data = {**INSPECTION_OK, "action": "continue", "evidence": [(io.BytesIO(PDF), name)]}
    response = post(client, FILL_URL, data, content_type="multipart/form-data")
    assert response.status_code == 302

    submitted = post(client, FILL_URL + "check")

    assert submitted.status_code == 302, submitted.get_data(as_text=True)[:500]
    [record] = setup.submissions.list(unit="dongfeng-ps")
    [stored] = setup.submissions.read_report(record.id).evidence
    assert stored.name.endswith(".pdf") and len(stored.file.encode()) <= 240
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2") is None
