"""The gallery index at scale and with bad input: bulk arrivals through the watcher's batched path, files that
vanish between listing and reading, a PNG with a 50 MB text chunk, many files with one mtime, odd names.

Real folders in tmp_path, a real SQLite file, real helper processes where the watcher would start them.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import tracemalloc
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import pytest
from unit.gallery_files import events

from cozygen.core.gallery import index, service, sync
from cozygen.core.gallery.describe_pool import describe_jobs
from cozygen.core.gallery.holds import Holds
from cozygen.core.gallery.index import FileQuery, count_files, encode_cursor, list_files
from cozygen.core.gallery.service import Gallery
from cozygen.core.gallery.sync import Change, FolderWatcher, _Pending, scan
from cozygen.core.media.info import describe
from cozygen.core.store.db import Database

PROMPT = b'{"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}}}'


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(text: bytes = PROMPT, size: tuple[int, int] = (2, 2)) -> bytes:
    raw = b"".join(b"\x00" + b"\x10\x20\x30" * size[0] for _ in range(size[1]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", *size, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"prompt\x00" + text)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def rows(db: Database) -> dict[str, Any]:
    found = db.read(lambda conn: conn.execute("SELECT * FROM media").fetchall())
    return {f"{r['subfolder']}/{r['filename']}" if r["subfolder"] else r["filename"]: dict(r) for r in found}


def due(keys: list[str]) -> dict[tuple[str, str], _Pending]:
    return {("output", key): _Pending(0.0) for key in keys}


class Seen:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.calls = 0

    def __call__(self, changes: list[Change]) -> None:
        self.calls += 1
        self.changes += changes


# -- bulk arrivals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_many_arrivals_are_written_in_batches_with_one_change_each(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """More files than a batch (in helper processes with ``workers`` 2): every one indexed with its metadata, one
    change each, announced a batch at a time, folders recorded."""
    monkeypatch.setattr(sync, "BATCH", 40)
    monkeypatch.setattr(sync, "POOL_MIN", 50)
    base = tmp_path / "out"
    keys = []
    for n in range(130):
        sub = f"d{n % 3}/e" if n % 2 else ""
        (base / sub).mkdir(parents=True, exist_ok=True)
        (base / sub / f"{n}.png").write_bytes(png())
        keys.append(f"{sub}/{n}.png" if sub else f"{n}.png")
    seen = Seen()
    watcher = FolderWatcher(db, {"output": base}, seen, workers=workers)
    try:
        run_checks(watcher, seen, db, base, keys, workers)
    finally:
        watcher._close_pool()


def run_checks(watcher: FolderWatcher, seen: Seen, db: Database, base: Path, keys: list[str], workers: int) -> None:
    watcher._apply(due(keys))
    assert workers == 1 or watcher._pool is not None  # the helpers stay for the next burst
    found = rows(db)
    assert sorted(found) == sorted(keys)
    assert {r["positive"] for r in found.values()} == {"a cat"}
    assert sorted(c.row["id"] for c in seen.changes) == sorted(r["id"] for r in found.values())
    assert {c.kind for c in seen.changes} == {"created"}
    assert seen.calls == 4  # 130 files, 40 a batch
    dirs = db.read(lambda conn: sorted(r[0] for r in conn.execute("SELECT path FROM media_dirs")))
    assert dirs == ["d0", "d0/e", "d1", "d1/e", "d2", "d2/e"]
    assert db.read(lambda conn: count_files(conn, FileQuery(search="cat", recursive=True))) == 130

    seen.changes.clear()
    watcher._apply(due(keys))  # nothing changed: nothing written, nothing announced
    assert seen.changes == []
    (base / keys[0]).write_bytes(png(PROMPT.replace(b"a cat", b"a dog")))
    os.utime(base / keys[0], ns=(0, 10**18))
    watcher._apply(due(keys))
    assert [(c.kind, c.row["id"], c.row["positive"]) for c in seen.changes] == [
        ("modified", found[keys[0]]["id"], "a dog")
    ]
    assert db.read(lambda conn: count_files(conn, FileQuery(search="dog", recursive=True))) == 1
    assert db.read(lambda conn: count_files(conn, FileQuery(search="cat", recursive=True))) == 129


def test_a_folder_copied_in_is_described_outside_the_writer(db: Database, tmp_path: Path) -> None:
    """A folder that appears with files in it: its event walks it in the writer, its files are described after."""
    base = tmp_path / "out"
    for n in range(5):
        (base / "restored" / "deep").mkdir(parents=True, exist_ok=True)
        (base / "restored" / "deep" / f"{n}.png").write_bytes(png())
    writer_threads: set[str] = set()
    real = sync.describe_jobs

    def spy(*args: Any, **kwargs: Any) -> Any:
        writer_threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    seen = Seen()
    watcher = FolderWatcher(db, {"output": base}, seen, workers=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync, "describe_jobs", spy)
        watcher._apply(due(["restored"]))
    assert sorted(rows(db)) == [f"restored/deep/{n}.png" for n in range(5)]
    assert len(seen.changes) == 5
    assert writer_threads == {threading.current_thread().name}  # not the database's writer thread


def test_a_file_written_again_after_it_was_described_is_looked_at_again(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    (base / "a.png").write_bytes(png())
    watcher = FolderWatcher(db, {"output": base}, Seen(), workers=1)
    jobs = watcher._unindexed([("output", "a.png")])
    rows_described = [index.row_values(r) for r in describe_jobs(jobs, fresh=True) if r is not None]
    (base / "a.png").write_bytes(png(PROMPT.replace(b"a cat", b"a cat, redrawn")))  # a new size
    changes, retry = db.submit_write(lambda conn: watcher._write_arrivals(conn, jobs, rows_described)).result()
    assert (changes, retry) == ([], [("output", "a.png")])
    assert rows(db) == {}


def test_an_unfinished_png_waits_and_a_held_path_is_left_to_its_move(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    whole = png()
    (base / "half.png").write_bytes(whole[: len(whole) // 2])
    (base / "held.png").write_bytes(whole)
    holds = Holds()
    held = holds.hold("output", paths=["held.png"])
    watcher = FolderWatcher(db, {"output": base}, Seen(), holds=holds, workers=1)
    watcher._apply(due(["half.png", "held.png"]))
    assert rows(db) == {}
    assert list(watcher._pending) == [("output", "half.png")]
    assert holds.release(held) == [("output", "held.png", None)]


# -- files that vanish -----------------------------------------------------------------------------
def test_a_file_gone_between_the_event_and_the_write_is_forgotten(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    (base / "a.png").write_bytes(png())
    (base / "b.png").write_bytes(png())
    seen = Seen()
    watcher = FolderWatcher(db, {"output": base}, seen, workers=1)
    watcher._apply(due(["a.png", "b.png"]))
    jobs = watcher._unindexed([("output", "a.png"), ("output", "b.png"), ("output", "never.png")])
    assert [j[3] for j in jobs] == ["never.png"]  # a and b are indexed as they are; never.png is gone
    os.utime(base / "a.png", ns=(0, 10**18))
    jobs = watcher._unindexed([("output", "a.png")])
    described = [index.row_values(r) for r in describe_jobs(jobs, fresh=True) if r is not None]
    (base / "a.png").unlink()
    changes, retry = db.submit_write(lambda conn: watcher._write_arrivals(conn, jobs, described)).result()
    assert [(c.kind, c.row["filename"]) for c in changes] == [("deleted", "a.png")]
    assert retry == []
    assert sorted(rows(db)) == ["b.png"]
    watcher._apply(due(["gone.png"]))  # an event for a file already gone: nothing, and no error
    assert sorted(rows(db)) == ["b.png"]


def test_a_file_gone_between_listing_and_reading_is_left_out_of_a_scan(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "out"
    base.mkdir()
    for name in ("a.png", "b.png", "c.png", "d.jpg"):
        (base / name).write_bytes(png())
    real_walk = sync.walk

    def vanishing(folder: Path) -> Any:
        for sub, entry, mtime in real_walk(folder):
            if entry is not None and entry.name == "b.png":
                os.unlink(entry.path)  # listed, then gone before its stat
            yield sub, entry, mtime

    real_describe = sync.describe_jobs

    def described_late(jobs: Any, **kwargs: Any) -> Any:
        for job in jobs:
            if job[3] in ("c.png", "d.jpg"):
                os.unlink(job[1])  # stat'ed, then gone before it is read
        return real_describe(jobs, **kwargs)

    monkeypatch.setattr(sync, "walk", vanishing)
    monkeypatch.setattr(sync, "describe_jobs", described_late)
    scan(db, "output", base)
    assert sorted(rows(db)) == ["a.png"]


# -- a PNG with a 50 MB text chunk -------------------------------------------------------------------
def huge_text_png(path: Path, keyword: bytes, megabytes: int = 50) -> None:
    """A PNG whose text chunk holds ``megabytes`` MB (sparse on disk: a reader that reads it gets zeros)."""
    length = megabytes * 1024 * 1024
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0))
    with open(path, "wb") as handle:
        handle.write(head + struct.pack(">I", length) + b"tEXt" + keyword + b"\x00")
        handle.seek(len(head) + 8 + length)
        handle.write(b"\x00\x00\x00\x00" + chunk(b"IDAT", zlib.compress(b"\x00" * 20)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("keyword", [b"prompt", b"workflow"])
def test_a_png_with_a_50_mb_text_chunk_is_indexed_without_reading_it(
    db: Database, tmp_path: Path, keyword: bytes
) -> None:
    base = tmp_path / "out"
    base.mkdir()
    huge_text_png(base / "huge.png", keyword)
    (base / "small.png").write_bytes(png())
    tracemalloc.start()
    try:
        entry = describe("output", base / "huge.png", "", "huge.png", (base / "huge.png").stat())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the 50 MB are skipped, not read
    assert (entry["width"], entry["height"], entry["has_prompt"]) == (3, 2, 0)
    seen = Seen()
    FolderWatcher(db, {"output": base}, seen, workers=1)._apply(due(["huge.png", "small.png"]))
    assert sorted(rows(db)) == ["huge.png", "small.png"]
    scan(db, "output", base)
    assert rows(db)["huge.png"]["width"] == 3


# -- many files with one mtime ---------------------------------------------------------------------
def test_many_files_with_the_same_mtime_page_by_cursor_each_once(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    (base / "same").mkdir(parents=True)
    data = png()
    for n in range(1500):
        path = base / "same" / f"{n:05}.png"
        path.write_bytes(data)
        os.utime(path, ns=(1_700_000_000 * 10**9, 1_700_000_000 * 10**9))
    scan(db, "output", base)
    for sort in ("mtime", "created", "size"):
        query = FileQuery(subfolder="same", sort=sort)
        seen: list[int] = []
        cursor = None
        while True:
            page = db.read(lambda conn, c=cursor, q=query: list_files(conn, q, limit=200, cursor=c))
            if not page:
                break
            seen += [r["id"] for r in page]
            cursor = encode_cursor(page[-1], sort)
        assert len(seen) == len(set(seen)) == 1500, sort


# -- odd names -------------------------------------------------------------------------------------
ODD_NAMES = [
    unicodedata.normalize("NFC", "caf\u00e9.png"),
    unicodedata.normalize("NFD", "caf\u00e9.png"),  # another file, though it looks the same
    "\u202eevil\u200fgnp.png",  # right-to-left override and mark
    "line\nbreak.png",
    "tab\there.png",
    "emoji \U0001f408.png",
    " spaced .png",
]


def odd_tree(base: Path) -> list[str]:
    """Files with odd names (indexed) and names that are not UTF-8 (left out), a folder of such a name too."""
    (base / "odd").mkdir(parents=True)
    for name in ODD_NAMES:
        (base / "odd" / name).write_bytes(png())
    bad = os.fsdecode(b"bad\xff\xfe.png")
    (base / "odd" / bad).write_bytes(png())
    bad_dir = base / os.fsdecode(b"dir\xff")
    bad_dir.mkdir()
    (bad_dir / "inside.png").write_bytes(png())
    return [f"odd/{name}" for name in ODD_NAMES]


def test_a_scan_indexes_odd_names_and_leaves_out_names_that_are_not_utf8(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    expected = odd_tree(base)
    report = scan(db, "output", base)
    assert sorted(rows(db)) == sorted(expected)
    assert report.files == len(expected)
    dirs = db.read(lambda conn: [r[0] for r in conn.execute("SELECT path FROM media_dirs")])
    assert dirs == ["odd"]


def test_the_watcher_indexes_odd_names_and_leaves_out_names_that_are_not_utf8(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    expected = odd_tree(base)
    watcher = FolderWatcher(db, {"output": base}, Seen(), workers=1)
    for path in sorted(base.rglob("*")):
        watcher._note(str(path), None)
    assert all(sync.storable(rel) for _, rel in watcher._pending)
    watcher._apply(dict(watcher._pending))
    assert sorted(rows(db)) == sorted(expected)


def test_pending_paths_are_taken_in_the_order_they_fall_due(db: Database, tmp_path: Path) -> None:
    """A wake reads the due paths and stops at the first that is not: a path noted again goes last."""
    watcher = FolderWatcher(db, {"output": tmp_path}, Seen(), debounce=100.0)
    watcher._pending.update({("output", "a"): _Pending(1.0), ("output", "b"): _Pending(2.0)})
    watcher._note(str(tmp_path / "a"), None)  # due in 100 s now: after b
    assert list(watcher._pending) == [("output", "b"), ("output", "a")]
    assert list(watcher._take_due(5.0)) == [("output", "b")]
    assert list(watcher._pending) == [("output", "a")]


# -- announcing a burst ------------------------------------------------------------------------------
def test_a_burst_is_announced_as_reloads_and_a_few_changes_one_by_one(gallery: Gallery) -> None:
    """The streams get one ``reset`` (the app reloads) for a batch of more than LIVE_CHANGES changes, at most
    one a second during a burst and one after its last batch; a few changes are announced one by one."""
    row = {"subfolder": "", "filename": "a.png", "root": "output", "mtime": 1.0, "id": 1, "has_prompt": 0}
    many = [Change("created", "output", {**row, "id": n}) for n in range(service.LIVE_CHANGES + 1)]
    gallery._changed([Change("created", "output", row)])
    gallery._changed(many)
    gallery._changed(many)  # within the second: folded into the reload already due
    wait_until(lambda: [e.kind for e in events(gallery)] == ["file.created", "reset"], "the first reload")
    gallery._changed(many)
    wait_until(lambda: [e.kind for e in events(gallery)].count("reset") == 2, "the reload after the last batch")
    assert [e.data for e in events(gallery) if e.kind == "reset"] == [{"event": "reset"}] * 2


def wait_until(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def test_a_scan_reads_the_index_a_folder_at_a_time_and_forgets_what_went(db: Database, tmp_path: Path) -> None:
    """Emptied folders, removed folders and the root's own files: every file gone is forgotten, the rest kept
    with their ids (the scan holds one folder's keys at a time, never the whole root's)."""
    base = tmp_path / "out"
    for sub in ("", "a", "a/b", "c", "d"):
        (base / sub).mkdir(parents=True, exist_ok=True)
        for n in range(3):
            (base / sub / f"{n}.png").write_bytes(png())
    scan(db, "output", base)
    before = rows(db)
    for n in range(3):
        (base / "a" / f"{n}.png").unlink()  # emptied of media, still there
    (base / "a" / "notes.txt").write_text("no media")
    for path in (base / "c").iterdir():
        path.unlink()
    (base / "c").rmdir()  # gone
    (base / "0.png").unlink()
    (base / "d" / "new.png").write_bytes(png())
    report = scan(db, "output", base)
    after = rows(db)
    assert sorted(after) == ["1.png", "2.png", "a/b/0.png", "a/b/1.png", "a/b/2.png", "d/0.png", "d/1.png"] + [
        "d/2.png",
        "d/new.png",
    ]
    assert all(after[key]["id"] == before[key]["id"] for key in after if key in before)
    assert (report.removed, report.described) == (7, 1)


def test_events_lost_look_at_the_whole_root_again(db: Database, tmp_path: Path) -> None:
    """The kernel's event queue overflowed (a burst too fast for the watcher): the root is looked at again, what
    appeared is indexed and announced, what went is forgotten and announced, what stayed keeps its id."""
    base = tmp_path / "out"
    (base / "d").mkdir(parents=True)
    for name in ("kept.png", "went.png"):
        (base / name).write_bytes(png())
    seen = Seen()
    watcher = FolderWatcher(db, {"output": base}, seen, workers=1)
    watcher._apply(due(["kept.png", "went.png"]))
    kept_id = rows(db)["kept.png"]["id"]
    seen.changes.clear()
    (base / "went.png").unlink()
    for n in range(3):
        (base / "d" / f"{n}.png").write_bytes(png())  # heard of by nobody
    watcher._lost(str(base))
    assert watcher._rescans == {"output"}
    watcher.resync("output")
    assert sorted(rows(db)) == ["d/0.png", "d/1.png", "d/2.png", "kept.png"]
    assert rows(db)["kept.png"]["id"] == kept_id
    assert sorted((c.kind, c.row["filename"]) for c in seen.changes) == [
        ("created", "0.png"),
        ("created", "1.png"),
        ("created", "2.png"),
        ("deleted", "went.png"),
    ]
