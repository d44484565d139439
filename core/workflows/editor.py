"""The workflows saved in ComfyUI's editor: whose folder a CozyGen user sees, and the files in it.

The editor saves each user's workflows under ComfyUI's user directory, ``<user dir>/<comfy user>/workflows``,
in subfolders of the user's choosing. CozyGen lists them as ``editor/<subfolders>/<file>.json``: a name that
cannot collide with CozyGen's own (those are single file names, without ``/``).

Whose folder a CozyGen user sees (:func:`editor_folder`):

- auth off: ComfyUI's ``default`` user folder, the one the single-user editor saves to;
- auth on: the folder of the ComfyUI user of the same name, when ComfyUI knows one (its ``users.json``, which
  ComfyUI writes when users are created in ``--multi-user`` mode; the folder is that user's id) and the folder
  exists; otherwise an admin sees ``default`` and any other user sees no editor workflows, only CozyGen's.

A name is read relative to the caller's own folder, so no name can reach another user's: ann's
``editor/a.json`` and bob's are two files, each reachable only by its owner. Only ``.json`` files inside that
folder are read (``core.paths``: no ``..``, no symbolic link leading out). CozyGen never writes there.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CozyGenError, NotFound
from ..paths import PathRejected, clean_name, clean_relative, within

PREFIX = "editor/"
DEFAULT_USER = "default"
USERS_FILE = "users.json"
MAX_FILES = 5000  # a folder with more is listed in part
MAX_USERS_FILE = 1024 * 1024

Stamp = tuple[int, int, int]  # (mtime_ns, size, inode)


@dataclass(frozen=True)
class Entry:
    """One listed workflow file: its name, where it is, whose it is, its folder (``a/b``) and its stamp."""

    name: str
    path: str  # a plain string: a listing of hundreds spends most of its time making Paths otherwise
    source: str  # "cozygen" | "editor"
    folder: str
    stamp: Stamp

    @property
    def revision(self) -> str:
        return revision_of(self.stamp)


def stamp_of(stat: os.stat_result) -> Stamp:
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def revision_of(stamp: Stamp) -> str:
    """A short token that changes whenever the file is saved again (mtime and size; a save replaces the inode)."""
    return hashlib.blake2s(repr(stamp).encode(), digest_size=8).hexdigest()


def is_editor_name(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def comfy_user_id(user_dir: Path, username: str) -> str | None:
    """The id (folder name) of ComfyUI's user called ``username`` in its ``users.json`` (``{id: name}``), if any."""
    try:
        with open(user_dir / USERS_FILE, "rb") as handle:
            users = json.loads(handle.read(MAX_USERS_FILE))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(users, dict):
        return None
    for user_id, name in users.items():
        if name == username and isinstance(user_id, str):
            try:
                return clean_name(user_id, what="ComfyUI user id")
            except PathRejected:
                return None
    return None


def editor_folder(user_dir: Path, username: str | None, *, admin: bool, auth: bool) -> Path | None:
    """The editor's workflows folder a CozyGen user sees (the rule in the module's docstring), or None."""
    if not auth:
        return user_dir / DEFAULT_USER / "workflows"
    user_id = comfy_user_id(user_dir, username) if username else None
    if user_id is not None and (user_dir / user_id).is_dir():
        try:
            return within(user_dir, user_id) / "workflows"
        except PathRejected:
            return None
    return user_dir / DEFAULT_USER / "workflows" if admin else None


def editor_relative(name: str) -> str:
    """``editor/a/b.json`` → ``a/b.json``, cleaned (400 for ``..`` and the like, 404 for what is not a .json)."""
    relative = clean_relative(name[len(PREFIX) :], what="workflow name")
    if not relative.lower().endswith(".json") or relative.rpartition("/")[2].startswith("."):
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")
    return relative


def editor_path(root: Path | None, name: str) -> Path:
    """The file of the editor workflow ``name`` under ``root`` (404 when the caller has no such workflow)."""
    relative = editor_relative(name)
    if root is None or not root.is_dir():
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")
    path = within(root, relative)
    if not path.is_file():
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")
    return path


def editor_entries(root: Path | None) -> list[Entry]:
    """Every ``.json`` file under ``root`` (subfolders are folders; hidden ones and links leading out skipped).

    One ``stat`` per file (``os.scandir`` tells links and folders apart without one): the listing's cost."""
    if root is None:
        return []
    try:
        base = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return []
    found: list[Entry] = []
    pending = [""]
    while pending and len(found) < MAX_FILES:
        relative = pending.pop()
        try:
            with os.scandir(base / relative if relative else base) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError:
            continue
        folders = []
        for item in items:
            if item.name.startswith("."):
                continue
            inner = f"{relative}/{item.name}" if relative else item.name
            try:
                if item.is_dir(follow_symlinks=False):
                    folders.append(inner)
                    continue
                if not item.name.lower().endswith(".json"):
                    continue
                if item.is_symlink():
                    within(base, inner)
                status = item.stat()
            except (OSError, CozyGenError):
                continue
            if not stat_is_file(status):
                continue
            found.append(Entry(PREFIX + inner, item.path, "editor", relative, stamp_of(status)))
            if len(found) >= MAX_FILES:
                break
        pending.extend(reversed(folders))
    return found


def stat_is_file(found: os.stat_result) -> bool:
    return stat.S_ISREG(found.st_mode)
