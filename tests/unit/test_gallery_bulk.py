"""The watcher's bulk mode: a burst large against the index is written without the listing indexes, which are
built again once the burst is written, and after a process killed in the middle, at the next start.

Real folders in tmp_path and a real SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from unit.test_gallery_arrivals import Seen, due, png, rows, wait_until

from cozygen.core.events import EventHub
from cozygen.core.gallery import bulk, index, sync
from cozygen.core.gallery.index import FileQuery, count_files, list_files
from cozygen.core.gallery.service import Gallery
from cozygen.core.gallery.sync import Change, FolderWatcher, scan
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS


def write(base: Path, count: int, prefix: str = "n") -> list[str]:
    keys = []
    for n in range(count):
        sub = f"d{n % 3}" if n % 2 else ""
        (base / sub).mkdir(parents=True, exist_ok=True)
        key = f"{sub}/{prefix}{n:03}.png" if sub else f"{prefix}{n:03}.png"
        (base / key).write_bytes(png())
        keys.append(key)
    return keys


class Watching(Seen):
    """Records, at each batch announced, which listing indexes were missing and what a listing answered."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.missing: list[list[str]] = []
        self.listed: list[tuple[int, int]] = []

    def __call__(self, changes: list[Change]) -> None:
        super().__call__(changes)
        self.missing.append(self.db.read(bulk.missing))
        query = FileQuery(root="output", recursive=True)
        listed = self.db.read(lambda conn: list_files(conn, query, limit=1000))
        self.listed.append((self.db.read(lambda conn: count_files(conn, query)), len(listed)))


def test_a_burst_large_against_the_index_is_written_without_the_listing_indexes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """130 files into an empty index (bulk from 50): written with the listing indexes dropped and noted, listings
    and counts answering meanwhile; once the backlog is small the indexes are back, the note gone, every file
    indexed once with one change."""
    monkeypatch.setattr(sync, "BATCH", 40)
    monkeypatch.setattr(bulk, "ENTER_MIN", 50)
    base = tmp_path / "out"
    keys = write(base, 130)
    seen = Watching(db)
    watcher = FolderWatcher(db, {"output": base}, seen, workers=1)
    watcher._apply(due(keys))
    assert seen.calls == 4  # 40 + 40 + 40 + 10
    assert all(missing == list(index.LISTING_INDEXES) for missing in seen.missing)
    assert seen.listed == [(40, 40), (80, 80), (120, 120), (130, 130)]  # exact at each commit, without indexes
    assert db.read(bulk.noted)
    watcher._bulk.settle(len(watcher._pending))
    assert db.read(bulk.missing) == [] and not db.read(bulk.noted)
    assert sorted((c.kind, c.root, c.row["subfolder"], c.row["filename"]) for c in seen.changes) == sorted(
        ("created", "output", *(key.rpartition("/")[0::2])) for key in keys
    )
    assert sorted(rows(db)) == sorted(keys)
    plan = db.read(lambda conn: conn.execute("EXPLAIN QUERY PLAN " + _page_sql()).fetchall())
    assert any("media_root_mtime" in str(tuple(step)) for step in plan)  # a page reads its index again


def _page_sql() -> str:
    return "SELECT id FROM media WHERE root = 'output' ORDER BY mtime DESC, id DESC LIMIT 10"


def test_a_burst_small_against_the_index_keeps_the_listing_indexes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 files (bulk from 50) into an index of 300: under a quarter of it, so the indexes stay."""
    monkeypatch.setattr(sync, "BATCH", 40)
    monkeypatch.setattr(bulk, "ENTER_MIN", 50)
    base = tmp_path / "out"
    write(base, 300, "old")
    scan(db, "output", base)
    keys = write(base, 60, "new")
    seen = Watching(db)
    FolderWatcher(db, {"output": base}, seen, workers=1)._apply(due(keys))
    assert seen.missing == [[], []] and not db.read(bulk.noted)
    assert len(rows(db)) == 360 and len(seen.changes) == 60


def test_a_running_watcher_leaves_bulk_mode_once_the_burst_is_written(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real observer: a burst written while the watcher runs ends indexed, indexes back, note gone."""
    monkeypatch.setattr(bulk, "ENTER_MIN", 50)
    base = tmp_path / "out"
    base.mkdir()
    seen = Watching(db)
    watcher = FolderWatcher(db, {"output": base}, seen, debounce=0.5, workers=1)  # the burst noted by its first wake
    watcher.start()
    try:
        keys = write(base, 150)
        wait_until(lambda: len(rows(db)) == 150 and not db.read(bulk.noted), "the burst indexed and settled")
    finally:
        watcher.stop()
    assert db.read(bulk.missing) == []
    assert sorted(c.row["filename"] for c in seen.changes) == sorted(k.rpartition("/")[2] for k in keys)
    assert any(seen.missing)  # it did go through bulk mode


def test_a_bulk_mode_cut_short_is_repaired_at_the_next_start(tmp_path: Path) -> None:
    """A process killed in bulk mode leaves the indexes dropped and the note (both committed together): the next
    start builds them again and drops the note; the rows written meanwhile are all there."""
    path = tmp_path / "data" / "cozygen.sqlite3"
    roots = {"output": tmp_path / "output", "input": tmp_path / "input"}
    keys = write(roots["output"], 20)
    roots["input"].mkdir()
    first = Database(path)
    first.open(MIGRATIONS)
    scan(first, "output", roots["output"])
    first.submit_write(bulk.enter).result()
    first.close()  # what kill -9 leaves: the committed bulk mode, never left

    db = Database(path)
    db.open(MIGRATIONS)
    try:
        assert db.read(bulk.noted) and db.read(bulk.missing) == list(index.LISTING_INDEXES)
        gallery = Gallery(db, roots, tmp_path / "data", EventHub())
        gallery.start()
        try:
            wait_until(gallery.ready.is_set, "the start-up scan")
        finally:
            gallery.stop()
        assert db.read(bulk.missing) == [] and not db.read(bulk.noted)
        assert sorted(rows(db)) == sorted(keys)
    finally:
        db.close()


def test_rebuild_builds_only_what_is_missing(db: Database) -> None:
    def drop_two(conn: Any) -> None:
        conn.execute("DROP INDEX media_kind")
        conn.execute("DROP INDEX media_root_size")

    db.submit_write(drop_two).result()
    assert db.read(bulk.missing) == ["media_root_size", "media_kind"]
    assert bulk.rebuild(db) == 2
    assert db.read(bulk.missing) == []
