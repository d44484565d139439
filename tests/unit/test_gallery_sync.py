"""core.gallery.sync and core.media.info: scanning, per-path sync, the watcher, and what a file is described as.

Real folders in tmp_path, a real SQLite file, real watchdog observers.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cozygen.core.gallery import index
from cozygen.core.gallery import sync as gallery_sync
from cozygen.core.gallery.sync import Change, FolderWatcher, move_path, scan, sync_path
from cozygen.core.media.info import describe
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red cat on a mat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, ugly", "clip": ["4", 1]}},
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 123,
            "steps": 20,
            "cfg": 7.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "ComfyUI"}},
}
RECORD = {"version": 1, "prompt_id": "abc", "params": {}}
TIMEOUT = 20.0


def save_png(path: Path, size: tuple[int, int] = (32, 24), *, prompt: dict | None = None, color: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
        info.add_text("cozygen", json.dumps(RECORD))
    Image.new("RGB", size, color).save(path, format="PNG", pnginfo=info)
    return path


def save_jpeg(path: Path, size: tuple[int, int] = (20, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "blue").save(path, format="JPEG")
    return path


def touch_later(path: Path, seconds: float = 5.0) -> None:
    """Give a file a clearly different mtime, as a real later write would."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(seconds * 1e9)))


def write(db: Database, fn: Callable[[Any], Any]) -> Any:
    return db.submit_write(fn).result(timeout=TIMEOUT)


def rows(db: Database, root: str = "output") -> dict[str, dict[str, Any]]:
    found = db.read(lambda conn: conn.execute("SELECT * FROM media WHERE root = ?", (root,)).fetchall())
    return {(f"{r['subfolder']}/{r['filename']}" if r["subfolder"] else r["filename"]): dict(r) for r in found}


def dirs(db: Database, root: str = "output") -> dict[str, dict[str, Any]]:
    found = db.read(lambda conn: conn.execute("SELECT * FROM media_dirs WHERE root = ?", (root,)).fetchall())
    return {r["path"]: dict(r) for r in found}


def kinds(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.row["filename"]) for c in changes]


# -- describe ------------------------------------------------------------------------------
def test_describe_a_comfyui_png(tmp_path: Path) -> None:
    path = save_png(tmp_path / "gen.png", (40, 30), prompt=GRAPH)
    entry = describe("output", path, "", "gen.png", path.stat())
    assert entry["kind"] == "image"
    assert (entry["width"], entry["height"]) == (40, 30)  # the file's own size, not the latent's
    assert entry["model"] == "sd15.safetensors"
    assert entry["positive"] == "a red cat on a mat"
    assert entry["negative"] == "blurry, ugly"
    assert entry["seed"] == 123
    assert entry["has_prompt"] == 1
    assert entry["prompt_id"] == "abc"
    assert entry["size"] == path.stat().st_size
    assert entry["mtime_ns"] == path.stat().st_mtime_ns
    assert entry["hidden"] == 0
    summary = orjson.loads(entry["summary"])
    assert summary["steps"] == 20 and summary["sampler"] == "euler" and summary["seed"] == 123


def test_describe_a_png_without_a_prompt(tmp_path: Path) -> None:
    path = save_png(tmp_path / ".plain.png", (7, 5))
    entry = describe("input", path, "a", ".plain.png", path.stat())
    assert (entry["root"], entry["subfolder"], entry["filename"]) == ("input", "a", ".plain.png")
    assert (entry["width"], entry["height"]) == (7, 5)
    assert entry["has_prompt"] == 0
    assert entry.get("model") is None and entry.get("positive") is None and entry.get("prompt_id") is None
    assert entry["hidden"] == 1


def test_describe_a_jpeg(tmp_path: Path) -> None:
    path = save_jpeg(tmp_path / "photo.jpg")
    entry = describe("output", path, "", "photo.jpg", path.stat())
    assert entry["kind"] == "image"
    assert entry["has_prompt"] == 0
    assert entry.get("positive") is None and entry.get("model") is None and entry.get("prompt_id") is None


def test_describe_a_file_that_only_claims_to_be_a_png(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"not a png at all")
    entry = describe("output", path, "", "fake.png", path.stat())
    assert entry["kind"] == "image" and entry["has_prompt"] == 0 and entry.get("width") is None


# -- scan --------------------------------------------------------------------------------------
@pytest.fixture
def output(tmp_path: Path) -> Path:
    base = tmp_path / "output"
    save_png(base / "a.png", prompt=GRAPH)
    save_jpeg(base / "sub" / "b.jpg")
    save_png(base / "sub" / "deep" / "c.png")
    save_png(base / ".hidden" / "d.png")
    (base / "sub" / "clip.mp4").write_bytes(b"\x00" * 10)
    (base / "notes.txt").write_text("not media")
    (base / "sub" / "a.png.json").write_text("{}")
    (base / "empty").mkdir()
    outside = tmp_path / "outside"
    save_png(outside / "e.png")
    (base / "link.png").symlink_to(outside / "e.png")
    (base / "linkdir").symlink_to(outside, target_is_directory=True)
    return base


def test_scan_indexes_media_and_folders_only(db: Database, output: Path) -> None:
    report = scan(db, "output", output)
    assert (report.root, report.files, report.described, report.removed) == ("output", 5, 5, 0)
    indexed = rows(db)
    assert sorted(indexed) == [".hidden/d.png", "a.png", "sub/b.jpg", "sub/clip.mp4", "sub/deep/c.png"]
    assert indexed["a.png"]["model"] == "sd15.safetensors" and indexed["a.png"]["seed"] == 123
    assert indexed["sub/clip.mp4"]["kind"] == "video"
    assert indexed[".hidden/d.png"]["hidden"] == 1 and indexed["a.png"]["hidden"] == 0
    folders = dirs(db)
    assert sorted(folders) == [".hidden", "empty", "sub", "sub/deep"]  # not the symlinked folder
    assert folders[".hidden"]["hidden"] == 1 and folders["sub/deep"]["hidden"] == 0
    assert folders["sub/deep"]["parent"] == "sub"
    assert folders["sub"]["mtime"] == pytest.approx((output / "sub").stat().st_mtime)
    assert rows(db, "input") == {}


def test_a_second_scan_describes_nothing_new(db: Database, output: Path) -> None:
    scan(db, "output", output)
    before = rows(db)
    report = scan(db, "output", output)
    assert (report.files, report.described, report.removed) == (5, 0, 0)
    assert rows(db) == before


def test_a_scan_describes_a_modified_file_again_and_keeps_its_id(db: Database, output: Path) -> None:
    scan(db, "output", output)
    before = rows(db)
    save_png(output / "sub" / "deep" / "c.png", (64, 64), prompt=GRAPH)
    touch_later(output / "sub" / "deep" / "c.png")
    report = scan(db, "output", output)
    assert (report.described, report.removed) == (1, 0)
    after = rows(db)["sub/deep/c.png"]
    assert after["id"] == before["sub/deep/c.png"]["id"]
    assert (after["width"], after["height"], after["has_prompt"]) == (64, 64, 1)
    assert after["size"] == (output / "sub" / "deep" / "c.png").stat().st_size


def test_a_scan_forgets_removed_files_and_folders(db: Database, output: Path) -> None:
    scan(db, "output", output)
    shutil.rmtree(output / "sub")
    (output / "a.png").unlink()
    report = scan(db, "output", output)
    assert (report.files, report.described, report.removed) == (1, 0, 4)
    assert sorted(rows(db)) == [".hidden/d.png"]
    assert sorted(dirs(db)) == [".hidden", "empty"]


def test_a_scan_of_many_files_writes_every_batch(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "many"
    base.mkdir()
    total = gallery_sync.BATCH * 2 + 37
    for i in range(total):
        (base / f"{i:05d}.jpg").write_bytes(b"x")
    report = scan(db, "output", base)
    assert (report.files, report.described) == (total, total)
    assert len(rows(db)) == total
    assert scan(db, "output", base).described == 0


def first_scan_tree(base: Path) -> None:
    for n in range(gallery_sync.BATCH + 20):  # more than one batch, so the helpers take turns
        graph = json.loads(json.dumps(GRAPH))
        graph["6"]["inputs"]["text"] = f"{'green frog' if n % 3 == 0 else 'red cat'} number {n}"
        graph["3"]["inputs"]["seed"] = n
        save_png(base / f"f{n % 4}" / f"{n:04d}.png", size=(4, 4), prompt=graph)


def test_a_first_scan_in_helper_processes_matches_one_in_process(tmp_path: Path) -> None:
    base = tmp_path / "tree"
    first_scan_tree(base)
    found = {}
    for workers in (1, 2):
        database = Database(tmp_path / f"db{workers}" / "cozygen.sqlite3")
        database.open(MIGRATIONS)
        report = scan(database, "output", base, workers=workers)
        assert report.described == report.files == gallery_sync.BATCH + 20
        found[workers] = {k: {c: v for c, v in r.items() if c != "id"} for k, r in rows(database).items()}
        names = database.read(
            lambda conn: {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'media'")}
        )
        assert {"media_root_mtime", "media_folder_mtime", "media_model"} <= names  # built once at the end
        hits = database.read(lambda conn: conn.execute("SELECT COUNT(*) FROM media_fts WHERE media_fts MATCH 'frog'"))
        assert hits.fetchone()[0] == sum(1 for r in found[workers].values() if "frog" in (r["positive"] or ""))
        assert not database.read(lambda conn: conn.execute("SELECT * FROM settings").fetchall())
        database.close()
    assert found[1] == found[2] and len(found[1]) == gallery_sync.BATCH + 20
    assert {r["positive"] for r in found[2].values()} >= {"green frog number 0", "red cat number 1"}
    assert {r["seed"] for r in found[2].values()} == set(range(gallery_sync.BATCH + 20))


def test_a_first_scan_cut_short_is_finished_by_the_next_one(db: Database, tmp_path: Path) -> None:
    save_png(tmp_path / "out" / "a.png", prompt=GRAPH)
    write(db, gallery_sync.index.start_bulk)  # as if the process died in the middle of a first scan
    write(db, lambda conn: gallery_sync.index.insert_new_files(conn, [describe_row(tmp_path / "out", "a.png")]))
    assert (
        db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM media_fts WHERE media_fts MATCH 'cat'")).fetchone()[0]
        == 0
    )
    scan(db, "output", tmp_path / "out")
    assert (
        db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM media_fts WHERE media_fts MATCH 'cat'")).fetchone()[0]
        == 1
    )
    names = db.read(
        lambda conn: {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'media'")}
    )
    assert "media_root_mtime" in names and not db.read(gallery_sync.index.bulk_unfinished)


def describe_row(base: Path, name: str) -> dict[str, Any]:
    return describe("output", base / name, "", name, (base / name).stat())


def test_scans_of_two_roots_do_not_touch_each_other(db: Database, tmp_path: Path) -> None:
    save_png(tmp_path / "out" / "x.png")
    save_png(tmp_path / "in" / "x.png")
    scan(db, "output", tmp_path / "out")
    scan(db, "input", tmp_path / "in")
    (tmp_path / "in" / "x.png").unlink()
    assert scan(db, "input", tmp_path / "in").removed == 1
    assert sorted(rows(db, "output")) == ["x.png"]
    assert rows(db, "input") == {}


# -- sync_path and move_path ------------------------------------------------------------------
def test_sync_path_created_unchanged_modified_deleted(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "s" / "x.png", prompt=GRAPH)
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "s/x.png"))
    assert (kinds(changes), retry) == ([("created", "x.png")], [])
    created = changes[0].row
    assert (created["root"], created["subfolder"], created["positive"]) == ("output", "s", "a red cat on a mat")
    assert rows(db)["s/x.png"]["id"] == created["id"]

    assert write(db, lambda conn: sync_path(conn, "output", base, "s/x.png")) == ([], [])

    save_png(base / "s" / "x.png", (8, 8))
    touch_later(base / "s" / "x.png")
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "s/x.png"))
    assert (kinds(changes), retry) == ([("modified", "x.png")], [])
    assert changes[0].row["id"] == created["id"]
    assert (changes[0].row["width"], changes[0].row["has_prompt"], changes[0].row["positive"]) == (8, 0, None)

    (base / "s" / "x.png").unlink()
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "s/x.png"))
    assert (kinds(changes), retry) == ([("deleted", "x.png")], [])
    assert changes[0].row["id"] == created["id"] and changes[0].row["width"] == 8  # the row as it was
    assert rows(db) == {}
    assert write(db, lambda conn: sync_path(conn, "output", base, "s/x.png")) == ([], [])


def test_sync_path_ignores_files_that_are_not_media_or_are_symlinks(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    (base / "notes.txt").write_text("hello")
    save_png(tmp_path / "elsewhere.png")
    (base / "link.png").symlink_to(tmp_path / "elsewhere.png")
    assert write(db, lambda conn: sync_path(conn, "output", base, "notes.txt")) == ([], [])
    assert write(db, lambda conn: sync_path(conn, "output", base, "link.png")) == ([], [])
    assert rows(db) == {}


def test_a_file_replaced_by_a_symlink_is_forgotten(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png")
    write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    (base / "x.png").unlink()
    save_png(tmp_path / "elsewhere.png")
    (base / "x.png").symlink_to(tmp_path / "elsewhere.png")
    changes, _ = write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    assert kinds(changes) == [("deleted", "x.png")]
    assert rows(db) == {}


def test_sync_path_of_a_new_folder_indexes_what_is_inside(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "new" / "1.png")
    save_png(base / "new" / "inner" / "2.png")
    (base / "new" / "skip.txt").write_text("x")
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "new"))
    assert retry == []
    assert sorted(kinds(changes)) == [("created", "1.png"), ("created", "2.png")]
    assert sorted(rows(db)) == ["new/1.png", "new/inner/2.png"]
    assert sorted(dirs(db)) == ["new", "new/inner"]
    assert dirs(db)["new/inner"]["parent"] == "new"


def test_deleting_a_folder_deletes_its_rows_but_not_a_sibling_with_a_common_prefix(
    db: Database, tmp_path: Path
) -> None:
    base = tmp_path / "out"
    for rel in ("a/1.png", "a/b/2.png", "ab/3.png", "4.png"):
        save_png(base / rel)
    scan(db, "output", base)
    shutil.rmtree(base / "a")
    changes, _ = write(db, lambda conn: sync_path(conn, "output", base, "a"))
    assert sorted(kinds(changes)) == [("deleted", "1.png"), ("deleted", "2.png")]
    assert sorted(rows(db)) == ["4.png", "ab/3.png"]
    assert sorted(dirs(db)) == ["ab"]


def test_an_incomplete_png_waits(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    full = save_png(tmp_path / "full.png", (64, 64), prompt=GRAPH).read_bytes()
    assert full.endswith(b"IEND\xaeB`\x82")
    partial = base / "partial.png"
    base.mkdir()
    partial.write_bytes(full[: len(full) - 20])  # cut inside the image data: no IEND
    assert write(db, lambda conn: sync_path(conn, "output", base, "partial.png")) == ([], ["partial.png"])
    assert rows(db) == {}
    # finished: indexed at once
    partial.write_bytes(full)
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "partial.png"))
    assert (kinds(changes), retry) == ([("created", "partial.png")], [])


def test_a_png_left_incomplete_for_long_is_indexed_anyway(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    full = save_png(tmp_path / "full.png", prompt=GRAPH).read_bytes()
    broken = base / "broken.png"
    base.mkdir()
    broken.write_bytes(full[:-12])
    old = time.time() - gallery_sync.PARTIAL_GRACE - 60
    os.utime(broken, (old, old))
    changes, retry = write(db, lambda conn: sync_path(conn, "output", base, "broken.png"))
    assert (kinds(changes), retry) == ([("created", "broken.png")], [])
    assert changes[0].row["positive"] == "a red cat on a mat"  # the text came before the cut


def test_a_rename_keeps_the_row_id(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png", prompt=GRAPH)
    (created,), _ = write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    (base / "sub").mkdir()
    (base / "x.png").rename(base / "sub" / "y.png")
    changes, again = write(db, lambda conn: move_path(conn, "output", base, "x.png", "sub/y.png"))
    assert (kinds(changes), again) == ([("moved", "y.png")], [])
    moved = changes[0]
    assert moved.row["id"] == created.row["id"]
    assert (moved.row["subfolder"], moved.row["positive"]) == ("sub", "a red cat on a mat")
    assert (moved.previous["subfolder"], moved.previous["filename"]) == ("", "x.png")
    assert sorted(rows(db)) == ["sub/y.png"]
    # into a hidden folder: the row is hidden now
    (base / ".h").mkdir()
    (base / "sub" / "y.png").rename(base / ".h" / "z.png")
    (moved,), _ = write(db, lambda conn: move_path(conn, "output", base, "sub/y.png", ".h/z.png"))
    assert (moved.kind, moved.row["id"], moved.row["hidden"]) == ("moved", created.row["id"], 1)


def test_a_rename_to_a_name_the_gallery_does_not_list_is_a_delete(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png")
    write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    (base / "x.png").rename(base / "x.bak")
    changes, _ = write(db, lambda conn: move_path(conn, "output", base, "x.png", "x.bak"))
    assert kinds(changes) == [("deleted", "x.png")]
    assert rows(db) == {}


def test_a_rename_of_an_unknown_file_is_a_create(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.tmp")
    (base / "x.tmp").rename(base / "x.png")
    changes, _ = write(db, lambda conn: move_path(conn, "output", base, "x.tmp", "x.png"))
    assert kinds(changes) == [("created", "x.png")]


def test_a_rename_over_an_indexed_file_replaces_it(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png", (10, 10))
    save_png(base / "y.png", (20, 20))
    scan(db, "output", base)
    y_id = rows(db)["y.png"]["id"]
    touch_later(base / "x.png")
    (base / "x.png").rename(base / "y.png")
    changes, _ = write(db, lambda conn: move_path(conn, "output", base, "x.png", "y.png"))
    assert kinds(changes) == [("deleted", "x.png"), ("modified", "y.png")]
    after = rows(db)
    assert sorted(after) == ["y.png"]
    assert (after["y.png"]["id"], after["y.png"]["width"]) == (y_id, 10)


def test_a_renamed_folder_is_forgotten_and_indexed_again(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "a" / "1.png")
    save_png(base / "a" / "b" / "2.png")
    scan(db, "output", base)
    (base / "a").rename(base / "c")
    changes, _ = write(db, lambda conn: move_path(conn, "output", base, "a", "c"))
    assert sorted(kinds(changes)) == [
        ("created", "1.png"),
        ("created", "2.png"),
        ("deleted", "1.png"),
        ("deleted", "2.png"),
    ]
    assert sorted(rows(db)) == ["c/1.png", "c/b/2.png"]
    assert sorted(dirs(db)) == ["c", "c/b"]


def halves(tmp_path: Path, size: tuple[int, int] = (64, 48)) -> tuple[bytes, bytes]:
    """A PNG's bytes cut in two: the first half has no IEND (a file still being written)."""
    full = save_png(tmp_path / f"full-{size[0]}x{size[1]}.png", size, prompt=GRAPH).read_bytes()
    return full[: len(full) // 2], full[len(full) // 2 :]


def test_a_png_renamed_into_place_before_it_is_finished_is_looked_at_again(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    first, rest = halves(tmp_path)
    (base / "x.tmp").write_bytes(first)
    (base / "x.tmp").rename(base / "x.png")
    assert write(db, lambda conn: move_path(conn, "output", base, "x.tmp", "x.png")) == ([], ["x.png"])
    assert rows(db) == {}
    with open(base / "x.png", "ab") as handle:
        handle.write(rest)
    changes, again = write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    assert (kinds(changes), again) == ([("created", "x.png")], [])
    assert (rows(db)["x.png"]["width"], rows(db)["x.png"]["size"]) == (64, len(first + rest))


def test_a_png_renamed_over_an_indexed_one_before_it_is_finished_is_looked_at_again(
    db: Database, tmp_path: Path
) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png", (10, 10))
    scan(db, "output", base)
    first, rest = halves(tmp_path)
    (base / ".x.png.tmp").write_bytes(first)
    (base / ".x.png.tmp").rename(base / "x.png")
    assert write(db, lambda conn: move_path(conn, "output", base, ".x.png.tmp", "x.png")) == ([], ["x.png"])
    with open(base / "x.png", "ab") as handle:
        handle.write(rest)
    changes, again = write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    assert (kinds(changes), again) == ([("modified", "x.png")], [])
    assert rows(db)["x.png"]["width"] == 64


def test_an_indexed_png_renamed_while_written_again_is_described_again(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    save_png(base / "x.png", (10, 10))
    (created,), _ = write(db, lambda conn: sync_path(conn, "output", base, "x.png"))
    first, rest = halves(tmp_path)
    (base / "x.png").write_bytes(first)  # rewritten in place, then renamed before it is finished
    touch_later(base / "x.png")
    (base / "x.png").rename(base / "y.png")
    changes, again = write(db, lambda conn: move_path(conn, "output", base, "x.png", "y.png"))
    assert (kinds(changes), again) == ([("moved", "y.png")], ["y.png"])  # keeps its id; looked at again
    with open(base / "y.png", "ab") as handle:
        handle.write(rest)
    changes, again = write(db, lambda conn: sync_path(conn, "output", base, "y.png"))
    assert (kinds(changes), again) == ([("modified", "y.png")], [])
    assert (changes[0].row["id"], changes[0].row["width"]) == (created.row["id"], 64)


def test_a_folder_moved_in_with_an_unfinished_png_looks_at_it_again(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    first, rest = halves(tmp_path)
    save_png(tmp_path / "elsewhere" / "done.png")
    (tmp_path / "elsewhere" / "deep").mkdir()
    (tmp_path / "elsewhere" / "deep" / "half.png").write_bytes(first)
    base.mkdir()
    (tmp_path / "elsewhere").rename(base / "day")
    changes, again = write(db, lambda conn: sync_path(conn, "output", base, "day"))
    assert (kinds(changes), again) == ([("created", "done.png")], ["day/deep/half.png"])
    (base / "day").rename(base / "renamed")  # and renamed inside the root while still unfinished
    changes, again = write(db, lambda conn: move_path(conn, "output", base, "day", "renamed"))
    assert sorted(kinds(changes)) == [("created", "done.png"), ("deleted", "done.png")]
    assert again == ["renamed/deep/half.png"]
    with open(base / "renamed" / "deep" / "half.png", "ab") as handle:
        handle.write(rest)
    changes, again = write(db, lambda conn: sync_path(conn, "output", base, "renamed/deep/half.png"))
    assert (kinds(changes), again) == ([("created", "half.png")], [])


def test_the_watcher_looks_again_at_what_a_move_hands_back(db: Database, tmp_path: Path) -> None:
    """A move's "look again" reaches the watcher's queue (it was dropped: the file was never indexed)."""
    base = tmp_path / "out"
    base.mkdir()
    first, _rest = halves(tmp_path)
    (base / "x.tmp").write_bytes(first)
    (base / "x.tmp").rename(base / "x.png")
    watcher = FolderWatcher(db, {"output": base}, lambda changes: None)
    watcher._apply({("output", "x.tmp"): gallery_sync._Pending(0.0, "x.png")})
    assert set(watcher._pending) == {("output", "x.png")} and watcher._pending[("output", "x.png")].moved_to is None


def test_one_path_that_fails_costs_only_itself(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "out"
    base.mkdir()
    for name in ("a.png", "bad.png", "c.png"):
        save_png(base / name, (1, 1))
    scan(db, "output", base)
    for name in ("a.png", "bad.png", "c.png"):  # gone: each is applied alone in the writer
        (base / name).unlink()
    real = gallery_sync.sync_path

    def failing(conn: Any, root: str, folder: Path, rel: str, **kwargs: Any) -> Any:
        if rel == "bad.png":
            raise RuntimeError("a bad path")
        return real(conn, root, folder, rel, **kwargs)

    monkeypatch.setattr(gallery_sync, "sync_path", failing)
    watcher = FolderWatcher(db, {"output": base}, lambda changes: None)
    watcher._apply({("output", n): gallery_sync._Pending(0.0) for n in ("a.png", "bad.png", "c.png")})
    assert sorted(rows(db)) == ["bad.png"]


def test_one_file_that_fails_to_be_written_costs_only_itself(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrivals are written a batch at a time: a row that fails leaves the rest of its batch indexed."""
    base = tmp_path / "out"
    names = [f"{n}.png" for n in range(5)]
    for name in names:
        save_png(base / name, (1, 1))
    real = index.upsert_described

    def failing(conn: Any, entries: list[list[Any]]) -> Any:
        if any(e[2] == "2.png" for e in entries):
            raise RuntimeError("a bad row")
        return real(conn, entries)

    monkeypatch.setattr(index, "upsert_described", failing)
    seen: list[Change] = []
    watcher = FolderWatcher(db, {"output": base}, seen.extend)
    watcher._apply({("output", n): gallery_sync._Pending(0.0) for n in names})
    assert sorted(rows(db)) == ["0.png", "1.png", "3.png", "4.png"]
    assert sorted(c.row["filename"] for c in seen) == ["0.png", "1.png", "3.png", "4.png"]


def test_a_temporary_name_used_again_before_the_watcher_ran_loses_no_move(db: Database, tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    watcher = FolderWatcher(db, {"output": base}, lambda changes: None)
    for n, name in enumerate(("a.png", "b.png", "c.png")):
        save_png(base / "tmp.png", (n + 1, 1))
        (base / "tmp.png").rename(base / name)
        watcher._note(str(base / "tmp.png"), str(base / name))
    due = dict(watcher._pending)
    watcher._pending.clear()
    watcher._apply(due)
    assert sorted(rows(db)) == ["a.png", "b.png", "c.png"]
    assert [rows(db)[n]["width"] for n in ("a.png", "b.png", "c.png")] == [1, 2, 3]


# -- the watcher -------------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.lock = threading.Lock()
        self.threads: set[str] = set()

    def __call__(self, changes: list[Change]) -> None:
        with self.lock:
            self.changes += changes
            self.threads.add(threading.current_thread().name)

    def wait_for(self, predicate: Callable[[list[Change]], bool], what: str) -> list[Change]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self.lock:
                seen = list(self.changes)
            if predicate(seen):
                return seen
            time.sleep(0.02)
        raise AssertionError(f"no {what} within {TIMEOUT} s; saw {[(c.kind, c.root, c.row['filename']) for c in seen]}")


@pytest.fixture
def watched(db: Database, tmp_path: Path) -> Iterator[tuple[FolderWatcher, Recorder, Path, Path]]:
    out, inp = tmp_path / "output", tmp_path / "input"
    recorder = Recorder()
    watcher = FolderWatcher(db, {"output": out, "input": inp}, recorder)
    watcher.start()
    try:
        yield watcher, recorder, out, inp
    finally:
        watcher.stop()
    assert watcher._thread is not None and not watcher._thread.is_alive()


def has(kind: str, filename: str, root: str = "output") -> Callable[[list[Change]], bool]:
    return lambda seen: any(c.kind == kind and c.root == root and c.row["filename"] == filename for c in seen)


def test_the_watcher_reports_create_rename_and_delete(watched: tuple, db: Database) -> None:
    watcher, recorder, out, inp = watched
    assert watcher.mode in ("native", "polling")
    assert out.is_dir() and inp.is_dir()  # the roots are made when missing

    save_png(out / "w.png", prompt=GRAPH)
    recorder.wait_for(has("created", "w.png"), "created")
    (out / "w.png").rename(out / "renamed.png")
    recorder.wait_for(has("moved", "renamed.png"), "moved")
    (out / "renamed.png").unlink()
    seen = recorder.wait_for(has("deleted", "renamed.png"), "deleted")

    assert [(c.kind, c.row["filename"]) for c in seen] == [
        ("created", "w.png"),
        ("moved", "renamed.png"),
        ("deleted", "renamed.png"),
    ]
    created, moved, deleted = seen
    assert created.row["id"] == moved.row["id"] == deleted.row["id"]
    assert moved.previous is not None and moved.previous["filename"] == "w.png"
    assert created.row["model"] == "sd15.safetensors"
    assert rows(db) == {}
    assert recorder.threads == {"cozygen-gallery-sync"}


def test_the_watcher_follows_folders_and_both_roots(watched: tuple, db: Database) -> None:
    _watcher, recorder, out, inp = watched
    (out / "day").mkdir()
    save_png(out / "day" / "1.png")
    recorder.wait_for(has("created", "1.png"), "created in a new folder")
    assert sorted(dirs(db)) == ["day"]
    assert rows(db)["day/1.png"]["subfolder"] == "day"

    save_jpeg(inp / "upload.jpg")
    recorder.wait_for(has("created", "upload.jpg", "input"), "created in the input root")
    assert sorted(rows(db, "input")) == ["upload.jpg"]

    (out / "day" / "1.png").rename(inp / "1.png")  # across roots: gone here, new there
    recorder.wait_for(lambda s: has("deleted", "1.png")(s) and has("created", "1.png", "input")(s), "cross-root move")
    assert sorted(rows(db, "input")) == ["1.png", "upload.jpg"]
    assert rows(db, "output") == {}

    (out / "notes.txt").write_text("ignored")
    shutil.rmtree(out / "day")
    save_png(out / "last.png")  # a marker: everything before it has been handled when it shows up
    seen = recorder.wait_for(has("created", "last.png"), "created after the folder went")
    assert not any(c.row["filename"] == "notes.txt" for c in seen)
    deadline = time.monotonic() + TIMEOUT
    while "day" in dirs(db) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "day" not in dirs(db)


def test_the_watcher_waits_for_a_png_to_be_finished(watched: tuple, db: Database, tmp_path: Path) -> None:
    _watcher, recorder, out, _inp = watched
    full = save_png(tmp_path / "full.png", (64, 64), prompt=GRAPH).read_bytes()
    with open(out / "slow.png", "wb") as handle:  # a writer that has not finished yet
        handle.write(full[: len(full) // 2])
        handle.flush()
        save_png(out / "marker.png")
        seen = recorder.wait_for(has("created", "marker.png"), "the marker")
        assert not any(c.row["filename"] == "slow.png" for c in seen)
        assert "slow.png" not in rows(db)
        handle.write(full[len(full) // 2 :])
    seen = recorder.wait_for(has("created", "slow.png"), "the finished PNG")
    assert [c.kind for c in seen if c.row["filename"] == "slow.png"] == ["created"]
    assert rows(db)["slow.png"]["positive"] == "a red cat on a mat"


BURST = 200


def burst_pngs(tmp_path: Path) -> list[bytes]:
    return [
        save_png(tmp_path / "src" / f"{n}.png", (8 + n % 13, 4 + n % 5), prompt=GRAPH).read_bytes()
        for n in range(BURST)
    ]


def wait_indexed(db: Database, expected: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Poll the index until every expected file is there with its final size."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = rows(db)
        if all(name in found and found[name]["size"] == len(data) for name, data in expected.items()):
            return found
        if time.monotonic() > deadline:
            missing = sorted(n for n, d in expected.items() if n not in found or found[n]["size"] != len(d))
            raise AssertionError(f"{len(missing)} of {len(expected)} files not indexed whole: {missing[:5]}")
        time.sleep(0.05)


def test_a_burst_of_pngs_renamed_into_place_half_written_is_indexed_whole(
    watched: tuple, db: Database, tmp_path: Path
) -> None:
    _watcher, _recorder, out, _inp = watched
    datas = burst_pngs(tmp_path)
    for n, data in enumerate(datas):
        (out / f"{n}.tmp").write_bytes(data[: len(data) // 2])
    for n in range(BURST):
        (out / f"{n}.tmp").rename(out / f"img{n}.png")
    for n, data in enumerate(datas):
        with open(out / f"img{n}.png", "ab") as handle:
            handle.write(data[len(data) // 2 :])
    found = wait_indexed(db, {f"img{n}.png": data for n, data in enumerate(datas)})
    assert all(found[f"img{n}.png"]["width"] == 8 + n % 13 for n in range(BURST))


def test_a_burst_of_files_renamed_from_one_temporary_name_is_indexed_whole(
    watched: tuple, db: Database, tmp_path: Path
) -> None:
    """A writer that always writes ``x.tmp`` and renames it: each rename is a move from the same name."""
    _watcher, _recorder, out, _inp = watched
    datas = burst_pngs(tmp_path)
    for n, data in enumerate(datas):
        (out / "x.tmp").write_bytes(data)
        (out / "x.tmp").rename(out / f"img{n}.png")
    found = wait_indexed(db, {f"img{n}.png": data for n, data in enumerate(datas)})
    assert all(found[f"img{n}.png"]["width"] == 8 + n % 13 for n in range(BURST))


def test_stop_without_start_returns(db: Database, tmp_path: Path) -> None:
    watcher = FolderWatcher(db, {"output": tmp_path / "o"}, lambda changes: None)
    watcher.stop()
    assert watcher.mode == "off"


def test_a_symlinked_root_reports_files_in_new_folders(db: Database, tmp_path: Path) -> None:
    real = tmp_path / "disk" / "output"
    real.mkdir(parents=True)
    (tmp_path / "output").symlink_to(real, target_is_directory=True)
    recorder = Recorder()
    watcher = FolderWatcher(db, {"output": tmp_path / "output"}, recorder)
    watcher.start()
    try:
        (tmp_path / "output" / "today").mkdir()
        save_png(tmp_path / "output" / "today" / "a.png")  # at once, before any watch on the new folder
        seen = recorder.wait_for(has("created", "a.png"), "created in a new folder under a symlinked root")
    finally:
        watcher.stop()
    assert [c.row["subfolder"] for c in seen if c.row["filename"] == "a.png"] == ["today"]
