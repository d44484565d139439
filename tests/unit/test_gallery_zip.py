"""core.gallery.zipstream: zips written to a writer that cannot seek, streamed from a thread, and their tickets."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.gallery import zipstream
from cozygen.core.gallery.zipstream import ChunkSink, ZipEntry, ZipStream, ZipTickets, write_zip


class NoSeek:
    """A file object with write alone, as an HTTP response is."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.data += data
        self.writes += 1
        return len(data)

    def flush(self) -> None:
        pass


def files(tmp_path: Path, count: int = 3, size: int = 5000) -> list[ZipEntry]:
    entries = []
    for n in range(count):
        path = tmp_path / "out" / ("day" if n % 2 else "") / f"{n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        entries.append(ZipEntry(path, f"{'day/' if n % 2 else ''}{n}.png"))
    return entries


def test_a_zip_written_without_seeking_holds_every_file_stored(tmp_path: Path) -> None:
    entries = files(tmp_path)
    out = NoSeek()

    report = write_zip(entries, out)

    assert (report.files, report.skipped, report.bytes) == (3, 0, 15000)
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["0.png", "day/1.png", "2.png"]
        for entry, info in zip(entries, archive.infolist(), strict=True):
            assert info.compress_type == zipfile.ZIP_STORED and info.flag_bits & 0x08  # a data descriptor
            assert archive.read(info) == entry.path.read_bytes()


def test_a_file_gone_before_its_turn_is_skipped(tmp_path: Path) -> None:
    entries = files(tmp_path)
    entries[1].path.unlink()
    link = tmp_path / "out" / "link.png"
    link.symlink_to(entries[0].path)  # never followed: it could lead anywhere
    out = NoSeek()

    report = write_zip([*entries, ZipEntry(link, "link.png"), ZipEntry(tmp_path / "out", "folder.png")], out)

    assert (report.files, report.skipped) == (2, 3)
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as archive:
        assert archive.namelist() == ["0.png", "2.png"]


def test_zip64_where_a_size_needs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4000)  # what a 4 GiB file does, at 5 KB
    entries = files(tmp_path, count=2, size=5000)
    out = NoSeek()

    write_zip(entries, out)

    data = bytes(out.data)
    header = data[: 30 + len("0.png") + 20]
    extra_length = struct.unpack("<H", header[28:30])[0]
    assert struct.unpack("<H", header[30 + 5 : 30 + 5 + 2])[0] == 1 and extra_length >= 4  # the ZIP64 extra field
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("0.png") == entries[0].path.read_bytes()


def test_the_sink_hands_on_whole_chunks(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    sink = ChunkSink(chunks.append, size=1000)
    write_zip(files(tmp_path, count=4, size=3000), sink)
    sink.close()
    assert all(len(c) >= 1000 for c in chunks[:-1]) and len(chunks) >= 4
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert len(archive.namelist()) == 4


def test_a_stream_yields_the_zip_through_the_event_loop(tmp_path: Path) -> None:
    entries = files(tmp_path, count=10, size=50_000)

    async def collect() -> tuple[bytes, int]:
        stream = ZipStream(entries, chunk=8192, depth=2)
        stream.start()
        parts = [chunk async for chunk in stream.chunks()]
        stream.thread.join(5)
        return b"".join(parts), max(len(p) for p in parts)

    data, largest = asyncio.run(collect())

    assert largest < 8192 + 65_536  # a chunk is about its size: memory stays at a few chunks
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert [archive.read(e.name) for e in entries] == [e.path.read_bytes() for e in entries]


def test_the_writer_waits_for_a_slow_reader(tmp_path: Path) -> None:
    entries = files(tmp_path, count=20, size=50_000)

    async def stalled() -> tuple[int, bool]:
        stream = ZipStream(entries, chunk=4096, depth=3)
        stream.start()
        await asyncio.to_thread(stream.thread.join, 0.5)  # nobody reads meanwhile
        waiting = stream._queue.qsize()
        stream.cancel()
        await asyncio.to_thread(stream.thread.join, 5)
        return waiting, stream.thread.is_alive()

    waiting, alive = asyncio.run(stalled())

    assert waiting <= 3 and not alive  # at most ``depth`` chunks ahead; a cancel ends the thread


def test_a_cancel_after_some_chunks_stops_the_thread(tmp_path: Path) -> None:
    entries = files(tmp_path, count=20, size=50_000)

    async def read_some() -> bool:
        stream = ZipStream(entries, chunk=4096, depth=2)
        stream.start()
        async for _chunk in stream.chunks():
            break
        stream.cancel()
        await asyncio.to_thread(stream.thread.join, 5)
        return stream.thread.is_alive()

    assert asyncio.run(read_some()) is False


def test_an_error_in_the_writer_reaches_the_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(zipstream, "write_zip", broken)

    async def read_all() -> None:
        stream = ZipStream(files(tmp_path, count=1))
        stream.start()
        async for _chunk in stream.chunks():
            pass

    with pytest.raises(RuntimeError, match="disk on fire"):
        asyncio.run(read_all())


def test_tickets_are_their_owners_until_they_expire() -> None:
    now = [100.0]
    tickets = ZipTickets(seconds=600, clock=lambda: now[0])
    ticket = tickets.add("ann", [], name="x.zip", size=0)

    assert tickets.get(ticket.id, "ann") is ticket
    assert tickets.get(ticket.id, "bob") is None and tickets.get(ticket.id, None) is None
    assert tickets.get("nonsense", "ann") is None
    now[0] += 599
    assert tickets.get(ticket.id, "ann") is ticket
    now[0] += 1
    assert tickets.get(ticket.id, "ann") is None


def test_a_users_oldest_tickets_make_way() -> None:
    now = [0.0]
    tickets = ZipTickets(clock=lambda: now[0])
    made = []
    for _ in range(zipstream.TICKETS_PER_USER + 2):
        now[0] += 1
        made.append(tickets.add("ann", [], name="x.zip", size=0))
    bobs = tickets.add("bob", [], name="x.zip", size=0)
    assert [tickets.get(t.id, "ann") is not None for t in made] == [False, False] + [True] * zipstream.TICKETS_PER_USER
    assert tickets.get(bobs.id, "bob") is bobs
    assert len({t.id for t in made}) == len(made)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(zipstream.ENV_MAX_FILES, raising=False)
    monkeypatch.delenv(zipstream.ENV_MAX_BYTES, raising=False)
    assert zipstream.limits() == (10_000, 16 * 2**30)
    monkeypatch.setenv(zipstream.ENV_MAX_FILES, "500")
    monkeypatch.setenv(zipstream.ENV_MAX_BYTES, "-3")  # not allowed: the default
    assert zipstream.limits() == (500, 16 * 2**30)
