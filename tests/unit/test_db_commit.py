"""core.store.db's writer: a write's future resolves only once committed; writes waiting together share a commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from cozygen.core.store.db import Database, Migration

SCHEMA = [
    Migration(
        1,
        "things",
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
        "CREATE TABLE links (id INTEGER PRIMARY KEY, "
        "thing INTEGER REFERENCES things(id) DEFERRABLE INITIALLY DEFERRED);",
    )
]


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "c.sqlite3")
    database.open(SCHEMA)
    yield database
    database.close()


def committed_names(db: Database) -> list[str]:
    """What another connection (another process, after a crash) sees."""
    conn = sqlite3.connect(db.path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM things ORDER BY id")]
    finally:
        conn.close()


def hold_writer(db: Database) -> threading.Event:
    """Keep the writer busy until the returned event is set, so the next writes wait together."""
    release, holding = threading.Event(), threading.Event()

    def hold(_conn: sqlite3.Connection) -> None:
        holding.set()
        release.wait(30)

    db.submit_write(hold)
    assert holding.wait(30)
    return release


def test_a_write_is_committed_before_its_future_resolves(db: Database) -> None:
    seen: list[list[str]] = []
    told = threading.Event()

    def on_done(_done) -> None:  # what a waiting caller would act on: it is on disk already
        seen.append(committed_names(db))
        told.set()

    future = db.submit_write(lambda conn: conn.execute("INSERT INTO things(name) VALUES ('a')"))
    future.add_done_callback(on_done)
    assert told.wait(30)
    assert seen == [["a"]]


def test_writes_waiting_together_share_one_commit_and_a_failing_one_is_undone_alone(db: Database) -> None:
    release = hold_writer(db)
    outside: list[list[str]] = []

    def insert(name: str):
        def write(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO things(name) VALUES (?)", (name,))
            outside.append(committed_names(db))  # another connection sees nothing of this batch yet
            return name

        return write

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO things(name) VALUES ('ghost')")
        conn.execute("INSERT INTO things(name) VALUES ('n0')")  # UNIQUE violation: 'ghost' must go too

    futures = [db.submit_write(insert(f"n{n}")) for n in range(10)]
    failing = db.submit_write(insert_then_fail)
    futures += [db.submit_write(insert(f"n{n}")) for n in range(10, 20)]
    release.set()
    assert [f.result(timeout=30) for f in futures] == [f"n{n}" for n in range(20)]
    with pytest.raises(sqlite3.IntegrityError):
        failing.result(timeout=30)
    assert outside == [[]] * 20  # all twenty were written in one transaction
    assert committed_names(db) == [f"n{n}" for n in range(20)]


def test_a_batch_whose_commit_fails_fails_every_write_of_it_and_the_writer_lives_on(db: Database) -> None:
    release = hold_writer(db)
    good = db.submit_write(lambda conn: conn.execute("INSERT INTO things(name) VALUES ('lost')"))
    dangling = db.submit_write(lambda conn: conn.execute("INSERT INTO links(thing) VALUES (999)"))  # checked at COMMIT
    release.set()
    for future in (good, dangling):
        with pytest.raises(sqlite3.IntegrityError):
            future.result(timeout=30)
    assert committed_names(db) == []  # nothing of that batch was written, and no one was told it was
    db.submit_write(lambda conn: conn.execute("INSERT INTO things(name) VALUES ('later')")).result(timeout=30)
    assert committed_names(db) == ["later"]


def test_a_cancelled_write_is_skipped(db: Database) -> None:
    release = hold_writer(db)
    skipped = db.submit_write(lambda conn: conn.execute("INSERT INTO things(name) VALUES ('skipped')"))
    kept = db.submit_write(lambda conn: conn.execute("INSERT INTO things(name) VALUES ('kept')"))
    assert skipped.cancel()
    release.set()
    kept.result(timeout=30)
    assert committed_names(db) == ["kept"]


def test_settle_waits_for_every_write_handed_over_before_it(db: Database) -> None:
    release = hold_writer(db)

    async def scenario() -> list[str]:
        for n in range(5):
            db.submit_write(lambda conn, n=n: conn.execute("INSERT INTO things(name) VALUES (?)", (f"s{n}",)))
        threading.Timer(0.05, release.set).start()
        await db.settle()
        return committed_names(db)

    assert asyncio.run(scenario()) == [f"s{n}" for n in range(5)]
