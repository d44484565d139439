"""The gallery service: the index of the output and input folders, kept current, with a trash.

It owns the scan and the watcher, answers listings from the index, moves deleted
files to a trash folder in the data directory (restorable), and publishes every
change on an ``EventHub`` as the item the gallery lists. Blocking work runs in
threads; the async methods are safe to call from the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..errors import BadRequest, Conflict, NotFound
from ..events import EventHub
from ..graph.summary import seed_meta
from ..store.db import Database
from . import bulk, index, marks
from .holds import Holds
from .moves import Moves
from .place import copy_to_free_name, move_to_free_name, remove_abandoned
from .sync import Change, FolderWatcher, ScanReport, scan, sync_path

log = logging.getLogger("cozygen")
TRASH_DAYS = 30
SCAN_WORKERS = max(1, min(4, os.cpu_count() or 1))  # helper processes for a first scan
LIVE_CHANGES = 500  # changes announced one by one; a larger batch is announced as one reload
BURST_EVERY = 1.0  # seconds between two reloads announced during a burst
NAME_MAX = 255  # bytes in one file name (Linux, macOS); a prefixed copy of a long name must still fit


def item(row: Any, *, include_meta: bool = False) -> dict[str, Any]:
    """A file as the seed gallery lists it (plus its stable ``id``)."""
    body = {
        "filename": row["filename"],
        "type": row["root"],
        "subfolder": row["subfolder"],
        "mtime": row["mtime"],
        "id": row["id"],
    }
    if include_meta and row["has_prompt"]:
        summary = orjson.loads(row["summary"]) if row["summary"] else {}
        body["meta"] = seed_meta(summary)
    return body


def directory_item(row: Any, preview: list[Any] | None = None) -> dict[str, Any]:
    """A folder as the seed gallery lists it; with ``preview``, also the refs of its newest images."""
    body = {"filename": row["name"], "type": "directory", "subfolder": row["path"], "mtime": row["mtime"]}
    if preview is not None:
        body["preview"] = [item(r) for r in preview]
    return body


class Gallery:
    def __init__(self, db: Database, roots: dict[str, Path], data_dir: Path, hub: EventHub) -> None:
        self.db, self.roots, self.hub = db, {k: Path(v) for k, v in roots.items()}, hub
        self.trash_dir = data_dir / "trash"
        self.holds = Holds()  # paths CozyGen's own moves hold: the watcher leaves them to the move
        self.watcher = FolderWatcher(db, self.roots, self._changed, holds=self.holds)
        self.moves = Moves(self, self._changed)  # folders and moves (moves.py)
        self.scans: dict[str, ScanReport] = {}
        self.ready = threading.Event()
        self._generation = 0
        self._counts: dict[Any, int] = {}
        self._burst_lock = threading.Lock()
        self._burst_timer: threading.Timer | None = None
        self._burst_last = 0.0

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Clear what a killed upload or copy left, watch (nothing is missed), then scan in a thread; the
        server answers meanwhile. Called at start, before the server takes requests."""
        for base in self.roots.values():
            removed = remove_abandoned(base)
            if removed:
                log.info("CozyGen: removed %d partial file(s) a stopped upload or copy left in %s", len(removed), base)
        try:
            self.moves.recover()  # a move a kill cut short: the index follows the disk, ids kept
        except Exception:
            log.exception("CozyGen: finishing an interrupted move failed; the scan brings the index up to date")
        self.watcher.start()
        threading.Thread(target=self._initial_scan, name="cozygen-gallery-scan", daemon=True).start()

    def _initial_scan(self) -> None:
        try:
            bulk.repair(self.db)  # listing indexes a killed bulk indexing left dropped
            for root, base in self.roots.items():
                report = scan(self.db, root, base, workers=SCAN_WORKERS)
                self.scans[root] = report
                log.info(
                    "CozyGen: indexed %d %s files in %.1f s (%d read, %d gone)",
                    report.files,
                    root,
                    report.seconds,
                    report.described,
                    report.removed,
                )
            self.reconcile_trash()
            self.purge_trash()
        except Exception:
            log.exception("CozyGen: the gallery scan failed")
        finally:
            self._invalidate()
            self.ready.set()
            self.hub.publish("reindexed", {"event": "reindexed"})

    def stop(self) -> None:
        self.watcher.stop()

    def status(self) -> dict[str, Any]:
        return {
            "indexed": self.ready.is_set(),
            "watcher": self.watcher.mode,
            "scans": {r: vars(s) for r, s in self.scans.items()},
        }

    # -- change feed ------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._generation += 1
        self._counts.clear()

    def forget_counts(self) -> None:
        """Marks changed: the counts cached for listings that filter by them are stale."""
        self._invalidate()

    def _changed(self, changes: list[Change]) -> None:
        self._invalidate()
        if len(changes) > LIVE_CHANGES:  # a burst (a restored backup): one reload beats thousands of events
            self._burst()
            return
        for change in changes:
            data = {
                "event": change.kind,
                "type": change.root,
                "subfolder": change.row["subfolder"],
                "mtime": change.row["mtime"],
                "item": item(change.row, include_meta=True),
                "prompt_id": change.row["prompt_id"] if "prompt_id" in change.row.keys() else None,
            }
            if change.previous is not None:
                data["from"] = item(change.previous)
            self.hub.publish(f"file.{change.kind}", data)

    def _burst(self) -> None:
        """Tell the streams to reload (``reset``), at most once per ``BURST_EVERY`` seconds and once more after
        the last batch of a burst, so the app's listing and counts end exact."""
        with self._burst_lock:
            if self._burst_timer is not None:
                return  # one is already due: it will tell of this batch too
            delay = max(0.0, self._burst_last + BURST_EVERY - time.monotonic())
            self._burst_timer = threading.Timer(delay, self._burst_publish)
            self._burst_timer.daemon = True
            self._burst_timer.start()

    def _burst_publish(self) -> None:
        with self._burst_lock:
            self._burst_timer, self._burst_last = None, time.monotonic()
        self._invalidate()
        self.hub.publish("reset", {"event": "reset"})

    # -- reads ------------------------------------------------------------------------
    async def count(self, query: index.FileQuery) -> int:
        key = (self._generation, query)
        if key not in self._counts:
            self._counts[key] = await self.db.execute_fn(lambda conn: index.count_files(conn, query))
        return self._counts[key]

    async def get(self, file_id: int) -> Any:
        row = await self.db.execute_fn(lambda conn: index.get_file(conn, file_id))
        if row is None:
            raise NotFound(f"no image with id {file_id}", code="IMAGE_NOT_FOUND")
        return row

    async def find(self, root: str, subfolder: str, filename: str) -> Any:
        return await self.db.execute_fn(lambda conn: index.find_file(conn, root, subfolder, filename))

    async def find_or_index(self, root: str, subfolder: str, filename: str) -> Any:
        """The file's row, indexing it now when the watcher has not yet (a file just written)."""
        row = await self.find(root, subfolder, filename)
        return row if row is not None else await self.refresh(root, subfolder, filename)

    async def rows_of(self, images: list[dict[str, Any]]) -> list[Any]:
        """Index rows of saved outputs as ComfyUI lists them ({filename, subfolder, type}), in order."""
        rows = []
        for image in images:
            root, subfolder = image.get("type") or "output", image.get("subfolder") or ""
            if root in self.roots:
                row = await self.find_or_index(root, subfolder, image["filename"])
                if row is not None:
                    rows.append(row)
        return rows

    def path_of(self, row: Any) -> Path:
        base = self.roots[row["root"]]
        return base / row["subfolder"] / row["filename"] if row["subfolder"] else base / row["filename"]

    async def refresh(self, root: str, subfolder: str, filename: str) -> Any:
        """Index one file now (after CozyGen itself wrote it) and announce it; its row."""
        rel = f"{subfolder}/{filename}" if subfolder else filename
        changes, _ = await self.db.execute_write_fn(lambda conn: sync_path(conn, root, self.roots[root], rel))
        if changes:
            self._changed(changes)
        return await self.find(root, subfolder, filename)

    # -- trash ------------------------------------------------------------------------
    async def trash(self, rows: list[Any], *, by: str | None = None) -> tuple[str, list[str], list[str]]:
        """Move files to the trash: (batch id, trash ids, errors). Rows leave the index at once.

        The trash rows are committed before any file moves (and dropped for a file that did not), so a process
        killed among the moves leaves every moved file restorable; ``reconcile_trash`` at the next start drops
        the rows of files that never left."""
        batch = uuid.uuid4().hex[:12]
        planned = []
        for row in rows:
            trash_id = uuid.uuid4().hex[:16]
            planned.append((trash_id, row, f"{batch}/{prefixed(f'{trash_id}_', row['filename'])}"))
        now = time.time()

        def ahead(conn: Any) -> None:
            kept = marks.snapshot(conn, [r["id"] for _, r, _ in planned])  # a restored file gets them back
            conn.executemany(
                "INSERT INTO trash(id, batch, root, subfolder, filename, stored, size, deleted_at, deleted_by, "
                "marks_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        tid,
                        batch,
                        r["root"],
                        r["subfolder"],
                        r["filename"],
                        stored,
                        r["size"],
                        now,
                        by,
                        kept.get(r["id"]),
                    )
                    for tid, r, stored in planned
                ],
            )

        await self.db.execute_write_fn(ahead)
        moved, vanished, errors = await asyncio.to_thread(self._move_to_trash, batch, planned)
        kept = {tid for tid, _, _ in moved}

        def record(conn: Any) -> list[Change]:
            conn.executemany("DELETE FROM trash WHERE id = ?", [(t,) for t, _, _ in planned if t not in kept])
            changes = []
            for row in [*vanished, *(r for _, r, _ in moved)]:
                if index.remove_file(conn, row["root"], row["subfolder"], row["filename"]) is not None:
                    changes.append(Change("deleted", row["root"], dict(row)))
            return changes

        changes = await self.db.execute_write_fn(record)
        self._changed(changes)
        return batch, [m[0] for m in moved], errors

    def _move_to_trash(
        self, batch: str, planned: list[tuple[str, Any, str]]
    ) -> tuple[list[tuple[str, Any, str]], list[Any], list[str]]:
        """(moved as (trash id, row, stored path), rows whose file was already gone, errors)."""
        folder = self.trash_dir / batch
        moved, errors, vanished = [], [], []
        for trash_id, row, stored in planned:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                shutil.move(self.path_of(row), self.trash_dir / stored)
            except FileNotFoundError:
                vanished.append(row)  # already gone: nothing to keep, but the row goes
                continue
            except OSError as exc:
                errors.append(f"{row['subfolder']}/{row['filename']}: {exc.strerror or exc}")
                continue
            moved.append((trash_id, row, stored))
        return moved, vanished, errors

    async def trash_list(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.db.execute(
            "SELECT id, batch, root AS type, subfolder, filename, size, deleted_at, deleted_by FROM trash "
            "ORDER BY deleted_at DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    async def restore(
        self, *, ids: list[str] | None = None, batch: str | None = None, deleted_by: str | None = None
    ) -> list[dict[str, Any]]:
        """Put trashed files back where they were (a taken name gets a ' (restored)' suffix); with
        ``deleted_by``, only what that user deleted."""
        if not ids and not batch:
            raise BadRequest('send {"ids": [...]} or {"batch": "..."} from a delete answer', code="NOTHING_TO_RESTORE")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
            raise BadRequest("ids must be a list of trash ids (strings)", code="INVALID_IDS")
        if batch is not None and not isinstance(batch, str):
            raise BadRequest("batch must be a string", code="INVALID_BATCH")
        if batch:
            sql, params = "batch = ?", [batch]
        else:
            assert ids is not None  # ids or batch, checked above
            sql, params = f"id IN ({','.join('?' * len(ids))})", list(ids)
        if deleted_by is not None:
            sql, params = f"({sql}) AND deleted_by = ?", [*params, deleted_by]
        rows = [dict(r) for r in await self.db.execute(f"SELECT * FROM trash WHERE {sql}", params)]
        if not rows:
            raise NotFound("nothing in the trash matches; it may have been restored or purged", code="NOT_IN_TRASH")
        placed = await asyncio.to_thread(self._move_back, rows)
        restored, now = [], time.time()
        for row, name in placed:
            await self.db.execute_write("DELETE FROM trash WHERE id = ?", (row["id"],))
            indexed = await self.refresh(row["root"], row["subfolder"], name)
            if indexed is not None:
                if row.get("marks_json"):
                    back = functools.partial(marks.restore, media_id=indexed["id"], saved=row["marks_json"], now=now)
                    await self.db.execute_write_fn(back)
                    self.forget_counts()
                restored.append(item(indexed))
        return restored

    def _move_back(self, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        """Move trashed files back; a name is claimed on the file system as the file takes it, so restores at
        the same moment (of same-named files, or of the same one) never overwrite a file."""
        placed = []
        for row in rows:
            folder = self.roots[row["root"]] / row["subfolder"]
            source = self.trash_dir / row["stored"]
            if not source.exists():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            try:
                name = move_to_free_name(source, folder, restored_names(row["filename"]))
            except FileNotFoundError:
                continue  # restored by another request meanwhile
            placed.append((row, name))
            try:
                source.parent.rmdir()
            except OSError:
                pass
        return placed

    def reconcile_trash(self) -> int:
        """Drop the trash rows whose file is not in the trash (a process killed while moving files there: the
        rows are written first); returns how many."""
        rows = self.db.read(lambda conn: conn.execute("SELECT id, stored FROM trash").fetchall())
        missing = [(row["id"],) for row in rows if not os.path.lexists(self.trash_dir / row["stored"])]
        if missing:
            self.db.submit_write(lambda conn: conn.executemany("DELETE FROM trash WHERE id = ?", missing)).result()
        return len(missing)

    def purge_trash(self, days: float = TRASH_DAYS) -> int:
        cutoff = time.time() - days * 86400
        rows = self.db.read(lambda conn: conn.execute("SELECT * FROM trash WHERE deleted_at < ?", (cutoff,)).fetchall())
        for row in rows:
            try:
                (self.trash_dir / row["stored"]).unlink()
            except OSError:
                pass
        if rows:
            self.db.submit_write(
                lambda conn: conn.execute("DELETE FROM trash WHERE deleted_at < ?", (cutoff,))
            ).result()
        return len(rows)

    # -- copies -----------------------------------------------------------------------
    async def to_input(self, row: Any, subfolder: str = "") -> str:
        """Copy an output image into ComfyUI's input folder (or a subfolder of it); the name it got there."""
        if row["root"] != "output":
            raise Conflict("that image is already in the input folder", code="ALREADY_INPUT")
        base = self.roots["input"]
        folder = base / subfolder if subfolder else base
        names = (prefixed(f"{uuid.uuid4().hex[:8]}_", row["filename"]) for _ in range(100))
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        # written aside, then given a name no other file has (never over one), complete
        name = await asyncio.to_thread(copy_to_free_name, self.path_of(row), folder, names, base)
        await self.refresh("input", subfolder, name)
        return name


def restored_names(filename: str) -> Iterator[str]:
    """The names a restored file may take, in order: ``filename``, then ``stem (restored N).ext``."""
    yield filename
    stem, tail = _split_name(filename)
    for n in range(1, 10_000):
        yield fit_name(stem, f" (restored{'' if n == 1 else f' {n}'}){tail}")


def free_name(folder: Path, filename: str) -> str:
    """The first of :func:`restored_names` free in ``folder`` now (a hint only: a restore claims its name as it
    moves the file, :func:`~.place.move_to_free_name`)."""
    for candidate in restored_names(filename):
        if not os.path.lexists(folder / candidate):
            return candidate
    raise Conflict(f"no free name for {filename!r} in that folder", code="NAME_TAKEN")


def prefixed(prefix: str, filename: str) -> str:
    """``prefix + filename``, its stem shortened when needed so the name stays a legal file name."""
    stem, tail = _split_name(filename)
    return fit_name(stem, tail, prefix)


def fit_name(stem: str, tail: str, prefix: str = "") -> str:
    """``prefix + stem + tail`` with ``stem`` shortened until the whole is at most ``NAME_MAX`` bytes."""
    while stem and len(os.fsencode(f"{prefix}{stem}{tail}")) > NAME_MAX:
        stem = stem[:-1]
    return f"{prefix}{stem}{tail}"


def _split_name(filename: str) -> tuple[str, str]:
    """(stem, ".ext" or "")."""
    stem, dot, ext = filename.rpartition(".")
    return (stem, f"{dot}{ext}") if dot else (filename, "")
