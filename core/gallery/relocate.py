"""Index rows that follow files and folders to their new places, in place (same id), and the journal of moves.

Functions take a ``sqlite3.Connection`` and run inside the caller's transaction (the single writer). A row keeps
its id, so whatever is keyed by it (marks, thumbnails by file identity) follows; the jobs that list the file and
the input folder's owner of it are rewritten in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ..jobs import records
from ..media.kinds import is_hidden
from . import index, input_owners
from .sync import Change

JOURNAL = "gallery.moving."  # settings keys of moves begun and not yet committed


@dataclass(frozen=True)
class Move:
    id: int
    from_sub: str
    from_name: str
    to_sub: str
    to_name: str

    @property
    def source(self) -> str:
        return f"{self.from_sub}/{self.from_name}" if self.from_sub else self.from_name

    @property
    def target(self) -> str:
        return f"{self.to_sub}/{self.to_name}" if self.to_sub else self.to_name


def _under(column: str, folder: str) -> tuple[str, list[str]]:
    """SQL for ``column`` equal to folder or inside it ('a' matches 'a' and 'a/b', not 'ab')."""
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [folder, folder + "/", folder + "0"]


# -- the journal ------------------------------------------------------------------------------
def begin(
    conn: sqlite3.Connection, key: str, root: str, *, moves: Iterable[Move] = (), folder: tuple[str, str] | None = None
) -> None:
    """Record moves about to be made on disk (committed before the first rename)."""
    entry: dict[str, Any] = {"root": root}
    if folder is not None:
        entry["folder"] = list(folder)
    else:
        entry["moves"] = [journaled(m) for m in moves]
    conn.execute(
        "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (JOURNAL + key, orjson.dumps(entry).decode())
    )


def journaled(move: Move) -> list[Any]:
    """A move as the journal keeps it."""
    return [move.id, move.from_sub, move.from_name, move.to_sub, move.to_name]


def end(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM settings WHERE key = ?", (JOURNAL + key,))


def unfinished(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
    """(key, entry) of the moves a stopped process left in the journal."""
    rows = conn.execute("SELECT key, value FROM settings WHERE key >= ? AND key < ?", (JOURNAL, JOURNAL[:-1] + "/"))
    return [(str(r[0])[len(JOURNAL) :], orjson.loads(r[1])) for r in rows]


def moves_of(entry: dict[str, Any]) -> list[Move]:
    return [Move(int(m[0]), str(m[1]), str(m[2]), str(m[3]), str(m[4])) for m in entry.get("moves", [])]


# -- files ------------------------------------------------------------------------------------
def move_rows(conn: sqlite3.Connection, root: str, moves: Iterable[Move]) -> list[Change]:
    """Give each moved file's row its new place; the changes to announce (one ``moved`` per file).

    A row no longer at its old place is left alone (gone, or moved by someone else); a stale row of a file no
    longer on disk that holds the new place is dropped (the disk never let the move replace a file). Rows that
    keep their name and visibility are updated a folder at a time (one statement each)."""
    moves = list(moves)
    rows = index.get_files(conn, [m.id for m in moves])
    targets = orjson.dumps([[m.to_sub, m.to_name] for m in moves]).decode()
    found = conn.execute(
        "SELECT m.* FROM json_each(?) t CROSS JOIN media m "  # CROSS: the list drives, each place by the index
        "ON m.root = ? AND m.subfolder = json_extract(t.value, '$[0]') "
        "AND m.filename = json_extract(t.value, '$[1]')",
        (targets, root),
    ).fetchall()
    stale = [row for row in found if row["id"] not in rows]  # not one of these files (already moved by the watcher)
    changes = [Change("deleted", root, dict(row)) for row in stale]
    for row in stale:
        index.remove_file(conn, root, row["subfolder"], row["filename"])
    places: dict[tuple[str, str], tuple[str, str]] = {}
    by_folder: dict[str, list[int]] = {}
    one_by_one: list[tuple[str, str, int, int]] = []
    prompts: set[str] = set()
    by_name = False
    for move in moves:
        row = rows.get(move.id)
        if row is None or row["root"] != root:
            continue
        old, new = (move.from_sub, move.from_name), (move.to_sub, move.to_name)
        if (row["subfolder"], row["filename"]) != old:
            if (row["subfolder"], row["filename"]) == new:
                places[old] = new  # the watcher got there first (and announced it); job links still follow
            continue
        hidden = int(is_hidden(move.to_sub, move.to_name))
        if move.to_name == move.from_name and hidden == row["hidden"]:
            by_folder.setdefault(move.to_sub, []).append(move.id)
        else:
            one_by_one.append((move.to_sub, move.to_name, hidden, move.id))
        moved = {**dict(row), "subfolder": move.to_sub, "filename": move.to_name, "hidden": hidden}
        changes.append(Change("moved", root, moved, previous=dict(row)))
        places[old] = new
        if root == "input":
            input_owners.move(conn, old, new)
        elif row["prompt_id"]:
            prompts.add(row["prompt_id"])
        else:
            by_name = True
    for folder, ids in by_folder.items():
        conn.execute(
            "UPDATE media SET subfolder = ? WHERE id IN (SELECT value FROM json_each(?))",
            (folder, orjson.dumps(ids).decode()),
        )
    conn.executemany("UPDATE media SET subfolder = ?, filename = ?, hidden = ? WHERE id = ?", one_by_one)
    if places and root == "output":
        records.move_images(conn, root, places, prompts, by_name=by_name)
    return changes


# -- folders ----------------------------------------------------------------------------------
def move_folder_rows(conn: sqlite3.Connection, root: str, old: str, new: str) -> list[Change]:
    """A folder renamed (``old`` -> ``new``, both relative to the root): the rows of every file and folder under it
    take the new prefix in place; the changes to announce (one ``moved`` per file)."""
    changes: list[Change] = []
    where, params = _under("subfolder", new)
    for stale in conn.execute(f"SELECT * FROM media WHERE root = ? AND {where}", [root, *params]).fetchall():
        index.remove_file(conn, root, stale["subfolder"], stale["filename"])  # rows of a folder no longer there
        changes.append(Change("deleted", root, dict(stale)))
    where, params = _under("path", new)
    conn.execute(f"DELETE FROM media_dirs WHERE root = ? AND {where}", [root, *params])

    where, params = _under("subfolder", old)
    rows = conn.execute(f"SELECT * FROM media WHERE root = ? AND {where}", [root, *params]).fetchall()
    updates = []
    for row in rows:
        sub = new + row["subfolder"][len(old) :]
        hidden = int(is_hidden(sub, row["filename"]))
        updates.append((sub, hidden, row["id"]))
        changes.append(Change("moved", root, {**dict(row), "subfolder": sub, "hidden": hidden}, previous=dict(row)))
    conn.executemany("UPDATE media SET subfolder = ?, hidden = ? WHERE id = ?", updates)

    where, params = _under("path", old)
    dirs = conn.execute(f"SELECT path FROM media_dirs WHERE root = ? AND {where}", [root, *params]).fetchall()
    renamed = []
    for (path,) in dirs:
        moved = new + path[len(old) :]
        parent, _, name = moved.rpartition("/")
        renamed.append((moved, parent, name, int(is_hidden(moved)), root, path))
    conn.executemany(
        "UPDATE media_dirs SET path = ?, parent = ?, name = ?, hidden = ? WHERE root = ? AND path = ?", renamed
    )

    if root == "input":
        input_owners.move_folder(conn, old, new)
    else:
        records.move_image_folder(conn, root, old, new)
    return changes


def files_under(conn: sqlite3.Connection, root: str, folder: str) -> list[sqlite3.Row]:
    """Every indexed file in ``folder`` at any depth (hidden ones too)."""
    where, params = _under("subfolder", folder)
    return conn.execute(f"SELECT * FROM media WHERE root = ? AND {where}", [root, *params]).fetchall()


def others_under(conn: sqlite3.Connection, root: str, folder: str, owner: str) -> int:
    """How many indexed files in ``folder`` (at any depth) are not ``owner``'s: outputs of other users' jobs or of
    no known job; inputs another user or nobody put there."""
    where, params = _under("m.subfolder", folder)
    if root == "input":
        sql = (
            "SELECT COUNT(*) FROM media m LEFT JOIN input_owners o ON o.subfolder = m.subfolder "
            f"AND o.filename = m.filename WHERE m.root = 'input' AND {where} "
            "AND (o.username IS NULL OR o.username != ?)"
        )
    else:
        sql = (
            f"SELECT COUNT(*) FROM media m WHERE m.root = 'output' AND {where} AND (m.prompt_id IS NULL OR "
            "m.prompt_id NOT IN (SELECT prompt_id FROM job_prompts WHERE username = ?))"
        )
    return int(conn.execute(sql, [*params, owner]).fetchone()[0])


def forget_folder(conn: sqlite3.Connection, root: str, folder: str) -> None:
    """A folder removed from disk (empty): its rows of folders go."""
    where, params = _under("path", folder)
    conn.execute(f"DELETE FROM media_dirs WHERE root = ? AND {where}", [root, *params])
