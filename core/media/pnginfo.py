"""A PNG's size and text chunks, read without decoding a single pixel.

The chunk list is walked by hand: signature, ``IHDR`` (width, height), then every
``tEXt``, ``zTXt`` and ``iTXt`` chunk up to the first ``IDAT``. Pillow and ComfyUI
write their text before the image data, so a typical file costs one open and one
read of its first 64 KiB; a text chunk that runs past that window is read on its
own. ``scan_all=True`` goes on to ``IEND`` for files that keep text after the
image data, seeking past every ``IDAT`` without reading it.

Hostile or broken files cannot raise or exhaust memory: one text chunk is capped
at ``MAX_TEXT_CHUNK`` bytes (compressed and inflated alike), all text together at
``MAX_TEXT_TOTAL``, and the walk at ``MAX_CHUNKS`` chunks. A file that is not a
PNG or is cut before its ``IHDR`` gives ``None``; a file cut later gives what was
read up to the cut. CRCs are not checked.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import BinaryIO, Protocol

SIGNATURE = b"\x89PNG\r\n\x1a\n"
IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC: always these 12 bytes
HEAD_READ = 64 * 1024
READ_AHEAD = 4 * 1024
MAX_TEXT_CHUNK = 8 * 1024 * 1024
MAX_TEXT_TOTAL = 32 * 1024 * 1024
MAX_CHUNKS = 100_000
MAX_CHUNK_LENGTH = 0x7FFFFFFF  # the PNG limit; anything larger means the file is corrupt
TEXT_TYPES = frozenset({b"tEXt", b"zTXt", b"iTXt"})
MAX_KEYWORD = 79

_CHUNK_HEADER = struct.Struct(">I4s")
_SIZE = struct.Struct(">II")
_IHDR_HEADER = b"\x00\x00\x00\x0dIHDR"
_HEAD_LENGTH = len(SIGNATURE) + 8 + 13 + 4  # signature, IHDR header, IHDR data, CRC


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    text: dict[str, str]
    animated: bool = False  # an APNG: an acTL chunk before the image data


class _Source(Protocol):
    def read_at(self, offset: int, size: int, ahead: int = 0) -> bytes: ...


class _BytesSource:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_at(self, offset: int, size: int, ahead: int = 0) -> bytes:
        return self.data[offset : offset + size]


class _FileSource:
    """Positioned reads served from one window of the file; a miss re-reads the window at the new offset."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.start = 0
        self.window = self._read(HEAD_READ)

    def _read(self, size: int) -> bytes:
        try:
            return self.handle.read(size) or b""
        except OSError:
            return b""

    def read_at(self, offset: int, size: int, ahead: int = 0) -> bytes:
        relative = offset - self.start
        if relative >= 0 and relative + size <= len(self.window):
            return self.window[relative : relative + size]
        try:
            self.handle.seek(offset)
        except OSError:
            return b""
        self.start = offset
        self.window = self._read(size + ahead)
        return self.window[:size]


def read_png_info(
    path: str | os.PathLike[str], *, scan_all: bool = False, keys: Collection[str] | None = None
) -> PngInfo | None:
    """Size and text of the PNG at ``path``; ``None`` when it cannot be opened, is not a PNG or has no IHDR.

    ``keys`` limits the text to those keywords: other text chunks are skipped after
    reading their keyword, so a large ``workflow`` chunk costs nothing when only
    ``prompt`` is wanted.
    """
    try:
        with open(path, "rb", buffering=0) as handle:
            return _walk(_FileSource(handle), scan_all, keys)
    except (OSError, ValueError):
        return None


def read_png_info_bytes(data: bytes, *, scan_all: bool = False, keys: Collection[str] | None = None) -> PngInfo | None:
    """Same as :func:`read_png_info` for a PNG already in memory."""
    return _walk(_BytesSource(bytes(data)), scan_all, keys)


def png_complete(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the PNG signature and ends with an IEND chunk (not still being written)."""
    try:
        with open(path, "rb", buffering=0) as handle:
            if handle.read(len(SIGNATURE)) != SIGNATURE:
                return False
            if os.fstat(handle.fileno()).st_size < _HEAD_LENGTH + len(IEND_CHUNK):
                return False
            handle.seek(-len(IEND_CHUNK), os.SEEK_END)
            return handle.read(len(IEND_CHUNK)) == IEND_CHUNK
    except (OSError, ValueError):
        return False


def _walk(source: _Source, scan_all: bool, keys: Collection[str] | None) -> PngInfo | None:
    head = source.read_at(0, _HEAD_LENGTH, READ_AHEAD)
    if len(head) < _HEAD_LENGTH or head[:8] != SIGNATURE or head[8:16] != _IHDR_HEADER:
        return None
    width, height = _SIZE.unpack_from(head, 16)
    wanted = None if keys is None else frozenset(keys)
    text: dict[str, str] = {}
    animated = False
    budget = MAX_TEXT_TOTAL
    offset = _HEAD_LENGTH
    ahead = READ_AHEAD  # read ahead while text chunks are likely to follow; not once past the image data
    for _ in range(MAX_CHUNKS):
        header = source.read_at(offset, 8, ahead)
        if len(header) < 8:
            break
        length, kind = _CHUNK_HEADER.unpack(header)
        if length > MAX_CHUNK_LENGTH:
            break
        start, offset = offset + 8, offset + 12 + length
        if kind == b"IEND":
            break
        if kind == b"acTL":
            animated = True
            continue
        if kind == b"IDAT":
            if not scan_all:
                break
            ahead = 0
            continue
        if kind not in TEXT_TYPES or length > MAX_TEXT_CHUNK or length > budget:
            continue
        if wanted is not None and _keyword(source.read_at(start, min(length, MAX_KEYWORD + 1), ahead)) not in wanted:
            continue
        data = source.read_at(start, length, ahead)
        if len(data) < length:
            break  # cut inside this chunk: keep what came before it
        budget -= length
        item = _decode(kind, data, min(budget, MAX_TEXT_CHUNK))
        if item is not None:
            key, value, inflated = item
            budget -= inflated
            text[key] = value
    return PngInfo(width, height, text, animated)


def _keyword(prefix: bytes) -> str | None:
    keyword, separator, _ = prefix.partition(b"\0")
    return keyword.decode("latin-1") if separator and keyword else None


def _decode(kind: bytes, data: bytes, limit: int) -> tuple[str, str, int] | None:
    """(keyword, text, bytes inflated) of one text chunk, or None when it is malformed or inflates past ``limit``."""
    keyword, separator, rest = data.partition(b"\0")
    if not separator or not 1 <= len(keyword) <= MAX_KEYWORD:
        return None
    key = keyword.decode("latin-1")
    if kind == b"tEXt":
        return key, rest.decode("latin-1"), 0
    if kind == b"zTXt":
        if rest[:1] != b"\0":
            return None
        raw = _inflate(rest[1:], limit)
        return None if raw is None else (key, raw.decode("latin-1"), len(raw))
    if len(rest) < 2:
        return None
    compressed, method = rest[0], rest[1]
    _language, separator, rest = rest[2:].partition(b"\0")
    _translated, separator2, body = rest.partition(b"\0")
    if not (separator and separator2):
        return None
    inflated = 0
    if compressed:
        raw = _inflate(body, limit) if method == 0 else None
        if raw is None:
            return None
        body, inflated = raw, len(raw)
    return key, body.decode("utf-8", "replace"), inflated


def _inflate(data: bytes, limit: int) -> bytes | None:
    """The zlib stream in ``data`` inflated, or None when it is corrupt, cut short or larger than ``limit``."""
    if limit <= 0:
        return None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, limit)
    except zlib.error:
        return None
    if inflater.unconsumed_tail or not inflater.eof:
        return None
    return raw
