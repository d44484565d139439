"""The gallery index in SQLite: one row per media file of the output and input folders.

Listing, counting, sorting and search read this table; nothing here walks a
folder. Functions take a ``sqlite3.Connection`` and run inside the caller's
transaction (``Database.submit_write`` for writes, ``execute_fn`` for reads).
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest

ROOTS = ("output", "input")
FILE_COLUMNS = (
    "root",
    "subfolder",
    "filename",
    "kind",
    "hidden",
    "size",
    "mtime",
    "mtime_ns",
    "width",
    "height",
    "prompt_id",
    "has_prompt",
    "model",
    "positive",
    "negative",
    "seed",
    "summary",
)
SORTS = {"mtime": "m.mtime", "name": "m.filename COLLATE NOCASE"}
# The indexes listings need (migration 3 creates them). A first scan into an empty table drops
# them and builds them once at the end: far faster than growing them row by row.
LISTING_INDEXES = {
    "media_root_mtime": "media(root, mtime DESC, id DESC)",
    "media_folder_mtime": "media(root, subfolder, mtime DESC, id DESC)",
    "media_model": "media(root, model, mtime DESC)",
}
_INSERT = f"INSERT OR IGNORE INTO media({', '.join(FILE_COLUMNS)}) VALUES ({', '.join('?' for _ in FILE_COLUMNS)})"
_UPSERT = (
    f"INSERT INTO media({', '.join(FILE_COLUMNS)}) VALUES ({', '.join('?' for _ in FILE_COLUMNS)}) "
    "ON CONFLICT(root, subfolder, filename) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in FILE_COLUMNS[3:])
    + " RETURNING id"
)


# -- writes ---------------------------------------------------------------------------
def upsert_files(conn: sqlite3.Connection, entries: Iterable[dict[str, Any]]) -> list[int]:
    """Insert or refresh files (keyed by root, subfolder, filename); their ids, which survive refreshes.

    The search index is kept here rather than by triggers: FTS5 fed one statement per row is
    several times slower than fed in bulk.
    """
    ids, stale, fresh = [], [], []
    for entry in entries:
        key = (entry["root"], entry["subfolder"], entry["filename"])
        old = conn.execute(
            "SELECT id, positive, model FROM media WHERE root = ? AND subfolder = ? AND filename = ?", key
        ).fetchone()
        row_id = conn.execute(_UPSERT, [entry.get(c) for c in FILE_COLUMNS]).fetchone()[0]
        ids.append(row_id)
        text = (entry.get("positive"), entry.get("model"))
        if old is None or (old["positive"], old["model"]) != text:
            if old is not None:
                stale.append(old)
            fresh.append((row_id, *text))
    _search_forget(conn, stale)
    conn.executemany("INSERT INTO media_fts(rowid, positive, model) VALUES (?, ?, ?)", fresh)
    return ids


def insert_new_files(conn: sqlite3.Connection, entries: list[dict[str, Any]] | list[list[Any]]) -> None:
    """Bulk insert of files not yet indexed (a first scan). The search index is rebuilt once at the end
    (``finish_bulk``); a file the watcher indexed meanwhile is left as it is.
    """
    conn.executemany(_INSERT, [e if isinstance(e, list) else [e.get(c) for c in FILE_COLUMNS] for e in entries])


def start_bulk(conn: sqlite3.Connection) -> None:
    """Before a first scan: drop the listing indexes and note the scan, so a crash is repaired next time."""
    drop_listing_indexes(conn)
    conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('gallery.bulk_scan', 'true')")


def finish_bulk(conn: sqlite3.Connection) -> None:
    """After a first scan (or at start after one that crashed): the search index and listing indexes."""
    conn.execute("INSERT INTO media_fts(media_fts) VALUES ('rebuild')")
    ensure_listing_indexes(conn)
    conn.execute("DELETE FROM settings WHERE key = 'gallery.bulk_scan'")


def bulk_unfinished(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM settings WHERE key = 'gallery.bulk_scan'").fetchone() is not None


def is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM media LIMIT 1").fetchone() is None


def drop_listing_indexes(conn: sqlite3.Connection) -> None:
    for name in LISTING_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def ensure_listing_indexes(conn: sqlite3.Connection) -> None:
    for name, columns in LISTING_INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {columns}")


def _search_forget(conn: sqlite3.Connection, rows: Iterable[Any]) -> None:
    """Take rows out of the search index (it needs the text it indexed)."""
    conn.executemany(
        "INSERT INTO media_fts(media_fts, rowid, positive, model) VALUES ('delete', ?, ?, ?)",
        [(r["id"], r["positive"], r["model"]) for r in rows],
    )


def remove_file(conn: sqlite3.Connection, root: str, subfolder: str, filename: str) -> sqlite3.Row | None:
    row = conn.execute(
        "DELETE FROM media WHERE root = ? AND subfolder = ? AND filename = ? RETURNING *", (root, subfolder, filename)
    ).fetchone()
    if row is not None:
        _search_forget(conn, [row])
    return row


def remove_ids(conn: sqlite3.Connection, ids: Iterable[int]) -> int:
    rows = [r for i in ids if (r := conn.execute("DELETE FROM media WHERE id = ? RETURNING *", (i,)).fetchone())]
    _search_forget(conn, rows)
    return len(rows)


def _under(column: str, prefix: str) -> tuple[str, list[str]]:
    """SQL for ``column`` equal to prefix or inside it ('a' matches 'a' and 'a/b', not 'ab')."""
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [prefix, prefix + "/", prefix + "0"]


def remove_tree(conn: sqlite3.Connection, root: str, prefix: str) -> list[sqlite3.Row]:
    """Forget a folder that went away: its files (returned) and its subfolders."""
    files_sql, params = _under("subfolder", prefix)
    rows = conn.execute(f"DELETE FROM media WHERE root = ? AND {files_sql} RETURNING *", [root, *params]).fetchall()
    _search_forget(conn, rows)
    dirs_sql, dir_params = _under("path", prefix)
    conn.execute(f"DELETE FROM media_dirs WHERE root = ? AND {dirs_sql}", [root, *dir_params])
    return rows


def upsert_dirs(conn: sqlite3.Connection, root: str, dirs: Iterable[tuple[str, float, bool]]) -> None:
    """Record folders as (relative path, mtime, hidden)."""
    conn.executemany(
        "INSERT INTO media_dirs(root, path, parent, name, hidden, mtime) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(root, path) DO UPDATE SET mtime = excluded.mtime, hidden = excluded.hidden",
        [
            (root, path, path.rpartition("/")[0], path.rpartition("/")[2], int(hidden), mtime)
            for path, mtime, hidden in dirs
        ],
    )


def _parent_and_name(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


def known_files(conn: sqlite3.Connection, root: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(subfolder, filename) → (mtime_ns, size) for every indexed file of a root."""
    rows = conn.execute("SELECT subfolder, filename, mtime_ns, size FROM media WHERE root = ?", (root,))
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def known_dirs(conn: sqlite3.Connection, root: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT path FROM media_dirs WHERE root = ?", (root,))}


def remove_dirs(conn: sqlite3.Connection, root: str, paths: Iterable[str]) -> None:
    conn.executemany("DELETE FROM media_dirs WHERE root = ? AND path = ?", [(root, p) for p in paths])


# -- reads ----------------------------------------------------------------------------
def get_file(conn: sqlite3.Connection, file_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM media WHERE id = ?", (file_id,)).fetchone()


def get_files(conn: sqlite3.Connection, ids: list[int]) -> dict[int, sqlite3.Row]:
    """The rows of these ids (those that exist), by id, in one query."""
    rows = conn.execute("SELECT m.* FROM media m WHERE m.id IN (SELECT value FROM json_each(?))", (orjson.dumps(ids),))
    return {row["id"]: row for row in rows}


def find_file(conn: sqlite3.Connection, root: str, subfolder: str, filename: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM media WHERE root = ? AND subfolder = ? AND filename = ?", (root, subfolder, filename)
    ).fetchone()


def dir_exists(conn: sqlite3.Connection, root: str, path: str) -> bool:
    if not path:
        return True
    return conn.execute("SELECT 1 FROM media_dirs WHERE root = ? AND path = ?", (root, path)).fetchone() is not None


def fts_query(text: str) -> str | None:
    """User words as an FTS5 query: every word must appear, each as a prefix ('cat' finds 'cats')."""
    # a run of underscores is a word to ``\w`` but no token to FTS5 (unicode61): it would match nothing
    words = [w for w in re.findall(r"\w+", text or "") if w.strip("_")]
    return " ".join(f'"{w}"*' for w in words[:16]) or None


@dataclass(frozen=True)
class FileQuery:
    root: str = "output"
    subfolder: str = ""
    recursive: bool = False
    show_hidden: bool = False
    kind: str = "all"
    search: str | None = None
    model: str | None = None
    sort: str = "mtime"
    descending: bool = True
    owner: str | None = None  # only the outputs of this user's jobs (gallery_visibility per_user)

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["m.root = ?"], [self.root]
        if self.owner is not None:
            clauses.append("m.prompt_id IN (SELECT prompt_id FROM job_prompts WHERE username = ?)")
            params.append(self.owner)
        if self.recursive and self.subfolder:
            sql, more = _under("m.subfolder", self.subfolder)
            clauses.append(sql)
            params += more
        elif not self.recursive:
            clauses.append("m.subfolder = ?")
            params.append(self.subfolder)
        if not self.show_hidden:
            clauses.append("m.hidden = 0")
        if self.kind != "all":
            clauses.append("m.kind = ?")
            params.append(self.kind)
        if self.model:
            clauses.append("m.model = ?")
            params.append(self.model)
        match = fts_query(self.search or "")
        if match:
            clauses.append("m.id IN (SELECT rowid FROM media_fts WHERE media_fts MATCH ?)")
            params.append(match)
        return " AND ".join(clauses), params

    def order(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{SORTS[self.sort]} {direction}, m.id {direction}"


def encode_cursor(row: sqlite3.Row, sort: str) -> str:
    key = row["mtime"] if sort == "mtime" else row["filename"]
    return base64.urlsafe_b64encode(orjson.dumps([key, row["id"]])).decode().rstrip("=")


_SQLITE_INT = 2**63


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    key_type = (float, int) if sort == "mtime" else (str,)
    try:
        key, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = isinstance(row_id, int) and isinstance(key, key_type) and -_SQLITE_INT <= row_id < _SQLITE_INT
        if valid and isinstance(key, int):  # SQLite cannot bind an int outside 64 bits (OverflowError)
            valid = -_SQLITE_INT <= key < _SQLITE_INT
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise BadRequest("the cursor is not one this server gave out; start again without it", code="INVALID_CURSOR")
    return key, row_id


def count_files(conn: sqlite3.Connection, query: FileQuery) -> int:
    if query.search or query.model or query.owner is not None:
        where, params = query.where()
        return conn.execute(f"SELECT COUNT(*) FROM media m WHERE {where}", params).fetchone()[0]
    # Without a search or model filter the per-folder counts answer at once, whatever the size.
    plain = FileQuery(query.root, query.subfolder, query.recursive, query.show_hidden, query.kind)
    where, params = plain.where()
    return conn.execute(f"SELECT COALESCE(SUM(m.n), 0) FROM media_counts m WHERE {where}", params).fetchone()[0]


def list_files(
    conn: sqlite3.Connection, query: FileQuery, *, offset: int = 0, limit: int | None = 50, cursor: str | None = None
) -> list[sqlite3.Row]:
    where, params = query.where()
    if cursor:
        key, row_id = decode_cursor(cursor, query.sort)
        column = SORTS[query.sort]
        op = "<" if query.descending else ">"
        where += f" AND ({column} {op} ? OR ({column} = ? AND m.id {op} ?))"
        params += [key, key, row_id]
    sql = f"SELECT m.* FROM media m WHERE {where} ORDER BY {query.order()}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return conn.execute(sql, params).fetchall()


def list_dirs(
    conn: sqlite3.Connection, root: str, parent: str, *, show_hidden: bool, owner: str | None = None
) -> list[sqlite3.Row]:
    """The subfolders of ``parent``; with ``owner``, only those holding (at any depth) an output of their jobs."""
    sql, params = "SELECT * FROM media_dirs d WHERE d.root = ? AND d.parent = ?", [root, parent]
    if not show_hidden:
        sql += " AND d.hidden = 0"
    if owner is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM media m WHERE m.root = d.root"
            " AND (m.subfolder = d.path OR substr(m.subfolder, 1, length(d.path) + 1) = d.path || '/')"
            " AND m.prompt_id IN (SELECT prompt_id FROM job_prompts WHERE username = ?))"
        )
        params.append(owner)
    return conn.execute(sql + " ORDER BY d.name COLLATE NOCASE", params).fetchall()


def models(conn: sqlite3.Connection, root: str = "output", owner: str | None = None) -> list[dict[str, Any]]:
    """The models of the indexed outputs with their counts (of ``owner``'s outputs alone, when given)."""
    mine = " AND prompt_id IN (SELECT prompt_id FROM job_prompts WHERE username = ?)" if owner is not None else ""
    rows = conn.execute(
        f"SELECT model, COUNT(*) AS n FROM media WHERE root = ? AND model IS NOT NULL{mine} GROUP BY model "
        "ORDER BY n DESC",
        (root, owner) if owner is not None else (root,),
    )
    return [{"model": r[0], "count": r[1]} for r in rows]


PREVIEWS = 4  # the newest images a folder tile shows


def folder_previews(
    conn: sqlite3.Connection,
    root: str,
    paths: list[str],
    *,
    show_hidden: bool,
    owner: str | None = None,
    limit: int = PREVIEWS,
) -> dict[str, list[dict[str, Any]]]:
    """The ``limit`` newest images inside each folder of ``paths`` (at any depth), newest first, as
    ``{filename, root, subfolder, mtime, id}``, in one query; with ``owner``, only the outputs of their jobs
    (the same rule as ``FileQuery.owner``).

    Each folder of the trees (``media_dirs``) gives its own ``limit`` newest through the listing index, which
    stops after them, and the newest of those win: the cost follows the number of folders, not of files.
    """
    if not paths:
        return {}
    params: list[Any] = [orjson.dumps(paths).decode(), root]
    visible_dirs = "" if show_hidden else " AND d.hidden = 0"
    inner = "i.root = ? AND i.subfolder = t.path AND i.kind = 'image'" + ("" if show_hidden else " AND i.hidden = 0")
    params.append(root)
    if owner is not None:
        inner += " AND i.prompt_id IN (SELECT prompt_id FROM job_prompts WHERE username = ?)"
        params.append(owner)
    params.append(limit)
    sql = (
        "WITH f(path) AS (SELECT value FROM json_each(?)),"
        " t(folder, path) AS (SELECT path, path FROM f UNION ALL SELECT f.path, d.path FROM f"
        f" JOIN media_dirs d ON d.root = ? AND d.path >= f.path || '/' AND d.path < f.path || '0'{visible_dirs})"
        " SELECT t.folder, (SELECT json_group_array(json_array(n.id, n.mtime, n.subfolder, n.filename)) FROM"
        f" (SELECT i.id, i.mtime, i.subfolder, i.filename FROM media i WHERE {inner}"
        " ORDER BY i.mtime DESC, i.id DESC LIMIT ?) n) FROM t"
    )
    # one scalar subquery per folder (a join on ``id IN (...)`` runs it once per row: several times slower)
    newest: dict[str, list[list[Any]]] = {}
    for folder, found in conn.execute(sql, params):
        newest.setdefault(folder, []).extend(orjson.loads(found))
    out = {}
    for folder, rows in newest.items():
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
        if rows:
            out[folder] = [
                {"id": r[0], "mtime": r[1], "subfolder": r[2], "filename": r[3], "root": root} for r in rows[:limit]
            ]
    return out
