"""core.store.db: migrations, WAL, serialized writes and rollback on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from cozygen.core.store.db import Database, Migration, connect, migrate, schema_version
from cozygen.core.store.migrations import MIGRATIONS

TWO = [
    Migration(1, "things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"),
    Migration(2, "counter", "CREATE TABLE counter (n INTEGER NOT NULL);\nINSERT INTO counter VALUES (0);"),
]


def test_open_applies_shipped_migrations_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "sub" / "c.sqlite3")
    assert db.open(MIGRATIONS) == [m.version for m in MIGRATIONS]
    conn = sqlite3.connect(db.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == MIGRATIONS[-1].version
    recorded = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded == [m.version for m in MIGRATIONS]


def test_reopening_applies_only_newer_migrations(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    assert db.open(TWO[:1]) == [1]
    assert db.open(TWO) == [2]
    assert db.open(TWO) == []
    assert sqlite3.connect(db.path).execute("SELECT n FROM counter").fetchall() == [(0,)]


def test_failed_migration_leaves_the_previous_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    db.open(TWO[:1])
    broken = TWO[:1] + [Migration(2, "broken", "CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);")]
    with pytest.raises(sqlite3.OperationalError):
        db.open(broken)
    conn = connect(db.path)
    assert schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "c.sqlite3")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT, applied_at INTEGER)")
    conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer than this CozyGen"):
        migrate(conn, TWO)


def test_concurrent_writes_are_serialized_and_reads_see_them(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    db.open(TWO)

    def bump(conn: sqlite3.Connection) -> int:
        (n,) = conn.execute("SELECT n FROM counter").fetchone()
        conn.execute("UPDATE counter SET n = ?", (n + 1,))  # read-modify-write: lost updates if not serialized
        return n + 1

    async def scenario() -> tuple[list[int], int]:
        results = await asyncio.gather(*(db.execute_write_fn(bump) for _ in range(200)))
        rows = await db.execute("SELECT n FROM counter")
        return sorted(results), rows[0]["n"]

    try:
        results, final = asyncio.run(scenario())
    finally:
        db.close()
    assert results == list(range(1, 201))
    assert final == 200


def test_a_failing_write_rolls_back_and_the_writer_lives_on(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    db.open(TWO)

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO things(name) VALUES ('ghost')")
        conn.execute("INSERT INTO things(name) VALUES ('ghost')")  # UNIQUE violation

    async def scenario() -> list[str]:
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute_write_fn(insert_then_fail)
        await db.execute_write("INSERT INTO things(name) VALUES (?)", ("real",))
        return [row["name"] for row in await db.execute("SELECT name FROM things ORDER BY id")]

    try:
        assert asyncio.run(scenario()) == ["real"]
    finally:
        db.close()


def test_a_settled_read_sees_writes_handed_over_without_waiting(tmp_path: Path) -> None:
    import threading

    db = Database(tmp_path / "s.sqlite3")
    db.open(TWO)
    release = threading.Event()

    def slow_insert(conn: sqlite3.Connection) -> None:
        release.wait(5)
        conn.execute("INSERT INTO things(name) VALUES ('queued')")

    def names(conn: sqlite3.Connection) -> list[str]:
        return [row["name"] for row in conn.execute("SELECT name FROM things")]

    async def scenario() -> tuple[list[str], list[str]]:
        db.submit_write(slow_insert)  # handed to the writer, not waited for
        plain = await db.execute_fn(names)  # may run before it: it does here, the writer is held
        threading.Timer(0.1, release.set).start()
        settled = await db.execute_settled(names)  # the row exists only once the held write ran
        return plain, settled

    try:
        assert asyncio.run(scenario()) == ([], ["queued"])
    finally:
        db.close()


def test_readers_cannot_write(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    db.open(TWO)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|attempt to write"):
            asyncio.run(db.execute("INSERT INTO things(name) VALUES ('x')"))
    finally:
        db.close()
