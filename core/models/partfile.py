"""The ``.part`` file a download writes, with the SHA-256 of what it holds.

Two helper threads keep the transfer at the speed of the network rather than of the hash and the disk in turn:
the hash runs in a thread of its own, chunk after chunk in order (at most ``HASH_AHEAD`` chunks behind the
writes; hashlib releases the GIL), and every ``FLUSH_EVERY`` bytes another thread writes what is there to the disk
(``fdatasync``), so the final ``fsync`` has only the tail left. Blocking: used from the transfer's thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

HASH_READ = 8 << 20  # bytes per read when hashing what the file already holds
HASH_AHEAD = 16  # chunks written but not hashed yet, at most
FLUSH_EVERY = 64 << 20  # bytes written between two background flushes
BACKGROUND_NICE = 10  # how much lower a download's threads run than ComfyUI's (Linux: per thread)
_datasync = getattr(os, "fdatasync", os.fsync)


def lower_priority() -> None:
    """Run the calling thread at a lower CPU priority, so a download never slows the event loop or a generation
    (Linux sets a thread's nice value by its id; elsewhere this does nothing). For threads made for downloads only:
    an unprivileged thread cannot raise its priority back."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class PartFile:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self._file = open(path, "r+b" if os.path.exists(path) else "w+b")
        self.offset = 0
        self._digest: Any = hashlib.sha256()
        self._hashing = ThreadPoolExecutor(1, "cozygen-download-hash", initializer=lower_priority)
        self._flushing = ThreadPoolExecutor(1, "cozygen-download-flush", initializer=lower_priority)
        self._hashes: deque[Future] = deque()
        self._flush: Future | None = None
        self._flushed_at = 0

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def hash_existing(self, stop: Callable[[], bool]) -> bool:
        """Hash what the file holds (a download to resume) and stand at its end; False when ``stop`` said so."""
        self._file.seek(0)
        while chunk := self._file.read(HASH_READ):
            if stop():
                return False
            self._digest.update(chunk)
            self.offset += len(chunk)
        self._flushed_at = self.offset
        return True

    def restart(self) -> None:
        """Empty the file: the download starts over."""
        self._drain()
        self._file.seek(0)
        self._file.truncate()
        self.offset, self._flushed_at, self._digest = 0, 0, hashlib.sha256()

    def write(self, data: bytes) -> None:
        """Append ``data`` (OSError when the disk refuses it)."""
        self._file.write(data)
        self.offset += len(data)
        self._hashes.append(self._hashing.submit(self._digest.update, data))
        if len(self._hashes) > HASH_AHEAD:
            self._hashes.popleft().result()
        if self.offset - self._flushed_at >= FLUSH_EVERY and (self._flush is None or self._flush.done()):
            self._file.flush()
            self._flushed_at = self.offset
            self._flush = self._flushing.submit(_datasync, self._file.fileno())

    def sha256(self) -> str:
        """The hash of everything written."""
        self._drain()
        return str(self._digest.hexdigest())

    def sync(self) -> None:
        """Everything written is on the disk when this returns."""
        self._file.flush()
        if self._flush is not None:
            self._flush.exception()  # wait; a failed background flush is retried just below
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._drain()
        if self._flush is not None:
            self._flush.exception()
        self._hashing.shutdown()
        self._flushing.shutdown()
        self._file.close()

    def _drain(self) -> None:
        while self._hashes:
            self._hashes.popleft().result()
