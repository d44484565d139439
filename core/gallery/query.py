"""Listing the gallery index: which files a listing shows (``FileQuery``), in which order, a page at a time.

Every filter and sort stays on an index, so a page costs a few thousand index entries at most, whatever the
size of the gallery. A page is read one of two ways (``plan``):

- in the sort's order, through an index of (root[, subfolder], key, id), testing each entry against the filters
  (the others' columns are written ``+m.col`` so SQLite cannot take their index instead): cheap when the
  matches are dense, as most are. The indexes hold hidden and mtime, so those tests read no row;
- from the files the most selective filter picks (a user's favourites, rejects or ratings through the marks'
  indexes; a search's matches through the search index; a size or date range, a kind or a model through an index
  that holds every sort key), sorted afterwards, when they are few (``FEW``, weighted by ``Driver.cost``).

Which filter is selective is counted, not guessed: counting up to ``FEW`` entries of an index costs a fraction
of a millisecond. Only the page's own rows are then read whole. Cursors are keysets (the last row's sort key and
id) for every sort. The rating sort (the caller's own ratings) reads each rating in turn, newest first within
each; a small folder, or the few files a filter picks, are sorted by rating in one go.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..errors import BadRequest

SORT_NAMES = ("mtime", "created", "name", "size", "rating")
SORTS = {"mtime": "m.mtime", "created": "m.created", "name": "m.filename COLLATE NOCASE", "size": "m.size"}
SORT_COLUMNS = {"mtime": "mtime", "created": "created", "name": "filename", "size": "size"}
KIND_FILTERS = ("all", "image", "video", "animated", "audio")
REJECTED = ("show", "hide", "only")
TOP_RATING = 5
FEW = 8000  # a filter selecting fewer files (weighted by ``Driver.cost``) drives the page, sorted afterwards
WHOLE = 2000  # a folder of at most this many files is sorted by rating in one go
MARKS_COST = 4  # a file found through the marks costs a read of its row; one found through a filter's index, not
_SQLITE_INT = 2**63


def under(column: str, prefix: str) -> tuple[str, list[str]]:
    """SQL for ``column`` equal to prefix or inside it ('a' matches 'a' and 'a/b', not 'ab')."""
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [prefix, prefix + "/", prefix + "0"]


def fts_query(text: str, terms: Callable[[str], list[str] | None] | None = None) -> str | None:
    """User words as an FTS5 query: every word must appear, each as a prefix ('cat' finds 'cats'). With ``terms``
    (see :func:`vocabulary`), a word whose prefix stands for a few indexed terms is written as those terms: FTS5
    merges a prefix's whole doclist (every term under it, segment by segment), a few exact terms it reads alone."""
    # a run of underscores is a word to ``\w`` but no token to FTS5 (unicode61): it would match nothing
    words = [w for w in re.findall(r"\w+", text or "") if w.strip("_")]
    parts = []
    for word in words[:16]:
        exact = terms(word) if terms is not None else None
        parts.append("(" + " OR ".join(_quoted(t) for t in exact) + ")" if exact else _quoted(word) + "*")
    return " AND ".join(parts) or None


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def with_terms(conn: sqlite3.Connection, query: FileQuery) -> FileQuery:
    """``query`` with its search's prefixes expanded to the indexed terms they stand for, where they are few."""
    if not query.search or query.match is not None:
        return query
    return replace(query, match=fts_query(query.search, vocabulary(conn)))


EXPAND_MOST = 8  # a prefix standing for more indexed terms than this stays a prefix
_PLAIN_WORD = re.compile(r"^[a-z0-9]+$")  # what unicode61 keeps as it is once lowercased (no folding to guess)


def vocabulary(conn: sqlite3.Connection) -> Callable[[str], list[str] | None]:
    """The indexed terms a word is a prefix of (None: keep the prefix, when there are none or too many, or the
    word is not plain ASCII), read from the index's ``fts5vocab`` table (migration 21)."""

    def terms(word: str) -> list[str] | None:
        word = word.lower()
        if not _PLAIN_WORD.match(word):
            return None
        above = word[:-1] + chr(ord(word[-1]) + 1)  # the first text after every term that starts with the word
        found = [row[0] for row in conn.execute(
            "SELECT term FROM media_vocab WHERE term >= ? AND term < ? LIMIT ?", (word, above, EXPAND_MOST + 1)
        )]  # fmt: skip
        return found if 0 < len(found) <= EXPAND_MOST else None

    return terms


def visible_sql(alias: str, root: str, owner: str | None) -> tuple[str, list[Any]]:
    """SQL for: ``owner`` may see the file ``alias`` ("" when anyone may). Of the output folder, the outputs of
    their jobs; of the input folder, their files and nobody's."""
    if owner is None:
        return "", []
    if root == "input":
        return (
            f"NOT EXISTS (SELECT 1 FROM input_owners o WHERE o.subfolder = {alias}.subfolder"
            f" AND o.filename = {alias}.filename AND o.username != ?)",
            [owner],
        )
    return f"{alias}.prompt_id IN (SELECT prompt_id FROM job_prompts WHERE username = ?)", [owner]


@dataclass(frozen=True)
class Driver:
    """A query of the ids (as ``media_id``) one filter selects: from the user's marks or the search index (each
    file's row is then read by id), or through the index of ``column`` (which holds every sort key, so the page is
    sorted from the index alone)."""

    sql: str
    params: list[Any]
    columns: tuple[str, ...] = ()  # the media columns its index reads (none: the marks or the search index)
    walk: str = ""  # marks: its index, which lists the files newest first ("" when it does not)
    condition: str = ""  # marks: its terms over ``marks k``
    counter: str = ""  # marks: how many it picks, as a sum over ``mark_counts``

    @property
    def by_id(self) -> bool:
        """Whether it gives ids from outside ``media`` (the marks, the search index): each file's row is read."""
        return not self.columns

    @property
    def cost(self) -> int:
        """What reading one of its files costs, roughly: a driver by id reads each file's row."""
        return MARKS_COST if self.by_id else 1


def _marked(condition: str, file_id: str) -> str:
    return f"EXISTS (SELECT 1 FROM marks x WHERE x.username = ? AND x.media_id = {file_id} AND {condition})"


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
    owner: str | None = None  # only what this user may see (gallery_visibility per_user): see ``visible_sql``
    user: str = ""  # whose marks the mark filters and the rating sort read ("" with auth off)
    favourite: bool = False
    rejected: str = "show"  # show | hide | only
    min_rating: int = 0
    min_size: int | None = None
    max_size: int | None = None
    since: float | None = None  # mtime from (inclusive)
    until: float | None = None  # mtime before (exclusive)
    rating: int | None = None  # exactly this rating of the user's (0: unrated): the rating sort's levels
    match: str | None = None  # the search as FTS5 reads it, its prefixes expanded (``with_terms``); else from search

    def fts(self) -> str | None:
        return self.match or fts_query(self.search or "")

    @property
    def marked(self) -> bool:
        """Whether a filter reads the user's marks."""
        return self.favourite or self.rejected != "show" or self.min_rating > 0 or self.rating is not None

    def without_marks(self) -> FileQuery:
        return replace(self, favourite=False, rejected="show", min_rating=0, rating=None)

    def where(
        self, *, indexed: tuple[str, ...] | None = None, file_id: str = "m.id", marks_row: str = ""
    ) -> tuple[str, list[Any]]:
        """The WHERE clause over ``media m``; with ``indexed``, only those columns' terms (and the folder's) may
        use an index, so SQLite reads the index the plan chose. The mark terms test ``file_id`` (a plan that reads
        the marks first tests them before it reads the file's row), or the walked marks row ``marks_row``."""

        def col(name: str) -> str:
            return f"m.{name}" if indexed is None or name in indexed else f"+m.{name}"

        clauses: list[str] = ["m.root = ?"]
        params: list[Any] = [self.root]
        mine, more = visible_sql("m", self.root, self.owner)
        if mine:
            clauses.append(mine)
            params += more
        if self.recursive and self.subfolder:
            sql, folders = under("m.subfolder", self.subfolder)
            clauses.append(sql)
            params += folders
        elif not self.recursive:
            clauses.append("m.subfolder = ?")
            params.append(self.subfolder)
        if not self.show_hidden:
            clauses.append("m.hidden = 0")
        if self.kind == "animated":
            clauses.append(f"{col('kind')} = 'image' AND {col('animated')} = 1")
        elif self.kind != "all":
            clauses.append(f"{col('kind')} = ?")
            params.append(self.kind)
        if self.model:
            clauses.append(f"{col('model')} = ?")
            params.append(self.model)
        for bound, op, column in (
            (self.min_size, ">=", "size"),
            (self.max_size, "<=", "size"),
            (self.since, ">=", "mtime"),
            (self.until, "<", "mtime"),
        ):
            if bound is not None:
                clauses.append(f"{col(column)} {op} ?")
                params.append(bound)
        match = self.fts()
        if match:
            clauses.append("m.id IN (SELECT rowid FROM media_fts WHERE media_fts MATCH ?)")
            params.append(match)
        for sql, values in self._mark_terms(file_id, marks_row):
            clauses.append(sql)
            params += values
        return " AND ".join(clauses), params

    def _mark_terms(self, file_id: str, row: str) -> Iterator[tuple[str, list[Any]]]:
        """The mark filters: each a look at the user's marks of ``file_id``, or with ``row`` (a walk of the marks,
        whose indexes hold all three marks) a test of the walked row itself."""

        def has(condition: str, values: tuple[Any, ...] = ()) -> tuple[str, list[Any]]:
            if row:
                return f"{row}.{condition}", list(values)
            return _marked(f"x.{condition}", file_id), [self.user, *values]

        def lacks(condition: str) -> tuple[str, list[Any]]:
            sql, values = has(condition)
            return f"NOT {sql}", values

        if self.favourite:
            yield has("favourite = 1")
        if self.rejected == "hide":
            yield lacks("rejected = 1")
        elif self.rejected == "only":
            yield has("rejected = 1")
        if self.min_rating > 0:
            yield has("rating >= ?", (self.min_rating,))
        if self.rating == 0:
            yield lacks("rating > 0")
        elif self.rating is not None:
            yield has("rating = ?", (self.rating,))

    def drivers(self) -> Iterator[Driver]:
        """The ids that one filter alone selects, each read through an index of its own."""
        least = " + ".join(f"r{n}" for n in range(max(self.min_rating, 1), TOP_RATING + 1))
        marks: list[tuple[bool, str, str, list[Any], str]] = [  # each through its own index (migration 17)
            (self.favourite, "marks_favourite", "favourite = 1", [], "favourite"),
            (self.rejected == "only", "marks_rejected", "rejected = 1", [], "rejected"),
            (self.min_rating > 0, "marks_rating", "rating >= ?", [self.min_rating], least),
            (bool(self.rating), "marks_rating", "rating = ?", [self.rating], f"r{self.rating}"),
        ]
        for wanted, name, condition, values, counter in marks:
            if wanted:
                sql = f"SELECT media_id FROM marks INDEXED BY {name} WHERE username = ? AND {condition}"
                newest = "" if ">=" in condition else name  # one value: that part of the index is by mtime
                yield Driver(sql, [self.user, *values], walk=newest, condition=f"k.{condition}", counter=counter)
        match = self.fts()
        if match:  # a rare word's few matches beat walking the sort's index past every file that lacks it
            yield Driver("SELECT rowid AS media_id FROM media_fts WHERE media_fts MATCH ?", [match])
        of_root = "SELECT id AS media_id FROM media WHERE root = ? AND "
        if self.kind == "animated":
            yield Driver(of_root + "kind = 'image' AND animated = 1", [self.root], ("kind", "animated"))
        elif self.kind != "all":
            yield Driver(of_root + "kind = ?", [self.root, self.kind], ("kind",))
        if self.model:
            yield Driver(of_root + "model = ?", [self.root, self.model], ("model",))
        if self.sort != "size" and (self.min_size is not None or self.max_size is not None):
            bounds = [_or(self.min_size, 0), _or(self.max_size, _MAX)]
            yield Driver(of_root + "size BETWEEN ? AND ?", [self.root, *bounds], ("size",))
        if self.sort != "mtime" and (self.since is not None or self.until is not None):
            bounds = [_or(self.since, -_MAX), _or(self.until, _MAX)]
            yield Driver(of_root + "mtime >= ? AND mtime < ?", [self.root, *bounds], ("mtime",))

    def order(self, *, from_index: bool = True) -> str:
        """ORDER BY; without ``from_index``, written so SQLite sorts what the filter's index found (``+key``)
        instead of walking the sort's own index."""
        direction = "DESC" if self.descending else "ASC"
        return f"{'' if from_index else '+'}{SORTS[self.sort]} {direction}, m.id {direction}"


_MAX = _SQLITE_INT - 1


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


# -- cursors --------------------------------------------------------------------------------------
def encode_cursor(row: sqlite3.Row, sort: str) -> str:
    """The place after ``row`` in a listing sorted by ``sort``."""
    if sort == "rating":
        key: list[Any] = [row["rating_level"], row["mtime"], row["id"]]
    else:
        key = [row[SORT_COLUMNS[sort]], row["id"]]
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, ...]:
    """(key, id), or (rating, mtime, id) for the rating sort; a 400 INVALID_CURSOR for anything this server
    did not give out for that sort."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = isinstance(values, list) and _valid_key(values, sort)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise BadRequest("the cursor is not one this server gave out; start again without it", code="INVALID_CURSOR")
    return tuple(values)


def _valid_key(values: list[Any], sort: str) -> bool:
    number, whole, text = (float, int), (int,), (str,)
    types = {
        "mtime": (number, whole),
        "created": (number, whole),
        "size": (whole, whole),
        "name": (text, whole),
        "rating": (whole, number, whole),
    }[sort]
    if len(values) != len(types) or any(isinstance(v, bool) for v in values):
        return False
    for value, kinds in zip(values, types, strict=True):
        if not isinstance(value, kinds):
            return False
        if isinstance(value, int) and not -_SQLITE_INT <= value < _SQLITE_INT:  # SQLite binds 64 bits at most
            return False
        if isinstance(value, float) and value != value:  # NaN compares with nothing
            return False
    return sort != "rating" or 0 <= values[0] <= TOP_RATING


# -- pages ----------------------------------------------------------------------------------------
def list_files(
    conn: sqlite3.Connection, query: FileQuery, *, offset: int = 0, limit: int | None = 50, cursor: str | None = None
) -> list[sqlite3.Row]:
    """A page of the files ``query`` matches, in its order: after ``cursor`` (``encode_cursor``), else from
    ``offset``; every one with ``limit=None``."""
    query = with_terms(conn, query)
    if query.sort == "rating":
        return _by_rating(conn, query, offset, limit, decode_cursor(cursor, "rating") if cursor else None)
    after = decode_cursor(cursor, query.sort) if cursor else None
    return _page(conn, query, offset, limit, after)


@dataclass(frozen=True)
class Plan:
    """How a page is read: the FROM clause and its parameters, the columns whose terms may use an index (None:
    any), the ORDER BY, and the (key, id) a cursor's keyset compares."""

    source: str
    params: list[Any]
    indexed: tuple[str, ...] | None
    order: str
    keyset: str
    file_id: str = "m.id"  # what the mark terms test: the marks' own media_id when the plan reads the marks first
    marks_row: str = ""  # a walk of the marks: the row whose marks the terms test


def plan(conn: sqlite3.Connection, query: FileQuery, *, paged: bool = True) -> Plan:
    """The sort's index walked and filtered, or the rows of the most selective filter sorted (see the top)."""
    return _planned(_driver(conn, query) if paged else None, query)


def _planned(driver: Driver | None, query: FileQuery) -> Plan:
    key = SORTS[query.sort]
    if driver is None:
        return Plan("media m", [], None if query.search else (SORT_COLUMNS[query.sort],), query.order(), f"{key}, m.id")
    if driver.by_id:
        source = f"({driver.sql}) AS pick CROSS JOIN media m ON m.id = pick.media_id"
        return Plan(source, driver.params, None, query.order(from_index=False), f"+{key}, m.id", "pick.media_id")
    return Plan("media m", [], driver.columns, query.order(from_index=False), f"+{key}, m.id")


def _walked(conn: sqlite3.Connection, query: FileQuery) -> Plan | None:
    """Newest first, a user's favourites, rejects or files of one rating are read from the marks' own index, in
    its order (the marks hold each file's mtime): the page costs about its own rows. Of several, the one with the
    fewest files."""
    if query.sort != "mtime" or query.search:
        return None
    walks = [d for d in query.drivers() if d.walk]
    if not walks:
        return None
    # worth it while the marks are a small part of the folder; else its own index finds them as soon
    scope = _folder_count(conn, query, every=True)
    found, driver = min(((_estimate(conn, d, FEW), d) for d in walks), key=lambda pair: pair[0])
    if found * MARKS_COST >= scope:  # (counted up to FEW: past it, the folder is larger still)
        return None
    source = f"marks k INDEXED BY {driver.walk} CROSS JOIN media m ON m.id = k.media_id"
    direction = "DESC" if query.descending else "ASC"
    order = f"k.mtime {direction}, k.media_id {direction}"
    params = [query.user, *driver.params[1:]]
    source += f" AND k.username = ? AND {driver.condition}"
    return Plan(source, params, (), order, "k.mtime, k.media_id", "k.media_id", "k")


def _page(
    conn: sqlite3.Connection,
    query: FileQuery,
    offset: int,
    limit: int | None,
    after: tuple[Any, ...] | None,
    extra: str = "",
) -> list[sqlite3.Row]:
    chosen = (_walked(conn, query) if limit is not None else None) or plan(conn, query, paged=limit is not None)
    where, params = query.where(indexed=chosen.indexed, file_id=chosen.file_id, marks_row=chosen.marks_row)
    if after is not None:
        key, row_id = after
        where += f" AND ({chosen.keyset}) {'<' if query.descending else '>'} (?, ?)"
        params += [key, row_id]
    params = chosen.params + params
    order = chosen.order
    if limit is None:
        sql = f"SELECT m.*{extra} FROM {chosen.source} WHERE {where} ORDER BY {order} LIMIT -1 OFFSET ?"
        return conn.execute(sql, [*params, offset]).fetchall()
    # the page's ids first, sorted from the indexes (and as few rows as can be): then those rows whole
    ids = f"SELECT m.id FROM {chosen.source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    sql = f"SELECT m.*{extra} FROM ({ids}) AS page CROSS JOIN media m ON m.id = page.id ORDER BY {query.order()}"
    return conn.execute(sql, [*params, limit, offset]).fetchall()


def _driver(conn: sqlite3.Connection, query: FileQuery, budget: int | None = None, extra: int = 0) -> Driver | None:
    """The filter that selects fewest files (each costing ``Driver.cost`` plus ``extra``), if that is under
    ``budget`` (``FEW``) and fewer than the folder holds."""
    budget = FEW if budget is None else budget
    scope = _folder_count(conn, query, every=True)
    if scope <= WHOLE:
        return None  # the folder's own index reads it all in no time
    best: tuple[int, Driver] | None = None
    for driver in query.drivers():
        cost = driver.cost + extra
        most = budget // cost
        found = _estimate(conn, driver, most)
        if found < most and found < scope and (best is None or found * cost < best[0]):
            best = (found * cost, driver)
    return None if best is None else best[1]


def _estimate(conn: sqlite3.Connection, driver: Driver, most: int) -> int:
    """How many files a driver picks (up to ``most``): the user's marks from their per-folder counts, at once; the
    others counted in their index."""
    if driver.counter:
        sql = f"SELECT COALESCE(SUM({driver.counter}), 0) FROM mark_counts WHERE username = ?"
        return min(most, int(conn.execute(sql, [driver.params[0]]).fetchone()[0]))
    return int(conn.execute(f"SELECT COUNT(*) FROM ({driver.sql} LIMIT ?)", [*driver.params, most]).fetchone()[0])


_RATING = "COALESCE((SELECT r.rating FROM marks r WHERE r.username = ? AND r.media_id = m.id), 0)"


def _by_rating(
    conn: sqlite3.Connection, query: FileQuery, offset: int, limit: int | None, after: tuple[Any, ...] | None
) -> list[sqlite3.Row]:
    """The rating sort: highest first (lowest with ``asc``), newest first within each rating. A small folder is
    sorted whole, and so are the few files a selective filter picks; a large folder is read a rating at a time,
    each in the mtime order of its own index."""
    if limit is not None:
        # a query per rating costs about a page each: the few files a filter other than a rating picks are
        # sorted whole instead, up to a larger budget (each costs a look at its rating too)
        driver = _driver(conn, replace(query, min_rating=0), budget=WHOLE, extra=1)
        if driver is not None or _folder_count(conn, query, every=True) <= WHOLE:
            chosen = _planned(driver, replace(query, sort="mtime")) if driver is not None else None
            return _rated_whole(conn, query, offset, limit, after, chosen)
    lowest = max(query.min_rating, 1) if query.min_rating else 0
    levels = list(range(TOP_RATING, lowest - 1, -1)) if query.descending else list(range(lowest, TOP_RATING + 1))
    keyset: tuple[Any, ...] | None = None
    if after is not None:
        level, mtime, row_id = after
        levels = levels[levels.index(level) :] if level in levels else []
        keyset = (mtime, row_id)
    found: list[sqlite3.Row] = []
    for level in levels:
        want = None if limit is None else limit - len(found)
        if want == 0:
            break
        at_level = replace(query, sort="mtime", descending=True, rating=level, min_rating=0)
        rows = _page(conn, at_level, offset, want, keyset, extra=f", {level} AS rating_level")
        if offset and not rows:  # the whole level lies before the page
            offset = max(0, offset - count_files(conn, at_level))
        elif rows:
            offset = 0
        keyset = None
        found += rows
    return found


def _rated_whole(
    conn: sqlite3.Connection,
    query: FileQuery,
    offset: int,
    limit: int,
    after: tuple[Any, ...] | None,
    chosen: Plan | None,
) -> list[sqlite3.Row]:
    chosen = chosen or Plan("media m", [], None, "", "")
    where, params = query.where(indexed=chosen.indexed, file_id=chosen.file_id, marks_row=chosen.marks_row)
    direction = "DESC" if query.descending else "ASC"
    if after is not None:
        level, mtime, row_id = after
        where += (
            f" AND ({_RATING} {'<' if query.descending else '>'} ? OR ({_RATING} = ? AND (+m.mtime, m.id) < (?, ?)))"
        )
        params += [query.user, level, query.user, level, mtime, row_id]
    ids = (  # the page's ids and ratings first, then those rows whole (as ``_page``)
        f"SELECT m.id, {_RATING} AS level FROM {chosen.source} WHERE {where} "
        f"ORDER BY level {direction}, +m.mtime DESC, m.id DESC LIMIT ? OFFSET ?"
    )
    sql = (
        f"SELECT m.*, page.level AS rating_level FROM ({ids}) AS page CROSS JOIN media m ON m.id = page.id "
        f"ORDER BY page.level {direction}, m.mtime DESC, m.id DESC"
    )
    return conn.execute(sql, [query.user, *chosen.params, *params, limit, offset]).fetchall()


# -- counts ---------------------------------------------------------------------------------------
def plain(query: FileQuery) -> bool:
    """Whether only the folder (or tree), hidden files and a stored kind filter ``query``: the per-folder counts
    answer it (with the marks' per-folder counts for one mark filter, ``mark_counter``)."""
    return (
        not (query.search or query.model)
        and query.owner is None
        and query.kind != "animated"
        and query.min_size is None
        and query.max_size is None
        and query.since is None
        and query.until is None
    )


def mark_counter(query: FileQuery) -> tuple[str, bool] | None:
    """The mark filters of ``query`` as one sum over ``mark_counts`` (its SQL, and whether the files it counts are
    the ones left out), when they come to one: a favourite is never rejected, so favourites that are not rejected
    are the favourites."""
    ratings = "r1 + r2 + r3 + r4 + r5"
    favourite, rejected, least, level = query.favourite, query.rejected, query.min_rating, query.rating
    if least and level is None and not favourite and rejected == "show":
        return " + ".join(f"r{n}" for n in range(least, TOP_RATING + 1)), False
    if level is not None and not least and not favourite and rejected == "show":
        return (f"r{level}", False) if level else (ratings, True)
    if least or level is not None:
        return None
    if favourite:
        return ("0", False) if rejected == "only" else ("favourite", False)
    return None if rejected == "show" else ("rejected", rejected == "hide")


def _folder_count(conn: sqlite3.Connection, query: FileQuery, *, every: bool = False) -> int:
    """The files of the query's folder (or tree) and kind, hidden or not as it asks, from the per-folder counts;
    with ``every``, of any kind and hidden or not (as many as any filter there can match, or more)."""
    where, params = scope(query, every=every).where()
    return conn.execute(f"SELECT COALESCE(SUM(m.n), 0) FROM media_counts m WHERE {where}", params).fetchone()[0]


def scope(query: FileQuery, *, every: bool = False) -> FileQuery:
    """The query of the folder (or tree) alone: its kind and hidden files as asked, or (``every``) all of them."""
    if every:
        return FileQuery(query.root, query.subfolder, query.recursive, show_hidden=True)
    return FileQuery(
        query.root,
        query.subfolder,
        query.recursive,
        query.show_hidden,
        "all" if query.kind == "animated" else query.kind,
    )


def count_files(conn: sqlite3.Connection, query: FileQuery) -> int:
    query = with_terms(conn, query)
    if plain(query):
        counter = mark_counter(query) if query.marked else None
        if not query.marked:
            return _folder_count(conn, query)  # the per-folder counts answer at once, whatever the size
        if counter is not None:
            sql, left_out = counter
            where, params = scope(query).where()
            marked = conn.execute(
                f"SELECT COALESCE(SUM({sql}), 0) FROM mark_counts m WHERE m.username = ? AND {where}",
                [query.user, *params],
            ).fetchone()[0]
            return _folder_count(conn, query) - marked if left_out else marked
    # a filter on marks reads the user's marks rather than every file, however many they marked
    return _count(conn, query, _driver(conn, query) or next((d for d in query.drivers() if d.by_id), None))


def _count(conn: sqlite3.Connection, query: FileQuery, driver: Driver | None) -> int:
    where, params = query.where()
    if driver is None:
        return conn.execute(f"SELECT COUNT(*) FROM media m WHERE {where}", params).fetchone()[0]
    return conn.execute(
        f"SELECT COUNT(*) FROM ({driver.sql}) AS pick CROSS JOIN media m ON m.id = pick.media_id WHERE {where}",
        [*driver.params, *params],
    ).fetchone()[0]
