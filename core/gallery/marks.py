"""Each user's marks of the indexed files: favourite, rejected and a rating from 1 to 5 (0: none).

Marks are kept in the index, keyed by (username, file id): a household shares its files, not its tastes. A file
keeps its id when it is renamed or moved, so its marks follow it; they go when the file leaves the index (a
trigger of migration 17), and the trash keeps them with the file, so a restored file gets them back. A favourite
is never rejected: marking one clears the other. A file without any mark has no row. ``mark_counts`` (kept by
triggers) holds their per-folder totals, so counts stay instant.

Functions take a ``sqlite3.Connection`` and run inside the caller's transaction; with auth off every mark is
``NO_USER``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest
from .query import TOP_RATING, FileQuery, count_files, plain, scope

NO_USER = ""  # whose marks they are while authentication is off
FIELDS = ("favourite", "rejected", "rating")
UNMARKED = {"favourite": False, "rejected": False, "rating": 0}
# (username, media_id, favourite, rejected, rating, updated_at); the file's mtime comes along (the marks' indexes
# list a user's favourites, rejects or one rating newest first)
_UPSERT = (
    "INSERT INTO marks (username, media_id, favourite, rejected, rating, updated_at, mtime) "
    "SELECT ?1, id, ?3, ?4, ?5, ?6, mtime FROM media WHERE id = ?2 "
    "ON CONFLICT (username, media_id) DO UPDATE SET favourite = excluded.favourite, rejected = excluded.rejected, "
    "rating = excluded.rating, updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class MarkChange:
    """What to set; None leaves a mark as it is."""

    favourite: bool | None = None
    rejected: bool | None = None
    rating: int | None = None


def parse_change(body: Any) -> MarkChange:
    """``{"favourite": bool, "rejected": bool, "rating": 0..5}`` (any of them, at least one), or a 400."""
    if not isinstance(body, Mapping) or not body:
        raise BadRequest('send the marks to set: {"favourite": true|false, "rejected": true|false, "rating": 0-5}',
                         code="INVALID_MARKS")  # fmt: skip
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:
        raise BadRequest(f"unknown mark {unknown[0][:40]!r}: marks are {', '.join(FIELDS)}", code="INVALID_MARKS")
    for name in ("favourite", "rejected"):
        if name in body and not isinstance(body[name], bool):
            raise BadRequest(f"{name} must be true or false", code=f"INVALID_{name.upper()}")
    rating = body.get("rating")
    if "rating" in body and (isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= TOP_RATING):
        shown = repr(rating)[:40]
        raise BadRequest(
            f"rating must be a whole number from 0 (none) to {TOP_RATING}, not {shown}", code="INVALID_RATING"
        )
    if body.get("favourite") is True and body.get("rejected") is True:
        raise BadRequest("a file cannot be a favourite and rejected at once", code="CONFLICTING_MARKS")
    return MarkChange(body.get("favourite"), body.get("rejected"), rating)


def applied(marks: Mapping[str, Any], change: MarkChange) -> dict[str, Any]:
    """``marks`` after ``change``: setting a favourite clears a reject, and setting a reject clears a favourite."""
    new = {**UNMARKED, **marks}
    if change.rating is not None:
        new["rating"] = change.rating
    if change.rejected is not None:
        new["rejected"] = change.rejected
        if change.rejected:
            new["favourite"] = False
    if change.favourite is not None:
        new["favourite"] = change.favourite
        if change.favourite:
            new["rejected"] = False
    return new


def _of(row: Any) -> dict[str, Any]:
    return {"favourite": bool(row["favourite"]), "rejected": bool(row["rejected"]), "rating": int(row["rating"])}


def read(conn: sqlite3.Connection, username: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The user's marks of these files, by id (``UNMARKED`` for a file without any)."""
    wanted = list(ids)
    found = {id_: dict(UNMARKED) for id_ in wanted}
    rows = conn.execute(
        "SELECT media_id, favourite, rejected, rating FROM marks WHERE username = ? "
        "AND media_id IN (SELECT value FROM json_each(?))",
        (username, orjson.dumps(wanted)),
    )
    for row in rows:
        found[row["media_id"]] = _of(row)
    return found


def write(
    conn: sqlite3.Connection, username: str, ids: Iterable[int], change: MarkChange, now: float
) -> dict[int, dict[str, Any]]:
    """Apply ``change`` to the user's marks of these (indexed) files; their marks now, by id."""
    before = read(conn, username, ids)
    after = {id_: applied(marks, change) for id_, marks in before.items()}
    kept = [
        (username, i, int(m["favourite"]), int(m["rejected"]), m["rating"], now) for i, m in after.items() if _any(m)
    ]
    conn.executemany(
        _UPSERT
        + " WHERE (favourite, rejected, rating) IS NOT (excluded.favourite, excluded.rejected, excluded.rating)",
        kept,
    )
    cleared = [(username, i) for i, m in after.items() if not _any(m) and _any(before[i])]
    conn.executemany("DELETE FROM marks WHERE username = ? AND media_id = ?", cleared)
    return after


def _any(marks: Mapping[str, Any]) -> bool:
    return bool(marks["favourite"] or marks["rejected"] or marks["rating"])


def counts(conn: sqlite3.Connection, query: FileQuery) -> dict[str, Any]:
    """How many files the query's filters other than marks match, and how many of those the user marked:
    ``{total, favourite, rejected, rated, ratings: {"1": n, .., "5": n}}``."""
    unmarked = query.without_marks()
    total = count_files(conn, unmarked)
    if plain(unmarked):  # the per-folder counts of marks
        where, params = scope(unmarked).where()
        columns = ["m.favourite", "m.rejected", *(f"m.r{n}" for n in range(1, TOP_RATING + 1))]
        source = "mark_counts m WHERE m.username = ?"
    else:  # the user's marks, each tested against the filters
        where, params = unmarked.where()
        columns = ["k.favourite", "k.rejected", *(f"k.rating = {n}" for n in range(1, TOP_RATING + 1))]
        source = "marks k CROSS JOIN media m ON m.id = k.media_id WHERE k.username = ?"
    sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in columns)
    row = conn.execute(f"SELECT {sums} FROM {source} AND {where}", [query.user, *params]).fetchone()
    ratings = {str(n): row[1 + n] for n in range(1, TOP_RATING + 1)}
    return {
        "total": total,
        "favourite": row[0],
        "rejected": row[1],
        "rated": sum(ratings.values()),
        "ratings": ratings,
    }


# -- the trash -----------------------------------------------------------------------------------
def snapshot(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """Every user's marks of these files, as the trash keeps them (JSON by file id; files without marks left out)."""
    kept: dict[int, list[list[Any]]] = {}
    rows = conn.execute(
        "SELECT media_id, username, favourite, rejected, rating FROM marks "
        "WHERE media_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(ids)),),
    )
    for row in rows:
        kept.setdefault(row["media_id"], []).append([row["username"], row["favourite"], row["rejected"], row["rating"]])
    return {media_id: orjson.dumps(entries).decode() for media_id, entries in kept.items()}


def restore(conn: sqlite3.Connection, media_id: int, saved: str | None, now: float) -> None:
    """Give a file back the marks ``snapshot`` kept of it (a restored file has a new id)."""
    try:
        entries = orjson.loads(saved) if saved else []
    except orjson.JSONDecodeError:
        return
    conn.executemany(  # an upsert, not a REPLACE: that would delete without telling the counts' triggers
        _UPSERT,
        [(e[0], media_id, e[1], e[2], e[3], now) for e in entries if isinstance(e, list) and len(e) == 4],
    )
