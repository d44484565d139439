"""The moves CozyGen is making now, so the folder watcher neither races them nor reports them a second time.

A move (of files, or a folder's rename) holds its paths from before it touches the disk until its index rows are
committed. The watcher defers what it hears about a held path meanwhile; at the release, what was the move's own
doing (the rename events of the pairs it made) is dropped and anything else is handed back to the watcher to look
at again. Rename events that reach the watcher after the release (watchdog pairs inotify's two halves a little
late; the polling observer notices a second later) are recognized for ``LATE`` seconds and dropped, once each.
Destination names of the moves in flight are reserved, so two moves into one folder never plan the same name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

LATE = 30.0  # seconds a finished move's own rename events are still recognized
Noted = tuple[str, str, str | None]  # (root, path, moved to) as the watcher noted it


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
    """Rename events a finished move made, recognized until ``until``."""

    root: str
    until: float
    files: dict[str, str] = field(default_factory=dict)  # source -> destination, each dropped once
    folder: tuple[str, str] | None = None  # (old, new): every path under old moving to its place under new


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
        self, held: Hold, *, done: Mapping[str, str] | None = None, folder: tuple[str, str] | None = None
    ) -> list[Noted]:
        """End a hold. ``done`` (source -> destination) and ``folder`` (old, new) are the renames the move made
        and committed (None when it committed nothing); their events are dropped. Returns what the watcher should
        look at again."""
        with self._lock:
            if held in self._active:
                self._active.remove(held)
            if done or folder:
                self._echoes.append(_Echoes(held.root, self._clock() + LATE, dict(done or {}), folder))
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
        """Whether this is a finished move's own rename event (a file's is recognized once)."""
        if moved_to is None:
            return False
        for echoes in self._echoes:
            if echoes.root != root:
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
        self._echoes = [e for e in self._echoes if e.until > now and (e.files or e.folder)]
