"""Building the tag lists' index, in stages, in a helper process or in the caller's thread.

Reading and sorting 140,000 tags is a second of pure Python that holds the GIL in long stretches (one
``sorted`` call alone, 100 ms); in a thread of ComfyUI's process it would stall the event loop that long. So
large lists are built by a helper process (plain ``python -c``, importing only ``core.tags``) that writes
each stage to the cache file and says so on its stdout: ``prefix`` (tags ranked and in name order, enough
for prefix answers) then ``full`` (with word starts and aliases). Small lists, or a machine where the
process cannot start, are built in a thread with :func:`stages`.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from .. import helper_process
from . import cache
from .lists import Parsed, read_folder
from .table import prefix_columns, word_columns

PREFIX, FULL = "prefix", "full"
T = TypeVar("T")


def _quietly(work: Callable[[], T]) -> T:
    """Hundreds of thousands of new objects, none of them cyclic: the collector would only slow this."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return work()
    finally:
        if collecting:
            gc.enable()


def stages(folder: Path) -> Iterator[cache.Saved]:
    """The lists in ``folder`` indexed: prefix-only columns first, then the full ones (blocking)."""

    def read() -> Parsed:
        parsed = read_folder(folder)
        parsed.at.clear()  # not needed to index: free it before the index's own name map is made
        return parsed

    parsed = _quietly(read)
    prefix, rank = _quietly(lambda: prefix_columns(parsed))
    yield cache.Saved(prefix, False, parsed.files)
    yield cache.Saved(_quietly(lambda: word_columns(parsed, prefix, rank)), True, parsed.files)


def build(folder: Path, path: Path, key: str, report: Callable[[str], None]) -> None:
    """Save each stage of the index of ``folder`` to ``path`` under ``key`` and report it."""
    for saved in stages(folder):
        cache.save(path, saved.columns, key=key, complete=saved.complete, files=saved.files)
        report(FULL if saved.complete else PREFIX)


def serve() -> None:
    """The helper process (``helper_process.command``): ``<folder> <cache file> <key>`` after the package root."""
    folder, path, key = sys.argv[2:5]

    def report(stage: str) -> None:
        sys.stdout.write(stage + "\n")
        sys.stdout.flush()

    build(Path(folder), Path(path), key, report)


class Worker:
    """One helper process building the index of ``folder`` into ``path``; its stages are read with
    :meth:`next_stage` (blocking: call it in a thread)."""

    def __init__(self, folder: Path, path: Path, key: str) -> None:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            helper_process.command("tags.build", str(folder), str(path), key),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
        )

    def _stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def next_stage(self) -> str | None:
        """``prefix`` or ``full`` once that stage is saved; None when the process ended (done or failed)."""
        line = self._stdout().readline().decode("ascii", "replace").strip()
        if line in (PREFIX, FULL):
            return line
        self.process.wait()
        self._stdout().close()
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stdout().close()
