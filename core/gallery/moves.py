"""Folders and moves inside the gallery's roots: create, rename and delete folders, move files between folders.

A moved file keeps its index row (its id), so marks, job links and thumbnails follow it and nothing is scanned
again; a renamed folder's rows take the new prefix in place. Moves stay inside one root and never replace a file.

The order of a move, and what a kill (``kill -9``) at each step leaves; ``recover`` runs at the next start before
the scan, so the index matches the disk with every id kept:

1. Plan (a thread): check the sources and the destination, choose the names, hold the paths (``holds``: the
   watcher leaves them alone until step 5). Killed: nothing happened.
2. Journal (the writer): the planned moves are committed under the settings key ``gallery.moving.<key>``.
   Killed before that commit: nothing happened; after it: see 3.
3. Rename (a thread): each file in one ``rename`` that refuses to replace a file (place.rename_exclusive), so it
   is at its old path or its new one, never both nor neither (without RENAME_NOREPLACE: a hard link, then the old
   name unlinked; a kill between leaves two names of one file and ``recover`` unlinks the old). Killed: the journal
   names every file that may have moved; ``recover`` looks where each one is and moves the rows of those at their
   new place.
4. Commit (the writer): the rows take their new places (same id), jobs' image lists and input owners follow and
   the journal entry goes, in one transaction. Killed before the COMMIT: as in 3; after it: done.
5. Release the holds (the watcher drops the rename events the move made, and looks again at anything else that
   happened to those paths meanwhile), then announce one ``file.moved`` per file.

A folder's rename takes the same steps with one rename (the journal names the folder; ``recover`` moves its rows
when the folder is found under its new name only).

The watcher cannot get there first: it asks about holds when it hears of a path (the move's own renames stop there)
and again inside the writer before it applies one; the hold is taken before the journal's commit and the writer
runs one thing at a time, so whatever it applies after the first rename sees the hold. Should a row already be at
its new place at the commit (the watcher moved it after a failed commit released the holds), the commit leaves it
alone and announces nothing for it: one ``file.moved`` per file either way, never a second row.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, Conflict, Forbidden, HostNotReady, NotFound
from ..media.kinds import is_hidden, kind_of
from ..paths import PathRejected, new_name, resolve
from . import index, relocate
from .holds import Hold
from .place import rename_exclusive
from .relocate import Move
from .sync import Change

if TYPE_CHECKING:
    from .service import Gallery

log = logging.getLogger("cozygen")
NAMES_SHOWN = 20  # taken names listed in a NAME_TAKEN message (the answer's ``names`` lists them all)


@dataclass
class MoveReport:
    moved: list[dict[str, Any]] = field(default_factory=list)  # {id, filename, subfolder, type}: where each is now
    errors: list[dict[str, Any]] = field(default_factory=list)  # {id, filename, subfolder, error}: left where it was


@dataclass
class _Plan:
    root: str
    folder: str
    moves: list[Move]
    unchanged: list[Any]  # rows already in the destination
    hold: Hold
    stamps: dict[int, tuple[int, int]]  # id -> (mtime_ns, size) as indexed


def numbered_names(filename: str) -> Iterator[str]:
    """``filename``, then ``stem (2).ext``, ``stem (3).ext``... (each at most 255 bytes)."""
    from .service import fit_name

    yield filename
    stem, dot, ext = filename.rpartition(".")
    stem, tail = (stem, f"{dot}{ext}") if dot and stem else (filename, "")
    for n in range(2, 10_000):
        yield fit_name(stem, f" ({n}){tail}")


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


class Moves:
    """The gallery's folders and moves (the Gallery builds it; ``announce`` publishes changes as the watcher's)."""

    def __init__(self, gallery: Gallery, announce: Callable[[list[Change]], None]) -> None:
        self.gallery = gallery
        self.announce = announce
        self._planning = threading.Lock()

    @property
    def db(self) -> Any:
        return self.gallery.db

    def _base(self, root: str) -> Path:
        if root not in self.gallery.roots:
            raise BadRequest(f"type must be one of {', '.join(self.gallery.roots)}, not {root!r}", code="INVALID_TYPE")
        return self.gallery.roots[root]

    def _require_ready(self) -> None:
        if not self.gallery.ready.is_set():
            raise HostNotReady(
                "the gallery is still indexing its folders; try again in a moment", code="GALLERY_NOT_READY"
            )

    def _folder(self, root: str, subfolder: Any, *, top: bool = True) -> tuple[Path, str]:
        """An existing folder of ``root`` (blocking): its path and cleaned relative path. 400 for a path outside the
        root or through a symbolic link, 404 when there is no such folder; the root itself only when ``top``."""
        base = self._base(root)
        path, sub, _ = resolve(base, subfolder)
        if not sub and not top:
            raise BadRequest(f"the {root} folder itself cannot be renamed or deleted", code="ROOT_FOLDER")
        if sub and os.path.realpath(path) != os.path.join(os.path.realpath(base), *sub.split("/")):
            raise PathRejected(f"{sub!r} goes through a symbolic link; name the folder it leads to")
        if not path.is_dir():
            raise NotFound(f"no folder {sub!r} in the {root} folder", code="FOLDER_NOT_FOUND")
        return path, sub

    # -- files ------------------------------------------------------------------------------
    async def move(self, rows: list[Any], to: Any, *, rename: bool = False) -> MoveReport:
        """Move indexed files into folder ``to`` of their root (which must exist), keeping their ids.

        Without ``rename`` a name taken there refuses the whole move (409 NAME_TAKEN, ``names`` listed) before
        anything moves; with it, such a file gets the first free ``name (n).ext``. A file that vanished or whose
        name was taken in the meantime stays out (``errors``)."""
        self._require_ready()
        plan = await asyncio.to_thread(self._plan, rows, to, rename)
        report = MoveReport(unchanged_items(plan.unchanged))
        if not plan.moves:
            self.gallery.holds.release(plan.hold)
            return report
        key = uuid.uuid4().hex
        made: list[Move] | None = None
        changes: list[Change] = []
        journaled = False
        try:
            await self.db.execute_write_fn(lambda conn: relocate.begin(conn, key, plan.root, moves=plan.moves))
            journaled = True
            moved, report.errors = await asyncio.to_thread(self._rename_all, plan)
            made = moved

            def commit(conn: Any) -> list[Change]:
                found = relocate.move_rows(conn, plan.root, moved)
                relocate.end(conn, key)
                return found

            changes = await self.db.execute_write_fn(commit)
        except BaseException:
            if journaled:  # files may have moved: the journal's finisher brings the index along
                self._finish_later(key, {"root": plan.root, "moves": [relocate.journaled(m) for m in plan.moves]})
            raise
        finally:
            self._release(plan, made if made is not None else plan.moves, journaled)
        await asyncio.to_thread(self.announce, changes)  # thousands of events: off the event loop
        report.moved += [{"id": m.id, "filename": m.to_name, "subfolder": m.to_sub, "type": plan.root} for m in moved]
        return report

    def _release(self, plan: _Plan, moved: list[Move], journaled: bool) -> None:
        """End a move's hold; once journaled, the watcher drops what the move did (the index has it, or will)."""
        done = {m.source: m.target for m in moved} if journaled else None
        stamps = {m.target: plan.stamps[m.id] for m in moved} if journaled else None
        base = str(self.gallery.roots[plan.root])
        self.gallery.watcher.requeue(self.gallery.holds.release(plan.hold, base=base, done=done, stamps=stamps))

    def _finish_later(self, key: str, entry: dict[str, Any]) -> None:
        """After a move that failed half-way (``entry`` as journaled): bring the index to the disk in a thread, as
        ``recover`` does at start (which finishes it should this fail too)."""

        def finish() -> None:
            try:
                changes = self.db.submit_write(self._finisher(key, entry)).result()
            except Exception:
                log.exception("CozyGen: a move's index update failed twice; the next start finishes it")
                return
            self.announce(changes)

        threading.Thread(target=finish, name="cozygen-move-finish", daemon=True).start()

    def _plan(self, rows: list[Any], to: Any, rename: bool) -> _Plan:
        roots = {row["root"] for row in rows}
        if len(roots) != 1:
            raise BadRequest(
                "select files of the output folder or of the input folder, not both: a move stays in one",
                code="MIXED_ROOTS",
            )
        root = roots.pop()
        path, folder = self._folder(root, to)
        there = str(path)  # os.path on strings: ten thousand names in a fraction of what pathlib takes
        with self._planning:  # two moves into one folder never plan the same free name
            reserved = self.gallery.holds.reserved(root, folder)
            planned: set[str] = set()
            moves, unchanged, taken = [], [], []
            for row in rows:
                if row["subfolder"] == folder:
                    unchanged.append(row)
                    continue
                names = numbered_names(row["filename"]) if rename else iter([row["filename"]])
                name = next(
                    (
                        n
                        for n in names
                        if n not in planned and n not in reserved and not os.path.lexists(os.path.join(there, n))
                    ),
                    None,
                )
                if name is None:
                    taken.append(row["filename"])
                    continue
                planned.add(name)
                moves.append(Move(row["id"], row["subfolder"], row["filename"], folder, name))
            if taken:
                shown = ", ".join(taken[:NAMES_SHOWN]) + (
                    f" and {len(taken) - NAMES_SHOWN} more" if len(taken) > NAMES_SHOWN else ""
                )
                raise Conflict(
                    f"{len(taken)} file name(s) are taken in {folder or f'the {root} folder'}: {shown}; nothing was "
                    'moved. Send "rename": true to give them free names such as "name (2).png"',
                    code="NAME_TAKEN",
                    extra={"names": taken},
                )
            hold = self.gallery.holds.hold(
                root, paths=[m.source for m in moves] + [m.target for m in moves], children_of=[folder]
            )
        stamps = {row["id"]: (row["mtime_ns"], row["size"]) for row in rows}
        return _Plan(root, folder, moves, unchanged, hold, stamps)

    def _rename_all(self, plan: _Plan) -> tuple[list[Move], list[dict[str, Any]]]:
        base = str(self.gallery.roots[plan.root])
        made, errors = [], []
        for move in plan.moves:
            try:
                rename_exclusive(os.path.join(base, move.source), os.path.join(base, move.target))
            except OSError as exc:
                if isinstance(exc, FileNotFoundError):
                    reason = "it is no longer there"
                elif isinstance(exc, FileExistsError):
                    reason = f"{move.to_name} was taken in the meantime; try again"
                else:
                    reason = exc.strerror or str(exc)
                errors.append({"id": move.id, "filename": move.from_name, "subfolder": move.from_sub, "error": reason})
                continue
            made.append(move)
        return made, errors

    # -- folders ----------------------------------------------------------------------------
    async def create_folder(self, root: str, parent: Any, name: Any) -> str:
        """Make folder ``name`` in ``parent`` (which must exist); its relative path."""
        name = new_name(name)

        def make() -> tuple[str, float]:
            path, sub = self._folder(root, parent)
            target = path / name
            try:
                target.mkdir()
            except FileExistsError:
                raise Conflict(
                    f"{_join(sub, name)!r} exists already in the {root} folder", code="FOLDER_EXISTS"
                ) from None
            except OSError as exc:  # a name this file system refuses (Windows: <>:"|?*)
                raise BadRequest(
                    f"this system refuses the folder name {name!r}: {exc.strerror}", code="INVALID_NAME"
                ) from None
            return _join(sub, name), target.stat().st_mtime

        made, mtime = await asyncio.to_thread(make)
        await self.db.execute_write_fn(lambda conn: index.upsert_dirs(conn, root, [(made, mtime, is_hidden(made))]))
        return made

    async def rename_folder(self, root: str, subfolder: Any, name: Any, *, owner: str | None = None) -> str:
        """Give folder ``subfolder`` the name ``name`` (same parent); its new relative path. With ``owner``, only a
        folder holding no file that is not theirs."""
        self._require_ready()
        name = new_name(name)
        path, old = await asyncio.to_thread(self._folder, root, subfolder, top=False)
        await self._require_own(root, old, owner, "rename")
        new = _join(old.rpartition("/")[0], name)
        if new == old:
            return old
        base = self.gallery.roots[root]
        key = uuid.uuid4().hex
        hold = self.gallery.holds.hold(root, trees=[old, new])
        changes: list[Change] = []
        renamed = False
        try:
            await self.db.execute_write_fn(lambda conn: relocate.begin(conn, key, root, folder=(old, new)))
            try:
                await asyncio.to_thread(rename_exclusive, path, base / new)
            except OSError as exc:
                await self.db.execute_write_fn(lambda conn: relocate.end(conn, key))
                if isinstance(exc, FileExistsError):
                    raise Conflict(f"{new!r} exists already in the {root} folder", code="FOLDER_EXISTS") from None
                if isinstance(exc, FileNotFoundError):
                    raise NotFound(f"no folder {old!r} in the {root} folder", code="FOLDER_NOT_FOUND") from None
                raise BadRequest(
                    f"the folder cannot be renamed to {name!r}: {exc.strerror}", code="INVALID_NAME"
                ) from None
            renamed = True

            def commit(conn: Any) -> list[Change]:
                found = relocate.move_folder_rows(conn, root, old, new)
                relocate.end(conn, key)
                return found

            changes = await self.db.execute_write_fn(commit)
        except BaseException:
            if renamed:  # the folder has its new name: the journal's finisher brings the index along
                self._finish_later(key, {"root": root, "folder": [old, new]})
            raise
        finally:
            folder = (old, new) if renamed else None
            self.gallery.watcher.requeue(self.gallery.holds.release(hold, folder=folder))
        await asyncio.to_thread(self.announce, changes)
        return new

    async def delete_folder(
        self, root: str, subfolder: Any, *, trash: bool = False, owner: str | None = None, by: str | None = None
    ) -> tuple[int, str | None]:
        """Remove folder ``subfolder``: an empty one (empty folders inside it go too), or with ``trash`` one whose
        files all go to the trash first. (files trashed, trash batch or None)."""
        self._require_ready()
        path, sub = await asyncio.to_thread(self._folder, root, subfolder, top=False)
        await self._require_own(root, sub, owner, "delete")
        media, others = await asyncio.to_thread(_contents, path, sub)
        where = f"{sub!r} in the {root} folder"
        if others:
            shown = ", ".join(others[:NAMES_SHOWN])
            raise Conflict(
                f"{where} holds {len(others)} file(s) the gallery does not show ({shown}); remove them first. "
                "Nothing was deleted",
                code="FOLDER_NOT_EMPTY",
            )
        if media and not trash:
            raise Conflict(
                f"{where} holds {len(media)} file(s); move them out, or delete with trash=1 to send them to the trash",
                code="FOLDER_NOT_EMPTY",
            )
        batch: str | None = None
        deleted = 0
        if media:
            rows = await self.db.execute_fn(lambda conn: relocate.files_under(conn, root, sub))
            known = {(r["subfolder"], r["filename"]) for r in rows}
            for place in media:  # files the watcher has not indexed yet
                if place not in known and (row := await self.gallery.find_or_index(root, *place)) is not None:
                    rows.append(row)
            batch, trashed, errors = await self.gallery.trash(rows, by=by)
            deleted = len(trashed)
            if errors:
                raise Conflict(
                    f"{deleted} file(s) went to the trash but {len(errors)} could not ({errors[0]}); the folder stays",
                    code="FOLDER_NOT_EMPTY",
                    extra={"deleted": deleted, "batch": batch},
                )
        try:
            await asyncio.to_thread(_remove_empty_tree, path)
        except OSError:
            raise Conflict(
                f"files appeared in {where} meanwhile; the folder stays"
                + (f" ({deleted} file(s) went to the trash)" if deleted else ""),
                code="FOLDER_NOT_EMPTY",
                extra={"deleted": deleted, "batch": batch},
            ) from None
        await self.db.execute_write_fn(lambda conn: relocate.forget_folder(conn, root, sub))
        return deleted, batch

    async def _require_own(self, root: str, folder: str, owner: str | None, action: str) -> None:
        if owner is None:
            return
        others = await self.db.execute_fn(lambda conn: relocate.others_under(conn, root, folder, owner))
        if others:
            raise Forbidden(
                f"you cannot {action} {folder!r}: it holds {others} file(s) that are not yours", code="FOLDER_NOT_YOURS"
            )

    # -- at start ---------------------------------------------------------------------------
    def recover(self) -> int:
        """Finish the index side of moves a stopped process left half done (blocking; at start, before the watcher
        and the scan). Returns how many journal entries there were."""
        entries = self.db.read(relocate.unfinished)
        for key, entry in entries:
            self.db.submit_write(self._finisher(key, entry)).result()
            log.info("CozyGen: finished the index side of a move a stopped process left (%s)", key)
        return len(entries)

    def _finisher(self, key: str, entry: dict[str, Any]) -> Callable[[Any], list[Change]]:
        """The write that brings the index to where the journaled move left the disk (looked at now)."""
        root = str(entry.get("root"))
        base = self.gallery.roots.get(root)
        folder: list[str] = entry.get("folder") or []
        landed = False
        done: list[Move] = []
        if base is not None and folder:
            landed = not os.path.lexists(base / folder[0]) and (base / folder[1]).is_dir()
        elif base is not None:
            done = [m for m in relocate.moves_of(entry) if _landed(base, m)]

        def finish(conn: Any) -> list[Change]:
            changes = []
            if landed:
                changes = relocate.move_folder_rows(conn, root, folder[0], folder[1])
            elif done:
                changes = relocate.move_rows(conn, root, done)
            relocate.end(conn, key)
            return changes

        return finish


def unchanged_items(rows: list[Any]) -> list[dict[str, Any]]:
    return [{"id": r["id"], "filename": r["filename"], "subfolder": r["subfolder"], "type": r["root"]} for r in rows]


def _landed(base: Path, move: Move) -> bool:
    """Whether a journaled file move happened on disk (a hard-link move cut short is finished here)."""
    source, target = base / move.source, base / move.target
    if not os.path.lexists(target):
        return False
    if not os.path.lexists(source):
        return True
    try:
        if os.path.samefile(source, target):  # two names of one file: the old one had not gone yet
            os.unlink(source)
            return True
    except OSError:
        pass
    return False


def _contents(folder: Path, relative: str) -> tuple[list[tuple[str, str]], list[str]]:
    """What is in ``folder`` (``relative`` to its root) at any depth: media files as (subfolder, name) relative to
    the root, and every other file or link by its path relative to ``folder``."""
    media: list[tuple[str, str]] = []
    others: list[str] = []
    stack = [""]
    while stack:
        sub = stack.pop()
        with os.scandir(folder / sub if sub else folder) as entries:
            for entry in entries:
                rel = _join(sub, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                elif entry.is_file(follow_symlinks=False) and kind_of(entry.name):
                    media.append((_join(relative, sub), entry.name))
                else:
                    others.append(rel)
    return media, others


def _remove_empty_tree(folder: Path) -> None:
    """Remove ``folder`` and the empty folders inside it, deepest first (OSError if anything else is there)."""
    for current, dirs, _files in os.walk(folder, topdown=False):
        for name in dirs:
            path = os.path.join(current, name)
            if os.path.islink(path):
                raise OSError(f"{path} is a link")
            os.rmdir(path)
    os.rmdir(folder)
