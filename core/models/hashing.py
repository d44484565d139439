"""SHA-256 of installed models, computed in the background and cached in ``model_hashes``.

A hash is cached by the file's path with its size and ``mtime_ns``: a file replaced or rewritten in place gets a
new one. One thread hashes one file at a time, in 8 MiB reads, so a folder of large models never takes more than a
core and a disk stream; files wait in the order they were asked for. A file that changes while it is read is
put back at the end of the queue.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("cozygen")
READ_SIZE = 8 * 1024 * 1024
IN_CHUNK = 500  # SQLite's bound parameters per IN (...) list, well under its limit


@dataclass(frozen=True)
class Stamp:
    """A file as it was seen: its path, size and modification time."""

    path: str
    size: int
    mtime_ns: int


def cached(conn: sqlite3.Connection, stamps: Iterable[Stamp]) -> dict[str, str]:
    """The cached hashes of ``stamps`` by path, for those whose size and mtime still match."""
    wanted = {s.path: s for s in stamps}
    found: dict[str, str] = {}
    paths = list(wanted)
    for start in range(0, len(paths), IN_CHUNK):
        chunk = paths[start : start + IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT path, size, mtime_ns, sha256 FROM model_hashes WHERE path IN ({marks})"
        for row in conn.execute(sql, chunk):
            stamp = wanted[row["path"]]
            if row["size"] == stamp.size and row["mtime_ns"] == stamp.mtime_ns and row["sha256"]:
                found[stamp.path] = row["sha256"]
    return found


def store(conn: sqlite3.Connection, stamp: Stamp, sha256: str, at: float | None = None) -> None:
    conn.execute(
        "INSERT INTO model_hashes(path, size, mtime_ns, sha256, hashed_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "sha256 = excluded.sha256, hashed_at = excluded.hashed_at",
        (stamp.path, stamp.size, stamp.mtime_ns, sha256, time.time() if at is None else at),
    )


def stamp_of(path: str) -> Stamp | None:
    """The file's stamp now, or None when it is gone (or not a file)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return Stamp(path, info.st_size, info.st_mtime_ns) if os.path.isfile(path) else None


def sha256_file(path: str, stop: threading.Event | None = None) -> str | None:
    """The file's SHA-256 (hex), or None when ``stop`` was set before the end."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as file:
        while chunk := file.read(READ_SIZE):
            if stop is not None and stop.is_set():
                return None
            digest.update(chunk)
    return digest.hexdigest()


class Hasher:
    """A queue of files to hash and the one thread that hashes them; ``save(stamp, sha256)`` records each."""

    def __init__(self, save: Callable[[Stamp, str], None]) -> None:
        self._save = save
        self._queue: deque[Stamp] = deque()
        self._waiting: set[str] = set()
        self._busy: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Files waiting or being hashed."""
        with self._lock:
            return len(self._queue) + (self._busy is not None)

    def want(self, stamps: Iterable[Stamp]) -> None:
        """Hash these files (each once, in order), starting the thread if it is not running."""
        with self._lock:
            if self._stop.is_set():
                return
            for stamp in stamps:
                if stamp.path not in self._waiting and stamp.path != self._busy:
                    self._queue.append(stamp)
                    self._waiting.add(stamp.path)
            if self._queue and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cozygen-model-hash", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current read (blocking: call it from a thread)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _next(self) -> Stamp | None:
        """The next file, or None (and the thread is done: the next ``want`` starts another)."""
        with self._lock:
            if not self._queue or self._stop.is_set():
                self._busy, self._thread = None, None
                return None
            stamp = self._queue.popleft()
            self._waiting.discard(stamp.path)
            self._busy = stamp.path
            return stamp

    def _run(self) -> None:
        while (stamp := self._next()) is not None:
            try:
                self._hash(stamp)
            except Exception:  # an unreadable file must not stop the others
                log.exception("CozyGen: hashing %s failed", stamp.path)

    def _hash(self, stamp: Stamp) -> None:
        if stamp_of(stamp.path) != stamp:
            return  # changed or gone since it was listed: the next listing asks again
        try:
            sha = sha256_file(stamp.path, self._stop)
        except OSError as exc:
            log.warning("CozyGen: cannot hash %s: %s", stamp.path, exc)
            return
        if sha is None:
            return
        if stamp_of(stamp.path) != stamp:  # rewritten while read: this hash is of neither version
            self.want([s for s in [stamp_of(stamp.path)] if s is not None])
            return
        self._save(stamp, sha)
