"""Evidence files: checked by content, names sanitised, zip bombs and oversize refused."""

from __future__ import annotations

import io
import random
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.reports import report_document
from forms.evidence import EvidenceError, check_upload, sanitise_name, sniff, stored_name
from tests.app_fixtures import FILL_URL, INSPECTION_OK, logged_in, make_setup, post

MB = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"


def office(kind: str, extra: dict[str, bytes] | None = None) -> bytes:
    folder = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(folder, "<document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_real_openpyxl_workbook_is_recognised() -> None:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    checked = check_upload("统计表.xlsx", buffer.getvalue(), 10 * MB)
    assert checked.extension == "xlsx" and checked.name == "统计表.xlsx"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (PNG, "png"),
        (JPEG, "jpg"),
        (office("docx"), "docx"),
        (office("xlsx"), "xlsx"),
        (EXE, None),
        (b"PK\x03\x04garbage", None),
        (b"hello", None),
    ],
)
def test_type_is_read_from_the_content(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_a_renamed_executable_is_refused() -> None:
    with pytest.raises(EvidenceError, match="类型不受支持"):
        check_upload("报告.pdf", EXE, 10 * MB)


def test_a_zip_without_office_parts_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", EXE)
    with pytest.raises(EvidenceError, match="类型不受支持"):
        check_upload("表格.xlsx", buffer.getvalue(), 10 * MB)


def test_the_extension_must_match_the_content() -> None:
    with pytest.raises(EvidenceError, match="扩展名与实际内容不符"):
        check_upload("照片.png", PDF, 10 * MB)
    assert check_upload("照片.JPEG", JPEG, 10 * MB).name == "照片.jpg"


def test_a_zip_bomb_is_refused() -> None:
    bomb = office("docx", {"word/media/huge.bin": b"\x00" * (120 * MB)})
    assert len(bomb) < MB  # tiny on the wire
    with pytest.raises(EvidenceError, match="解压后体积异常"):
        check_upload("方案.docx", bomb, 10 * MB)


def zeros_deflated(mebibytes: int) -> bytes:
    """A raw deflate stream of `mebibytes` MiB of zeros, made in milliseconds: after a full
    flush the compressor starts afresh, so one compressed MiB repeats byte for byte."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(MB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + compressor.flush()


def with_forged_member(archive: bytes, name: str, stream: bytes, declared_size: int) -> bytes:
    """`archive` with a member `name` whose bytes are the deflate `stream`, while its local
    header and its central directory entry both declare `declared_size` bytes unpacked.

    zipfile writes the stream stored (as it is); then the method fields become deflate and
    the uncompressed size fields the forged figure, as a hand-edited archive would be.
    """
    buffer = io.BytesIO(archive)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_STORED) as writer:
        writer.writestr(name, stream)
    data = bytearray(buffer.getvalue())
    local = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name).header_offset
    central = next(
        offset
        for offset in offsets_of(b"PK\x01\x02", data)
        if data[offset + 46 : offset + 46 + len(name)] == name.encode()
    )
    struct.pack_into("<H", data, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<L", data, local + 22, declared_size)
    struct.pack_into("<H", data, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<L", data, central + 24, declared_size)
    return bytes(data)


def offsets_of(signature: bytes, data: bytearray) -> list[int]:
    found, start = [], 0
    while (start := data.find(signature, start)) != -1:
        found.append(start)
        start += 1
    return found


def real_size(archive: bytes, name: str) -> int:
    """What a reader that follows the deflate stream (not the header) unpacks."""
    entry = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)
    name_length, extra_length = struct.unpack_from("<HH", archive, entry.header_offset + 26)
    start = entry.header_offset + 30 + name_length + extra_length
    inflater, size = zlib.decompressobj(-zlib.MAX_WBITS), 0
    pending = archive[start:]
    while pending and not inflater.eof:
        size += len(inflater.decompress(pending, 16 * MB))
        pending = inflater.unconsumed_tail
    return size


def test_a_member_lying_about_its_size_is_refused_quickly_in_little_memory() -> None:
    bomb = with_forged_member(office("docx"), "word/media/zeros.bin", zeros_deflated(1024), 1000)
    assert len(bomb) < 1.1 * MB
    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/media/zeros.bin").file_size == 1000
    assert real_size(bomb, "word/media/zeros.bin") == 1024 * MB  # 1 GiB in truth

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(EvidenceError, match=r"方案\.docx.*解压后体积异常"):
            check_upload("方案.docx", bomb, 10 * MB)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"forged member refused in {elapsed * 1000:.0f} ms, peak {peak / MB:.1f} MB")
    assert elapsed < 1.0
    assert peak < 8 * MB  # the 1 MB upload, a copy or two, one chunk: never the 1 GiB


def test_members_unpacking_to_exactly_what_they_declare_pass() -> None:
    noise = random.Random(7).randbytes(3 * MB)  # incompressible: deflated as big as it is
    honest = office("docx", {"word/media/photo.bin": noise, "word/styles.xml": b"<s/>" * 100_000})
    buffer = io.BytesIO(honest)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/media/stored.bin", noise[:MB])
    assert check_upload("方案.docx", buffer.getvalue(), 10 * MB).extension == "docx"


def test_an_archive_of_a_zip_version_python_cannot_read_is_refused_not_an_error() -> None:
    data = bytearray(office("docx"))
    for central in offsets_of(b"PK\x01\x02", data):
        struct.pack_into("<H", data, central + 6, 203)  # "version needed to extract": 20.3
    with pytest.raises(EvidenceError, match="类型不受支持"):
        check_upload("方案.docx", bytes(data), 10 * MB)


def test_oversize_and_empty_files_are_refused() -> None:
    with pytest.raises(EvidenceError, match="超过 1 MB"):
        check_upload("a.pdf", PDF + b"\x00" * MB, 1 * MB)
    with pytest.raises(EvidenceError, match="空文件"):
        check_upload("a.pdf", b"", 1 * MB)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\张三\\党建工作报告.pdf", "党建工作报告.pdf"),
        ("a\x00b\x1fc\u202e.pdf", "abc.pdf"),
        ("  .hidden.pdf", "hidden.pdf"),
        ("会议 记录 (1).docx", "会议_记录_(1).docx"),
        ("<script>.png", "script.png"),
        ("..", "file"),
        ("", "file"),
    ],
)
def test_names_are_sanitised(name: str, expected: str) -> None:
    assert sanitise_name(name) == expected


def test_long_names_are_shortened_keeping_the_extension() -> None:
    name = sanitise_name("很" * 300 + ".pdf")
    assert len(name) == 80 and name.endswith(".pdf")
    assert stored_name(3, "报告.pdf") == "3-报告.pdf"


@given(st.text(max_size=300))
def test_any_name_becomes_a_safe_file_name(name: str) -> None:
    cleaned = sanitise_name(name)
    assert cleaned and len(cleaned) <= 80
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    assert cleaned not in (".", "..")
    assert all(ch.isprintable() for ch in cleaned)


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


def upload(client, files, action="save", values=None):
    data = {**(values or {}), "action": action, "evidence": files}
    return post(client, FILL_URL, data, content_type="multipart/form-data")


def test_files_are_held_with_the_draft_and_committed_on_submit(setup) -> None:
    client = logged_in(setup, "dongfeng")
    response = upload(client, [(io.BytesIO(PDF), "检查记录.pdf"), (io.BytesIO(PNG), "现场.png")])
    assert response.status_code == 302
    draft = setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2")
    assert [f.name for f in draft.files] == ["检查记录.pdf", "现场.png"]
    post(client, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    submission = post(client, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]
    report = report_document(setup.submissions.read_report(submission))
    assert [e["file"] for e in report["evidence"]] == ["1-检查记录.pdf", "2-现场.png"]
    assert report["evidence"][0]["media_type"] == "application/pdf"
    assert setup.submissions.read_evidence(submission, "1-检查记录.pdf") == PDF
    download = client.get(f"/forms/submissions/{submission}/evidence/1-检查记录.pdf")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"/forms/submissions/{submission}/evidence/9-none.pdf").status_code == 404
    bad = f"/forms/submissions/{submission}/evidence/../../{submission}.json"
    assert client.get(bad).status_code == 400  # malformed, not merely unknown


def test_a_refused_file_is_explained_and_the_values_are_kept(setup) -> None:
    client = logged_in(setup, "dongfeng")
    response = upload(client, [(io.BytesIO(EXE), "setup.pdf")], values={"hazards_found": "7"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "文件“setup.pdf”的类型不受支持" in page
    assert 'value="7"' in page
    assert setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2").files == ()


def test_at_most_five_files_per_report(setup) -> None:
    client = logged_in(setup, "dongfeng")
    files = [(io.BytesIO(PDF), f"附件{n}.pdf") for n in range(6)]
    response = upload(client, files)
    assert response.status_code == 422
    assert "最多上传 5 个文件" in response.get_data(as_text=True)
    assert len(setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2").files) == 5


def test_a_file_can_be_removed_from_the_draft(setup) -> None:
    client = logged_in(setup, "dongfeng")
    upload(client, [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(PDF), "b.pdf")])
    post(client, FILL_URL, {"remove_file": "1", "action": "save"})
    names = [
        f.name for f in setup.services.drafts.load("dongfeng-ps", "inspection", "2025-T2").files
    ]
    assert names == ["b.pdf"]


def test_a_request_over_the_size_limit_gets_a_chinese_413_page(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, MAX_CONTENT_LENGTH=MB)
    client = logged_in(setup, "dongfeng")
    response = upload(client, [(io.BytesIO(PDF + b"\x00" * (2 * MB)), "big.pdf")])
    assert response.status_code == 413
    assert "上传的内容过大" in response.get_data(as_text=True)
