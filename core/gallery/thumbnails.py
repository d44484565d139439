"""Thumbnails of gallery files, rendered once and kept in a size-capped disk cache.

Blocking code: the web layer calls it from a thread pool, never on the event loop.

* The cache key hashes the source file's identity and content stamp (device, inode, mtime_ns, size), its
  extension (what decides how it renders), the width and the format: a changed source never gets a stale
  thumbnail, ``x.png``/``x.mp4`` never collide, and a file moved or renamed (which keeps its inode and mtime)
  keeps its thumbnails. A new file that reuses a deleted one's inode differs in mtime_ns or size.
  A thumbnail lives at ``<folder>/<key[:2]>/<key>.<jpg|webp>`` and is written atomically
  (temp file in the same folder + ``os.replace``), one writer per key at a time.
* Rendering is :mod:`.thumbnail_render`'s; a source that cannot be rendered gets a placeholder,
  cached like any thumbnail. Only a missing source raises (FileNotFoundError).
* The cache keeps a running total of its bytes; a write that pushes it over ``max_bytes``
  evicts the least recently used files (by mtime; a cache hit touches its file) down to 90%.
* ``warm`` makes the thumbnails of a new file ahead of any request (thumbnail_warm.py) at the sizes requests
  ask for most (``asked_sizes``); a ``clear`` drops the warm writes still in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .thumbnail_render import FORMATS, normalize_format, render, render_many

log = logging.getLogger(__name__)

MIN_WIDTH = 96
MAX_WIDTH = 1024
DEFAULT_WIDTH = 384
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
RENDER_VERSION = 1  # part of every key: bump it when the rendering changes
EVICT_TO = 0.9  # eviction brings the total down to this share of max_bytes
TOUCH_AFTER = 60.0  # a cache hit refreshes its file's mtime when older than this (seconds)
STALE_TEMP_AFTER = 3600.0  # temp files older than this are left-overs of a crash
ASKED_KEPT = 1000  # the last requests whose sizes ``asked_sizes`` counts

_WIDTH = re.compile(r"\s*[+-]?\d{1,9}\s*")


@dataclass(frozen=True)
class Thumbnail:
    path: Path
    etag: str  # a quoted strong ETag, ready for the header
    media_type: str
    made: bool  # rendered by this call (False: served from the cache)


def clamp_width(value: Any) -> int:
    """A thumbnail width from an int or a query-string value, clamped to MIN_WIDTH..MAX_WIDTH."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("The thumbnail width must be an integer, for example w=384.", code="INVALID_WIDTH")
    if isinstance(value, str):
        if not _WIDTH.fullmatch(value):
            raise BadRequest("The thumbnail width must be an integer, for example w=384.", code="INVALID_WIDTH")
        value = int(value)
    return max(MIN_WIDTH, min(MAX_WIDTH, value))


class ThumbnailCache:
    """A folder of rendered thumbnails with a size cap. Thread-safe; every method blocks."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._total: int | None = None  # running byte total, None until the first scan
        self._total_lock = threading.Lock()
        self._keys_lock = threading.Lock()
        self._key_locks: dict[str, list[Any]] = {}  # key -> [lock, holders]
        self._asked: deque[tuple[int, str]] = deque(maxlen=ASKED_KEPT)  # (width, format) of recent requests
        self.generation = 0  # bumped by clear(): a warm begun before it stores nothing

    def key(self, stat: os.stat_result, suffix: str, width: int, fmt: str) -> str:
        """The key of a thumbnail of the file ``stat`` describes, whose name ends with ``suffix`` (``.png``)."""
        fields = [RENDER_VERSION, stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size, suffix.lower()]
        fields += [clamp_width(width), normalize_format(fmt)]
        return hashlib.blake2b(json.dumps(fields).encode(), digest_size=20).hexdigest()

    def path_for(self, key: str, fmt: str) -> Path:
        return self.folder / key[:2] / f"{key}.{FORMATS[normalize_format(fmt)][0]}"

    def get_or_make(self, source: Path, *, width: int, fmt: str = "jpeg") -> Thumbnail:
        """The cached thumbnail of ``source``, rendered now when missing. Raises FileNotFoundError only."""
        width = clamp_width(width)
        fmt = normalize_format(fmt)
        self._asked.append((width, fmt))  # deque.append is atomic: no lock
        source = Path(source)
        stat = os.stat(source)
        key = self.key(stat, source.suffix, width, fmt)
        path = self.path_for(key, fmt)
        media_type = FORMATS[fmt][1]
        if self._serve(path):
            return Thumbnail(path, f'"{key}"', media_type, made=False)
        with self._locked(key):
            if self._serve(path):
                return Thumbnail(path, f'"{key}"', media_type, made=False)
            self._store(path, render(source, width, fmt))
        return Thumbnail(path, f'"{key}"', media_type, made=True)

    def asked_sizes(self, least_share: float = 0.2) -> list[tuple[int, str]]:
        """The (width, format) pairs of at least ``least_share`` of the recent requests, most asked first."""
        counts = Counter(list(self._asked))
        total = sum(counts.values())
        return [size for size, n in counts.most_common() if n >= least_share * total]

    def warm(self, source: Path, sizes: list[tuple[int, str]], generation: int) -> int:
        """Make the thumbnails of ``source`` missing at ``sizes`` (decoded once); how many were made. Nothing is
        stored once the cache was cleared after ``generation`` was read. Raises FileNotFoundError only."""
        source = Path(source)
        stat = os.stat(source)
        wanted: dict[tuple[int, str], Path] = {}
        for width, fmt in sizes:
            size = (clamp_width(width), normalize_format(fmt))
            path = self.path_for(self.key(stat, source.suffix, *size), size[1])
            if size not in wanted and not _present(path):
                wanted[size] = path
        if not wanted or generation != self.generation:
            return 0
        made = 0
        for size, data in render_many(source, list(wanted)).items():
            path = wanted[size]
            with self._locked(path.stem):
                if not _present(path) and self._store(path, data, generation):
                    made += 1
        return made

    def clear(self) -> None:
        """Delete every thumbnail: remove the folder and create it again."""
        with self._total_lock:
            self.generation += 1
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._total = None  # writes in flight may still land: count again on next use

    def stats(self) -> dict[str, int]:
        with self._total_lock:
            entries = self._scan()
            self._total = sum(size for _, size, _ in entries)
            return {"files": len(entries), "bytes": self._total, "max_bytes": self.max_bytes}

    # -- internals ---------------------------------------------------------------------------

    def _serve(self, path: Path) -> bool:
        """Whether ``path`` holds a thumbnail; refreshes its mtime so eviction sees the use."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        if stat.st_size == 0:  # an empty file left by a crash: render again
            return False
        if time.time() - stat.st_mtime > TOUCH_AFTER:
            try:
                os.utime(path)
            except OSError:
                pass
        return True

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        with self._keys_lock:
            entry = self._key_locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._keys_lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._key_locks[key]

    def _store(self, path: Path, data: bytes, generation: int | None = None) -> bool:
        """Write a thumbnail and count it; False when ``generation`` is given and a clear() came since."""
        with self._total_lock:
            if self._total is None:
                self._total = sum(size for _, size, _ in self._scan())
            if generation is not None:  # a warm write: held under the lock, so a clear cannot come between
                if generation != self.generation:
                    return False
                replaced = _write_atomic(path, data)
        if generation is None:
            for attempt in (1, 2):  # clear() may remove the folder between mkdir and replace
                try:
                    replaced = _write_atomic(path, data)
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
        with self._total_lock:
            self._total = (self._total or 0) + len(data) - replaced
            if self._total > self.max_bytes:
                self._evict(keep=path)
        return True

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used files until the total is at most EVICT_TO of the cap."""
        entries = sorted(self._scan())
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * EVICT_TO)
        for _, size, path in entries:
            if total <= target:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("thumbnail cache: cannot remove %s: %s", path, exc)
                continue
            total -= size
        self._total = total

    def _scan(self) -> list[tuple[int, int, Path]]:
        """(mtime_ns, size, path) of every thumbnail; removes temp files left by a crash."""
        found: list[tuple[int, int, Path]] = []
        now = time.time()
        for shard in _entries(self.folder):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for entry in _entries(Path(shard.path)):
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    if entry.name.endswith(".tmp"):
                        if now - stat.st_mtime > STALE_TEMP_AFTER:
                            os.unlink(entry.path)
                        continue
                except FileNotFoundError:
                    continue
                found.append((stat.st_mtime_ns, stat.st_size, Path(entry.path)))
        return found


def _present(path: Path) -> bool:
    """Whether ``path`` holds a thumbnail (an empty file is a crash's left-over); touches nothing."""
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _write_atomic(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` through a temp file in the same folder; the size of the file replaced."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    except FileNotFoundError:  # a new shard folder (or a new cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        try:
            replaced = path.stat().st_size
        except FileNotFoundError:
            replaced = 0
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return replaced
