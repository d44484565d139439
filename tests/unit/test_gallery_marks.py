"""core.gallery.marks and the listing's filters, sorts and counts (core.gallery.query), on a real SQLite file.

Every filter and sort is checked against a naive recount in Python over the same rows: seeded random files and
marks, many combinations, both ways of reading a page (walking the sort's index, or driven by a selective
filter), every cursor walked to the end.
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from PIL import Image

from cozygen.core.errors import BadRequest
from cozygen.core.gallery import index, marks, query
from cozygen.core.gallery.marks import MarkChange, parse_change
from cozygen.core.gallery.query import FileQuery, count_files, decode_cursor, encode_cursor, list_files
from cozygen.core.gallery.service import Gallery
from cozygen.core.gallery.sync import scan, settle_animated
from cozygen.core.media.animated import animated_fields
from cozygen.core.media.info import describe
from cozygen.core.store.db import Database

T = TypeVar("T")
USERS = ("alice", "bob")
FOLDERS = ("", "a", "a/b", "ab", ".secret", "c")
NOW = 1_750_000_000.0
WORDS = ("lighthouse", "dusk", "fox", "forest", "rare")  # "rare" in few prompts: its search drives the page


def read(db: Database, fn: Callable[[sqlite3.Connection], T]) -> T:
    return db.read(fn)


def write(db: Database, fn: Callable[[sqlite3.Connection], T]) -> T:
    return db.submit_write(fn).result()


# -- a seeded gallery and its naive twin ------------------------------------------------------------------
def build(db: Database, seed: int = 18, files: int = 240) -> None:
    rng = random.Random(seed)
    entries = []
    for n in range(files):
        folder = rng.choice(FOLDERS)
        kind, ext, animated = rng.choice(
            [("image", "png", 0)] * 6
            + [("image", "webp", 1), ("image", "gif", 0), ("video", "mp4", 0), ("audio", "wav", 0)]
        )
        mtime = NOW + rng.randrange(60) * 3600.0  # ties on purpose
        name = f"{rng.choice(['img', 'IMG', 'Shot', 'a'])}_{n:03}.{ext}"
        entries.append(
            {
                "root": "output" if n % 9 else "input",
                "subfolder": folder,
                "filename": name,
                "kind": kind,
                "hidden": int(folder.startswith(".")),
                "size": rng.choice([100, 2_000, 2_000, 50_000, rng.randrange(1, 10**6)]),
                "mtime": mtime,
                "mtime_ns": int(mtime * 1e9),
                "has_prompt": 0,
                "model": rng.choice([None, "sd15.safetensors", "SDXL.safetensors"]),
                "positive": " ".join(rng.sample(WORDS[:4], 2) + (["rare"] if n % 25 == 0 else [])),
                "animated": animated,
            }
        )
    ids = write(db, lambda conn: index.upsert_files(conn, entries))
    # files written again later: a new mtime, the first ``created`` kept
    later = [dict(e, mtime=e["mtime"] + 7200, mtime_ns=e["mtime_ns"] + 1) for e in rng.sample(entries, 30)]
    write(db, lambda conn: index.upsert_files(conn, later))
    for user in USERS:
        for file_id in rng.sample(ids, len(ids) // 2):
            change = rng.choice(
                [
                    MarkChange(favourite=True),
                    MarkChange(rejected=True),
                    MarkChange(rating=rng.randrange(1, 6)),
                    MarkChange(favourite=True, rating=rng.randrange(0, 6)),
                    MarkChange(rejected=True, rating=rng.randrange(1, 6)),
                ]
            )
            write(db, lambda conn, i=file_id, c=change, u=user: marks.write(conn, u, [i], c, NOW))
    # written again after marking: the marks' copy of the mtime (their newest-first indexes) must follow
    again = [dict(e, mtime=e["mtime"] + 90_000 * (1 - 2 * (n % 2)), mtime_ns=e["mtime_ns"] + 2)
             for n, e in enumerate(rng.sample(entries, 40))]  # fmt: skip
    write(db, lambda conn: index.upsert_files(conn, again))
    # moves and deletes after marking: the per-folder counts of marks must follow
    moved = rng.sample(ids, 20)
    write(db, lambda conn: conn.executemany("UPDATE media SET subfolder = 'c' WHERE id = ?", [(i,) for i in moved]))
    write(db, lambda conn: index.remove_ids(conn, rng.sample(ids, 15)))


def naive_rows(db: Database, user: str) -> list[dict[str, Any]]:
    rows = read(db, lambda conn: [dict(r) for r in conn.execute("SELECT * FROM media")])
    found = read(db, lambda conn: marks.read(conn, user, [r["id"] for r in rows]))
    for row in rows:
        row.update(found[row["id"]])
    return rows


def naive_match(row: dict[str, Any], q: FileQuery) -> bool:
    sub = row["subfolder"]
    if row["root"] != q.root:
        return False
    if q.recursive and q.subfolder and not (sub == q.subfolder or sub.startswith(q.subfolder + "/")):
        return False
    if not q.recursive and sub != q.subfolder:
        return False
    checks = [
        q.show_hidden or not row["hidden"],
        q.kind == "all"
        or (row["kind"] == "image" and row["animated"] == 1 if q.kind == "animated" else row["kind"] == q.kind),
        not q.model or (row["model"] or "").lower() == q.model.lower(),
        q.min_size is None or row["size"] >= q.min_size,
        q.max_size is None or row["size"] <= q.max_size,
        q.since is None or row["mtime"] >= q.since,
        q.until is None or row["mtime"] < q.until,
        not q.favourite or row["favourite"],
        q.rejected != "hide" or not row["rejected"],
        q.rejected != "only" or row["rejected"],
        row["rating"] >= q.min_rating,
        all(any(t.startswith(w.lower()) for t in naive_tokens(row)) for w in (q.search or "").split()),
    ]
    return all(checks)


def naive_tokens(row: dict[str, Any]) -> list[str]:
    """The words the search index holds of a file: its prompt's and its model's (FTS5's unicode61 splits)."""
    return re.findall(r"[0-9a-z]+", f"{row['positive'] or ''} {row['model'] or ''}".lower())


def naive_order(rows: list[dict[str, Any]], q: FileQuery) -> list[int]:
    if q.sort == "rating":
        level = (lambda r: -r["rating"]) if q.descending else (lambda r: r["rating"])
        return [r["id"] for r in sorted(rows, key=lambda r: (level(r), -r["mtime"], -r["id"]))]
    column = {"mtime": "mtime", "created": "created", "name": "filename", "size": "size"}[q.sort]

    def key(r: dict[str, Any]) -> tuple[Any, int]:
        value = r[column]
        return (value.lower() if isinstance(value, str) else value), r["id"]

    return [r["id"] for r in sorted(rows, key=key, reverse=q.descending)]


def naive(db: Database, q: FileQuery) -> list[int]:
    return naive_order([r for r in naive_rows(db, q.user) if naive_match(r, q)], q)


def random_queries(seed: int, n: int) -> Iterator[FileQuery]:
    rng = random.Random(seed)
    for _ in range(n):
        since = NOW + rng.randrange(60) * 3600.0 if rng.random() < 0.3 else None
        yield FileQuery(
            root=rng.choice(["output", "output", "input"]),
            subfolder=rng.choice(FOLDERS),
            recursive=rng.random() < 0.6,
            show_hidden=rng.random() < 0.3,
            kind=rng.choice(query.KIND_FILTERS),
            model=rng.choice([None, None, "sd15.safetensors", "sdxl.safetensors"]),
            sort=rng.choice(query.SORT_NAMES),
            descending=rng.random() < 0.6,
            user=rng.choice(USERS),
            favourite=rng.random() < 0.25,
            rejected=rng.choice(query.REJECTED),
            min_rating=rng.choice([0, 0, 0, 1, 3, 5]),
            min_size=rng.choice([None, None, 2_000, 10_000]),
            max_size=rng.choice([None, None, 2_000, 500_000]),
            since=since,
            until=since + rng.randrange(1, 40) * 3600.0 if since is not None and rng.random() < 0.7 else None,
            search=rng.choice([None, None, None, "rare", "fo", "fox dusk", "SD1", "nothing"]),
        )


@pytest.fixture
def gallery_db(db: Database) -> Database:
    build(db)
    return db


@pytest.fixture(params=["sort index", "selective filter"])
def plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of reading a page: with no folder 'small' (WHOLE) and a small budget (FEW), a filter that
    picks a few files drives the page."""
    if request.param == "selective filter":
        monkeypatch.setattr(query, "FEW", 80)
        monkeypatch.setattr(query, "WHOLE", 0)
    return str(request.param)


# -- filters, sorts and counts against the naive recount ------------------------------------------------------
def test_filters_sorts_and_counts_match_a_naive_recount(gallery_db: Database, plans: str) -> None:
    checked = 0
    for q in random_queries(seed=1818, n=220):
        expected = naive(gallery_db, q)
        assert read(gallery_db, lambda conn, q=q: [r["id"] for r in list_files(conn, q, limit=None)]) == expected, q
        assert read(gallery_db, lambda conn, q=q: count_files(conn, q)) == len(expected), q
        page = read(gallery_db, lambda conn, q=q: [r["id"] for r in list_files(conn, q, offset=3, limit=5)])
        assert page == expected[3:8], q
        checked += bool(expected)
    assert checked > 30  # many combinations match something


def test_a_rare_words_search_reads_its_few_matches_and_a_common_one_walks_the_sort(
    gallery_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "WHOLE", 0)  # no folder is small enough to be read whole
    monkeypatch.setattr(query, "FEW", 200)  # "rare": 10 files (x4), "fo": most of them
    sources: list[str] = []
    planned = query._planned
    monkeypatch.setattr(query, "_planned", lambda d, q: sources.append(planned(d, q).source) or planned(d, q))
    for word, expected_source in (("rare", "(SELECT rowid AS media_id FROM media_fts"), ("fo", "media m")):
        q = FileQuery(recursive=True, search=word, user="alice")
        sources.clear()
        assert (
            read(gallery_db, lambda conn, q=q: [r["id"] for r in list_files(conn, q, limit=5)])
            == naive(gallery_db, q)[:5]
        )
        assert sources and sources[0].startswith(expected_source), (word, sources)
        assert read(gallery_db, lambda conn, q=q: count_files(conn, q)) == len(naive(gallery_db, q))


@pytest.mark.parametrize("sort", query.SORT_NAMES)
@pytest.mark.parametrize("descending", [True, False])
def test_every_sorts_cursor_walks_each_row_once_in_order(
    gallery_db: Database, plans: str, sort: str, descending: bool
) -> None:
    for q in [
        FileQuery(recursive=True, sort=sort, descending=descending, user="alice"),
        FileQuery(recursive=True, sort=sort, descending=descending, user="bob", rejected="hide", show_hidden=True),
        FileQuery(subfolder="a", sort=sort, descending=descending, user="alice", kind="image"),
        FileQuery(recursive=True, sort=sort, descending=descending, user="alice", min_rating=2),
        FileQuery(recursive=True, sort=sort, descending=descending, user="bob", search="rare"),
        FileQuery(recursive=True, sort=sort, descending=descending, user="bob", search="fox"),
    ]:
        walked, cursor = [], None
        while True:
            rows = read(gallery_db, lambda conn, q=q, c=cursor: list_files(conn, q, limit=7, cursor=c))
            walked += [r["id"] for r in rows]
            if len(rows) < 7:
                break
            cursor = encode_cursor(rows[-1], sort)
        assert walked == naive(gallery_db, q), q


def test_the_rating_sort_puts_the_callers_best_first_then_the_newest(gallery_db: Database) -> None:
    q = FileQuery(recursive=True, show_hidden=True, sort="rating", user="alice")
    rows = naive_rows(gallery_db, "alice")
    listed = read(gallery_db, lambda conn: list_files(conn, q, limit=None))
    by_id = {r["id"]: r for r in rows}
    ratings = [by_id[r["id"]]["rating"] for r in listed]
    assert ratings == sorted(ratings, reverse=True) and ratings[0] == 5
    assert [r["rating_level"] for r in listed] == ratings
    bobs = read(gallery_db, lambda conn: list_files(conn, replace(q, user="bob"), limit=None))
    assert [r["id"] for r in bobs] != [r["id"] for r in listed]  # each by their own ratings


@pytest.mark.parametrize("rejected", query.REJECTED)
def test_counts_of_marks_match_a_naive_recount(gallery_db: Database, plans: str, rejected: str) -> None:
    for q in random_queries(seed=77, n=60):
        q = replace(q, rejected=rejected)
        rows = [r for r in naive_rows(gallery_db, q.user) if naive_match(r, q.without_marks())]
        expected = {
            "total": len(rows),
            "favourite": sum(r["favourite"] for r in rows),
            "rejected": sum(r["rejected"] for r in rows),
            "rated": sum(1 for r in rows if r["rating"]),
            "ratings": {str(n): sum(1 for r in rows if r["rating"] == n) for n in range(1, 6)},
        }
        assert read(gallery_db, lambda conn, q=q: marks.counts(conn, q)) == expected, q


def test_the_per_folder_counts_of_marks_follow_moves_deletes_and_users(gallery_db: Database) -> None:
    def from_counts() -> list[tuple[Any, ...]]:
        return read(
            gallery_db,
            lambda conn: [
                tuple(r)
                for r in conn.execute(
                    "SELECT username, root, subfolder, kind, hidden, favourite, rejected, r1, r2, r3, r4, r5 "
                    "FROM mark_counts WHERE favourite OR rejected OR r1 OR r2 OR r3 OR r4 OR r5 ORDER BY 1, 2, 3, 4, 5"
                )
            ],
        )

    def recounted() -> list[tuple[Any, ...]]:
        sql = (
            "SELECT k.username, m.root, m.subfolder, m.kind, m.hidden, SUM(k.favourite), SUM(k.rejected), "
            + ", ".join(f"SUM(k.rating = {n})" for n in range(1, 6))
            + " FROM marks k JOIN media m ON m.id = k.media_id GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        )
        return read(gallery_db, lambda conn: [tuple(r) for r in conn.execute(sql)])

    assert from_counts() == recounted()
    write(gallery_db, lambda conn: conn.execute("UPDATE media SET subfolder = 'a', hidden = 0 WHERE subfolder = ''"))
    write(gallery_db, lambda conn: index.remove_tree(conn, "output", "a/b"))
    assert from_counts() == recounted()
    write(
        gallery_db,
        lambda conn: conn.execute("INSERT INTO users (username, role, password_hash) VALUES ('Bob', 'user', 'x')"),
    )
    write(gallery_db, lambda conn: conn.execute("DELETE FROM users WHERE username = 'bob'"))
    assert (
        read(gallery_db, lambda conn: conn.execute("SELECT COUNT(*) FROM marks WHERE username = 'bob'").fetchone()[0])
        == 0
    )
    assert from_counts() == recounted()


# -- marks ---------------------------------------------------------------------------------------------
def one_file(db: Database, name: str = "a.png", **fields: Any) -> int:
    entry = {"root": "output", "subfolder": "", "filename": name, "kind": "image", "hidden": 0, "size": 10,
             "mtime": NOW, "mtime_ns": int(NOW * 1e9), "has_prompt": 0, "animated": 0, **fields}  # fmt: skip
    return write(db, lambda conn: index.upsert_files(conn, [entry]))[0]


def test_marks_are_per_user_and_a_favourite_is_never_rejected(db: Database) -> None:
    file_id = one_file(db)

    def mark(user: str, change: MarkChange) -> dict[str, Any]:
        return write(db, lambda conn: marks.write(conn, user, [file_id], change, NOW))[file_id]

    assert mark("alice", MarkChange(favourite=True, rating=4)) == {"favourite": True, "rejected": False, "rating": 4}
    assert read(db, lambda conn: marks.read(conn, "bob", [file_id]))[file_id] == marks.UNMARKED
    assert mark("bob", MarkChange(rejected=True)) == {"favourite": False, "rejected": True, "rating": 0}
    assert mark("alice", MarkChange(rejected=True)) == {"favourite": False, "rejected": True, "rating": 4}
    assert mark("alice", MarkChange(favourite=True)) == {"favourite": True, "rejected": False, "rating": 4}
    assert mark("alice", MarkChange(rating=0)) == {"favourite": True, "rejected": False, "rating": 0}
    assert mark("alice", MarkChange(favourite=False)) == marks.UNMARKED
    rows = read(db, lambda conn: conn.execute("SELECT username FROM marks").fetchall())
    assert [r[0] for r in rows] == ["bob"]  # a file without any mark has no row
    assert read(db, lambda conn: marks.read(conn, "BOB", [file_id]))[file_id]["rejected"]  # usernames ignore case


def test_marks_follow_a_move_in_place_and_go_with_the_file(db: Database) -> None:
    file_id = one_file(db)
    write(db, lambda conn: marks.write(conn, "alice", [file_id], MarkChange(favourite=True), NOW))
    write(db, lambda conn: conn.execute("UPDATE media SET subfolder = 'keep' WHERE id = ?", (file_id,)))
    found = read(db, lambda conn: list_files(conn, FileQuery(subfolder="keep", user="alice", favourite=True)))
    assert [r["id"] for r in found] == [file_id]
    write(db, lambda conn: index.remove_ids(conn, [file_id]))
    assert read(db, lambda conn: conn.execute("SELECT COUNT(*) FROM marks").fetchone()[0]) == 0


def test_created_is_kept_when_a_file_is_refreshed(db: Database) -> None:
    file_id = one_file(db, mtime=NOW)
    one_file(db, mtime=NOW + 500, size=99)
    row = read(db, lambda conn: index.get_file(conn, file_id))
    assert (row["mtime"], row["created"], row["size"]) == (NOW + 500, NOW, 99)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"rating": 7}, "INVALID_RATING"),
        ({"rating": -1}, "INVALID_RATING"),
        ({"rating": 2.5}, "INVALID_RATING"),
        ({"rating": True}, "INVALID_RATING"),
        ({"rating": "3"}, "INVALID_RATING"),
        ({"favourite": 1}, "INVALID_FAVOURITE"),
        ({"rejected": "yes"}, "INVALID_REJECTED"),
        ({"favourite": True, "rejected": True}, "CONFLICTING_MARKS"),
        ({"stars": 3}, "INVALID_MARKS"),
        ({}, "INVALID_MARKS"),
        (None, "INVALID_MARKS"),
        ([1, 2], "INVALID_MARKS"),
    ],
)
def test_bad_marks_are_refused(body: Any, code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_change(body)
    assert refused.value.code == code


def test_a_good_change_is_parsed() -> None:
    assert parse_change({"rating": 5, "favourite": True}) == MarkChange(favourite=True, rating=5)
    assert parse_change({"rejected": False}) == MarkChange(rejected=False)


# -- cursors ------------------------------------------------------------------------------------------------
def made(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


@pytest.mark.parametrize("sort", query.SORT_NAMES)
def test_a_cursor_of_another_sort_or_tampered_is_refused(gallery_db: Database, sort: str) -> None:
    q = FileQuery(recursive=True, sort=sort, user="alice")
    row = read(gallery_db, lambda conn: list_files(conn, q, limit=1))[0]
    cursor = encode_cursor(row, sort)
    assert decode_cursor(cursor, sort)[-1] == row["id"]
    refusing = {"mtime": ["name", "rating"], "created": ["name", "rating"], "size": ["name", "rating"]}
    for other in refusing.get(sort, [s for s in query.SORT_NAMES if s != sort]):
        with pytest.raises(BadRequest) as refused:
            decode_cursor(cursor, other)
        assert refused.value.code == "INVALID_CURSOR"
    for bad in ("", "!!", "e30", made([1, 2, 3, 4]), made([None, 1]), made([1, 2**63]), made([row["id"]])):
        with pytest.raises(BadRequest):
            decode_cursor(bad, sort)


def test_a_rating_cursor_must_name_a_rating() -> None:
    assert decode_cursor(made([3, 1.5, 7]), "rating") == (3, 1.5, 7)
    for bad in ([6, 1.5, 7], [-1, 1.5, 7], [True, 1.5, 7], [3, "x", 7], [3, 1.5]):
        with pytest.raises(BadRequest):
            decode_cursor(made(bad), "rating")


# -- the input folder as a gallery, per user -----------------------------------------------------------------
def test_the_input_folder_shows_a_user_their_files_and_nobodys(db: Database) -> None:
    ids = {name: one_file(db, name, root="input") for name in ("mine.png", "theirs.png", "nobodys.png")}
    write(db, lambda conn: conn.execute("INSERT INTO input_owners VALUES ('', 'mine.png', 'alice', 0)"))
    write(db, lambda conn: conn.execute("INSERT INTO input_owners VALUES ('', 'theirs.png', 'bob', 0)"))
    q = FileQuery(root="input", owner="alice", sort="name", descending=False)
    listed = read(db, lambda conn: [r["filename"] for r in list_files(conn, q)])
    assert listed == ["mine.png", "nobodys.png"]
    assert read(db, lambda conn: count_files(conn, q)) == 2
    assert read(db, lambda conn: count_files(conn, replace(q, owner=None))) == 3
    assert ids["theirs.png"] not in read(db, lambda conn: [r["id"] for r in list_files(conn, q, limit=None)])


# -- the trash keeps marks --------------------------------------------------------------------------------
def test_a_trashed_file_comes_back_with_every_users_marks(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    Image.new("RGB", (8, 8), "red").save(out / "keep.png")
    scan(gallery.db, "output", out)
    row = read(gallery.db, lambda conn: index.find_file(conn, "output", "", "keep.png"))
    write(gallery.db, lambda conn: marks.write(conn, "alice", [row["id"]], MarkChange(rejected=True, rating=2), NOW))
    write(gallery.db, lambda conn: marks.write(conn, "bob", [row["id"]], MarkChange(favourite=True), NOW))
    batch, trashed, errors = asyncio.run(gallery.trash([row], by="alice"))
    assert trashed and not errors
    assert read(gallery.db, lambda conn: conn.execute("SELECT COUNT(*) FROM marks").fetchone()[0]) == 0
    restored = asyncio.run(gallery.restore(batch=batch))
    new_id = restored[0]["id"]
    assert read(gallery.db, lambda conn: marks.read(conn, "alice", [new_id]))[new_id] == {
        "favourite": False, "rejected": True, "rating": 2}  # fmt: skip
    assert read(gallery.db, lambda conn: marks.read(conn, "bob", [new_id]))[new_id]["favourite"]


# -- what moves -----------------------------------------------------------------------------------------
def apng(path: Path, frames: int) -> None:
    images = [Image.new("RGB", (6, 4), color) for color in ("red", "blue", "green")[:frames]]
    images[0].save(path, save_all=frames > 1, append_images=images[1:], duration=100, loop=0)


@pytest.mark.parametrize("ext", ["gif", "webp", "png"])
def test_animated_images_are_told_from_still_ones(tmp_path: Path, ext: str) -> None:
    for frames, expected in ((3, 1), (1, 0)):
        path = tmp_path / f"f{frames}.{ext}"
        apng(path, frames)
        described = describe("output", path, "", path.name, path.stat())
        assert described["animated"] == expected, (ext, frames)
        assert (described["width"], described["height"]) == (6, 4)


def test_files_that_only_look_animatable_are_still(tmp_path: Path) -> None:
    for name, data in (
        ("empty.gif", b""),
        ("text.gif", b"GIF89a not really"),
        ("cut.webp", b"RIFF\x00\x00\x00\x00WEBPVP8X"),
        ("odd.webp", b"RIFF\x10\x00\x00\x00WEBPABCD" + bytes(20)),
    ):
        (tmp_path / name).write_bytes(data)
        assert animated_fields(tmp_path / name, name)["animated"] == 0
    assert animated_fields(tmp_path / "missing.gif", "missing.gif") == {"animated": 0, "width": None, "height": None}
    assert animated_fields(tmp_path / "x.jpg", "x.jpg") == {"animated": 0}


def test_a_gif_with_a_long_first_frame_and_extensions_is_walked(tmp_path: Path) -> None:
    path = tmp_path / "two.gif"
    header = b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0x80, 0, 0) + bytes(6)  # 2-colour global table
    comment = b"!\xfe" + b"\x05hello" + b"\x00"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 4, 4, 0) + b"\x02" + (b"\xff" + bytes(255)) * 40 + b"\x00"
    path.write_bytes(header + comment + frame + comment + frame + b";")
    assert animated_fields(path, path.name) == {"animated": 1, "width": 4, "height": 4}
    path.write_bytes(header + comment + frame + b";")
    assert animated_fields(path, path.name)["animated"] == 0


def test_files_indexed_before_animation_was_known_are_looked_at_once(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    apng(out / "moving.gif", 3)
    apng(out / "still.webp", 1)
    scan(gallery.db, "output", out)
    write(gallery.db, lambda conn: conn.execute("UPDATE media SET animated = NULL, width = NULL"))
    assert settle_animated(gallery.db, "output", out) == 2
    rows = read(
        gallery.db,
        lambda conn: {r["filename"]: (r["animated"], r["width"]) for r in conn.execute("SELECT * FROM media")},
    )
    assert rows == {"moving.gif": (1, 6), "still.webp": (0, 6)}
    assert settle_animated(gallery.db, "output", out) == 0
    q = FileQuery(kind="animated")
    assert [r["filename"] for r in read(gallery.db, lambda conn: list_files(conn, q))] == ["moving.gif"]


def test_a_png_with_an_actl_chunk_after_idat_is_still(tmp_path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    actl = chunk(b"acTL", struct.pack(">II", 2, 0))
    path = tmp_path / "late.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + idat + actl + chunk(b"IEND", b""))
    assert describe("output", path, "", path.name, path.stat())["animated"] == 0
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + actl + idat + chunk(b"IEND", b""))
    assert describe("output", path, "", path.name, path.stat())["animated"] == 1


def test_the_listing_indexes_a_first_scan_rebuilds_are_the_ones_the_migrations_made(db: Database) -> None:
    def defined() -> dict[str, str]:
        rows = read(
            db, lambda conn: conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()
        )
        return {r["name"]: " ".join(r["sql"].split()) for r in rows if r["name"] in index.LISTING_INDEXES}

    migrated = defined()
    assert migrated == {name: f"CREATE INDEX {name} ON {cols}" for name, cols in index.LISTING_INDEXES.items()}
    write(db, index.start_bulk)
    assert defined() == {}
    write(db, index.finish_bulk)
    assert defined() == migrated


def test_a_page_reads_the_index_its_plan_names(gallery_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """EXPLAIN QUERY PLAN: the sort's own index when walked, the filter's index (no sort index) when driven."""
    monkeypatch.setattr(query, "WHOLE", 5)
    seen: list[str] = []

    def explained(conn: sqlite3.Connection, q: FileQuery) -> str:
        original = conn.execute

        class Spy:
            def execute(self, sql: str, params: Any = ()) -> Any:
                if sql.startswith("SELECT m.* FROM (SELECT m.id"):
                    seen.append(" | ".join(r[3] for r in original("EXPLAIN QUERY PLAN " + sql, params)))
                return original(sql, params)

        list_files(Spy(), q)  # type: ignore[arg-type]
        return seen[-1]

    walked = read(gallery_db, lambda conn: explained(conn, FileQuery(recursive=True, sort="size", user="alice")))
    assert "media_root_size" in walked and "TEMP B-TREE" not in walked.split("SCAN page")[0]
    by_kind = read(gallery_db, lambda conn: explained(conn, FileQuery(recursive=True, sort="name", kind="animated")))
    assert "COVERING INDEX media_kind (root=? AND kind=? AND animated=?" in by_kind
    by_date = FileQuery(recursive=True, sort="created", since=NOW, until=NOW + 3600, user="alice")
    assert "media_root_mtime (root=? AND mtime>? AND mtime<?)" in read(
        gallery_db, lambda conn: explained(conn, by_date)
    )
    favourites = FileQuery(recursive=True, sort="mtime", favourite=True, user="alice")
    newest_first = read(gallery_db, lambda conn: explained(conn, favourites))
    assert "INDEX marks_favourite (username=? AND favourite=?)" in newest_first
    assert "TEMP B-TREE" not in newest_first.split("SCAN page")[0]  # in the index's order: no sort
    by_size = FileQuery(recursive=True, sort="size", favourite=True, user="alice")
    assert "marks_favourite" in read(gallery_db, lambda conn: explained(conn, by_size))
