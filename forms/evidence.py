"""Evidence files: type checked by their content, names sanitised, zip bombs refused.

Pure functions on bytes; the caller decides where the bytes go.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "png": "image/png",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSION_ALIASES = {"jpeg": "jpg"}
ALLOWED_LABEL = "PDF、JPG、PNG、DOCX、XLSX"

MAX_NAME_LENGTH = 80  # characters of the sanitised name, extension included
# ...and its UTF-8 bytes: 80 characters outside the BMP are 320 bytes, more than a stored
# name `<n>-<name>` may hold (240 bytes, forms.submissions), which then failed only at the
# submit. 233 leaves room for a six-digit number and keeps 80 CJK characters whole.
MAX_NAME_BYTES = 233
# Office files are zip archives; these bound what unpacking one could cost a reader.
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
MAX_ZIP_ENTRIES = 5000
# Members are inflated this much at a time to measure them: memory stays at one chunk.
INFLATE_CHUNK = 64 * 1024
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's own layout of a local file header
_LOCAL_SIGNATURE = b"PK\x03\x04"
UNPACKS_TOO_BIG = "文件解压后体积异常，可能是恶意文件"


class EvidenceError(ValueError):
    """The file is refused; the message is Chinese and names the file."""


@dataclass(frozen=True)
class CheckedFile:
    name: str  # sanitised display name with its canonical extension
    media_type: str
    extension: str


def sniff(data: bytes) -> str | None:
    """The extension the content really is, from magic bytes; None when not an allowed type."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04"):
        return _office_kind(data)
    return None


def _office_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError):
        # NotImplementedError: an archive needing a zip version Python cannot read.
        return None
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names:
        return None
    if any(name.startswith("word/") for name in names):
        return "docx"
    if any(name.startswith("xl/") for name in names):
        return "xlsx"
    return None


def check_zip_bomb(data: bytes) -> None:
    """Refuse archives that would unpack to far more than they weigh.

    The sizes an archive declares are the attacker's to write, so they only bound the
    total; then every member is really inflated, a chunk at a time, and refused as soon as
    it yields more than its header declared. The real total is thus never more than the
    declared total, and nothing is ever held beyond one chunk.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise EvidenceError("压缩包内文件过多")
    total = sum(entry.file_size for entry in entries)
    if total > MAX_UNCOMPRESSED or total > MAX_RATIO * max(len(data), 1):
        raise EvidenceError(UNPACKS_TOO_BIG)
    for entry in entries:
        _check_real_size(data, entry)


def _check_real_size(data: bytes, entry: zipfile.ZipInfo) -> None:
    """Inflate one member from its local header on, refusing it once it outgrows the
    size it declares (a reader that trusts the stream, not the header, would unpack it)."""
    start = _member_data_offset(data, entry)
    if entry.compress_type == zipfile.ZIP_STORED:
        if entry.compress_size != entry.file_size or start + entry.file_size > len(data):
            raise EvidenceError(UNPACKS_TOO_BIG)
        return
    if entry.compress_type != zipfile.ZIP_DEFLATED:
        # Office writes deflate or stored; other methods are refused rather than trusted.
        raise EvidenceError("压缩包使用了不支持的压缩方式")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    position = start
    pending = b""
    while not inflater.eof:
        if not pending:
            if position >= len(data):
                produced += len(inflater.flush())  # a truncated stream: what it still holds
                break
            pending = data[position : position + INFLATE_CHUNK]
            position += len(pending)
        try:
            # Never more than one byte beyond the declared size is asked for.
            room = min(INFLATE_CHUNK, entry.file_size - produced + 1)
            produced += len(inflater.decompress(pending, room))
        except zlib.error as error:
            raise EvidenceError("压缩包已损坏") from error
        if produced > entry.file_size:
            raise EvidenceError(UNPACKS_TOO_BIG)
        pending = inflater.unconsumed_tail
    if produced > entry.file_size:
        raise EvidenceError(UNPACKS_TOO_BIG)


def _member_data_offset(data: bytes, entry: zipfile.ZipInfo) -> int:
    """Where a member's compressed bytes start: after its local header, whose name and
    extra field lengths may differ from the central directory's."""
    header = data[entry.header_offset : entry.header_offset + _LOCAL_HEADER.size]
    if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL_SIGNATURE):
        raise EvidenceError("压缩包已损坏")
    fields = _LOCAL_HEADER.unpack(header)
    name_length, extra_length = int(fields[-2]), int(fields[-1])
    return entry.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def sanitise_name(name: str) -> str:
    """A display and storage name: no path, no control characters, bounded length.

    Letters of any script (Chinese included), digits, '-', '_', '.', '(' and ')' are kept;
    everything else becomes '_'. Never empty, never starts with a dot.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w.()（）-]", "_", name)
    name = re.sub(r"_+", "_", name).strip("._ ")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension[:10]
    room = MAX_NAME_LENGTH - (len(extension) + 1 if extension else 0)
    stem = stem[:room]
    room_bytes = MAX_NAME_BYTES - (len(extension.encode()) + 1 if extension else 0)
    while len(stem.encode()) > room_bytes:
        stem = stem[:-1]
    stem = stem.rstrip("._") or "file"
    return f"{stem}.{extension}" if extension else stem


def check_upload(filename: str, data: bytes, max_bytes: int) -> CheckedFile:
    """Accept the file when its content is an allowed type matching its extension."""
    shown = sanitise_name(filename)
    if not data:
        raise EvidenceError(f"文件“{shown}”是空文件")
    if len(data) > max_bytes:
        raise EvidenceError(f"文件“{shown}”超过 {max_bytes // (1024 * 1024)} MB 的大小限制")
    kind = sniff(data)
    if kind is None:
        raise EvidenceError(f"文件“{shown}”的类型不受支持，只能上传 {ALLOWED_LABEL} 文件")
    extension = shown.rpartition(".")[2].lower() if "." in shown else ""
    extension = EXTENSION_ALIASES.get(extension, extension)
    if extension != kind:
        raise EvidenceError(f"文件“{shown}”的扩展名与实际内容不符")
    if kind in ("docx", "xlsx"):
        try:
            check_zip_bomb(data)
        except EvidenceError as error:
            raise EvidenceError(f"文件“{shown}”被拒绝：{error}") from error
    stem = shown.rpartition(".")[0]
    return CheckedFile(name=f"{stem}.{kind}", media_type=ALLOWED_TYPES[kind], extension=kind)


def too_many_files(name: str, limit: int) -> str:
    """Why a checked file was not attached: the draft already holds `limit` files (an
    upload, or a file carried over from the report a correction starts from)."""
    return f"文件“{name}”未能添加：每份填报最多上传 {limit} 个文件"


def stored_name(number: int, name: str) -> str:
    """The file name in the repository: `<n>-<sanitised name>`."""
    return f"{number}-{sanitise_name(name)}"


def is_stored_name(file: str) -> bool:
    """Whether `file` could be a name stored_name() made: how a URL's file part is told
    malformed (400) from merely unknown (404)."""
    number, dash, name = file.partition("-")
    return (
        bool(dash)
        and number.isascii()
        and number.isdigit()
        and len(number) <= 6
        and sanitise_name(name) == name
    )
