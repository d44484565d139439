"""Workflow files: the shipped examples, the users' own and the editor's saved ones, and who may change which.

CozyGen's names are single ``.json`` file names (checked by the shared path helper). The
users' folder in the data directory wins over a shipped file of the same name;
saves are atomic (temp file + rename) and only ever go to the users' folder. The workflows
saved in ComfyUI's editor are read, never written, under ``editor/...`` names (``.editor``).
A file may be in the API format or the editor's UI format: ``graph`` gives the API graph of
either (a UI file converted with the host's node definitions), ``ui_document`` the UI file itself.

Who may change a workflow (save over it, change what is kept beside it, delete it):
an admin any; a user the workflows they saved (``workflow_owners``, written in the
transaction that writes the file); a shipped example, or a saved file without an
owner (saved before owners were kept, or with auth off), only an admin. A new name
is free to anyone who may save. Names are compared without case, so a case-blind
disk cannot be used to reach another user's file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import BadRequest, Forbidden, NotFound
from ..graph.ui_format import is_ui_workflow, to_api
from ..json_depth import MAX_DEPTH, too_deep
from ..paths import clean_name
from .editor import Entry, editor_entries, editor_path, is_editor_name, revision_of, stamp_of

MAX_BYTES = 10 * 1024 * 1024
MAX_READ = 16 * 1024 * 1024  # the editor's own files (core.graph.ui_format.document)


def is_api_format(data: Any) -> bool:
    """``{node_id: {"class_type": ..., "inputs": {...}}}`` with at least one node."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(n, dict) and isinstance(n.get("class_type"), str) for n in data.values())
    )


def require_api_format(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data:
        raise BadRequest(
            "this is the editor's UI format; in ComfyUI use Workflow > Export (API) and send that file",
            code="UI_FORMAT",
        )
    if not is_api_format(data):
        raise BadRequest(
            'a workflow must be ComfyUI API format: {"<node id>": {"class_type": ..., "inputs": {...}}}',
            code="NOT_API_FORMAT",
        )
    return data


def workflow_name(value: Any) -> str:
    name = clean_name(value, what="workflow name")
    if not name.lower().endswith(".json"):
        name += ".json"
    return name


class WorkflowStore:
    """CozyGen's workflows (``shipped``, then the users' folder ``user``) and, with ``editor``, the caller's
    folder of the editor's saved workflows (``core.workflows.editor`` says whose)."""

    def __init__(self, shipped: Path, user: Path, editor: Path | None = None) -> None:
        self.shipped, self.user, self.editor = shipped, user, editor

    def names(self) -> list[str]:
        """CozyGen's workflows, then the editor's (seed 004's list holds only the first: ``cozygen_names``)."""
        return [entry.name for entry in self.entries()]

    def cozygen_names(self) -> list[str]:
        found: set[str] = set()
        for folder in (self.shipped, self.user):
            try:
                found.update(p.name for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
            except OSError:
                continue
        return sorted(found, key=str.lower)

    def entries(self) -> list[Entry]:
        """Every workflow with its file and stamp: CozyGen's by name, then the editor's by folder and name."""
        own: list[Entry] = []
        for name in self.cozygen_names():
            try:
                path = self.path(name)
                own.append(Entry(name, str(path), "cozygen", "", stamp_of(path.stat())))
            except (OSError, NotFound):
                continue
        return own + editor_entries(self.editor)

    def path(self, name: Any) -> Path:
        if is_editor_name(name):
            return editor_path(self.editor, name)
        filename = workflow_name(name)
        for folder in (self.user, self.shipped):
            candidate = folder / filename
            if candidate.is_file():
                return candidate
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")

    def read(self, name: Any) -> Any:
        """The file's JSON as it is (either format)."""
        path = self.path(name)
        try:
            if path.stat().st_size > MAX_READ:
                raise BadRequest(f"the workflow file is over {MAX_READ // 1024 // 1024} MB", code="TOO_LARGE")
            text = path.read_text(encoding="utf-8")
            value = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequest("bad json", code="BAD_JSON") from None
        if too_deep(text, value):  # a file put there by hand: no route may break on it
            raise BadRequest(f"bad json: nested deeper than {MAX_DEPTH} levels", code="BAD_JSON")
        return value

    def graph(self, name: Any, object_info: Any) -> dict[str, Any]:
        """The API graph of a workflow: the file itself, or a UI-format file converted with ``object_info``
        (400 ``UI_CONVERT`` in the workflow check's shape when it does not convert; 400 ``NOT_API_FORMAT``)."""
        data = self.read(name)
        if is_ui_workflow(data):
            return to_api(data, object_info)
        return require_api_format(data)

    def ui_document(self, name: Any) -> dict[str, Any] | None:
        """The editor's document of a UI-format workflow (with its ``extra``), None for an API-format one."""
        data = self.read(name)
        return data if is_ui_workflow(data) else None

    def revision(self, name: Any) -> str:
        """A token that changes whenever the workflow's file is saved again."""
        return revision_of(stamp_of(self.path(name).stat()))

    def spelling(self, filename: str, folder: Path) -> str | None:
        """The name of the file in ``folder`` that is ``filename`` but for case (the exact one first), or None."""
        if (folder / filename).is_file():
            return filename
        wanted = filename.casefold()
        try:
            return next((p.name for p in folder.iterdir() if p.name.casefold() == wanted and p.is_file()), None)
        except OSError:
            return None

    def saved(self, filename: str) -> str | None:
        """The saved (users' folder) workflow of this name, as it is spelled there."""
        return self.spelling(filename, self.user)

    def shipped_as(self, filename: str) -> str | None:
        """The shipped example of this name, as it is spelled there."""
        return self.spelling(filename, self.shipped)

    def prepare(self, name: Any, data: Any) -> tuple[str, bytes]:
        """The file name and the bytes a save writes, or a 400 (CPU work: do it before taking any lock)."""
        filename = workflow_name(name)
        require_api_format(data)
        try:
            text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        except orjson.JSONEncodeError as exc:  # nested past 255 levels, an integer past 64 bits
            raise BadRequest(
                f"the workflow could not be stored: {exc} (a ComfyUI graph is a few levels deep)",
                code="INVALID_WORKFLOW",
            ) from None
        if len(text) > MAX_BYTES:
            raise BadRequest(f"the workflow is larger than {MAX_BYTES // 1024 // 1024} MB", code="TOO_LARGE")
        return filename, text

    def write(self, filename: str, text: bytes) -> None:
        """Replace the saved workflow ``filename`` atomically (a file name already checked)."""
        self.user.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.user, prefix=".saving-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text)
            os.replace(temp, self.user / filename)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


# -- who may change a workflow ------------------------------------------------------------------
@dataclass(frozen=True)
class Editor:
    """Who asks to change a workflow: their name (None with auth off) and whether they may change anything."""

    username: str | None
    admin: bool


def owner_of(conn: sqlite3.Connection, filename: str) -> str | None:
    row = conn.execute("SELECT username FROM workflow_owners WHERE name = ?", (filename,)).fetchone()
    return row[0] if row else None


def require_change(conn: sqlite3.Connection, store: WorkflowStore, name: Any, editor: Editor) -> tuple[str, bool]:
    """The file a change of workflow ``name`` by ``editor`` goes to (an existing one's own spelling) and whether
    it is a saved one; 403 when the editor may not change it (see the module's docstring)."""
    filename = workflow_name(name)
    saved, shipped = store.saved(filename), store.shipped_as(filename)
    if editor.admin:
        return saved or shipped or filename, saved is not None
    if saved is None and shipped is not None:
        raise Forbidden(
            f"{shipped} is a shipped example workflow: only an admin can change it; save your copy under another "
            "name",
            code="SHIPPED_WORKFLOW",
        )
    if saved is None:
        return filename, False
    owner = owner_of(conn, saved)
    if owner is None:
        raise Forbidden(
            f"{saved} is a shared workflow: only an admin can change it; save your copy under another name",
            code="NOT_YOUR_WORKFLOW",
        )
    if owner != editor.username:
        raise Forbidden(
            f"{saved} is another user's workflow: only they or an admin can change it; save yours under another name",
            code="NOT_YOUR_WORKFLOW",
        )
    return saved, True


def require_existing_change(conn: sqlite3.Connection, store: WorkflowStore, name: Any, editor: Editor) -> str:
    """As ``require_change`` for a change to what is kept beside a workflow: it must exist (404)."""
    filename = workflow_name(name)
    if store.saved(filename) is None and store.shipped_as(filename) is None:
        raise NotFound(f"no workflow named {filename}; see GET /cozygen/workflows", code="WORKFLOW_NOT_FOUND")
    return require_change(conn, store, filename, editor)[0]


def save_owned(conn: sqlite3.Connection, store: WorkflowStore, name: str, text: bytes, editor: Editor) -> str:
    """Write a prepared workflow if ``editor`` may (on the database's writer: checked, owned and written in one
    transaction, so two users saving one new name cannot both get it). A new file is the editor's."""
    filename, existed = require_change(conn, store, name, editor)
    if not existed:  # a row left by a file removed outside CozyGen names nobody now
        conn.execute("DELETE FROM workflow_owners WHERE name = ?", (filename,))
        if editor.username is not None:
            conn.execute(
                "INSERT INTO workflow_owners (name, username, created_at) VALUES (?, ?, ?)",
                (filename, editor.username, time.time()),
            )
    store.write(filename, text)
    return filename


def delete_owned(conn: sqlite3.Connection, store: WorkflowStore, name: Any, editor: Editor) -> str:
    """Delete a saved workflow if ``editor`` may; shipped examples are never deleted (400)."""
    filename = workflow_name(name)
    if store.saved(filename) is None:
        if store.shipped_as(filename) is not None:
            raise BadRequest("shipped example workflows cannot be deleted", code="SHIPPED_WORKFLOW")
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")
    filename = require_change(conn, store, filename, editor)[0]
    conn.execute("DELETE FROM workflow_owners WHERE name = ?", (filename,))
    (store.user / filename).unlink()
    return filename
