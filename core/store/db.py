"""SQLite with an async facade, in the manner of datasette's ``Database``.

Reads run on a small thread pool, each thread with its own connection; writes are
serialized through one writer thread. No sqlite3 call ever runs on the event
loop: coroutines get their results through futures. The file uses WAL, so
readers never wait for the writer.

Durability: a write's future resolves only once its transaction is committed. The writer
commits the writes waiting together in one transaction (each in a savepoint of its own, so one
that fails is undone alone): a burst of writes shares one commit. With WAL and
``synchronous=NORMAL`` a commit is in the WAL file when it returns, so it survives the process
being killed (``kill -9``, a crash of ComfyUI); only a power cut or an OS crash can take the last
commits since the WAL was last synced, never the file's consistency. That is the promise CozyGen
makes (an acknowledged job survives ComfyUI dying); ``FULL`` would sync on every commit (about a
millisecond here, far more on an SD card) for a case where ComfyUI's own queue is lost anyway.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
GROUP_COMMIT_MAX = 256  # writes waiting together that share one commit
WRITER_CACHE_KIB = 64 * 1024
_Write = tuple[Callable[[sqlite3.Connection], Any], Future]  # a write and the future its caller holds


def _nothing(_conn: sqlite3.Connection) -> None:
    return None


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: a commit survives a killed process (see the top)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[int]:
    """Apply, in order and each in its own transaction, the migrations newer than the file.

    Returns the versions applied. A file from a newer CozyGen is refused rather
    than silently misread.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    ordered = sorted(migrations, key=lambda m: m.version)
    latest = ordered[-1].version if ordered else 0
    current = schema_version(conn)
    if current > latest:
        raise RuntimeError(
            f"database schema version {current} is newer than this CozyGen understands ({latest}); "
            "update CozyGen or point COZYGEN_DATA_DIR elsewhere"
        )
    applied = []
    for migration in ordered:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(version, description, applied_at) VALUES (?, ?, strftime('%s','now'))",
                (migration.version, migration.description),
            )
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into complete statements (executescript would commit)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
    return statements


class Database:
    """One SQLite file: a writer thread, pooled readers, awaitable results."""

    def __init__(self, path: Path, *, readers: int = 2) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="cozygen-db-read")
        self._writes: queue.Queue[_Write | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        # Transactions the writer has committed, counted before their callers hear of them: what was read
        # before a change is known stale once the change is answered (core/accounts/cache.py)
        self.commits = 0

    # -- lifecycle -----------------------------------------------------------------
    def open(self, migrations: Sequence[Migration]) -> list[int]:
        """Create the file if needed and migrate it. Blocking: call it from a thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        try:
            return migrate(conn, migrations)
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writes.put(None)
                self._writer.join(timeout=10)
                self._writer = None
        self._readers.shutdown(wait=True)

    # -- reads ---------------------------------------------------------------------
    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
            conn.execute("PRAGMA query_only=ON")
        return conn

    async def execute_fn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader_conn()))

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read from a worker thread (blocking): the same pooled connections as ``execute_fn``."""
        return self._readers.submit(lambda: fn(self._reader_conn())).result()

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return await self.execute_fn(lambda conn: conn.execute(sql, params).fetchall())

    async def execute_settled(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``execute_fn`` once every write queued before it is done: a read that sees what was handed to the
        writer without waiting for it (a job's new record, a job's last state)."""
        await self.settle()
        return await self.execute_fn(fn)

    # -- writes --------------------------------------------------------------------
    def _run_writer(self) -> None:
        conn = connect(self.path)
        # The one writer keeps its page cache between transactions (nothing else writes): 64 MB instead of the
        # default 2 MB holds the gallery's listing indexes' hot pages, each new file touching ten of them.
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        try:
            while True:
                task = self._writes.get()
                if task is None:
                    return
                batch = [task]
                stop = False
                while len(batch) < GROUP_COMMIT_MAX:  # what waits now shares this commit
                    try:
                        more = self._writes.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._commit_group(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit_group(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """Run ``batch`` in one transaction, each write in a savepoint; resolve the futures once committed."""
        outcomes: list[tuple[Future, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, future in batch:
                if not future.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT cozygen_write")
                try:
                    result = fn(conn)
                except BaseException as exc:  # the caller gets the error; its changes alone are undone
                    conn.execute("ROLLBACK TO cozygen_write")
                    conn.execute("RELEASE cozygen_write")
                    outcomes.append((future, False, exc))
                else:
                    conn.execute("RELEASE cozygen_write")
                    outcomes.append((future, True, result))
            conn.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:  # no transaction, or no commit: nothing of the batch is written
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _fn, future in batch:
                if future.cancelled():
                    continue
                if future.running() or future.set_running_or_notify_cancel():
                    future.set_exception(exc)
            return
        for future, ok, value in outcomes:  # in order: a write's callbacks run before a later one's
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def submit_write(self, fn: Callable[[sqlite3.Connection], T]) -> Future:
        """Queue a write (all of it or none) from any thread; returns a concurrent Future, resolved once the
        write is committed."""
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run_writer, name="cozygen-db-write", daemon=True)
                self._writer.start()
        future: Future = Future()
        self._writes.put((fn, future))
        return future

    async def execute_write_fn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit_write(fn))

    async def settle(self) -> None:
        """Wait until every write handed to the writer before this call is committed (they run in order)."""
        await self.execute_write_fn(_nothing)

    async def execute_write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        return await self.execute_write_fn(lambda conn: conn.execute(sql, params).rowcount)
