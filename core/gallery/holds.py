"""The moves CozyGen is making now, so the folder watcher neither races them nor reports them a second time.

A move (of files, or a folder's rename) holds its paths from before it touches the disk until its index rows are
committed. The watcher defers what it hears about a held path meanwhile; at the release, what was the move's own
doing is dropped and anything else is handed back to the watcher to look at again. The move's own doing is a
rename event of a pair it made (dropped once), or an event on one of its paths that the index already tells: a
source that is gone, a destination still holding the moved file unchanged (looked at on disk, so a file put there
since is never missed). Events that reach the watcher after the release (watchdog pairs inotify's rename halves a
little late; the polling observer notices a second later) are recognized so for ``LATE`` seconds.
Destination names of the moves in flight are reserved, so two moves into one folder never plan the same name.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

LATE = 30.0  # seconds a finished move's own rename events are still recognized
Noted = tuple[str, str, str | None]  # (root, path, moved to) as the watcher noted it
Stamp = tuple[int, int]  # (mtime_ns, size) of a moved file, as its index row has it


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


@dataclass(eq=False)
class Hold:
    """The paths of one move in flight (all relative to one root)."""

    root: str
    paths: set[str] = field(default_factory=set)  # exact paths: sources and planned destinations
    children_of: set[str] = field(default_factory=set)  # folders whose direct children are held
    trees: set[str] = field(default_factory=set)  # folders held with everything under them

    def covers(self, root: str, path: str) -> bool:
        if root != self.root:
            return False
        if path in self.paths or _parent(path) in self.children_of:
            return True
        return any(_under(path, tree) for tree in self.trees)


@dataclass
class _Echoes:
    """What a finished move did, recognized until ``until``."""

    root: str
    base: str  # the root's folder on disk
    until: float
    files: dict[str, str] = field(default_factory=dict)  # source -> destination: its rename event, dropped once
    stamps: dict[str, Stamp] = field(default_factory=dict)  # destination -> the moved file's stamp
    folder: tuple[str, str] | None = None  # (old, new): every path under old moving to its place under new

    def settled(self, path: str) -> bool:
        """Whether an event on ``path`` (a source or a destination of this move) tells nothing the index does not:
        the source is gone, or the destination holds the moved file as it was."""
        stamp = self.stamps.get(path)
        if stamp is None and path not in self.files:
            return False
        try:
            st = os.lstat(os.path.join(self.base, path))
        except OSError:
            return stamp is None
        return stamp is not None and stat.S_ISREG(st.st_mode) and (st.st_mtime_ns, st.st_size) == stamp


class Holds:
    """Thread-safe: moves hold and release from their threads, the watcher asks from the database writer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active: list[Hold] = []
        self._deferred: list[Noted] = []
        self._echoes: list[_Echoes] = []

    def hold(
        self,
        root: str,
        *,
        paths: Iterable[str] = (),
        children_of: Iterable[str] = (),
        trees: Iterable[str] = (),
    ) -> Hold:
        held = Hold(root, set(paths), set(children_of), set(trees))
        with self._lock:
            self._active.append(held)
        return held

    def reserved(self, root: str, folder: str) -> set[str]:
        """Names in ``folder`` that moves in flight hold (their planned destinations)."""
        with self._lock:
            return {
                p.rpartition("/")[2] for h in self._active if h.root == root for p in h.paths if _parent(p) == folder
            }

    def defer(self, root: str, path: str, moved_to: str | None) -> bool:
        """Whether the watcher should leave this path alone now: a held path (kept, handed back at the release)
        or a finished move's own rename event (dropped)."""
        with self._lock:
            self._expire()
            if self._echo(root, path, moved_to):
                return True
            if any(h.covers(root, path) or (moved_to is not None and h.covers(root, moved_to)) for h in self._active):
                self._deferred.append((root, path, moved_to))
                return True
        return False

    def release(
        self,
        held: Hold,
        *,
        base: str = "",
        done: Mapping[str, str] | None = None,
        stamps: Mapping[str, Stamp] | None = None,
        folder: tuple[str, str] | None = None,
    ) -> list[Noted]:
        """End a hold. ``done`` (source -> destination, with each destination's ``stamps``) and ``folder`` (old,
        new) are what the move did and committed (None when it committed nothing), under the root's folder
        ``base``: their events are dropped. Returns what the watcher should look at again."""
        with self._lock:
            if held in self._active:
                self._active.remove(held)
            if done or folder:
                until = self._clock() + LATE
                self._echoes.append(_Echoes(held.root, base, until, dict(done or {}), dict(stamps or {}), folder))
            kept: list[Noted] = []
            again: list[Noted] = []
            for noted in self._deferred:
                root, path, moved_to = noted
                if any(
                    h.covers(root, path) or (moved_to is not None and h.covers(root, moved_to)) for h in self._active
                ):
                    kept.append(noted)
                elif not self._echo(root, path, moved_to):
                    again.append(noted)
            self._deferred = kept
            return again

    def _echo(self, root: str, path: str, moved_to: str | None) -> bool:
        """Whether this is a finished move's own doing (a file's rename event is recognized once)."""
        for echoes in self._echoes:
            if echoes.root != root:
                continue
            if moved_to is None:
                if echoes.settled(path):
                    return True
                continue
            if echoes.files.get(path) == moved_to:
                del echoes.files[path]
                return True
            if echoes.folder is not None:
                old, new = echoes.folder
                if _under(path, old) and moved_to == new + path[len(old) :]:
                    return True
        return False

    def _expire(self) -> None:
        now = self._clock()
        self._echoes = [e for e in self._echoes if e.until > now and (e.files or e.stamps or e.folder)]
