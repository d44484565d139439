"""Bulk mode of the watcher: a burst large against the index is written without the listing indexes.

Keeping the ten covering listing indexes costs the writer about eight times what the row itself costs, row by
row; building them once from the table costs far less. So when the watcher's backlog reaches ``ENTER_MIN``
files and ``ENTER_SHARE`` of the rows already indexed, the indexes are dropped (and the mode noted in
``settings``, in the same transaction), the burst is written, and once the backlog falls under ``LEAVE_BELOW``
they are built again, one index per transaction so other writes (a job recorded) pass between them.

Meanwhile every query still answers, from the table (slower, never wrong); the counts come from the per-folder
counts as always. A process killed in bulk mode leaves the note: :func:`repair` builds what is missing at the
next start.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from ..store.db import Database
from . import index

log = logging.getLogger("cozygen")
ENTER_MIN = 10_000  # files waiting, at least
ENTER_SHARE = 0.25  # ... and at least this share of the rows indexed (a rebuild costs what the table holds)
LEAVE_BELOW = 1_000
NOTE = "gallery.bulk_arrivals"


def rows(conn: Any) -> int:
    """Files indexed, from the per-folder counts (no walk of the table)."""
    return int(conn.execute("SELECT COALESCE(SUM(n), 0) FROM media_counts").fetchone()[0])


def enter(conn: Any) -> None:
    index.drop_listing_indexes(conn)
    conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, 'true')", (NOTE,))


def missing(conn: Any) -> list[str]:
    """The listing indexes the database does not hold."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'media'")}
    return [name for name in index.LISTING_INDEXES if name not in have]


def build(conn: Any, name: str) -> None:
    conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {index.LISTING_INDEXES[name]}")


def forget_note(conn: Any) -> None:
    conn.execute("DELETE FROM settings WHERE key = ?", (NOTE,))


def noted(conn: Any) -> bool:
    return conn.execute("SELECT 1 FROM settings WHERE key = ?", (NOTE,)).fetchone() is not None


def rebuild(db: Database) -> int:
    """Build the missing listing indexes, one per transaction, then drop the note. Returns how many were built."""
    names = db.read(missing)
    for name in names:
        db.submit_write(functools.partial(build, name=name)).result()
    db.submit_write(forget_note).result()
    return len(names)


def repair(db: Database) -> None:
    """At start: finish a bulk mode that a killed process left (its indexes built again)."""
    if db.read(noted):
        built = rebuild(db)
        log.warning("CozyGen: the gallery's bulk indexing was cut short; %d listing index(es) built again", built)


class BulkMode:
    """Whether the watcher writes without the listing indexes now; ``consider`` and ``settle`` run in the
    watcher's thread, between its batches."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.active = False

    def consider(self, backlog: int) -> bool:
        """Enter bulk mode when ``backlog`` files waiting make a burst large against the index."""
        if self.active or backlog < ENTER_MIN:
            return self.active
        if backlog >= ENTER_SHARE * self.db.read(rows):
            self.db.submit_write(enter).result()
            self.active = True
            log.info("CozyGen: %d files arrived at once; indexing them in bulk", backlog)
        return self.active

    def settle(self, backlog: int) -> None:
        """Leave bulk mode once the backlog is small: the listing indexes are built again."""
        if self.active and backlog < LEAVE_BELOW:
            self.active = False
            rebuild(self.db)
