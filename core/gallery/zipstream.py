"""Zips of gallery files, built while they are sent: no temporary file, no copy of the whole in memory.

Python's ``zipfile`` writes to a writer that cannot seek (:class:`ChunkSink`), so every entry is stored
(uncompressed: images and videos are compressed already) with a data descriptor after its bytes, and ZIP64
records where sizes, offsets or the count need them. :class:`ZipStream` runs that writer in a thread of its own and
hands the chunks to the event loop through a queue at most ``depth`` chunks deep: memory stays at a few chunks
whatever the size of the zip, and the thread waits while the client reads slowly. Cancelling (the client went
away) stops the thread at its next chunk.

:class:`ZipTickets` are the downloads asked for: what a ``POST .../zip`` selected, for the user who asked, until
it expires. They live in memory; a restart forgets them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Setting

CHUNK = 256 * 1024  # bytes handed to the event loop at a time
DEPTH = 8  # chunks the writer may be ahead of the client
BLOCK = 1024 * 1024  # bytes read from a file at a time
TICKET_SECONDS = 600.0
TICKETS_PER_USER = 8  # a user's newer tickets push their oldest out
ENV_MAX_FILES, ENV_MAX_BYTES = "COZYGEN_ZIP_MAX_FILES", "COZYGEN_ZIP_MAX_BYTES"
_EARLIEST, _LATEST = (1980, 1, 1, 0, 0, 0), (2107, 12, 31, 23, 59, 58)  # the dates a zip entry can hold


def _positive(value: int) -> str | None:
    return None if value > 0 else "a whole number above 0"


MAX_FILES = Setting(int, 10_000, "files one zip may hold", env=ENV_MAX_FILES, check=_positive)
MAX_BYTES = Setting(int, 16 * 2**30, "bytes of files one zip may hold", env=ENV_MAX_BYTES, check=_positive)


def limits() -> tuple[int, int]:
    """(files, bytes) a zip may hold, from the environment (a value that is no whole number above 0: the default)."""
    return MAX_FILES.default_value(), MAX_BYTES.default_value()


class Cancelled(Exception):
    """The zip is no longer wanted (the client went away)."""


@dataclass(frozen=True)
class ZipEntry:
    path: Path  # the file on disk
    name: str  # its name inside the zip: a relative path, unique in the zip


@dataclass
class ZipReport:
    files: int = 0
    skipped: int = 0  # vanished (or no longer a regular file) before their turn
    bytes: int = 0  # file bytes written


class ChunkSink:
    """A write-only, non-seekable file object that passes what is written on in chunks of about ``size`` bytes."""

    def __init__(self, put: Callable[[bytes], None], size: int = CHUNK) -> None:
        self._put, self._size = put, size
        self._buffer = bytearray()

    def write(self, data: Any) -> int:
        self._buffer += data
        if len(self._buffer) >= self._size:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """zipfile flushes after every entry; chunks stay whole until ``close``."""

    def close(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()


def write_zip(entries: Iterable[ZipEntry], out: Any, cancelled: Callable[[], bool] = lambda: False) -> ZipReport:
    """Write ``entries`` as a zip of stored entries to ``out`` (any object with ``write``; seeking not needed).
    A file gone (or no longer a regular file) when its turn comes is skipped. Raises Cancelled when asked to stop.
    """
    report = ZipReport()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            if cancelled():
                raise Cancelled
            try:
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
            except OSError:
                report.skipped += 1
                continue
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                report.skipped += 1
                continue
            with os.fdopen(fd, "rb", buffering=0) as source:
                report.bytes += _copy(archive, source, entry.name, st, cancelled)
                report.files += 1
    return report


def _copy(archive: zipfile.ZipFile, source: Any, name: str, st: os.stat_result, cancelled: Callable[[], bool]) -> int:
    """One entry: at most the size the file had when opened (a file written meanwhile stays consistent)."""
    info = zipfile.ZipInfo(name, date_time=min(_LATEST, max(_EARLIEST, time.localtime(st.st_mtime)[:6])))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.file_size = st.st_size  # zipfile picks ZIP64 for this entry from it
    written = 0
    with archive.open(info, "w") as target:
        while written < st.st_size:
            if cancelled():
                raise Cancelled
            block = source.read(min(BLOCK, st.st_size - written))
            if not block:
                break
            target.write(block)
            written += len(block)
    return written


class ZipStream:
    """A zip built in its own thread, read as chunks on the event loop (``async for chunk in stream.chunks()``).

    Create and read it on the event loop; ``cancel`` (idempotent) stops the thread."""

    def __init__(self, entries: list[ZipEntry], *, chunk: int = CHUNK, depth: int = DEPTH) -> None:
        self._entries = entries
        self._chunk = chunk
        self._room = threading.Semaphore(depth)
        self._cancelled = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.report = ZipReport()
        self.thread = threading.Thread(target=self._run, name="cozygen-zip", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The zip's bytes in order; raises what stopped the writer, if anything but a cancel did."""
        while True:
            item = await self._queue.get()
            self._room.release()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: Any) -> None:
        while not self._room.acquire(timeout=0.2):
            if self._cancelled.is_set():
                raise Cancelled
        if self._cancelled.is_set():
            raise Cancelled
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        sink = ChunkSink(self._put, self._chunk)
        try:
            self.report = write_zip(self._entries, sink, self._cancelled.is_set)
            sink.close()
            self._put(None)
        except Cancelled:
            return
        except BaseException as exc:  # the reader raises it: the response is cut short, never passed off as whole
            try:
                self._put(exc)
            except Cancelled:
                pass


@dataclass
class Ticket:
    id: str
    owner: str | None  # the user who asked (None with auth off)
    entries: list[ZipEntry]
    name: str  # the zip's file name for Content-Disposition
    files: int
    bytes: int
    created: float
    expires: float


class ZipTickets:
    """Downloads asked for, each for its owner alone, until it expires (in memory; thread-unsafe: event loop only)."""

    def __init__(self, *, seconds: float = TICKET_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._tickets: dict[str, Ticket] = {}

    def add(self, owner: str | None, entries: list[ZipEntry], *, name: str, size: int) -> Ticket:
        self._expire()
        now = self._clock()
        mine = sorted((t for t in self._tickets.values() if t.owner == owner), key=lambda t: t.created)
        for old in mine[: max(0, len(mine) - TICKETS_PER_USER + 1)]:
            del self._tickets[old.id]
        ticket = Ticket(secrets.token_urlsafe(24), owner, entries, name, len(entries), size, now, now + self.seconds)
        self._tickets[ticket.id] = ticket
        return ticket

    def get(self, ticket_id: str, owner: str | None) -> Ticket | None:
        """The ticket, when it exists, has not expired and is ``owner``'s."""
        self._expire()
        ticket = self._tickets.get(ticket_id)
        return ticket if ticket is not None and ticket.owner == owner else None

    def _expire(self) -> None:
        now = self._clock()
        for gone in [t for t in self._tickets.values() if t.expires <= now]:
            del self._tickets[gone.id]
