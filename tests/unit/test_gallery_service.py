"""core.gallery.service: the gallery service over real folders, a real SQLite file and a real event hub."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from unit.gallery_files import events, save_png

from cozygen.core.errors import BadRequest, Conflict, NotFound
from cozygen.core.gallery import index
from cozygen.core.gallery.service import Gallery, free_name, item, prefixed
from cozygen.core.gallery.sync import scan

GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 123, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0]},
    },
}
TIMEOUT = 20.0


def file_events(gallery: Gallery) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.data["item"]["subfolder"], e.data["item"]["filename"])
        for e in events(gallery)
        if e.kind.startswith("file.")
    ]


def indexed(gallery: Gallery, root: str = "output") -> dict[str, Any]:
    rows = gallery.db.read(lambda conn: conn.execute("SELECT * FROM media WHERE root = ?", (root,)).fetchall())
    return {(f"{r['subfolder']}/{r['filename']}" if r["subfolder"] else r["filename"]): r for r in rows}


def index_all(gallery: Gallery) -> None:
    for root, base in gallery.roots.items():
        scan(gallery.db, root, base)


# -- trash -----------------------------------------------------------------------------------
def test_trash_moves_files_out_removes_rows_and_announces_it(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "a.png", color="red")
    save_png(out / "day" / "b.png", color="blue")
    save_png(out / "keep.png")
    index_all(gallery)
    rows = indexed(gallery)
    original = (out / "day" / "b.png").read_bytes()

    batch, trash_ids, errors = asyncio.run(gallery.trash([rows["a.png"], rows["day/b.png"]], by="alice"))

    assert errors == [] and len(trash_ids) == 2 and len(set(trash_ids)) == 2
    assert not (out / "a.png").exists() and not (out / "day" / "b.png").exists()
    trashed = sorted(p.name for p in (gallery.trash_dir / batch).iterdir())
    assert len(trashed) == 2 and all(p.endswith(("_a.png", "_b.png")) for p in trashed)
    assert original in [p.read_bytes() for p in (gallery.trash_dir / batch).iterdir()]
    assert sorted(indexed(gallery)) == ["keep.png"]
    assert sorted(file_events(gallery)) == [("file.deleted", "", "a.png"), ("file.deleted", "day", "b.png")]
    deleted = {e.data["item"]["filename"]: e.data for e in events(gallery)}
    assert deleted["b.png"]["item"]["id"] == rows["day/b.png"]["id"]
    assert (deleted["b.png"]["event"], deleted["b.png"]["type"], deleted["b.png"]["subfolder"]) == (
        "deleted",
        "output",
        "day",
    )
    listed = asyncio.run(gallery.trash_list())
    assert sorted((t["type"], t["subfolder"], t["filename"], t["batch"]) for t in listed) == [
        ("output", "", "a.png", batch),
        ("output", "day", "b.png", batch),
    ]
    assert {t["id"] for t in listed} == set(trash_ids)
    assert all(t["deleted_by"] == "alice" for t in listed)


def test_trash_of_a_file_already_gone_keeps_nothing(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "gone.png")
    index_all(gallery)
    row = indexed(gallery)["gone.png"]
    (out / "gone.png").unlink()
    _batch, trash_ids, errors = asyncio.run(gallery.trash([row]))
    assert (trash_ids, errors) == ([], [])
    assert asyncio.run(gallery.trash_list()) == []


def test_a_kill_while_files_move_to_the_trash_leaves_every_moved_file_restorable(
    gallery: Gallery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are written first: a process killed after the first move keeps that file restorable, and
    the next start drops the row of the file that never moved."""
    out = gallery.roots["output"]
    save_png(out / "first.png")
    save_png(out / "second.png")
    index_all(gallery)
    rows = indexed(gallery)
    real_move, calls = shutil.move, []

    def move_then_die(source: Any, target: Any) -> Any:
        calls.append(source)
        if len(calls) == 2:
            raise SystemExit("killed")  # the process ends here: nothing after this line runs
        return real_move(source, target)

    monkeypatch.setattr(shutil, "move", move_then_die)
    with pytest.raises(SystemExit):
        asyncio.run(gallery.trash([rows["first.png"], rows["second.png"]], by="alice"))
    monkeypatch.setattr(shutil, "move", real_move)
    assert gallery.reconcile_trash() == 1  # second.png never left: its row goes, the file stays
    listed = asyncio.run(gallery.trash_list())
    assert [t["filename"] for t in listed] == ["first.png"] and (out / "second.png").exists()
    restored = asyncio.run(gallery.restore(ids=[listed[0]["id"]]))
    assert [r["filename"] for r in restored] == ["first.png"] and (out / "first.png").exists()


def test_a_file_with_a_long_name_can_be_trashed_and_restored(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    name = "x" * 246 + ".png"  # 250 bytes: a legal name, too long for any prefix
    save_png(out / name)
    index_all(gallery)
    batch, trash_ids, errors = asyncio.run(gallery.trash([indexed(gallery)[name]]))
    assert errors == [] and len(trash_ids) == 1
    assert not (out / name).exists()
    restored = asyncio.run(gallery.restore(batch=batch))
    assert [r["filename"] for r in restored] == [name]
    assert (out / name).is_file()


def test_a_long_name_restored_over_a_taken_name_is_shortened_to_fit(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    name = "é" * 123 + ".png"  # 250 bytes in UTF-8
    save_png(out / name, color="red")
    index_all(gallery)
    batch, _ids, errors = asyncio.run(gallery.trash([indexed(gallery)[name]]))
    assert errors == []
    save_png(out / name, color="blue")
    (restored,) = asyncio.run(gallery.restore(batch=batch))
    new_name = restored["filename"]
    assert new_name.endswith(" (restored).png") and new_name.startswith("é")
    assert len(new_name.encode()) <= 255
    assert (out / new_name).is_file() and (out / name).is_file()
    assert new_name in indexed(gallery)


# -- restore ---------------------------------------------------------------------------------
def test_restore_a_batch_puts_files_back_and_announces_them(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "a.png", prompt=GRAPH, color="red")
    save_png(out / "day" / "b.png", color="blue")
    index_all(gallery)
    rows = indexed(gallery)
    red = (out / "a.png").read_bytes()
    batch, _ids, _ = asyncio.run(gallery.trash([rows["a.png"], rows["day/b.png"]]))
    save_png(out / "a.png", color="green")  # the name was taken meanwhile
    green = (out / "a.png").read_bytes()
    (out / "day").rmdir()  # and the folder went away

    restored = asyncio.run(gallery.restore(batch=batch))

    assert sorted((r["subfolder"], r["filename"]) for r in restored) == [("", "a (restored).png"), ("day", "b.png")]
    assert all(r["type"] == "output" and isinstance(r["id"], int) for r in restored)
    assert (out / "a (restored).png").read_bytes() == red
    assert (out / "a.png").read_bytes() == green  # the newer file is untouched
    assert (out / "day" / "b.png").is_file()
    now = indexed(gallery)
    assert {"a (restored).png", "day/b.png"} <= set(now)
    assert now["a (restored).png"]["model"] == "sd15.safetensors"
    assert {r["id"] for r in restored} == {now["a (restored).png"]["id"], now["day/b.png"]["id"]}
    created = [e for e in events(gallery) if e.kind == "file.created"]
    assert sorted(e.data["item"]["filename"] for e in created) == ["a (restored).png", "b.png"]
    with_meta = next(e for e in created if e.data["item"]["filename"] == "a (restored).png")
    assert with_meta.data["item"]["meta"]["model"] == "sd15.safetensors"
    assert with_meta.data["item"]["meta"]["prompt"] == "a red cat"
    assert asyncio.run(gallery.trash_list()) == []
    assert not (gallery.trash_dir / batch).exists()
    with pytest.raises(NotFound) as caught:  # a second restore finds nothing
        asyncio.run(gallery.restore(batch=batch))
    assert caught.value.code == "NOT_IN_TRASH"


def test_restore_by_ids_restores_only_those(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "a.png")
    save_png(out / "b.png")
    index_all(gallery)
    rows = indexed(gallery)
    _batch, ids, _ = asyncio.run(gallery.trash([rows["a.png"], rows["b.png"]]))
    listed = {t["id"]: t["filename"] for t in asyncio.run(gallery.trash_list())}
    restored = asyncio.run(gallery.restore(ids=[ids[1]]))
    assert [r["filename"] for r in restored] == [listed[ids[1]]]
    assert sorted(indexed(gallery)) == [listed[ids[1]]]
    assert [t["id"] for t in asyncio.run(gallery.trash_list())] == [ids[0]]


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({}, BadRequest, "NOTHING_TO_RESTORE"),
        ({"ids": []}, BadRequest, "NOTHING_TO_RESTORE"),
        ({"ids": None, "batch": ""}, BadRequest, "NOTHING_TO_RESTORE"),
        ({"ids": "abc"}, BadRequest, "INVALID_IDS"),
        ({"ids": [1, 2]}, BadRequest, "INVALID_IDS"),
        ({"batch": 5}, BadRequest, "INVALID_BATCH"),
        ({"batch": "nope"}, NotFound, "NOT_IN_TRASH"),
        ({"ids": ["nope"]}, NotFound, "NOT_IN_TRASH"),
    ],
)
def test_restore_refuses_bad_requests(gallery: Gallery, kwargs: dict, error: type, code: str) -> None:
    with pytest.raises(error) as caught:
        asyncio.run(gallery.restore(**kwargs))
    assert caught.value.code == code


def test_purge_forgets_old_trash(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "a.png")
    index_all(gallery)
    batch, _ids, _ = asyncio.run(gallery.trash([indexed(gallery)["a.png"]]))
    assert gallery.purge_trash() == 0  # younger than 30 days: kept
    assert len(asyncio.run(gallery.trash_list())) == 1
    assert gallery.purge_trash(days=-1) == 1
    assert asyncio.run(gallery.trash_list()) == []
    assert list((gallery.trash_dir / batch).iterdir()) == []
    with pytest.raises(NotFound):
        asyncio.run(gallery.restore(batch=batch))


def test_free_name(tmp_path: Path) -> None:
    base = tmp_path
    assert free_name(base, "a.png") == "a.png"
    (base / "a.png").touch()
    assert free_name(base, "a.png") == "a (restored).png"
    (base / "a (restored).png").touch()
    assert free_name(base, "a.png") == "a (restored 2).png"
    (base / "README").touch()
    assert free_name(base, "README") == "README (restored)"
    (base / "x.tar.gz").touch()
    assert free_name(base, "x.tar.gz") == "x.tar (restored).gz"
    long = "z" * 251 + ".png"
    (base / long).touch()
    assert free_name(base, long) == "z" * (255 - len(" (restored).png")) + " (restored).png"


@pytest.mark.parametrize(
    ("prefix", "filename", "expected"),
    [
        ("ab_", "c.png", "ab_c.png"),
        ("ab_", "noext", "ab_noext"),
        ("1234_", "x" * 251 + ".png", "1234_" + "x" * 246 + ".png"),
        ("1234_", "é" * 125 + ".png", "1234_" + "é" * 123 + ".png"),  # whole characters, at most 255 bytes
        ("1234_", "n" * 255, "1234_" + "n" * 250),
    ],
)
def test_prefixed_names_fit_in_255_bytes(prefix: str, filename: str, expected: str) -> None:
    assert prefixed(prefix, filename) == expected
    assert len(expected.encode()) <= 255


# -- copies, reads, counts -------------------------------------------------------------------
def test_to_input_copies_into_the_input_folder(gallery: Gallery) -> None:
    out, inp = gallery.roots["output"], gallery.roots["input"]
    save_png(out / "day" / "a.png", prompt=GRAPH)
    index_all(gallery)
    row = indexed(gallery)["day/a.png"]

    name = asyncio.run(gallery.to_input(row))

    assert name.endswith("_a.png") and "/" not in name
    assert (inp / name).read_bytes() == (out / "day" / "a.png").read_bytes()
    assert (out / "day" / "a.png").is_file()  # a copy, not a move
    copied = indexed(gallery, "input")[name]
    assert (copied["root"], copied["subfolder"], copied["model"]) == ("input", "", "sd15.safetensors")
    assert file_events(gallery) == [("file.created", "", name)]
    assert events(gallery)[-1].data["type"] == "input"
    with pytest.raises(Conflict) as caught:
        asyncio.run(gallery.to_input(copied))
    assert caught.value.code == "ALREADY_INPUT"


def test_to_input_of_a_file_with_a_long_name(gallery: Gallery) -> None:
    out, inp = gallery.roots["output"], gallery.roots["input"]
    save_png(out / ("y" * 246 + ".png"))
    index_all(gallery)
    (row,) = indexed(gallery).values()
    name = asyncio.run(gallery.to_input(row))
    assert len(name.encode()) <= 255 and name.endswith(".png")
    assert (inp / name).is_file()
    assert name in indexed(gallery, "input")


def test_get_find_and_path_of(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "s" / "a.png")
    index_all(gallery)
    row = indexed(gallery)["s/a.png"]
    assert asyncio.run(gallery.get(row["id"]))["filename"] == "a.png"
    assert asyncio.run(gallery.find("output", "s", "a.png"))["id"] == row["id"]
    assert asyncio.run(gallery.find("output", "", "a.png")) is None
    assert gallery.path_of(row) == out / "s" / "a.png"
    with pytest.raises(NotFound) as caught:
        asyncio.run(gallery.get(row["id"] + 1000))
    assert caught.value.code == "IMAGE_NOT_FOUND"


def test_refresh_indexes_one_file_and_announces_it_once(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "new.png", prompt=GRAPH)
    row = asyncio.run(gallery.refresh("output", "", "new.png"))
    assert row["filename"] == "new.png" and row["has_prompt"] == 1
    again = asyncio.run(gallery.refresh("output", "", "new.png"))  # unchanged: no second event
    assert again["id"] == row["id"]
    assert file_events(gallery) == [("file.created", "", "new.png")]
    assert asyncio.run(gallery.refresh("output", "", "missing.png")) is None


def test_counts_are_cached_until_something_changes(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "a.png")
    save_png(out / "b.png")
    index_all(gallery)
    query = index.FileQuery()

    async def main() -> list[int]:
        counts = [await gallery.count(query)]
        await gallery.trash([indexed(gallery)["a.png"]])
        counts.append(await gallery.count(query))
        save_png(out / "c.png")
        save_png(out / "d.png")
        await gallery.refresh("output", "", "c.png")
        counts.append(await gallery.count(query))
        return counts

    assert asyncio.run(main()) == [2, 1, 2]


def test_item_shapes(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    save_png(out / "p.png", prompt=GRAPH)
    save_png(out / "q.png")
    index_all(gallery)
    rows = indexed(gallery)
    assert item(rows["p.png"]) == {
        "filename": "p.png",
        "type": "output",
        "subfolder": "",
        "mtime": rows["p.png"]["mtime"],
        "id": rows["p.png"]["id"],
    }
    assert item(rows["p.png"], include_meta=True)["meta"] == {
        "model": "sd15.safetensors",
        "prompt": "a red cat",
        "loras": [],
        "has_prompt": True,
    }
    assert "meta" not in item(rows["q.png"], include_meta=True)


# -- lifecycle -------------------------------------------------------------------------------
def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {TIMEOUT} s")
        time.sleep(0.02)


def test_start_scans_watches_and_stop_returns(gallery: Gallery) -> None:
    out, inp = gallery.roots["output"], gallery.roots["input"]
    save_png(out / "old" / "a.png", prompt=GRAPH)
    save_png(inp / "in.png")
    assert gallery.status()["indexed"] is False
    gallery.start()
    try:
        assert gallery.ready.wait(TIMEOUT), "the initial scan did not finish"
        status = gallery.status()
        assert status["indexed"] is True and status["watcher"] in ("native", "polling")
        assert status["scans"]["output"]["files"] == 1 and status["scans"]["input"]["files"] == 1
        assert sorted(indexed(gallery)) == ["old/a.png"]
        assert sorted(indexed(gallery, "input")) == ["in.png"]
        assert "reindexed" in [e.kind for e in events(gallery)]

        save_png(out / "fresh.png")
        wait_until(lambda: ("file.created", "", "fresh.png") in file_events(gallery), "the watcher's file.created")
        assert "fresh.png" in indexed(gallery)
    finally:
        gallery.stop()
    assert gallery.watcher._thread is not None and not gallery.watcher._thread.is_alive()
