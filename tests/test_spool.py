"""The pages' HTML blocks wait on disk between rendering and writing (builder.spool)."""

from __future__ import annotations

from builder.spool import BlockSpool, encode_blocks


def test_blocks_come_back_as_they_went_in_page_by_page_in_any_order() -> None:
    pages = [
        ("<table><td>市教育局</td></table>", "<p>a &amp; b</p>"),
        (),
        ("", "x" * 100_000, "lone \ud800 surrogate from a JSON report"),
    ]
    spool = BlockSpool()
    try:
        spooled = [spool.put(encode_blocks(blocks)) for blocks in pages]
        for index in (2, 0, 1, 0):
            assert spool.take(spooled[index]) == pages[index]
    finally:
        spool.close()
