"""Keeping the gallery index equal to the folders: one scan at start, then a watcher.

The scan walks each root once in a worker thread, describes only files that are
new or changed since the index last saw them, and writes in batches. The watcher
(one watchdog observer for every root) collects file-system events, waits until
a path has been quiet for ``debounce`` seconds, then brings those paths up to
date and reports what changed. A PNG still being written (no IEND yet) waits: every
way a path can reach the index (created, modified, moved or renamed into place, inside
a folder moved in, over a name that was taken) hands such a file back to be looked at
again, until it is complete or ``PARTIAL_GRACE`` has passed since its last write.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..media.animated import animated_fields
from ..media.info import describe
from ..media.kinds import extension, is_hidden, kind_of
from ..media.pnginfo import png_complete
from ..store.db import Database
from . import index
from .bulk import BulkMode
from .describe_pool import PARTIAL_GRACE, DescribePool, Job, describe_jobs
from .holds import Holds, Noted
from .observe import observe

log = logging.getLogger("cozygen")
BATCH = 1000
POOL_MIN = 500  # files arriving within about ARRIVALS_WINDOW seconds from which they are described in helpers
ARRIVALS_WINDOW = 2.0
POOL_IDLE = 30.0  # seconds the watcher keeps its helper processes after the last use
HELPER_NICE = 5  # the helpers yield the CPU to ComfyUI's own process
WORKERS = max(1, min(4, os.cpu_count() or 1))
RESYNC_CHUNK = 20_000  # files handed to the arrivals path at a time when a root is looked at again


@dataclass(frozen=True)
class Change:
    """One file that appeared, changed, moved or went away (``row`` is the index row, before for deleted)."""

    kind: str  # created | modified | deleted | moved
    root: str
    row: dict[str, Any]
    previous: dict[str, Any] | None = None


@dataclass
class ScanReport:
    root: str
    files: int = 0
    described: int = 0
    removed: int = 0
    seconds: float = 0.0


def _relative(base: Path | str, path: str) -> str | None:
    prefix = os.path.join(base, "")
    if path.startswith(prefix) and os.sep + ".." not in path and "." + os.sep not in path:  # the usual: no work
        return path[len(prefix) :].rstrip(os.sep).replace(os.sep, "/")
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return None
    if rel == "." or rel.startswith(".."):
        return "" if rel == "." else None
    return rel.replace(os.sep, "/")


def storable(name: str) -> bool:
    """Whether a name can be indexed: a name that is not UTF-8 (its bytes kept as surrogates) cannot be stored
    in SQLite's text or sent as JSON, so such files are left out."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _regular_media(base: Path, rel: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(os.path.join(base, rel)).st_mode) and kind_of(rel) is not None
    except OSError:
        return False


def walk(base: Path) -> Iterator[tuple[str, os.DirEntry | None, float]]:
    """(subfolder, file entry or None for a folder, mtime) for every media file and folder under base.

    Symbolic links are not followed: the index never leads outside its root.
    """
    stack = [""]
    while stack:
        sub = stack.pop()
        try:
            with os.scandir(base / sub if sub else base) as entries:
                for entry in entries:
                    if not storable(entry.name):
                        continue  # not UTF-8: the index (and JSON) cannot hold the name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            path = f"{sub}/{entry.name}" if sub else entry.name
                            stack.append(path)
                            yield path, None, entry.stat(follow_symlinks=False).st_mtime
                        elif entry.is_file(follow_symlinks=False) and kind_of(entry.name):
                            yield sub, entry, 0.0
                    except OSError:
                        continue
        except OSError:
            continue


def scan(db: Database, root: str, base: Path, *, workers: int = 1) -> ScanReport:
    """Bring the index of one root up to date with the disk (blocking; run it in a thread).

    A first scan into an empty index describes files in ``workers`` helper processes and
    builds the listing indexes once at the end; later scans describe only what changed.
    """
    started, report = time.perf_counter(), ScanReport(root)
    if not base.is_dir():  # an unmounted drive must not wipe the index (and its ids)
        log.warning("CozyGen: %s folder %s is missing; its index is kept as it was", root, base)
        return report
    if db.read(index.bulk_unfinished):  # a first scan was cut short: finish what it left undone
        db.submit_write(index.finish_bulk).result()
    known_dirs = db.read(lambda conn: index.known_dirs(conn, root))
    unvisited = db.read(lambda conn: index.file_folders(conn, root))  # folders holding indexed files
    bulk = not unvisited and db.read(index.is_empty)
    seen_dirs: list[tuple[str, float, bool]] = []
    gone: list[tuple[str, str]] = []  # (subfolder, filename) indexed and no longer there
    # What the index holds of one folder at a time (a walk lists a folder's files together): memory follows the
    # largest folder, not the root (a million files' keys would be hundreds of MB).
    folder: list[Any] = [None, {}]

    def known_in(sub: str) -> dict[str, tuple[int, int]]:
        if folder[0] != sub:
            gone.extend((folder[0], name) for name in folder[1])  # none before the first folder
            unvisited.discard(sub)
            folder[:] = [sub, db.read(lambda conn: index.known_files_in(conn, root, sub)) if not bulk else {}]
        return folder[1]

    def jobs() -> Iterator[Job]:
        for sub, entry, mtime in walk(base):
            if entry is None:
                seen_dirs.append((sub, mtime, is_hidden(sub)))
                continue
            report.files += 1
            known = known_in(sub)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if known.pop(entry.name, None) == (st.st_mtime_ns, st.st_size):
                continue
            report.described += 1
            yield root, entry.path, sub, entry.name, st.st_size, st.st_mtime, st.st_mtime_ns

    if bulk:
        db.submit_write(index.start_bulk).result()
    try:
        pending: Future | None = None
        for rows in _described(_batches(jobs()), workers if bulk else 1):
            pending = _flush(db, pending, rows, bulk)
        if pending is not None:
            pending.result()
    finally:
        if bulk:
            db.submit_write(index.finish_bulk).result()
    gone.extend((folder[0], name) for name in folder[1])  # the last folder's leftovers
    for sub in sorted(unvisited):  # folders with indexed files that the walk did not find (or found empty)
        gone += [(sub, name) for name in db.read(functools.partial(index.known_files_in, root=root, subfolder=sub))]
    report.removed = len(gone)
    stale_dirs = known_dirs - {d[0] for d in seen_dirs}
    db.submit_write(lambda conn: _forget(conn, root, gone, seen_dirs, stale_dirs)).result()
    settle_animated(db, root, base)
    report.seconds = time.perf_counter() - started
    return report


def settle_animated(db: Database, root: str, base: Path) -> int:
    """Look at the GIFs and WebPs indexed before CozyGen knew what moves (``animated`` NULL, migration 17): a
    few files, read once; every file described since says it itself. Returns how many."""
    rows = db.read(
        lambda conn: conn.execute(
            "SELECT id, subfolder, filename FROM media WHERE root = ? AND animated IS NULL", (root,)
        ).fetchall()
    )
    found = [(r["id"], animated_fields(base / r["subfolder"] / r["filename"], r["filename"])) for r in rows]
    if found:
        db.submit_write(
            lambda conn: conn.executemany(
                "UPDATE media SET animated = ?, width = coalesce(width, ?), height = coalesce(height, ?) WHERE id = ?",
                [(f["animated"], f.get("width"), f.get("height"), row_id) for row_id, f in found],
            )
        ).result()
    return len(found)


def _batches(jobs: Iterator[Job]) -> Iterator[list[Job]]:
    batch: list[Job] = []
    for job in jobs:
        batch.append(job)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _described(batches: Iterator[list[Job]], workers: int) -> Iterator[list[Any]]:
    """Index rows for each batch: in helper processes when asked and possible, else here."""
    if workers > 1:
        try:
            pool = DescribePool(workers)
        except OSError as exc:
            log.warning("CozyGen: no helper processes for the scan (%s); describing in-process", exc)
        else:
            with pool:
                yield from pool.map(batches)
            return
    for batch in batches:
        yield describe_jobs(batch)


def _flush(db: Database, pending: Future | None, rows: list[Any], bulk: bool) -> Future | None:
    """Hand a batch to the writer; describe the next one while it writes (at most one waits)."""
    if pending is not None:
        pending.result()
    rows = [row for row in rows if row is not None]  # None: a file gone since it was listed
    if not rows:
        return None
    rows.sort(key=_key)  # in the unique key's order: the indexes' pages are met in turn
    return db.submit_write(lambda conn: (index.insert_new_files if bulk else index.upsert_files)(conn, rows))


def _join(subfolder: str, name: str) -> str:
    return f"{subfolder}/{name}" if subfolder else name


def _key(row: dict[str, Any] | list[Any]) -> tuple[str, str, str]:
    """A described row's (root, subfolder, filename)."""
    values = index.row_values(row)
    return values[0], values[1], values[2]


def _forget(conn: Any, root: str, gone: list[tuple[str, str]], dirs: list, stale_dirs: set[str]) -> None:
    for sub, name in gone:
        index.remove_file(conn, root, sub, name)
    index.upsert_dirs(conn, root, dirs)
    index.remove_dirs(conn, root, stale_dirs)


# -- applying individual paths ---------------------------------------------------------
def sync_path(
    conn: Any, root: str, base: Path, rel: str, *, walked: list[tuple[str, str]] | None = None
) -> tuple[list[Change], list[str]]:
    """Bring one path's rows up to date (a folder: everything in it). Returns the changes and the paths to look
    at again later (PNGs still being written). With ``walked``, the files of a folder are not described here:
    their (root, path) go there, for the caller to describe outside the writer."""
    path = base / rel
    sub, _, name = rel.rpartition("/")
    try:
        st = path.lstat()
    except OSError:
        st = None
    if st is not None and path.is_dir() and not path.is_symlink():
        index.upsert_dirs(conn, root, [(rel, st.st_mtime, is_hidden(rel))])
        changes, again = [], []
        for child_sub, entry, mtime in walk(path):  # a folder moved or copied in
            child_rel = f"{rel}/{child_sub}" if child_sub else rel
            if entry is None:
                index.upsert_dirs(conn, root, [(child_rel, mtime, is_hidden(child_rel))])
            elif walked is not None:
                walked.append((root, f"{child_rel}/{entry.name}"))
            else:
                found, later = sync_path(conn, root, base, f"{child_rel}/{entry.name}")
                changes += found
                again += later
        return changes, again
    old = index.find_file(conn, root, sub, name)
    if st is None or not path.is_file() or path.is_symlink() or not kind_of(name):
        changes = [Change("deleted", root, dict(old))] if old is not None else []
        if st is None:
            changes += [Change("deleted", root, dict(r)) for r in index.remove_tree(conn, root, rel)]
            index.remove_dirs(conn, root, [rel])
        if old is not None:
            index.remove_file(conn, root, sub, name)
        return changes, []
    if old is not None and (old["mtime_ns"], old["size"]) == (st.st_mtime_ns, st.st_size):
        return [], []
    if extension(name) == "png" and not png_complete(path) and time.time() - st.st_mtime < PARTIAL_GRACE:
        return [], [rel]
    _ensure_folders(conn, root, base, sub)
    index.upsert_files(conn, [describe(root, path, sub, name, st)])
    stored = index.find_file(conn, root, sub, name)
    assert stored is not None  # written just above, in this transaction
    row = dict(stored)
    return [Change("modified" if old is not None else "created", root, row)], []


def _ensure_folders(conn: Any, root: str, base: Path, sub: str) -> None:
    """Record a file's folders now, so a listing never shows a file in a folder it does not list."""
    parts = sub.split("/") if sub else []
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if not index.dir_exists(conn, root, folder):
            try:
                mtime = (base / folder).stat().st_mtime
            except OSError:
                return
            index.upsert_dirs(conn, root, [(folder, mtime, is_hidden(folder))])


def move_path(
    conn: Any, root: str, base: Path, src: str, dest: str, *, walked: list[tuple[str, str]] | None = None
) -> tuple[list[Change], list[str]]:
    """A file renamed inside a root keeps its id; anything else is a delete plus a create. Returns the changes
    and the paths to look at again later (as :func:`sync_path`, ``walked`` too)."""
    src_sub, _, src_name = src.rpartition("/")
    dest_sub, _, dest_name = dest.rpartition("/")
    old = index.find_file(conn, root, src_sub, src_name)
    target = base / dest
    taken = index.find_file(conn, root, dest_sub, dest_name) is not None
    if old is None or taken or target.is_symlink() or not target.is_file() or not kind_of(dest_name):
        gone, again = sync_path(conn, root, base, src, walked=walked)
        if walked is not None and _regular_media(base, dest):  # described by the caller, outside the writer
            walked.append((root, dest))
            return gone, again
        found, later = sync_path(conn, root, base, dest, walked=walked)
        return gone + found, again + later
    _ensure_folders(conn, root, base, dest_sub)
    conn.execute(
        "UPDATE media SET subfolder = ?, filename = ?, kind = ?, hidden = ? WHERE id = ?",
        (dest_sub, dest_name, kind_of(dest_name), int(is_hidden(dest_sub, dest_name)), old["id"]),
    )
    stored = index.get_file(conn, old["id"])
    assert stored is not None  # updated just above, in this transaction
    row = dict(stored)
    moved = [Change("moved", root, row, previous=dict(old))]
    try:
        st = target.lstat()
    except OSError:
        st = None
    if st is not None and (row["mtime_ns"], row["size"]) == (st.st_mtime_ns, st.st_size):
        return moved, []
    # written to since it was indexed (or still being written)
    changed, again = sync_path(conn, root, base, dest, walked=walked)
    return moved + changed, again


def _upsert_each_alone_if_need_be(conn: Any, rows: list[Any]) -> list[tuple[Any, Any]]:
    """``index.upsert_described`` of a batch; when it fails, row by row, so a file that fails costs only itself."""
    conn.execute("SAVEPOINT arrivals")
    try:
        return index.upsert_described(conn, rows)
    except Exception:
        conn.execute("ROLLBACK TO arrivals")
        done = []
        for row in rows:
            conn.execute("SAVEPOINT arrival")
            try:
                done += index.upsert_described(conn, [row])
            except Exception:
                conn.execute("ROLLBACK TO arrival")
                log.exception("CozyGen: indexing %s/%s/%s failed", *row[:3])
            conn.execute("RELEASE arrival")
        return done
    finally:
        conn.execute("RELEASE arrivals")


# -- the watcher ------------------------------------------------------------------------
@dataclass
class _Pending:
    due: float
    moved_to: str | None = None


@dataclass
class FolderWatcher:
    """One watchdog observer over every root; changes reach ``on_changes`` from the watcher's thread.

    Paths that CozyGen's own moves hold (``holds``, see holds.py) are left alone until the move is committed: the
    move updates their rows in place and announces them itself.
    """

    db: Database
    roots: dict[str, Path]
    on_changes: Callable[[list[Change]], None]
    debounce: float = 0.1
    holds: Holds | None = None
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _stopping: bool = False
    _observer: Any = None
    _thread: threading.Thread | None = None
    _real: dict[str, str] | None = None
    _pool: DescribePool | None = None
    _rescans: set[str] = field(default_factory=set)  # roots whose events were lost
    _arrivals: float = 0.0  # files arrived lately (decaying; see _busy)
    _arrivals_at: float = 0.0
    workers: int = WORKERS
    mode: str = "off"
    _bulk: BulkMode = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._bulk = BulkMode(self.db)  # a burst large against the index is written without its listing indexes

    def start(self) -> None:
        self._observer, self.mode = observe(self.roots.values(), self._note, self._lost)
        self._thread = threading.Thread(target=self._run, name="cozygen-gallery-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _locate(self, path: str) -> tuple[str, str] | None:
        if self._real is None:  # the folders the observer watches (resolved once: a bulk move is many events)
            self._real = {root: os.path.realpath(base) for root, base in self.roots.items()}
        for root, base in self._real.items():
            rel = _relative(base, path)
            if rel is not None:
                return root, rel
        return None

    def _note(self, src: str, dest: str | None) -> None:
        located = self._locate(src)
        target = self._locate(dest) if dest else None
        if located is not None and not storable(located[1]):
            located = None  # a name that is not UTF-8 (surrogate escapes): never indexed, never listed
        if target is not None and not storable(target[1]):
            target = None
        if located is not None and located[1] and self.holds is not None:
            moved_to = target[1] if target is not None and target[0] == located[0] else None
            if (target is None or target[0] == located[0]) and self.holds.defer(*located, moved_to):
                return  # a move of CozyGen's own (its thousands of renames never reach the writer)
        due = time.monotonic() + self.debounce
        with self._wake:
            idle = not self._pending
            if located is not None and located[1]:
                moved_to = target[1] if target is not None and target[0] == located[0] else None
                earlier = self._pending.pop(located, None)  # noted again: it falls due last (the dict's order)
                if earlier is not None and earlier.moved_to is not None and earlier.moved_to != moved_to:
                    # the same name used again (a writer's one temporary name): the earlier move still counts
                    self._pending.setdefault((located[0], earlier.moved_to), _Pending(due))
                self._pending[located] = _Pending(due, moved_to)
            if target is not None and target[1] and (located is None or target[0] != located[0]):
                self._pending.pop(target, None)
                self._pending[target] = _Pending(due)
            if idle:  # else the thread already waits for the first path due, which is due no later than this one
                self._wake.notify()

    def _lost(self, path: str) -> None:
        located = self._locate(path)
        if located is not None:
            with self._wake:
                self._rescans.add(located[0])
                self._wake.notify()

    def resync(self, root: str) -> None:
        """Bring a whole root up to date after events were lost. What appeared or changed goes through
        :meth:`_arrive` (``RESYNC_CHUNK`` files at a time); what went is found a folder at a time (as
        :func:`scan` does) and applied path by path. Every change is announced, as the events would have been."""
        log.warning("CozyGen: file events were lost; looking at the whole %s folder again", root)
        base = self.roots[root]
        unvisited = self.db.read(functools.partial(index.file_folders, root=root))
        known_dirs = self.db.read(functools.partial(index.known_dirs, root=root))
        keys: list[tuple[str, str]] = []
        gone: list[str] = []
        dirs: list[tuple[str, float, bool]] = []
        folder: list[Any] = [None, set()]  # the folder walked now and the names found in it

        def close_folder() -> None:
            if folder[0] is not None:
                known = self.db.read(functools.partial(index.known_files_in, root=root, subfolder=folder[0]))
                gone.extend(_join(folder[0], name) for name in known if name not in folder[1])

        for sub, entry, mtime in walk(base):
            if entry is None:
                dirs.append((sub, mtime, is_hidden(sub)))
                continue
            if sub != folder[0]:
                close_folder()
                folder[:] = [sub, set()]
                unvisited.discard(sub)
            folder[1].add(entry.name)
            keys.append((root, _join(sub, entry.name)))
            if len(keys) >= RESYNC_CHUNK:
                self._arrive(keys)
                keys = []
        close_folder()
        if keys:
            self._arrive(keys)
        for sub in sorted(unvisited):
            known = self.db.read(functools.partial(index.known_files_in, root=root, subfolder=sub))
            gone.extend(_join(sub, name) for name in known)
        stale = known_dirs - {d[0] for d in dirs}

        def folders(conn: Any) -> None:
            index.upsert_dirs(conn, root, dirs)
            index.remove_dirs(conn, root, stale)

        self.db.submit_write(folders).result()
        for start in range(0, len(gone), BATCH):
            chunk = [((root, rel), _Pending(0.0)) for rel in gone[start : start + BATCH]]
            changes, _ = self.db.submit_write(functools.partial(self._paths, due=chunk, walked=[])).result()
            if changes:
                self.on_changes(changes)

    def requeue(self, noted: list[Noted]) -> None:
        """Look again at paths a move held (what it did not do itself)."""
        if not noted:
            return
        due = time.monotonic() + self.debounce
        with self._wake:
            for root, rel, moved_to in noted:
                self._pending.setdefault((root, rel), _Pending(due, moved_to))  # one noted since is newer
            self._wake.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._stopping and not self._pending and not self._rescans:
                        if not self._wake.wait(POOL_IDLE if self._pool is not None else None):
                            self._close_pool()  # idle long enough: the helper processes go
                    if self._stopping:
                        return
                    rescans, self._rescans = self._rescans, set()
                    due = self._take_due(time.monotonic())
                    if not due and not rescans:  # something is pending (the loop above): wait until it is due
                        self._wake.wait(next(iter(self._pending.values())).due - time.monotonic())
                        continue
                for root in sorted(rescans):
                    try:
                        self.resync(root)
                    except Exception:
                        log.exception("CozyGen: looking at the %s folder again failed", root)
                try:
                    if due:
                        self._apply(due)
                    self._bulk.settle(len(self._pending))
                except Exception:  # never let one bad path stop the watcher
                    log.exception("CozyGen: updating the gallery index failed")
        finally:
            self._close_pool()

    def _take_due(self, now: float) -> dict[tuple[str, str], _Pending]:
        """The paths due now, taken off the pending ones (called holding ``_wake``).

        Paths wait in the order they fall due (a path noted again moves to the end), so this reads only the due
        ones and the first that is not: a burst of 100,000 events costs each wake what it takes, not the whole set.
        A path handed back later than one noted after it waits at most that difference longer."""
        due: dict[tuple[str, str], _Pending] = {}
        for key, pending in self._pending.items():
            if pending.due > now:
                break
            due[key] = pending
        for key in due:
            del self._pending[key]
        return due

    def _apply(self, due: dict[tuple[str, str], _Pending]) -> None:
        """Bring the due paths up to date. Files that appeared or changed (and the files of folders that appeared)
        are described outside the writer and written in batches (:meth:`_arrive`); everything else (moves,
        deletions, folders) is applied path by path in the writer, a batch per transaction."""
        files: list[tuple[str, str]] = []
        rest: list[tuple[tuple[str, str], _Pending]] = []
        for key, pending in sorted(due.items()):
            if pending.moved_to is None and _regular_media(self.roots[key[0]], key[1]):
                files.append(key)
            else:
                rest.append((key, pending))
        for start in range(0, len(rest), BATCH):
            walked: list[tuple[str, str]] = []
            changes, retry = self.db.submit_write(
                functools.partial(self._paths, due=rest[start : start + BATCH], walked=walked)
            ).result()
            self._again(retry)
            if changes:
                self.on_changes(changes)
            files += walked
        if files:
            self._arrive(files)

    def _paths(
        self, conn: Any, due: list[tuple[tuple[str, str], _Pending]], walked: list[tuple[str, str]]
    ) -> tuple[list[Change], list[tuple[str, str]]]:
        """Apply paths one by one in the writer; the files of folders that appeared go to ``walked``."""
        changes, retry = [], []
        for (root, rel), pending in due:
            if self.holds is not None and self.holds.defer(root, rel, pending.moved_to):
                continue  # a move of CozyGen's holds it (asked in the writer: after its journal, before its commit)
            conn.execute("SAVEPOINT watched_path")  # one path that fails costs only itself
            try:
                if pending.moved_to is not None:
                    found, again = move_path(conn, root, self.roots[root], rel, pending.moved_to, walked=walked)
                else:
                    found, again = sync_path(conn, root, self.roots[root], rel, walked=walked)
            except Exception:
                conn.execute("ROLLBACK TO watched_path")
                conn.execute("RELEASE watched_path")
                log.exception("CozyGen: updating the gallery index for %s/%s failed", root, rel)
                continue
            conn.execute("RELEASE watched_path")
            changes += found
            retry += [(root, later) for later in again]
        return changes, retry

    def _again(self, retry: list[tuple[str, str]]) -> None:
        if retry:
            with self._wake:
                for key in retry:
                    self._pending.setdefault(key, _Pending(time.monotonic() + 0.25))

    def _arrive(self, keys: list[tuple[str, str]]) -> None:
        """Index files that appeared or changed: described outside the writer (in helper processes when there are
        many), then written ``BATCH`` at a time, each batch in its own short transaction, announced as it commits.

        A file changed again since it was described is looked at again rather than recorded stale; one gone is
        forgotten; a PNG still being written is looked at again later, as :func:`sync_path` does.
        """
        keys = list(dict.fromkeys(keys))  # a file heard of itself and walked with its new folder: once
        self._bulk.consider(len(keys) + len(self._pending))
        batches: deque[list[Job]] = deque()
        helpers = self._busy(len(keys))
        # a burst that trickles in (a copy: a few hundred files a wake) is shared among the helpers too
        size = min(BATCH, max(50, -(-len(keys) // self.workers))) if helpers else BATCH

        def jobs() -> Iterator[list[Job]]:
            for start in range(0, len(keys), size):
                batch = self._unindexed(keys[start : start + size])
                if batch:
                    batches.append(batch)
                    yield batch

        pending: Future | None = None
        try:
            for rows in self._describe(jobs(), helpers):
                batch = batches.popleft()
                if pending is not None:
                    self._written(pending)
                pending = self.db.submit_write(functools.partial(self._write_arrivals, jobs=batch, rows=rows))
        except BaseException:
            self._close_pool()  # batches may be left in its pipes: the next burst starts afresh
            raise
        if pending is not None:
            self._written(pending)

    def _written(self, pending: Future) -> None:
        changes, retry = pending.result()
        self._again(retry)
        if changes:
            self.on_changes(changes)

    def _unindexed(self, keys: list[tuple[str, str]]) -> list[Job]:
        """Describe jobs for the files among ``keys`` that the index does not already hold as they are."""
        found = []
        for root, rel in keys:
            path = os.path.join(self.roots[root], rel)
            try:
                st = os.lstat(path)
            except OSError:
                st = None  # gone already: the writer forgets it
            sub, _, name = rel.rpartition("/")
            if st is None:
                found.append((root, path, sub, name, -1, 0.0, -1))
            elif stat.S_ISREG(st.st_mode):
                found.append((root, path, sub, name, st.st_size, st.st_mtime, st.st_mtime_ns))
        known = self.db.read(lambda conn: index.stamps(conn, [(j[0], j[2], j[3]) for j in found]))
        return [j for j, stamp in zip(found, known, strict=True) if stamp != (j[6], j[4]) or j[4] < 0]

    def _busy(self, count: int) -> bool:
        """Whether ``count`` more files make a burst for the helper processes: ``POOL_MIN`` or more arrived over
        the last seconds (a decaying count), not only in this wake."""
        now = time.monotonic()
        self._arrivals = self._arrivals * math.exp((self._arrivals_at - now) / ARRIVALS_WINDOW) + count
        self._arrivals_at = now
        return self.workers > 1 and count > 1 and self._arrivals >= POOL_MIN

    def _describe(self, batches: Iterator[list[Job]], helpers: bool) -> Iterator[list[Any]]:
        """Index rows (``FILE_COLUMNS`` values; None for a PNG still being written) for each batch of jobs."""
        first = next(batches, None)
        if first is None:
            return
        batches = itertools.chain([first], batches)
        if helpers:
            pool = self._open_pool()
            if pool is not None:
                try:
                    yield from pool.map(batches, fresh=True)
                    return
                except (OSError, EOFError, ValueError) as exc:  # a helper went away: finish here
                    log.warning("CozyGen: the describe helpers failed (%s); describing in-process", exc)
                    self._close_pool()
        for batch in batches:
            yield [None if row is None else index.row_values(row) for row in describe_jobs(batch, fresh=True)]

    def _open_pool(self) -> DescribePool | None:
        if self._pool is None:
            try:
                self._pool = DescribePool(self.workers, nice=HELPER_NICE)
            except OSError as exc:
                log.warning("CozyGen: no helper processes for the watcher (%s); describing in-process", exc)
        return self._pool

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _write_arrivals(
        self, conn: Any, jobs: list[Job], rows: list[Any]
    ) -> tuple[list[Change], list[tuple[str, str]]]:
        """One batch of described files into the index (in the writer)."""
        changes: list[Change] = []
        retry: list[tuple[str, str]] = []
        ready: list[Any] = []
        folders: set[tuple[str, str]] = set()
        for job, row in zip(jobs, rows, strict=True):
            root, path, sub, name, size, _mtime, mtime_ns = job
            rel = f"{sub}/{name}" if sub else name
            if self.holds is not None and self.holds.defer(root, rel, None):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                st = None
            if st is None or size < 0 or not stat.S_ISREG(st.st_mode):  # gone, or no longer a file
                changes += self._paths(conn, [((root, rel), _Pending(0.0))], [])[0]
                continue
            if row is None or (st.st_mtime_ns, st.st_size) != (mtime_ns, size):
                retry.append((root, rel))  # still being written, or written again since it was described
                continue
            if (root, sub) not in folders:
                folders.add((root, sub))
                _ensure_folders(conn, root, self.roots[root], sub)
            ready.append(row)
        ready.sort(key=_key)  # in the unique key's order: the indexes' pages are met in turn (4x faster)
        for new, old in _upsert_each_alone_if_need_be(conn, ready):
            changes.append(Change("modified" if old is not None else "created", new["root"], dict(new)))
        return changes, retry
