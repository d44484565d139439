"""The model browser: ComfyUI's model folders listed with size, date, hash and preview, and the model trash.

The listing is what ComfyUI itself lists (``Host.model_files``: extra_model_paths.yaml included), so a model the
browser shows is one a workflow can use. Hashes come from :mod:`.hashing` (background, cached); a listing asks for
those of the page it returns. A preview is a sidecar image next to the model (``<stem>.preview.png``,
``<stem>.png``, ``.jpg``, ``.jpeg``, ``.webp``). Deleting moves the model and its sidecars to
``<data folder>/model_trash/<id>/`` (a row in ``model_trash`` remembers where it was); restoring puts them back
unless the name was taken meanwhile. Blocking work (walks, stats, moves) runs in threads.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..accounts import users
from ..errors import BadRequest, Conflict, InsufficientStorage, NotFound
from ..graph.check import MODEL_EXTENSIONS as LISTED_EXTENSIONS
from ..host import Host
from ..paths import PathRejected, clean_relative
from ..store.db import Database
from .hashing import Hasher, Stamp, cached, stamp_of, store
from .targets import PICKLE_EXTENSIONS

PREVIEW_SUFFIXES = (".preview.png", ".preview.jpg", ".preview.jpeg", ".preview.webp", ".png", ".jpg", ".jpeg", ".webp")
# what goes to the trash with a model: its previews and the notes model managers keep beside it
SIDECAR_SUFFIXES = (*PREVIEW_SUFFIXES, ".civitai.info", ".metadata.json", ".sha256")
MAX_PAGE = 1000
MAX_QUERY = 200


@dataclass(frozen=True)
class Model:
    folder: str
    name: str
    path: str
    size: int
    mtime_ns: int
    preview: str | None  # the sidecar image's path

    @property
    def stamp(self) -> Stamp:
        return Stamp(self.path, self.size, self.mtime_ns)

    def view(self, sha256: str | None) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "name": self.name,
            "size": self.size,
            "mtime": self.mtime_ns / 1e9,
            "sha256": sha256,
            "preview": self.preview is not None,
            "pickle": os.path.splitext(self.name)[1].lower() in PICKLE_EXTENSIONS,
        }


def model_name(value: Any) -> str:
    """A model's name in its folder (``sub/x.safetensors``), or 400 ``INVALID_MODEL_NAME``."""
    try:
        name = clean_relative(value, what="model name")
    except PathRejected as exc:
        raise BadRequest(exc.message, code="INVALID_MODEL_NAME") from None
    if not name or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise BadRequest(
            "name the model: its file name in the folder, such as sub/model.safetensors", code="INVALID_MODEL_NAME"
        )
    if os.path.splitext(name)[1].lower() not in LISTED_EXTENSIONS:
        raise BadRequest(
            f"{name!r} is not a model file: a model ends in {', '.join(LISTED_EXTENSIONS)}", code="INVALID_MODEL_NAME"
        )
    return name


def preview_of(path: str, names: set[str]) -> str | None:
    """The sidecar image of the model at ``path``, given the names in its directory."""
    base = os.path.basename(path)
    stem = os.path.splitext(base)[0]
    for suffix in PREVIEW_SUFFIXES:
        if stem + suffix in names and stem + suffix != base:
            return os.path.join(os.path.dirname(path), stem + suffix)
    return None


def sidecars_of(path: str) -> list[str]:
    """The sidecar files beside the model at ``path`` that exist."""
    stem = os.path.splitext(path)[0]
    return [stem + suffix for suffix in SIDECAR_SUFFIXES if stem + suffix != path and os.path.isfile(stem + suffix)]


def inside(path: str, roots: list[str]) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside one of ``roots``."""
    real = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(root)
        if real != base and os.path.commonpath([real, base]) == base:
            return True
    return False


def scan(host: Host, folders: list[str]) -> list[Model]:
    """Every model ComfyUI lists in ``folders``, with its size, date and preview (blocking)."""
    listings: dict[str, set[str]] = {}
    found = []
    for folder in folders:
        try:
            names = host.model_files(folder)
        except KeyError:
            continue
        for name in names:
            path = host.model_file_path(folder, name)
            stamp = stamp_of(path) if path else None
            if path is None or stamp is None:
                continue
            directory = os.path.dirname(path)
            if directory not in listings:
                try:
                    listings[directory] = set(os.listdir(directory))
                except OSError:
                    listings[directory] = set()
            found.append(Model(folder, name, path, stamp.size, stamp.mtime_ns, preview_of(path, listings[directory])))
    return found


class ModelLibrary:
    """The browser's service: ``listing``, ``preview``, ``trash``, ``trashed``, ``restore``.

    ``changed(folder)`` runs (on the event loop) after a model leaves or returns, so ComfyUI's lists follow.
    """

    def __init__(self, db: Database, host: Host, data_dir: Path, changed: Callable[[str], None]) -> None:
        self.db, self.host, self.changed = db, host, changed
        self.trash_dir = Path(data_dir) / "model_trash"
        self.hasher = Hasher(self._save_hash)
        self._moving = asyncio.Lock()

    def _save_hash(self, stamp: Stamp, sha256: str) -> None:
        self.db.submit_write(lambda conn: store(conn, stamp, sha256)).result()

    async def stop(self) -> None:
        await asyncio.to_thread(self.hasher.stop)

    def folder(self, value: Any) -> str:
        """A model folder ComfyUI knows, or 400 ``UNKNOWN_FOLDER``."""
        folders = self.host.model_folders()
        if not isinstance(value, str) or value not in folders:
            shown = value if isinstance(value, str) and len(value) <= 60 else "that"
            raise BadRequest(f"unknown model folder {shown!r}: use one of {', '.join(folders)}", code="UNKNOWN_FOLDER")
        return value

    # -- the listing ---------------------------------------------------------------------------
    async def listing(self, folder: str | None, query: str, limit: int, offset: int) -> dict[str, Any]:
        """``{folders: [{name, count}], models: [...], total, hashing}``; hashes of the page are asked for."""
        folders = self.host.model_folders()
        models = await asyncio.to_thread(scan, self.host, folders)
        counts = {name: 0 for name in folders}
        for model in models:
            counts[model.folder] += 1
        needle = query.strip().casefold()
        chosen = [
            m for m in models if (folder is None or m.folder == folder) and (not needle or needle in m.name.casefold())
        ]
        chosen.sort(key=lambda m: (m.folder, m.name.casefold(), m.name))
        page = chosen[offset : offset + limit]
        hashes = await self.db.execute_fn(lambda conn: cached(conn, [m.stamp for m in page]))
        self.hasher.want([m.stamp for m in page if m.path not in hashes])
        return {
            "folders": [{"name": name, "count": counts[name]} for name in folders],
            "models": [m.view(hashes.get(m.path)) for m in page],
            "total": len(chosen),
            "hashing": self.hasher.pending,
        }

    def _find(self, folder: str, name: str) -> str:
        """The path of a model ComfyUI lists, inside the folder's paths (blocking); 404 ``MODEL_NOT_FOUND``."""
        path = self.host.model_file_path(folder, name) if name in self.host.model_files(folder) else None
        if path is None or not os.path.isfile(path) or not inside(path, self.host.model_folder_paths(folder)):
            raise NotFound(f"no model {folder}/{name}: it is not in ComfyUI's {folder} list", code="MODEL_NOT_FOUND")
        return path

    async def preview(self, folder: str, name: str) -> str:
        """The path of the model's sidecar image; 404 ``NO_PREVIEW`` without one."""

        def find() -> str | None:
            path = self._find(folder, name)
            directory = os.path.dirname(path)
            image = preview_of(path, set(os.listdir(directory)))
            return image if image is not None and inside(image, self.host.model_folder_paths(folder)) else None

        found = await asyncio.to_thread(find)
        if found is None:
            raise NotFound(f"{folder}/{name} has no preview image beside it", code="NO_PREVIEW")
        return found

    # -- the trash -----------------------------------------------------------------------------
    async def trash(self, folder: str, name: str, *, by: str | None) -> dict[str, Any]:
        """Move a model and its sidecars to the model trash; ``{id, folder, name, size}``."""
        async with self._moving:
            trash_id = uuid.uuid4().hex
            path, size = await asyncio.to_thread(self._to_trash, folder, name, trash_id)
            row = {
                "id": trash_id,
                "folder": folder,
                "name": name,
                "stored": path,
                "size": size,
                "deleted_by": by,
                "deleted_at": time.time(),
            }
            try:
                await self.db.execute_write_fn(lambda conn: _insert_trash(conn, row, by))
            except BaseException:
                await asyncio.to_thread(self._from_trash, trash_id, path)  # unrecorded: put it back
                raise
        self.changed(folder)
        return {"id": trash_id, "folder": folder, "name": name, "size": size}

    def _to_trash(self, folder: str, name: str, trash_id: str) -> tuple[str, int]:
        path = self._find(folder, name)
        size = os.path.getsize(path)
        place = self.trash_dir / trash_id
        place.mkdir(parents=True)
        try:
            shutil.move(path, place / os.path.basename(path))  # the model first: then it is gone from ComfyUI's list
        except OSError as exc:  # another disk that is full, say: the model stays where it was
            shutil.rmtree(place, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise InsufficientStorage(
                    f"the model trash ({self.trash_dir}) is on a disk without room for {folder}/{name}: free some "
                    "space there, or delete the file by hand",
                    code="NOT_ENOUGH_DISK_SPACE",
                ) from None
            raise
        for sidecar in sidecars_of(path):
            try:
                shutil.move(sidecar, place / os.path.basename(sidecar))
            except OSError:
                pass  # a sidecar that will not move stays beside where the model was
        return path, size

    def _from_trash(self, trash_id: str, path: str) -> None:
        """Move what ``trash_id`` holds back beside ``path`` (the model's own file to ``path``)."""
        place = self.trash_dir / trash_id
        base = os.path.basename(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.move(str(place / base), path)
        for entry in sorted(os.listdir(place)):
            destination = os.path.join(os.path.dirname(path), entry)
            if not os.path.exists(destination):
                shutil.move(str(place / entry), destination)
        shutil.rmtree(place, ignore_errors=True)

    async def trashed(self) -> list[dict[str, Any]]:
        rows = await self.db.execute_fn(_trash_rows)
        return [{k: row[k] for k in ("id", "folder", "name", "size", "deleted_by", "deleted_at")} for row in rows]

    async def restore(self, trash_id: str, *, by: str | None) -> dict[str, Any]:
        """Put a trashed model back where it was; 404 ``TRASH_NOT_FOUND``, 409 ``MODEL_EXISTS``."""
        async with self._moving:
            row = await self.db.execute_fn(lambda conn: _trash_row(conn, trash_id))
            if row is None:
                raise NotFound(f"no model {trash_id!r} in the model trash", code="TRASH_NOT_FOUND")
            folder, name = row["folder"], row["name"]
            path = await asyncio.to_thread(self._restore_path, trash_id, folder, name, row["stored"])
            await asyncio.to_thread(self._from_trash, trash_id, path)
            await self.db.execute_write_fn(lambda conn: _remove_trash(conn, trash_id, by))
        self.changed(folder)
        return {"id": trash_id, "folder": folder, "name": name, "size": row["size"]}

    def _restore_path(self, trash_id: str, folder: str, name: str, stored: str) -> str:
        if not (self.trash_dir / trash_id / os.path.basename(stored)).is_file():
            raise NotFound(
                f"{folder}/{name} is no longer in the model trash ({self.trash_dir / trash_id} was emptied)",
                code="TRASH_NOT_FOUND",
            )
        roots = self.host.model_folder_paths(folder)
        if not roots:
            raise Conflict(f"ComfyUI has no {folder} folder now: the model cannot go back", code="UNKNOWN_FOLDER")
        path = stored if stored and inside(stored, roots) else os.path.join(roots[0], *name.split("/"))
        taken = self.host.model_file_path(folder, name) if name in self.host.model_files(folder, refresh=True) else None
        if os.path.exists(path) or taken is not None:
            raise Conflict(
                f"{folder}/{name} exists again: delete or rename that one first, then restore", code="MODEL_EXISTS"
            )
        return path


def _insert_trash(conn: sqlite3.Connection, row: dict[str, Any], by: str | None) -> None:
    conn.execute(
        "INSERT INTO model_trash(id, folder, name, stored, size, deleted_by, deleted_at) "
        "VALUES (:id, :folder, :name, :stored, :size, :deleted_by, :deleted_at)",
        row,
    )
    users.audit(conn, "model.delete", actor=by, target=f"{row['folder']}/{row['name']}", detail=f"trash {row['id']}")


def _remove_trash(conn: sqlite3.Connection, trash_id: str, by: str | None) -> None:
    row = conn.execute("DELETE FROM model_trash WHERE id = ? RETURNING folder, name", (trash_id,)).fetchone()
    if row is not None:
        users.audit(
            conn, "model.restore", actor=by, target=f"{row['folder']}/{row['name']}", detail=f"trash {trash_id}"
        )


def _trash_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM model_trash ORDER BY deleted_at DESC, id").fetchall()


def _trash_row(conn: sqlite3.Connection, trash_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM model_trash WHERE id = ?", (trash_id,)).fetchone()
