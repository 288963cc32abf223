"""Receipts: a short reference a person can read over the phone, unique per plan, and a
printable receipt (回执) of what was submitted."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from builder.local_time import local_minute_text
from forms.receipts import REFERENCE_ALPHABET, ReceiptBook, reference_candidate
from tests.app_fixtures import FILL_URL, INSPECTION_OK, logged_in, make_setup, post


@pytest.fixture
def setup(tmp_path: Path):
    return make_setup(tmp_path)


def submit(setup) -> str:
    client = logged_in(setup, "dongfeng")
    post(client, FILL_URL, {**INSPECTION_OK, "action": "continue"})
    return post(client, FILL_URL + "check").headers["Location"].rsplit("/", 1)[1]


def test_a_reference_is_eight_characters_none_of_them_ambiguous() -> None:
    assert not set("01ILOU") & set(REFERENCE_ALPHABET)
    seen = set()
    for n in range(2000):
        reference = reference_candidate(f"20261207162055-{n:08x}", 0)
        assert len(reference) == 8 and set(reference) <= set(REFERENCE_ALPHABET)
        seen.add(reference)
    assert len(seen) == 2000
    # Derived from the id: the same id gives the same reference, another attempt another.
    sid = "20261207162055-29a6affc"
    assert reference_candidate(sid, 0) == reference_candidate(sid, 0)
    assert reference_candidate(sid, 1) != reference_candidate(sid, 0)


def test_a_reference_is_stored_once_and_a_collision_takes_the_next_candidate(
    tmp_path: Path,
) -> None:
    book = ReceiptBook(tmp_path / "submissions.sqlite")
    first = book.reference("20261207162055-29a6affc")
    assert book.reference("20261207162055-29a6affc") == first  # kept, not derived again
    # Another submission whose first candidate is taken (planted) gets its second one.
    other = "20261207162056-00000001"
    with sqlite3.connect(tmp_path / "submissions.sqlite") as db:
        db.execute(
            "INSERT INTO receipts (reference, submission_id) VALUES (?, ?)",
            (reference_candidate(other, 0), "20000101000000-deadbeef"),
        )
    assert book.reference(other) == reference_candidate(other, 1)
    assert book.submission_of(reference_candidate(other, 1).lower()) == other
    assert ReceiptBook(tmp_path / "submissions.sqlite").reference(other) == book.reference(other)


def test_the_submission_page_and_the_queue_show_the_reference_beside_the_id(setup) -> None:
    sid = submit(setup)
    page = logged_in(setup, "dongfeng").get(f"/forms/submissions/{sid}").get_data(as_text=True)
    match = re.search(r'<strong class="short-reference">([^<]+)</strong>', page)
    assert match is not None and sid in page
    reference = match.group(1)
    assert re.fullmatch(rf"[{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}}", reference)
    queue = logged_in(setup, "checker").get("/forms/review/").get_data(as_text=True)
    assert reference in queue


def test_the_printable_receipt_lists_what_was_submitted_in_local_time(setup) -> None:
    sid = submit(setup)
    reporter = logged_in(setup, "dongfeng")
    submitted_at = setup.submissions.read_report(sid).submitted_at

    response = reporter.get(f"/forms/submissions/{sid}/receipt")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "回执" in page and sid in page
    assert "东风路小学" in page and "校园安全检查报表" in page and "2025年秋季学期" in page
    assert local_minute_text(submitted_at, "Asia/Shanghai") in page  # the fixture plan's zone
    assert re.search(r'class="short-reference">[A-Z2-9]{4}-[A-Z2-9]{4}<', page)
    assert "已检查灭火器数量" in page and "北楼消防通道已清理。" in page
    assert 'class="receipt"' in page and "window.print" not in page  # no script needed
    # Authorised like the submission page: another unit's reporter is refused.
    assert logged_in(setup, "shiyan").get(f"/forms/submissions/{sid}/receipt").status_code == 403
    assert logged_in(setup, "checker").get(f"/forms/submissions/{sid}/receipt").status_code == 200


def test_print_css_hides_the_navigation() -> None:
    css = (Path(__file__).parents[1] / "forms" / "static" / "forms.css").read_text()
    block = re.search(r"@media print\s*{(.*?)\n}", css, re.S)
    assert block is not None
    assert ".masthead" in block.group(1) and "display: none" in block.group(1)
