"""Whose each file in ComfyUI's input folder is: the user who uploaded it or copied an output there.

ComfyUI's input folder is one folder for everyone. With per_user visibility, a user who is not an admin
sees the input files that are theirs or nobody's (ComfyUI's examples, files put there by hand), never
another user's upload: a photo sent for image-to-image, or a copy of one of their outputs.
"""

from __future__ import annotations

import sqlite3
import time


def record(conn: sqlite3.Connection, subfolder: str, filename: str, username: str) -> None:
    """``username`` put this file there (a file that already has an owner keeps it)."""
    conn.execute(
        "INSERT OR IGNORE INTO input_owners (subfolder, filename, username, created_at) VALUES (?, ?, ?, ?)",
        (subfolder, filename, username, time.time()),
    )


def replace(conn: sqlite3.Connection, subfolder: str, filename: str, username: str) -> None:
    """``username`` wrote this file anew (an upload that overwrote it): it is theirs now."""
    conn.execute(
        "INSERT OR REPLACE INTO input_owners (subfolder, filename, username, created_at) VALUES (?, ?, ?, ?)",
        (subfolder, filename, username, time.time()),
    )


def owner_of(conn: sqlite3.Connection, subfolder: str, filename: str) -> str | None:
    found = conn.execute(
        "SELECT username FROM input_owners WHERE subfolder = ? AND filename = ?", (subfolder, filename)
    ).fetchone()
    return str(found[0]) if found is not None else None


def others_in(conn: sqlite3.Connection, subfolder: str, username: str) -> set[str]:
    """Names of the files in one input subfolder that belong to someone other than ``username``."""
    rows = conn.execute(
        "SELECT filename FROM input_owners WHERE subfolder = ? AND username != ?", (subfolder, username)
    )
    return {str(r[0]) for r in rows}


def files_of(conn: sqlite3.Connection, username: str) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT subfolder, filename FROM input_owners WHERE username = ?", (username,))
    return {(str(r[0]), str(r[1])) for r in rows}


def forget(conn: sqlite3.Connection, subfolder: str, filename: str) -> None:
    conn.execute("DELETE FROM input_owners WHERE subfolder = ? AND filename = ?", (subfolder, filename))


def move(conn: sqlite3.Connection, old: tuple[str, str], new: tuple[str, str]) -> None:
    """A file moved inside the input folder: its owner follows (a stale owner of the new name goes)."""
    conn.execute("DELETE FROM input_owners WHERE subfolder = ? AND filename = ?", new)
    conn.execute(
        "UPDATE input_owners SET subfolder = ?, filename = ? WHERE subfolder = ? AND filename = ?", (*new, *old)
    )


def move_folder(conn: sqlite3.Connection, old: str, new: str) -> None:
    """A folder of the input folder was renamed: the owners of the files under it follow."""
    conn.execute(
        "UPDATE input_owners SET subfolder = ? || substr(subfolder, ?) "
        "WHERE subfolder = ? OR (subfolder >= ? AND subfolder < ?)",
        (new, len(old) + 1, old, old + "/", old + "0"),
    )
