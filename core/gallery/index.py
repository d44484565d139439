"""The gallery index in SQLite: one row per media file of the output and input folders.

Listing, counting, sorting and search read this table; nothing here walks a
folder. Functions take a ``sqlite3.Connection`` and run inside the caller's
transaction (``Database.submit_write`` for writes, ``execute_fn`` for reads).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from .query import (  # noqa: F401 (the listing's API, read through this module)
    KIND_FILTERS,
    REJECTED,
    SORT_NAMES,
    SORTS,
    TOP_RATING,
    FileQuery,
    count_files,
    decode_cursor,
    encode_cursor,
    fts_query,
    list_files,
    under,
    visible_sql,
)

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
    "animated",
)
# The indexes listings need (migrations 3 and 17 create them): one per sort over a root and over a folder, and
# the model's and kind's. Each holds what filters and sorts read (hidden, mtime; the filters' indexes every sort
# key), so a page is found without reading the rows it does not return. A first scan into an empty table drops
# them and builds them once at the end: far faster than growing them row by row.
_COVER = "hidden, created, size, filename COLLATE NOCASE"
LISTING_INDEXES = {
    "media_root_mtime": f"media(root, mtime DESC, id DESC, {_COVER})",
    "media_folder_mtime": f"media(root, subfolder, mtime DESC, id DESC, {_COVER})",
    "media_model": f"media(root, model, mtime DESC, id DESC, {_COVER})",
    "media_root_created": "media(root, created DESC, id DESC, hidden, mtime)",
    "media_folder_created": "media(root, subfolder, created DESC, id DESC, hidden, mtime)",
    "media_root_name": "media(root, filename COLLATE NOCASE, id, hidden, mtime)",
    "media_folder_name": "media(root, subfolder, filename COLLATE NOCASE, id, hidden, mtime)",
    "media_root_size": "media(root, size DESC, id DESC, hidden, mtime, created, filename COLLATE NOCASE)",
    "media_folder_size": "media(root, subfolder, size DESC, id DESC, hidden, mtime, created, filename COLLATE NOCASE)",
    "media_kind": "media(root, kind, animated, hidden, mtime, created, size, filename COLLATE NOCASE)",
}
_MTIME = FILE_COLUMNS.index("mtime")
_MTIME_NS, _SIZE = FILE_COLUMNS.index("mtime_ns"), FILE_COLUMNS.index("size")
_POSITIVE, _MODEL = FILE_COLUMNS.index("positive"), FILE_COLUMNS.index("model")
# a new row's ``created`` is its mtime then (the last value); a refresh leaves it as it was
_VALUES = f"({', '.join(FILE_COLUMNS)}, created) VALUES ({', '.join('?' for _ in FILE_COLUMNS)}, ?)"
_INSERT = f"INSERT OR IGNORE INTO media{_VALUES}"
_UPSERT_MANY = f"INSERT INTO media{_VALUES} ON CONFLICT(root, subfolder, filename) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in FILE_COLUMNS[3:]
)
_UPSERT = _UPSERT_MANY + " RETURNING id"


def _values(entry: dict[str, Any] | list[Any]) -> list[Any]:
    """An entry (a dict, or its values in ``FILE_COLUMNS`` order) as the parameters of ``_VALUES``."""
    values = row_values(entry)
    return [*values, values[_MTIME]]


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
        row_id = conn.execute(_UPSERT, _values(entry)).fetchone()[0]
        ids.append(row_id)
        text = (entry.get("positive"), entry.get("model"))
        if old is None or (old["positive"], old["model"]) != text:
            if old is not None:
                stale.append(old)
            fresh.append((row_id, *text))
    _search_forget(conn, stale)
    conn.executemany("INSERT INTO media_fts(rowid, positive, model) VALUES (?, ?, ?)", fresh)
    return ids


def row_values(entry: dict[str, Any] | list[Any]) -> list[Any]:
    """An entry as its values in ``FILE_COLUMNS`` order."""
    return entry if isinstance(entry, list) else [entry.get(c) for c in FILE_COLUMNS]


def upsert_described(
    conn: sqlite3.Connection, entries: list[list[Any]]
) -> list[tuple[sqlite3.Row, sqlite3.Row | None]]:
    """Insert or refresh many described files at once (values in ``FILE_COLUMNS`` order): one statement for all,
    the search index fed once for the batch. Returns (row now, row before or None) for each file that changed;
    an entry the index already holds as it is (same mtime_ns and size) is left alone.
    """
    if not entries:
        return []
    keys = [(e[0], e[1], e[2]) for e in entries]
    before = find_files(conn, keys)
    olds = [before.get(key) for key in keys]
    todo = [
        (entry, old)
        for entry, old in zip(entries, olds, strict=True)
        if old is None or (old["mtime_ns"], old["size"]) != (entry[_MTIME_NS], entry[_SIZE])
    ]
    conn.executemany(_UPSERT_MANY, [_values(entry) for entry, _ in todo])
    after = find_files(conn, [(e[0], e[1], e[2]) for e, _ in todo])
    done = [(after.get((entry[0], entry[1], entry[2])), old, entry) for entry, old in todo]
    stale, fresh = [], []
    for new, old, entry in done:
        if new is None:  # cannot be: written just above, in this transaction
            continue
        if old is None or (old["positive"], old["model"]) != (entry[_POSITIVE], entry[_MODEL]):
            if old is not None:
                stale.append(old)
            fresh.append((new["id"], new["positive"], new["model"]))
    _search_forget(conn, stale)
    conn.executemany("INSERT INTO media_fts(rowid, positive, model) VALUES (?, ?, ?)", fresh)
    return [(new, old) for new, old, _ in done if new is not None]


def stamps(conn: sqlite3.Connection, keys: list[tuple[str, str, str]]) -> list[tuple[int, int] | None]:
    """(mtime_ns, size) of each (root, subfolder, filename) the index holds, None for the others."""
    found = []
    for key in keys:
        row = conn.execute(
            "SELECT mtime_ns, size FROM media WHERE root = ? AND subfolder = ? AND filename = ?", key
        ).fetchone()
        found.append((row[0], row[1]) if row is not None else None)
    return found


def insert_new_files(conn: sqlite3.Connection, entries: list[dict[str, Any]] | list[list[Any]]) -> None:
    """Bulk insert of files not yet indexed (a first scan). The search index is rebuilt once at the end
    (``finish_bulk``); a file the watcher indexed meanwhile is left as it is.
    """
    conn.executemany(_INSERT, [_values(e) for e in entries])


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


def remove_tree(conn: sqlite3.Connection, root: str, prefix: str) -> list[sqlite3.Row]:
    """Forget a folder that went away: its files (returned) and its subfolders."""
    files_sql, params = under("subfolder", prefix)
    rows = conn.execute(f"DELETE FROM media WHERE root = ? AND {files_sql} RETURNING *", [root, *params]).fetchall()
    _search_forget(conn, rows)
    dirs_sql, dir_params = under("path", prefix)
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


def known_files_in(conn: sqlite3.Connection, root: str, subfolder: str) -> dict[str, tuple[int, int]]:
    """filename → (mtime_ns, size) for every indexed file directly in one folder of a root."""
    rows = conn.execute(
        "SELECT filename, mtime_ns, size FROM media WHERE root = ? AND subfolder = ?", (root, subfolder)
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def file_folders(conn: sqlite3.Connection, root: str) -> set[str]:
    """The folders of a root that hold indexed files (from the per-folder counts: no walk of the files)."""
    return {r[0] for r in conn.execute("SELECT DISTINCT subfolder FROM media_counts WHERE root = ? AND n > 0", (root,))}


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


def find_files(conn: sqlite3.Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], sqlite3.Row]:
    """The rows of these (root, subfolder, filename) that exist, by key, in one query (a batch's lookups one by one
    cost the writer more than the batch's inserts)."""
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT m.* FROM json_each(?) j CROSS JOIN media m ON m.root = json_extract(j.value, '$[0]')"
        " AND m.subfolder = json_extract(j.value, '$[1]') AND m.filename = json_extract(j.value, '$[2]')",
        (orjson.dumps(keys),),
    )
    return {(r["root"], r["subfolder"], r["filename"]): r for r in rows}


def dir_exists(conn: sqlite3.Connection, root: str, path: str) -> bool:
    if not path:
        return True
    return conn.execute("SELECT 1 FROM media_dirs WHERE root = ? AND path = ?", (root, path)).fetchone() is not None


def list_dirs(
    conn: sqlite3.Connection, root: str, parent: str, *, show_hidden: bool, owner: str | None = None
) -> list[sqlite3.Row]:
    """The subfolders of ``parent``; with ``owner``, only those holding (at any depth) a file they may see
    (``visible_sql``), and empty ones (a folder just made, to move files into)."""
    sql, params = "SELECT * FROM media_dirs d WHERE d.root = ? AND d.parent = ?", [root, parent]
    if not show_hidden:
        sql += " AND d.hidden = 0"
    mine, more = visible_sql("m", root, owner)
    if mine:
        inside = (
            "SELECT 1 FROM media m WHERE m.root = d.root"
            " AND (m.subfolder = d.path OR substr(m.subfolder, 1, length(d.path) + 1) = d.path || '/')"
        )
        sql += f" AND (EXISTS ({inside} AND {mine}) OR NOT EXISTS ({inside}))"
        params += more
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
    ``{filename, root, subfolder, mtime, id}``, in one query; with ``owner``, only the files they may see
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
    mine, more = visible_sql("i", root, owner)
    if mine:
        inner += f" AND {mine}"
        params += more
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
