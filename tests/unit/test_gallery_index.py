"""core.gallery.index: the media table, its queries, cursors and full-text search, on a real SQLite file."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cozygen.core.errors import BadRequest
from cozygen.core.gallery import index, query
from cozygen.core.gallery.index import FileQuery, count_files, decode_cursor, encode_cursor, fts_query, list_files
from cozygen.core.store.db import connect, migrate
from cozygen.core.store.migrations import MIGRATIONS


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "gallery.sqlite3")
    migrate(conn, MIGRATIONS)
    yield conn
    conn.close()


def entry(filename: str, subfolder: str = "", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "root": "output",
        "subfolder": subfolder,
        "filename": filename,
        "kind": "image",
        "hidden": 0,
        "size": 100,
        "mtime": 1000.0,
        "mtime_ns": 1_000_000_000_000,
        "has_prompt": 0,
    }
    body.update(fields)
    return body


def names(rows: list[sqlite3.Row]) -> list[str]:
    return [f"{r['subfolder']}/{r['filename']}" if r["subfolder"] else r["filename"] for r in rows]


def fts_is_consistent(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO media_fts(media_fts, rank) VALUES ('integrity-check', 1)")


# -- writes -----------------------------------------------------------------------------
def test_upsert_keeps_ids_on_refresh(conn: sqlite3.Connection) -> None:
    ids = index.upsert_files(conn, [entry("a.png"), entry("b.png"), entry("a.png", "sub")])
    assert len(set(ids)) == 3
    again = index.upsert_files(conn, [entry("b.png", size=555, width=8, height=9), entry("a.png")])
    assert again == [ids[1], ids[0]]
    row = index.get_file(conn, ids[1])
    assert (row["size"], row["width"], row["height"]) == (555, 8, 9)
    assert conn.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 3
    other_root = index.upsert_files(conn, [entry("a.png", root="input")])
    assert other_root[0] not in ids


def test_refresh_clears_fields_the_new_description_lacks(conn: sqlite3.Connection) -> None:
    (file_id,) = index.upsert_files(conn, [entry("a.png", positive="a cat", model="m", has_prompt=1, seed=5)])
    index.upsert_files(conn, [entry("a.png")])
    row = index.get_file(conn, file_id)
    assert (row["positive"], row["model"], row["seed"], row["has_prompt"]) == (None, None, None, 0)


def test_find_get_and_remove(conn: sqlite3.Connection) -> None:
    a, b, c = index.upsert_files(conn, [entry("a.png"), entry("b.png", "s"), entry("c.png")])
    assert index.find_file(conn, "output", "s", "b.png")["id"] == b
    assert index.find_file(conn, "output", "", "b.png") is None
    assert index.find_file(conn, "input", "s", "b.png") is None
    removed = index.remove_file(conn, "output", "s", "b.png")
    assert removed["id"] == b and removed["filename"] == "b.png"
    assert index.remove_file(conn, "output", "s", "b.png") is None
    assert index.get_file(conn, b) is None
    assert index.remove_ids(conn, [a, c, 999]) == 2
    assert conn.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


def test_known_files_and_dirs(conn: sqlite3.Connection) -> None:
    index.upsert_files(conn, [entry("a.png", mtime_ns=7, size=3), entry("b.png", "x", root="input")])
    index.upsert_dirs(conn, "output", [("x", 1.0, False), ("x/y", 2.0, False)])
    assert index.known_files(conn, "output") == {("", "a.png"): (7, 3)}
    assert index.known_files(conn, "input") == {("x", "b.png"): (1_000_000_000_000, 100)}
    assert index.known_dirs(conn, "output") == {"x", "x/y"}
    assert index.known_dirs(conn, "input") == set()
    assert index.dir_exists(conn, "output", "x/y")
    assert index.dir_exists(conn, "output", "")  # the root always exists
    assert not index.dir_exists(conn, "output", "x/z")
    index.remove_dirs(conn, "output", ["x/y"])
    assert index.known_dirs(conn, "output") == {"x"}


def test_upsert_dirs_records_parent_and_name_and_refreshes(conn: sqlite3.Connection) -> None:
    index.upsert_dirs(conn, "output", [("a", 1.0, False), ("a/b/c", 2.0, False)])
    index.upsert_dirs(conn, "output", [("a/b/c", 3.0, True)])
    row = conn.execute("SELECT * FROM media_dirs WHERE path = 'a/b/c'").fetchone()
    assert (row["parent"], row["name"], row["mtime"], row["hidden"]) == ("a/b", "c", 3.0, 1)
    top = conn.execute("SELECT * FROM media_dirs WHERE path = 'a'").fetchone()
    assert (top["parent"], top["name"]) == ("", "a")


def test_remove_tree_removes_the_folder_and_below_but_not_siblings_with_a_common_prefix(
    conn: sqlite3.Connection,
) -> None:
    index.upsert_files(
        conn,
        [
            entry("1.png", "a"),
            entry("2.png", "a/b"),
            entry("3.png", "a/b/c"),
            entry("4.png", "ab"),
            entry("5.png", "a0"),
            entry("6.png", "a.b"),
            entry("7.png", ""),
            entry("8.png", "a", root="input"),
        ],
    )
    index.upsert_dirs(conn, "output", [(p, 1.0, False) for p in ("a", "a/b", "a/b/c", "ab", "a0", "a.b")])
    index.upsert_dirs(conn, "input", [("a", 1.0, False)])
    removed = index.remove_tree(conn, "output", "a")
    assert sorted(names(removed)) == ["a/1.png", "a/b/2.png", "a/b/c/3.png"]
    left = conn.execute("SELECT root, subfolder, filename FROM media ORDER BY root, subfolder").fetchall()
    assert [tuple(r) for r in left] == [
        ("input", "a", "8.png"),
        ("output", "", "7.png"),
        ("output", "a.b", "6.png"),
        ("output", "a0", "5.png"),
        ("output", "ab", "4.png"),
    ]
    assert index.known_dirs(conn, "output") == {"ab", "a0", "a.b"}
    assert index.known_dirs(conn, "input") == {"a"}


# -- filters -----------------------------------------------------------------------------
@pytest.fixture
def tree(conn: sqlite3.Connection) -> sqlite3.Connection:
    index.upsert_files(
        conn,
        [
            entry("root.png", ""),
            entry("a.png", "a"),
            entry("b.png", "a/b"),
            entry("c.png", "a/b/c"),
            entry("ab.png", "ab"),
            entry("dash.png", "a-b"),
            entry("zero.png", "a0"),
            entry(".dot.png", "a", hidden=1),
            entry("h.png", "a/.h", hidden=1),
            entry("clip.mp4", "a", kind="video"),
            entry("in.png", "a", root="input"),
        ],
    )
    return conn


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FileQuery(), ["root.png"]),
        (FileQuery(subfolder="a"), ["a/a.png", "a/clip.mp4"]),
        (FileQuery(subfolder="a", recursive=True), ["a/a.png", "a/b/b.png", "a/b/c/c.png", "a/clip.mp4"]),
        (FileQuery(subfolder="a/b", recursive=True), ["a/b/b.png", "a/b/c/c.png"]),
        (FileQuery(subfolder="ab", recursive=True), ["ab/ab.png"]),
        (
            FileQuery(recursive=True),
            [
                "a-b/dash.png",
                "a/a.png",
                "a/b/b.png",
                "a/b/c/c.png",
                "a/clip.mp4",
                "a0/zero.png",
                "ab/ab.png",
                "root.png",
            ],
        ),
        (
            FileQuery(subfolder="a", recursive=True, show_hidden=True),
            ["a/.dot.png", "a/.h/h.png", "a/a.png", "a/b/b.png", "a/b/c/c.png", "a/clip.mp4"],
        ),
        (FileQuery(subfolder="a", show_hidden=True), ["a/.dot.png", "a/a.png", "a/clip.mp4"]),
        (FileQuery(subfolder="a", recursive=True, kind="video"), ["a/clip.mp4"]),
        (FileQuery(subfolder="a", recursive=True, kind="image"), ["a/a.png", "a/b/b.png", "a/b/c/c.png"]),
        (FileQuery(subfolder="a", kind="audio"), []),
        (FileQuery(root="input", subfolder="a"), ["a/in.png"]),
        (FileQuery(subfolder="missing", recursive=True), []),
    ],
)
def test_where_filters_folders_hidden_files_and_kinds(
    tree: sqlite3.Connection, query: FileQuery, expected: list[str]
) -> None:
    rows = list_files(tree, query, limit=None)
    assert sorted(names(rows)) == sorted(expected)
    assert count_files(tree, query) == len(expected)


def test_model_filter_is_case_insensitive(conn: sqlite3.Connection) -> None:
    index.upsert_files(
        conn,
        [
            entry("1.png", model="sd15.safetensors"),
            entry("2.png", model="SDXL.safetensors"),
            entry("3.png"),
        ],
    )
    assert names(list_files(conn, FileQuery(model="SD15.SafeTensors"))) == ["1.png"]
    assert names(list_files(conn, FileQuery(model="sdxl.safetensors"))) == ["2.png"]
    assert list_files(conn, FileQuery(model="sd15")) == []  # the model filter is exact, not a prefix
    assert count_files(conn, FileQuery(model=None)) == 3
    assert {m["model"].lower(): m["count"] for m in index.models(conn)} == {
        "sd15.safetensors": 1,
        "sdxl.safetensors": 1,
    }


def test_models_counts_per_model_most_used_first(conn: sqlite3.Connection) -> None:
    index.upsert_files(
        conn,
        [entry(f"{i}.png", model="b") for i in range(3)]
        + [entry("x.png", model="a"), entry("y.png", model="a", root="input")],
    )
    assert index.models(conn) == [{"model": "b", "count": 3}, {"model": "a", "count": 1}]
    assert index.models(conn, "input") == [{"model": "a", "count": 1}]


def test_models_of_one_owner_count_only_their_outputs(conn: sqlite3.Connection) -> None:
    index.upsert_files(
        conn, [entry("1.png", model="hers", prompt_id="p1"), entry("2.png", model="his", prompt_id="p2")]
    )
    conn.execute("INSERT INTO job_prompts (prompt_id, job_id, username) VALUES ('p1', 'j1', 'alice')")
    assert index.models(conn, owner="alice") == [{"model": "hers", "count": 1}]
    assert index.models(conn, owner="vera") == []
    assert len(index.models(conn)) == 2


# -- full-text search ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cat", '"cat"*'),
        ("  red,  CAT! ", '"red"* AND "CAT"*'),
        ('say "hi"', '"say"* AND "hi"*'),
        ("NEAR AND OR", '"NEAR"* AND "AND"* AND "OR"*'),  # operators are quoted, never interpreted
        ("", None),
        (None, None),
        ("!!! ... --- ", None),
        ("_", None),
        ("__ -_-", None),
    ],
)
def test_fts_query(text: str | None, expected: str | None) -> None:
    assert fts_query(text) == expected


def test_fts_query_keeps_at_most_16_words() -> None:
    query = fts_query(" ".join(f"w{i}" for i in range(30)))
    assert query is not None and query.split(" AND ") == [f'"w{i}"*' for i in range(16)]


def test_fts_query_writes_a_prefix_of_few_terms_as_those_terms() -> None:
    terms = {"ca": ["cat", "cats"], "re": None}.get
    assert fts_query("ca re", lambda w: terms(w)) == '("cat" OR "cats") AND "re"*'


def test_a_prefix_is_expanded_only_where_the_index_holds_few_plain_terms(conn: sqlite3.Connection) -> None:
    words = [f"dog{n}" for n in range(query.EXPAND_MOST + 1)]
    index.upsert_files(conn, [entry("1.png", positive=" ".join(["cat", "cats", "café", *words]))])
    terms = query.vocabulary(conn)
    assert terms("CA") == ["cafe", "cat", "cats"]  # unicode61 folds é: the index holds "cafe"
    assert terms("dog") is None  # more terms than EXPAND_MOST: the prefix is cheaper
    assert terms("caf\u00e9") is None  # not plain ASCII: left to FTS5's own folding
    assert terms("zebra") is None


@pytest.fixture
def prompts(conn: sqlite3.Connection) -> sqlite3.Connection:
    index.upsert_files(
        conn,
        [
            entry("1.png", positive="a red cat on a mat", negative="blurry", model="sd15.safetensors"),
            entry("2.png", positive="two cats and a dog", negative="ugly, text", model="sdxl.safetensors"),
            entry("3.png", positive="a blue bird", negative="watermark"),
            entry("4.png"),
            entry("5.png", "sub", positive="a red cat in a folder"),
            entry("6.png", positive="a red cat, hidden", hidden=1),
        ],
    )
    return conn


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("cat", ["1.png", "2.png"]),  # 'cat' finds 'cats'
        ("ca", ["1.png", "2.png"]),
        ("CAT", ["1.png", "2.png"]),
        ("red cat", ["1.png"]),  # every word must appear
        ("cat red", ["1.png"]),
        ("red dog", []),
        ("blurry", []),  # the negative prompt is not searched (boilerplate would match everything)
        ("sdxl", ["2.png"]),  # and the model
        ("safetensors cat", ["1.png", "2.png"]),
        ("red, cat!", ["1.png"]),
        ("elephant", []),
        ("!!!", ["1.png", "2.png", "3.png", "4.png"]),  # nothing to search for: no filter
        ("_", ["1.png", "2.png", "3.png", "4.png"]),
        ("", ["1.png", "2.png", "3.png", "4.png"]),
        ('"', ["1.png", "2.png", "3.png", "4.png"]),
    ],
)
def test_search(prompts: sqlite3.Connection, search: str, expected: list[str]) -> None:
    query = FileQuery(search=search)
    assert sorted(names(list_files(prompts, query))) == expected
    assert count_files(prompts, query) == len(expected)


def test_search_combines_with_folders_and_hidden(prompts: sqlite3.Connection) -> None:
    assert sorted(names(list_files(prompts, FileQuery(search="red cat", recursive=True)))) == ["1.png", "sub/5.png"]
    assert sorted(names(list_files(prompts, FileQuery(search="red cat", show_hidden=True)))) == ["1.png", "6.png"]
    assert names(list_files(prompts, FileQuery(search="cat", model="SDXL.safetensors"))) == ["2.png"]


def test_fts_follows_updates_and_deletes(prompts: sqlite3.Connection) -> None:
    conn = prompts
    (first,) = index.upsert_files(conn, [entry("1.png", positive="a green frog", model="sd15.safetensors")])
    assert names(list_files(conn, FileQuery(search="frog"))) == ["1.png"]
    assert names(list_files(conn, FileQuery(search="red cat"))) == []  # the old prompt is gone from the index
    assert names(list_files(conn, FileQuery(search="blurry"))) == []  # the new description has no negative
    (again,) = index.upsert_files(conn, [entry("1.png", positive="a green frog", model="turbo.safetensors")])
    assert again == first
    assert names(list_files(conn, FileQuery(search="turbo frog"))) == ["1.png"]
    assert names(list_files(conn, FileQuery(search="sd15"))) == []
    # a rename touches no searched column: the row keeps its place in the index
    conn.execute("UPDATE media SET filename = 'renamed.png' WHERE id = ?", (first,))
    assert names(list_files(conn, FileQuery(search="frog"))) == ["renamed.png"]
    index.remove_file(conn, "output", "", "renamed.png")
    assert list_files(conn, FileQuery(search="frog")) == []
    index.remove_tree(conn, "output", "sub")
    assert names(list_files(conn, FileQuery(search="red cat", recursive=True))) == []
    index.remove_ids(conn, [r["id"] for r in list_files(conn, FileQuery(search="dog"))])
    assert list_files(conn, FileQuery(search="cats")) == []
    # a re-used id must not inherit the words of the row that had it before
    index.upsert_files(conn, [entry("new.png", positive="plain")])
    assert names(list_files(conn, FileQuery(search="plain"))) == ["new.png"]
    assert list_files(conn, FileQuery(search="dog")) == []
    fts_is_consistent(conn)


# -- sorting, counting, paging -------------------------------------------------------------
@pytest.fixture
def sortable(conn: sqlite3.Connection) -> sqlite3.Connection:
    index.upsert_files(
        conn,
        [
            entry("b.png", mtime=300.5),
            entry("A.png", mtime=100.25),
            entry("c.png", mtime=200.0),
            entry("a0.png", mtime=400.0),
        ],
    )
    return conn


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        ("name", False, ["A.png", "a0.png", "b.png", "c.png"]),  # case-insensitive
        ("name", True, ["c.png", "b.png", "a0.png", "A.png"]),
        ("mtime", False, ["A.png", "c.png", "b.png", "a0.png"]),
        ("mtime", True, ["a0.png", "b.png", "c.png", "A.png"]),
    ],
)
def test_sorting(sortable: sqlite3.Connection, sort: str, descending: bool, expected: list[str]) -> None:
    assert names(list_files(sortable, FileQuery(sort=sort, descending=descending))) == expected


def test_offset_and_limit(sortable: sqlite3.Connection) -> None:
    query = FileQuery(sort="name", descending=False)
    assert count_files(sortable, query) == 4
    assert names(list_files(sortable, query, limit=2)) == ["A.png", "a0.png"]
    assert names(list_files(sortable, query, offset=2, limit=2)) == ["b.png", "c.png"]
    assert names(list_files(sortable, query, offset=3, limit=10)) == ["c.png"]
    assert list_files(sortable, query, offset=4, limit=2) == []
    assert len(list_files(sortable, query, limit=None)) == 4


def test_ties_are_broken_by_id_in_the_sort_direction(conn: sqlite3.Connection) -> None:
    ids = index.upsert_files(conn, [entry(f"{n}.png", mtime=5.0) for n in ("x", "y", "z")])
    assert [r["id"] for r in list_files(conn, FileQuery(sort="mtime", descending=True))] == ids[::-1]
    assert [r["id"] for r in list_files(conn, FileQuery(sort="mtime", descending=False))] == ids


@pytest.fixture
def many(conn: sqlite3.Connection) -> sqlite3.Connection:
    """37 files with many ties: 4 distinct mtimes, names equal but for case, a hidden one and a subfolder."""
    entries = []
    for i in range(37):
        name = f"{'IMG' if i % 2 else 'img'}_{i % 5}.png" if i < 30 else f"other_{i}.png"
        subfolder = f"s{i % 3}" if i % 3 else ""
        entries.append(entry(name, subfolder, mtime=1700000000.123456 + (i % 4) * 0.000001, hidden=int(i == 7)))
    # a file name may repeat across folders only; make the folder unique per duplicate
    seen: set[tuple[str, str]] = set()
    for e in entries:
        while (e["subfolder"], e["filename"]) in seen:
            e["subfolder"] += "x"
        seen.add((e["subfolder"], e["filename"]))
    index.upsert_files(conn, entries)
    return conn


@pytest.mark.parametrize("sort", ["mtime", "name"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("page", [1, 3, 7, 50])
def test_cursor_paging_walks_every_row_once_in_order(
    many: sqlite3.Connection, sort: str, descending: bool, page: int
) -> None:
    query = FileQuery(recursive=True, sort=sort, descending=descending)
    everything = [r["id"] for r in list_files(many, query, limit=None)]
    assert len(everything) == 36  # 37 less the hidden one
    walked, cursor, pages = [], None, 0
    while True:
        rows = list_files(many, query, limit=page, cursor=cursor)
        walked += [r["id"] for r in rows]
        pages += 1
        assert pages <= len(everything) + 1, "paging does not end"
        if len(rows) < page:
            break
        cursor = encode_cursor(rows[-1], sort)
    assert walked == everything
    assert len(set(walked)) == len(walked)


def test_cursor_paging_with_filters(many: sqlite3.Connection) -> None:
    query = FileQuery(subfolder="s1", recursive=True, search=None, sort="mtime")
    everything = [r["id"] for r in list_files(many, query, limit=None)]
    assert everything
    first = list_files(many, query, limit=2)
    rest = list_files(many, query, limit=None, cursor=encode_cursor(first[-1], "mtime"))
    assert [r["id"] for r in first + rest] == everything


def test_cursor_round_trip(sortable: sqlite3.Connection) -> None:
    row = list_files(sortable, FileQuery(sort="mtime"))[0]
    assert decode_cursor(encode_cursor(row, "mtime"), "mtime") == (row["mtime"], row["id"])
    assert decode_cursor(encode_cursor(row, "name"), "name") == (row["filename"], row["id"])
    assert "=" not in encode_cursor(row, "name")


def _raw_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        ("garbage!", "mtime"),
        ("Zm9v", "mtime"),  # base64 of 'foo'
        ("é", "mtime"),
        ("", "mtime"),
        (_raw_cursor([1.5]), "mtime"),
        (_raw_cursor([1.5, 2, 3]), "mtime"),
        (_raw_cursor({"a": 1, "b": 2}), "mtime"),
        (_raw_cursor(["a.png", 1]), "mtime"),  # a name cursor used with the mtime sort
        (_raw_cursor([1.5, 1]), "name"),  # and the other way round
        (_raw_cursor([1.5, "1"]), "mtime"),
        (_raw_cursor([1.5, 1.0]), "mtime"),
        (_raw_cursor([None, 1]), "mtime"),
        (_raw_cursor(5), "mtime"),
        (_raw_cursor([1.5, 2**63]), "mtime"),  # beyond SQLite's integers
        (_raw_cursor([2**64 - 1, 1]), "mtime"),
    ],
)
def test_a_tampered_cursor_is_refused(conn: sqlite3.Connection, cursor: str, sort: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_cursor(cursor, sort)
    assert caught.value.code == "INVALID_CURSOR"
    if cursor:  # an empty cursor is no cursor at all for list_files
        with pytest.raises(BadRequest) as caught:
            list_files(conn, FileQuery(sort=sort), cursor=cursor)
        assert caught.value.code == "INVALID_CURSOR"


def test_a_cursor_from_a_real_row_stays_valid_after_the_row_is_deleted(sortable: sqlite3.Connection) -> None:
    query = FileQuery(sort="name", descending=False)
    rows = list_files(sortable, query, limit=2)
    cursor = encode_cursor(rows[-1], "name")
    index.remove_ids(sortable, [rows[-1]["id"]])
    assert names(list_files(sortable, query, cursor=cursor)) == ["b.png", "c.png"]


# -- folders ----------------------------------------------------------------------------------
def test_list_dirs_orders_by_name_ignoring_case_and_hides_dot_folders(conn: sqlite3.Connection) -> None:
    index.upsert_dirs(
        conn,
        "output",
        [
            ("b", 1.0, False),
            ("A", 2.0, False),
            ("c", 3.0, False),
            (".cache", 4.0, True),
            ("A/inner", 5.0, False),
            ("A/.x", 6.0, True),
            ("ab", 7.0, False),
        ],
    )
    index.upsert_dirs(conn, "input", [("elsewhere", 1.0, False)])
    assert [r["path"] for r in index.list_dirs(conn, "output", "", show_hidden=False)] == ["A", "ab", "b", "c"]
    assert [r["path"] for r in index.list_dirs(conn, "output", "", show_hidden=True)] == [
        ".cache",
        "A",
        "ab",
        "b",
        "c",
    ]
    assert [r["name"] for r in index.list_dirs(conn, "output", "A", show_hidden=False)] == ["inner"]
    assert [r["name"] for r in index.list_dirs(conn, "output", "A", show_hidden=True)] == [".x", "inner"]
    assert index.list_dirs(conn, "output", "b", show_hidden=True) == []
    assert [r["path"] for r in index.list_dirs(conn, "input", "", show_hidden=False)] == ["elsewhere"]
