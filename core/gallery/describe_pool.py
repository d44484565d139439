"""Describing files in helper processes, for the first scan of a large folder.

Reading PNG chunks, parsing prompt JSON and following graphs is CPU-bound Python:
one process manages about 9,000 files a second. A first scan of 100,000 images
hands that work to helper processes (plain ``python -c``, importing only CozyGen's
core, so nothing of ComfyUI is forked or re-imported) and keeps the database
writes in this process. Frames on the pipes are a 4-byte length and orjson.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import IO, Any

import orjson

from .. import helper_process
from .index import FILE_COLUMNS

log = logging.getLogger("cozygen")
PARTIAL_GRACE = 10.0  # seconds a PNG without IEND is given to finish (the watcher's)


Job = tuple[str, str, str, str, int, float, int]  # root, path, subfolder, filename, size, mtime, mtime_ns


def _write(stream: IO[bytes], payload: Any) -> None:
    data = orjson.dumps(payload)
    stream.write(len(data).to_bytes(4, "big") + data)
    stream.flush()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    """A worker's stdin or stdout (never None: both are pipes)."""
    assert stream is not None
    return stream


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError("the describe worker went away")
    return orjson.loads(stream.read(int.from_bytes(header, "big")))


def describe_jobs(jobs: Iterable[Job], *, fresh: bool = False) -> list[dict[str, Any] | None]:
    """The index row of each job. ``fresh`` (files that just arrived): None for a file gone (size -1) and for a
    PNG still being written (no IEND) less than ``PARTIAL_GRACE`` seconds after its last write."""
    from ..media.info import describe
    from ..media.pnginfo import png_complete

    rows: list[dict[str, Any] | None] = []
    now = time.time()
    for root, path, sub, name, size, mtime, mtime_ns in jobs:
        if fresh and (
            size < 0 or (name.lower().endswith(".png") and now - mtime < PARTIAL_GRACE and not png_complete(path))
        ):
            rows.append(None)
            continue
        st = SimpleNamespace(st_size=size, st_mtime=mtime, st_mtime_ns=mtime_ns)
        try:
            row = describe(root, path, sub, name, st)  # type: ignore[arg-type]
        except Exception:  # a file no reader foresaw: listed without what it could not tell
            log.exception("CozyGen: describing %s failed", path)
            row = describe(root, os.devnull, sub, name, st)  # type: ignore[arg-type]
        gone = row.get("width") is None and not os.path.lexists(path)  # between the listing and the reading
        rows.append(None if gone else row)
    return rows


def serve() -> None:
    """The worker's loop: a batch of jobs in, their index rows out, until stdin closes."""
    if len(sys.argv) > 2:
        os.nice(int(sys.argv[2]))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            request = _read(stdin)
        except EOFError:
            return
        rows = describe_jobs(request["jobs"], fresh=request["fresh"])  # None: gone, or (fresh) not finished
        _write(stdout, [None if row is None else [row.get(c) for c in FILE_COLUMNS] for row in rows])


class DescribePool:
    def __init__(self, workers: int, *, nice: int = 0) -> None:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self.processes = [
            subprocess.Popen(
                helper_process.command("gallery.describe_pool", str(nice)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(workers)
        ]

    def map(self, batches: Iterable[list[Job]], *, fresh: bool = False) -> Iterator[list[list[Any] | None]]:
        """Index rows (values in ``FILE_COLUMNS`` order; ``fresh`` as :func:`describe_jobs`) for each batch, in order.

        One batch per worker at a time (so no pipe fills both ways); the next batch is ready
        before a worker finishes, so it never waits for the caller.
        """
        source = iter(batches)
        idle: deque[subprocess.Popen[bytes]] = deque(self.processes)
        busy: deque[subprocess.Popen[bytes]] = deque()
        upcoming = next(source, None)
        while upcoming is not None or busy:
            while idle and upcoming is not None:
                process = idle.popleft()
                _write(_pipe(process.stdin), {"jobs": upcoming, "fresh": fresh})
                busy.append(process)
                upcoming = next(source, None)
            process = busy.popleft()
            rows = _read(_pipe(process.stdout))
            idle.append(process)
            if upcoming is not None:  # hand the waiting batch over before the caller takes its turn
                _write(_pipe(process.stdin), {"jobs": upcoming, "fresh": fresh})
                busy.append(idle.pop())
                upcoming = next(source, None)
            yield rows

    def close(self) -> None:
        for process in self.processes:
            try:
                _pipe(process.stdin).close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
            finally:
                _pipe(process.stdout).close()

    def __enter__(self) -> DescribePool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
