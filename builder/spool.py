"""Pages' HTML blocks kept in a temporary file between rendering and writing.

The plugin renders every page before MkDocs converts the first one (the navigation and
the page cache's keys need all of them), and MkDocs writes a page only after it has
converted all of them. The big tables (a page's blocks, `builder.pages.GeneratedPage`)
are most of a site's size and grow with the plan, so they wait here on disk, each page's
read back when MkDocs writes that page, instead of all of them in memory until the end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

# A block is escaped text from the reports; one that held a lone surrogate (valid in JSON)
# must come back as it went in rather than fail the build.
_ERRORS = "surrogatepass"


def encode_blocks(blocks: Sequence[str]) -> list[bytes]:
    return [block.encode("utf-8", _ERRORS) for block in blocks]


@dataclass(frozen=True)
class Spooled:
    """Where one page's blocks are in the spool."""

    offset: int
    sizes: tuple[int, ...]  # bytes of each block, in order


class BlockSpool:
    """An unnamed temporary file (gone when closed, or when the process ends) that blocks
    are appended to and read back from by position."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115  (closed by close)
        self._end = 0

    def put(self, encoded: Sequence[bytes]) -> Spooled:
        """Append one page's blocks (`encode_blocks`)."""
        data = b"".join(encoded)
        offset = self._end
        written = 0
        while written < len(data):
            written += os.pwrite(self._file.fileno(), data[written:], offset + written)
        self._end += len(data)
        return Spooled(offset, tuple(len(block) for block in encoded))

    def take(self, spooled: Spooled) -> tuple[str, ...]:
        """The blocks of one page, as they were put."""
        size = sum(spooled.sizes)
        data = b""
        while len(data) < size:  # a single read may return less than asked
            chunk = os.pread(self._file.fileno(), size - len(data), spooled.offset + len(data))
            if not chunk:
                raise OSError(f"block spool ends before {spooled.offset + size}")
            data += chunk
        blocks = []
        start = 0
        for length in spooled.sizes:
            blocks.append(data[start : start + length].decode("utf-8", _ERRORS))
            start += length
        return tuple(blocks)

    def close(self) -> None:
        self._file.close()
