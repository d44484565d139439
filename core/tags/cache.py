"""The tag lists' index kept on disk, keyed by the lists' content, so a restart loads it in tens of milliseconds.

One file: ``MAGIC``, the header's length (4 bytes, big-endian), the header (JSON), then the sections of
:class:`.table.Columns` one after the other: names as UTF-8 text, one a line (a name never holds white
space), numbers as raw arrays in this machine's byte order. The header names the key, the sections'
lengths, the byte order and item sizes, and a CRC-32 of the payload. Anything that does not match (an
old format, other lists, a cut-short or damaged file) is a miss, never an error: the lists are read again.

The key is a hash of the lists' names and bytes and of the code that reads and indexes them, so a changed
list, or a CozyGen that parses differently, builds again. Written whole (temp file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import zlib
from array import array
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from . import lists, table
from .lists import CATEGORY_KEYS, folder_signature
from .table import STEP, Columns

MAGIC = b"CozyGen tag index\n"
FORMAT = 1
CACHE_FOLDER, CACHE_FILE = "cache", "tags-index.bin"
TEXT, INTS, COUNTS, BYTES = "text", "i", "q", "bytes"
SECTIONS = (  # the fields of Columns, in file order, and how each is stored
    ("names", TEXT),
    ("counts", COUNTS),
    ("categories", BYTES),
    ("key_ids", INTS),
    ("word_ids", INTS),
    ("word_at", INTS),
    ("alias_keys", TEXT),
    ("alias_ids", INTS),
)
MAX_HEADER = 1 << 20
READ_CHUNK = 1 << 20

log = logging.getLogger("cozygen")


class Saved(NamedTuple):
    """What a cache file holds: the columns, whether the word starts and aliases are in, and the lists read."""

    columns: Columns
    complete: bool
    files: list[dict[str, Any]]


def cache_path(data_dir: Path) -> Path:
    return data_dir / CACHE_FOLDER / CACHE_FILE


def content_key(folder: Path) -> str:
    """A hash of every list's name and bytes and of this code (blocking: a few milliseconds a megabyte)."""
    digest = hashlib.sha256(f"cozygen-tags {FORMAT}\n".encode())
    for source in (lists.__file__, table.__file__, __file__):
        try:
            digest.update(Path(source).read_bytes())
        except OSError:
            digest.update(source.encode())
    for name, _size, _mtime in folder_signature(folder):
        digest.update(b"\0" + name.encode("utf-8", "surrogatepass") + b"\0")
        try:
            with open(folder / name, "rb") as handle:
                while chunk := handle.read(READ_CHUNK):
                    digest.update(chunk)
        except OSError as exc:  # an unreadable list is read (and reported) as such by the build too
            digest.update(f"unreadable {exc.errno}".encode())
    return digest.hexdigest()


def _text(items: list[str]) -> bytes:
    return "\n".join(items).encode("utf-8")


def _lines(data: bytes, count: int) -> list[str]:
    found = data.decode("utf-8").split("\n") if count else []
    if len(found) != count:
        raise ValueError("a text section has the wrong number of lines")
    return found


def encode(columns: Columns, *, key: str, complete: bool, files: list[dict[str, Any]]) -> bytes:
    """The file's bytes."""
    parts, lengths = [], []
    for name, kind in SECTIONS:
        value = getattr(columns, name)
        data = _text(value) if kind == TEXT else bytes(value)
        parts.append(data)
        lengths.append(len(data))
    payload = b"".join(parts)
    header = orjson.dumps(
        {
            "format": FORMAT,
            "key": key,
            "complete": complete,
            "files": files,
            "byteorder": sys.byteorder,
            "itemsize": {INTS: array(INTS).itemsize, COUNTS: array(COUNTS).itemsize},
            "tags": len(columns.names),
            "aliases": len(columns.alias_keys),
            "lengths": lengths,
            "crc32": zlib.crc32(payload),
        }
    )
    return MAGIC + len(header).to_bytes(4, "big") + header + payload


def decode(data: bytes, key: str) -> Saved | None:
    """The saved columns, or None when the bytes are not a whole, undamaged index of these lists."""
    try:
        return _decode(data, key)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):  # UnicodeDecodeError, JSONDecodeError too
        return None


def _decode(data: bytes, key: str) -> Saved | None:
    if not data.startswith(MAGIC):
        return None
    at = len(MAGIC)
    size = int.from_bytes(data[at : at + 4], "big")
    if size > MAX_HEADER:
        return None
    header = orjson.loads(data[at + 4 : at + 4 + size])
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("key") != key:
        return None
    if header.get("byteorder") != sys.byteorder or header.get("itemsize") != {
        INTS: array(INTS).itemsize,
        COUNTS: array(COUNTS).itemsize,
    }:
        return None
    payload = memoryview(data)[at + 4 + size :]
    lengths = header["lengths"]
    if (
        not isinstance(lengths, list)
        or len(lengths) != len(SECTIONS)
        or not all(isinstance(n, int) and n >= 0 for n in lengths)
        or sum(lengths) != len(payload)
        or zlib.crc32(payload) != header["crc32"]
    ):
        return None
    n, aliases = int(header["tags"]), int(header["aliases"])
    values: dict[str, Any] = {}
    start = 0
    for (name, kind), length in zip(SECTIONS, lengths, strict=True):
        chunk = payload[start : start + length]
        start += length
        if kind == TEXT:
            values[name] = _lines(bytes(chunk), {"names": n, "alias_keys": aliases}[name])
        elif kind == BYTES:
            values[name] = bytes(chunk)
        else:
            values[name] = numbers = array(kind)
            numbers.frombytes(chunk)
    columns = Columns(**values)
    if not _consistent(columns):
        return None
    files = header.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        return None
    return Saved(columns, header.get("complete") is True, files)


def _consistent(c: Columns) -> bool:
    n = len(c.names)
    if not (len(c.counts) == len(c.categories) == len(c.key_ids) == n):
        return False
    if len(c.word_ids) != len(c.word_at) or len(c.alias_ids) != len(c.alias_keys):
        return False
    return not n or max(c.categories) < len(CATEGORY_KEYS)


def ids_in_range(c: Columns) -> bool:
    """Every id names a tag, so no search can index out of bounds. The CRC already says the file is what
    CozyGen wrote; this pass (a few milliseconds a table) runs after the first answers, in the background."""
    n = len(c.names)
    for ids in (c.key_ids, c.word_ids, c.alias_ids):
        for start in range(0, len(ids), STEP):  # a step at a time: each min and max holds the GIL
            step = ids[start : start + STEP]
            if min(step) < 0 or max(step) >= n:
                return False
    return True


def load(path: Path, key: str) -> Saved | None:
    """The index saved at ``path`` for the lists of ``key``, or None (missing, other lists, damaged)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    saved = decode(data, key)
    if saved is None:
        log.info("CozyGen: the saved tag index %s is for other lists or damaged; reading the lists", path)
    return saved


def save(path: Path, columns: Columns, *, key: str, complete: bool, files: list[dict[str, Any]]) -> None:
    """Write the index whole: a temporary file beside it, flushed to disk, then renamed over it."""
    data = encode(columns, key=key, complete=complete, files=files)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    try:  # the rename itself survives a power cut once the folder is flushed too
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)
