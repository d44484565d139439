"""core.gallery.moves and holds: folders and moves over real folders, a real SQLite file, the real watcher.

A moved file keeps its row (id), its job links and its input owner; the watcher never adds a second row or a second
``file.moved``; a process killed half-way through a move leaves every file in one place with the index matching
once ``recover`` and the start-up scan have run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT
from unit.gallery_files import events, save_png

from cozygen.core.errors import BadRequest, Conflict, Forbidden, HostNotReady, NotFound
from cozygen.core.events import EventHub
from cozygen.core.gallery import input_owners, relocate
from cozygen.core.gallery.holds import Holds
from cozygen.core.gallery.moves import numbered_names
from cozygen.core.gallery.place import rename_exclusive
from cozygen.core.gallery.service import Gallery
from cozygen.core.gallery.sync import move_path, scan
from cozygen.core.jobs import records
from cozygen.core.jobs.model import Job
from cozygen.core.paths import NameRejected, PathRejected
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red cat", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 123, "model": ["4", 0], "positive": ["6", 0]}},
}
TIMEOUT = 20.0


def indexed(gallery: Gallery, root: str = "output") -> dict[str, Any]:
    rows = gallery.db.read(lambda conn: conn.execute("SELECT * FROM media WHERE root = ?", (root,)).fetchall())
    return {(f"{r['subfolder']}/{r['filename']}" if r["subfolder"] else r["filename"]): r for r in rows}


def index_all(gallery: Gallery) -> None:
    for root, base in gallery.roots.items():
        scan(gallery.db, root, base)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {TIMEOUT} s")
        time.sleep(0.02)


@pytest.fixture
def ready(gallery: Gallery) -> Gallery:
    gallery.ready.set()
    return gallery


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def moved_events(gallery: Gallery) -> list[tuple[int, str, str]]:
    """(id, from, to) of every file.moved announced."""
    found = []
    for e in events(gallery):
        if e.kind == "file.moved":
            old, new = e.data["from"], e.data["item"]
            found.append((new["id"], f"{old['subfolder']}/{old['filename']}", f"{new['subfolder']}/{new['filename']}"))
    return found


def file_kinds(gallery: Gallery) -> list[str]:
    return [e.kind for e in events(gallery) if e.kind.startswith("file.")]


def add_job(gallery: Gallery, prompt_id: str, images: list[dict[str, str]], n: int = 1) -> str:
    job = Job(id=f"00000000-0000-4000-8000-{n:012d}", prompt_id=prompt_id, workflow="w", username="ann", images=images)
    gallery.db.submit_write(lambda conn: records.insert(conn, job)).result()
    return job.id


def job_images(gallery: Gallery, job_id: str) -> list[dict[str, str]]:
    job = gallery.db.read(lambda conn: records.get(conn, job_id))
    assert job is not None
    return job.images


def tree(base: Path) -> set[str]:
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}


# -- moves ---------------------------------------------------------------------------------------
def test_a_move_keeps_ids_and_announces_one_moved_event_per_file(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png", prompt=GRAPH)
    save_png(out / "day" / "b.png")
    (out / "keep").mkdir()
    index_all(ready)
    before = indexed(ready)

    report = run(ready.moves.move([before["a.png"], before["day/b.png"]], "keep"))

    after = indexed(ready)
    assert sorted(after) == ["keep/a.png", "keep/b.png"]
    assert after["keep/a.png"]["id"] == before["a.png"]["id"] and after["keep/b.png"]["id"] == before["day/b.png"]["id"]
    assert after["keep/a.png"]["model"] == "sd15.safetensors"  # the row itself moved: nothing described again
    assert tree(out) == {"keep/a.png", "keep/b.png"}
    assert report.errors == [] and sorted((m["subfolder"], m["filename"]) for m in report.moved) == [
        ("keep", "a.png"),
        ("keep", "b.png"),
    ]
    assert sorted(moved_events(ready)) == sorted(
        [(before["a.png"]["id"], "/a.png", "keep/a.png"), (before["day/b.png"]["id"], "day/b.png", "keep/b.png")]
    )
    assert ready.db.read(relocate.unfinished) == []  # the journal is gone with the commit
    counts = ready.db.read(lambda c: c.execute("SELECT subfolder, n FROM media_counts WHERE n > 0").fetchall())
    assert {(r[0], r[1]) for r in counts} == {("keep", 2)}


def test_a_taken_name_refuses_the_whole_move_before_anything_moves(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png")
    save_png(out / "b.png")
    save_png(out / "keep" / "a.png", color="blue")
    index_all(ready)
    rows = indexed(ready)

    with pytest.raises(Conflict) as refused:
        run(ready.moves.move([rows["a.png"], rows["b.png"]], "keep"))

    assert refused.value.code == "NAME_TAKEN" and refused.value.extra == {"names": ["a.png"]}
    assert "rename" in refused.value.message
    assert tree(out) == {"a.png", "b.png", "keep/a.png"} and sorted(indexed(ready)) == sorted(rows)
    assert ready.holds.reserved("output", "keep") == set()  # nothing left held


def test_rename_gives_taken_names_a_number(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "x" / "cat.png")
    save_png(out / "y" / "cat.png", color="blue")
    save_png(out / "keep" / "cat.png", color="green")
    index_all(ready)
    rows = indexed(ready)

    report = run(ready.moves.move([rows["x/cat.png"], rows["y/cat.png"]], "keep", rename=True))

    assert sorted(m["filename"] for m in report.moved) == ["cat (2).png", "cat (3).png"]
    assert tree(out) == {"keep/cat.png", "keep/cat (2).png", "keep/cat (3).png"}
    assert indexed(ready)["keep/cat (2).png"]["id"] == rows["x/cat.png"]["id"]


def test_numbered_names_fit_in_255_bytes() -> None:
    names = numbered_names("a" * 251 + ".png")
    assert next(names) == "a" * 251 + ".png"
    second = next(names)
    assert second.endswith(" (2).png") and len(second.encode()) == 255


def test_moving_into_the_folder_it_is_in_changes_nothing(ready: Gallery) -> None:
    save_png(ready.roots["output"] / "keep" / "a.png")
    index_all(ready)
    row = indexed(ready)["keep/a.png"]

    report = run(ready.moves.move([row], "keep"))

    assert report.moved == [{"id": row["id"], "filename": "a.png", "subfolder": "keep", "type": "output"}]
    assert moved_events(ready) == []


@pytest.mark.parametrize(
    ("to", "error", "code"),
    [
        ("../elsewhere", PathRejected, "INVALID_PATH"),
        ("/tmp", PathRejected, "INVALID_PATH"),
        ("missing", NotFound, "FOLDER_NOT_FOUND"),
        ("a.png", NotFound, "FOLDER_NOT_FOUND"),
        ("link", PathRejected, "INVALID_PATH"),
    ],
)
def test_a_destination_outside_or_missing_is_refused(ready: Gallery, to: str, error: type, code: str) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png")
    (out / "real").mkdir()
    (out / "link").symlink_to(out / "real")
    index_all(ready)

    with pytest.raises(error) as refused:
        run(ready.moves.move([indexed(ready)["a.png"]], to))

    assert refused.value.code == code and (out / "a.png").is_file()


def test_a_move_stays_in_one_root(ready: Gallery) -> None:
    save_png(ready.roots["output"] / "a.png")
    save_png(ready.roots["input"] / "b.png")
    (ready.roots["output"] / "keep").mkdir()
    index_all(ready)
    rows = [indexed(ready)["a.png"], indexed(ready, "input")["b.png"]]
    with pytest.raises(BadRequest) as refused:
        run(ready.moves.move(rows, "keep"))
    assert refused.value.code == "MIXED_ROOTS"


def test_a_move_waits_for_the_first_scan(gallery: Gallery) -> None:
    with pytest.raises(HostNotReady):
        run(gallery.moves.move([], ""))


def test_a_file_gone_meanwhile_is_reported_and_the_rest_moves(ready: Gallery, monkeypatch: pytest.MonkeyPatch) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png")
    save_png(out / "b.png")
    (out / "keep").mkdir()
    index_all(ready)
    rows = indexed(ready)
    original = ready.moves._rename_all

    def vanish_first(plan: Any) -> Any:
        (out / "a.png").unlink()  # between the plan and the renames
        return original(plan)

    monkeypatch.setattr(ready.moves, "_rename_all", vanish_first)
    report = run(ready.moves.move([rows["a.png"], rows["b.png"]], "keep"))

    assert [m["filename"] for m in report.moved] == ["b.png"]
    assert report.errors == [
        {"id": rows["a.png"]["id"], "filename": "a.png", "subfolder": "", "error": "it is no longer there"}
    ]
    assert indexed(ready)["keep/b.png"]["id"] == rows["b.png"]["id"]


def test_job_links_follow_a_move(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png", prompt=GRAPH)  # its cozygen chunk names prompt "abc"
    save_png(out / "loose.png")  # no prompt id: its job is found by name
    (out / "keep").mkdir()
    index_all(ready)
    rows = indexed(ready)
    assert rows["a.png"]["prompt_id"] == "abc" and rows["loose.png"]["prompt_id"] is None
    image = {"filename": "a.png", "subfolder": "", "type": "output"}
    with_prompt = add_job(ready, "abc", [image, {"filename": "other.png", "subfolder": "", "type": "output"}], 1)
    by_name = add_job(ready, "p2", [{"filename": "loose.png", "subfolder": "", "type": "output"}], 2)
    temp = add_job(ready, "p3", [{"filename": "loose.png", "subfolder": "", "type": "temp"}], 3)

    run(ready.moves.move([rows["a.png"], rows["loose.png"]], "keep"))

    assert job_images(ready, with_prompt) == [
        {"filename": "a.png", "subfolder": "keep", "type": "output"},
        {"filename": "other.png", "subfolder": "", "type": "output"},
    ]
    assert job_images(ready, by_name) == [{"filename": "loose.png", "subfolder": "keep", "type": "output"}]
    assert job_images(ready, temp) == [{"filename": "loose.png", "subfolder": "", "type": "temp"}]


def test_an_inputs_owner_follows_its_move(ready: Gallery) -> None:
    inp = ready.roots["input"]
    save_png(inp / "mine.png")
    (inp / "kept").mkdir()
    index_all(ready)
    ready.db.submit_write(lambda conn: input_owners.record(conn, "", "mine.png", "ann")).result()

    run(ready.moves.move([indexed(ready, "input")["mine.png"]], "kept"))

    assert ready.db.read(lambda conn: input_owners.owner_of(conn, "kept", "mine.png")) == "ann"
    assert ready.db.read(lambda conn: input_owners.owner_of(conn, "", "mine.png")) is None


def test_a_bulk_move_of_many_files_keeps_every_id(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "seed.png")
    for n in range(300):
        os.link(out / "seed.png", out / f"{n:03}.png")  # cheap distinct names (one inode is fine here)
    (out / "seed.png").unlink()
    (out / "keep").mkdir()
    index_all(ready)
    before = {name: row["id"] for name, row in indexed(ready).items()}

    report = run(ready.moves.move(list(indexed(ready).values()), "keep"))

    assert len(report.moved) == 300 and report.errors == []
    assert {name.removeprefix("keep/"): row["id"] for name, row in indexed(ready).items()} == before
    assert len(moved_events(ready)) == 300


# -- the watcher -----------------------------------------------------------------------------------
def settle(gallery: Gallery, name: str) -> None:
    """Wait until the watcher has looked at everything that happened before now (it reports a new file last)."""
    save_png(gallery.roots["output"] / name)
    wait_until(lambda: ("file.created", name) in [(e.kind, e.data["item"]["filename"]) for e in events(gallery)], name)


def test_the_watcher_adds_no_row_and_no_second_event_to_a_move(ready: Gallery) -> None:
    out = ready.roots["output"]
    for n in range(40):
        save_png(out / "day" / f"{n:02}.png")
    (out / "keep").mkdir()
    index_all(ready)
    before = {name: row["id"] for name, row in indexed(ready).items()}
    ready.watcher.start()
    try:
        run(ready.moves.move([indexed(ready)[name] for name in before], "keep"))
        settle(ready, "sentinel.png")
    finally:
        ready.watcher.stop()

    after = indexed(ready)
    assert {name.replace("keep/", "day/"): row["id"] for name, row in after.items() if name != "sentinel.png"} == before
    assert file_kinds(ready).count("file.moved") == 40
    assert [k for k in file_kinds(ready) if k != "file.moved"] == ["file.created"]  # the sentinel alone


def test_a_failed_commit_is_finished_again_keeping_ids(ready: Gallery, monkeypatch: pytest.MonkeyPatch) -> None:
    out = ready.roots["output"]
    for n in range(5):
        save_png(out / f"{n}.png")
    (out / "keep").mkdir()
    index_all(ready)
    before = {name: row["id"] for name, row in indexed(ready).items()}
    real, failures = relocate.move_rows, [RuntimeError("database is locked")]

    def fails_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(relocate, "move_rows", fails_once)
    ready.watcher.start()
    try:
        with pytest.raises(RuntimeError):
            run(ready.moves.move([indexed(ready)[name] for name in before], "keep"))
        wait_until(
            lambda: sorted(indexed(ready)) == [f"keep/{n}" for n in sorted(before)], "the rows at their new place"
        )
        settle(ready, "sentinel.png")
    finally:
        ready.watcher.stop()

    after = indexed(ready)
    assert {name.replace("keep/", ""): row["id"] for name, row in after.items() if name != "sentinel.png"} == before
    assert file_kinds(ready).count("file.moved") == 5
    assert [k for k in file_kinds(ready) if k != "file.moved"] == ["file.created"]
    assert ready.db.read(relocate.unfinished) == []


def test_a_commit_that_keeps_failing_is_finished_at_the_next_start(
    ready: Gallery, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png")
    (out / "keep").mkdir()
    index_all(ready)
    row = indexed(ready)["a.png"]
    real = relocate.move_rows

    def broken(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(relocate, "move_rows", broken)
    with pytest.raises(RuntimeError):
        run(ready.moves.move([row], "keep"))
    wait_until(lambda: not any(t.name == "cozygen-move-finish" for t in threading.enumerate()), "the second try")
    assert "a.png" in indexed(ready) and len(ready.db.read(relocate.unfinished)) == 1

    monkeypatch.setattr(relocate, "move_rows", real)
    Gallery(ready.db, ready.roots, ready.trash_dir.parent, EventHub()).moves.recover()
    assert {n: r["id"] for n, r in indexed(ready).items()} == {"keep/a.png": row["id"]}


def test_a_commit_after_the_watcher_moved_a_row_announces_nothing_more(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "a.png")
    (out / "keep").mkdir()
    index_all(ready)
    row = indexed(ready)["a.png"]
    (out / "a.png").rename(out / "keep" / "a.png")
    ready.db.submit_write(lambda conn: move_path(conn, "output", out, "a.png", "keep/a.png")).result()

    move = relocate.Move(row["id"], "", "a.png", "keep", "a.png")
    changes = ready.db.submit_write(lambda conn: relocate.move_rows(conn, "output", [move])).result()

    assert changes == [] and indexed(ready)["keep/a.png"]["id"] == row["id"] and len(indexed(ready)) == 1


def test_holds_defer_then_drop_the_moves_own_events_and_hand_back_the_rest() -> None:
    now = [0.0]
    holds = Holds(clock=lambda: now[0])
    held = holds.hold("output", paths=["a.png", "keep/a.png"], children_of=["keep"])

    assert holds.defer("output", "a.png", "keep/a.png")  # the move's own rename
    assert holds.defer("output", "keep/new.png", None)  # something else in the destination
    assert not holds.defer("output", "elsewhere.png", None)
    assert not holds.defer("input", "a.png", None)
    assert holds.reserved("output", "keep") == {"a.png"}

    again = holds.release(held, done={"a.png": "keep/a.png"})

    assert again == [("output", "keep/new.png", None)]
    assert holds.defer("output", "b.png", "keep/b.png") is False
    # a late echo of the move's rename is dropped once, and only until LATE
    late = holds.hold("output", paths=["c.png"])
    holds.release(late, done={"c.png": "keep/c.png"})
    assert holds.defer("output", "c.png", "keep/c.png") and not holds.defer("output", "c.png", "keep/c.png")
    holds.release(holds.hold("output"), done={"d.png": "keep/d.png"})
    now[0] += 31
    assert not holds.defer("output", "d.png", "keep/d.png")


def test_holds_of_a_failed_move_hand_everything_back() -> None:
    holds = Holds()
    held = holds.hold("output", trees=["old", "new"])
    assert holds.defer("output", "old/x.png", "new/x.png") and holds.defer("output", "old", "new")
    assert holds.release(held) == [("output", "old/x.png", "new/x.png"), ("output", "old", "new")]


def test_a_linked_moves_events_are_dropped_only_while_the_disk_says_what_the_index_does(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    moved = save_png(tmp_path / "keep" / "a.png")
    stamp = (moved.stat().st_mtime_ns, moved.stat().st_size)
    holds = Holds()
    held = holds.hold("output", paths=["a.png", "keep/a.png"], children_of=["keep"])
    for path in ("keep/a.png", "a.png", "keep/a.png"):  # created, deleted, attributes: a link and an unlink
        assert holds.defer("output", path, None)

    again = holds.release(held, base=str(tmp_path), done={"a.png": "keep/a.png"}, stamps={"keep/a.png": stamp})

    assert again == []
    assert holds.defer("output", "keep/a.png", None)  # late, and still what the index says
    save_png(tmp_path / "a.png", color="blue")  # a new file under the old name
    assert not holds.defer("output", "a.png", None)
    save_png(tmp_path / "keep" / "a.png", color="green")  # the moved file rewritten
    os.utime(tmp_path / "keep" / "a.png", ns=(1, 1))
    assert not holds.defer("output", "keep/a.png", None)


# -- a kill in the middle ------------------------------------------------------------------------
def test_recover_finishes_what_a_kill_left_between_the_renames_and_the_commit(ready: Gallery) -> None:
    out = ready.roots["output"]
    for name in ("a.png", "b.png", "c.png"):
        save_png(out / name)
    (out / "keep").mkdir()
    index_all(ready)
    rows = indexed(ready)
    moves = [relocate.Move(rows[n]["id"], "", n, "keep", n) for n in ("a.png", "b.png", "c.png")]
    ready.db.submit_write(lambda conn: relocate.begin(conn, "k1", "output", moves=moves)).result()
    rename_exclusive(out / "a.png", out / "keep" / "a.png")  # renamed, then killed
    os.link(out / "b.png", out / "keep" / "b.png")  # the hard-link way, killed before the old name went

    restarted = Gallery(ready.db, ready.roots, ready.trash_dir.parent, EventHub())
    assert restarted.moves.recover() == 1
    index_all(restarted)

    assert tree(out) == {"keep/a.png", "keep/b.png", "c.png"}
    after = indexed(restarted)
    assert {n: r["id"] for n, r in after.items()} == {
        "keep/a.png": rows["a.png"]["id"],
        "keep/b.png": rows["b.png"]["id"],
        "c.png": rows["c.png"]["id"],
    }
    assert ready.db.read(relocate.unfinished) == []


def test_recover_finishes_a_folder_rename(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "old" / "deep" / "a.png")
    index_all(ready)
    row = indexed(ready)["old/deep/a.png"]
    ready.db.submit_write(lambda conn: relocate.begin(conn, "k2", "output", folder=("old", "new"))).result()
    (out / "old").rename(out / "new")

    restarted = Gallery(ready.db, ready.roots, ready.trash_dir.parent, EventHub())
    restarted.moves.recover()
    index_all(restarted)

    assert indexed(restarted)["new/deep/a.png"]["id"] == row["id"] and len(indexed(restarted)) == 1


CHILD = """
import asyncio, sys, time
sys.path.insert(0, {tests!r})
from support import import_project_as
import_project_as("cozygen")
from pathlib import Path
from cozygen.core.events import Event, EventHub
from cozygen.core.gallery import moves
from cozygen.core.gallery.service import Gallery
from cozygen.core.store.db import Database

made = []

def rename_then_stall(source, target, _real=moves.rename_exclusive):
    _real(source, target)
    made.append(target)
    if len(made) == 150:  # part of the way: the parent kills us here
        print("half", flush=True)
        time.sleep(3600)

moves.rename_exclusive = rename_then_stall
tmp = Path({tmp!r})
db = Database(tmp / "data" / "cozygen.sqlite3")
gallery = Gallery(db, {{"output": tmp / "output", "input": tmp / "input"}}, tmp / "data", EventHub())
gallery.ready.set()
rows = db.read(lambda conn: conn.execute("SELECT * FROM media WHERE root = 'output' ORDER BY id").fetchall())
asyncio.run(gallery.moves.move(rows, "keep"))
print("done", flush=True)
"""


def test_a_process_killed_mid_move_leaves_each_file_in_one_place_and_the_index_matching(
    db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    (tmp_path / "input").mkdir()
    save_png(out / "seed.png")
    for n in range(400):
        os.link(out / "seed.png", out / f"{n:03}.png")
    (out / "seed.png").unlink()
    (out / "keep").mkdir()
    scan(db, "output", out)
    before = {r[1]: r[0] for r in db.read(lambda c: c.execute("SELECT id, filename FROM media").fetchall())}
    script = CHILD.format(tests=str(PROJECT / "tests"), tmp=str(tmp_path))
    with subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "half"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert len(list((out / "keep").iterdir())) == 150  # killed between renames: 150 moved, 250 not

    fresh = Database(tmp_path / "data" / "cozygen.sqlite3")
    fresh.open(MIGRATIONS)
    try:
        gallery = Gallery(fresh, {"output": out, "input": tmp_path / "input"}, tmp_path / "data", EventHub())
        gallery.moves.recover()
        scan(fresh, "output", out)
        on_disk = tree(out)
        rows = {
            (f"{r[1]}/{r[2]}" if r[1] else r[2]): r[0]
            for r in fresh.read(lambda c: c.execute("SELECT id, subfolder, filename FROM media").fetchall())
        }
    finally:
        fresh.close()
    names = {path.rpartition("/")[2] for path in on_disk}
    assert len(on_disk) == 400 and names == set(before)  # each file once: at its old place or its new one
    assert set(rows) == on_disk  # the index matches the disk
    assert {path.rpartition("/")[2]: row_id for path, row_id in rows.items()} == before  # every id kept


# -- folders ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["", "   ", "bad\x01name", "tab\tname", "new\nline", "a/b", "a\\b", "..", ".", ".hidden", "x" * 256, "é" * 128,
     "rtl\u202eevil", 7, None],
)  # fmt: skip
def test_a_folder_name_a_person_cannot_use_is_refused(ready: Gallery, name: Any) -> None:
    with pytest.raises(NameRejected) as refused:
        run(ready.moves.create_folder("output", "", name))
    assert refused.value.code == "INVALID_NAME" and refused.value.status == 400
    assert list(ready.roots["output"].iterdir()) == []


def test_create_a_folder(ready: Gallery) -> None:
    out = ready.roots["output"]
    assert run(ready.moves.create_folder("output", "", "  Keepers ")) == "Keepers"
    assert run(ready.moves.create_folder("output", "Keepers", "Best of 2025")) == "Keepers/Best of 2025"
    assert (out / "Keepers" / "Best of 2025").is_dir()
    paths = ready.db.read(lambda c: {r[0] for r in c.execute("SELECT path FROM media_dirs")})
    assert paths == {"Keepers", "Keepers/Best of 2025"}
    with pytest.raises(Conflict) as taken:
        run(ready.moves.create_folder("output", "", "Keepers"))
    assert taken.value.code == "FOLDER_EXISTS"
    with pytest.raises(NotFound):
        run(ready.moves.create_folder("output", "missing", "x"))
    with pytest.raises(PathRejected):
        run(ready.moves.create_folder("output", "../..", "x"))
    assert run(ready.moves.create_folder("input", "", "Refs")) == "Refs" and (ready.roots["input"] / "Refs").is_dir()


def test_renaming_a_folder_moves_its_rows_in_place(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "old" / "a.png", prompt=GRAPH)
    save_png(out / "old" / "deep" / "b.png")
    save_png(out / "older" / "c.png")  # a sibling sharing the prefix stays
    index_all(ready)
    before = indexed(ready)
    job = add_job(ready, "abc", [{"filename": "a.png", "subfolder": "old", "type": "output"}])

    assert run(ready.moves.rename_folder("output", "old", "Best")) == "Best"

    after = indexed(ready)
    assert sorted(after) == ["Best/a.png", "Best/deep/b.png", "older/c.png"]
    assert after["Best/deep/b.png"]["id"] == before["old/deep/b.png"]["id"]
    dirs = ready.db.read(lambda c: {(r[0], r[1], r[2]) for r in c.execute("SELECT path, parent, name FROM media_dirs")})
    assert dirs == {("Best", "", "Best"), ("Best/deep", "Best", "deep"), ("older", "", "older")}
    assert job_images(ready, job) == [{"filename": "a.png", "subfolder": "Best", "type": "output"}]
    assert sorted(m[2] for m in moved_events(ready)) == ["Best/a.png", "Best/deep/b.png"]


def test_renaming_a_hidden_folder_shows_its_files(ready: Gallery) -> None:
    save_png(ready.roots["output"] / ".drafts" / "a.png")
    index_all(ready)
    assert indexed(ready)[".drafts/a.png"]["hidden"] == 1
    run(ready.moves.rename_folder("output", ".drafts", "drafts"))
    assert indexed(ready)["drafts/a.png"]["hidden"] == 0


def test_renaming_an_input_folder_moves_its_owners(ready: Gallery) -> None:
    save_png(ready.roots["input"] / "refs" / "a.png")
    index_all(ready)
    ready.db.submit_write(lambda conn: input_owners.record(conn, "refs", "a.png", "ann")).result()
    run(ready.moves.rename_folder("input", "refs", "faces"))
    assert ready.db.read(lambda conn: input_owners.owner_of(conn, "faces", "a.png")) == "ann"


def test_folder_rename_refusals(ready: Gallery) -> None:
    out = ready.roots["output"]
    (out / "a").mkdir()
    (out / "b").mkdir()
    with pytest.raises(Conflict) as taken:
        run(ready.moves.rename_folder("output", "a", "b"))
    assert taken.value.code == "FOLDER_EXISTS" and (out / "a").is_dir()
    assert ready.db.read(relocate.unfinished) == []
    with pytest.raises(BadRequest) as top:
        run(ready.moves.rename_folder("output", "", "x"))
    assert top.value.code == "ROOT_FOLDER"
    with pytest.raises(NotFound):
        run(ready.moves.rename_folder("output", "missing", "x"))
    with pytest.raises(NameRejected):
        run(ready.moves.rename_folder("output", "a", "../x"))


def test_a_user_renames_or_deletes_only_folders_of_their_own_files(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "mixed" / "a.png", prompt=GRAPH)  # prompt "abc": ann's
    save_png(out / "mixed" / "b.png")  # nobody's
    save_png(out / "anns" / "a.png", prompt=GRAPH)
    (out / "empty").mkdir()
    index_all(ready)
    add_job(ready, "abc", [])

    with pytest.raises(Forbidden) as refused:
        run(ready.moves.rename_folder("output", "mixed", "x", owner="ann"))
    assert refused.value.code == "FOLDER_NOT_YOURS" and "1 file" in refused.value.message
    with pytest.raises(Forbidden):
        run(ready.moves.delete_folder("output", "mixed", trash=True, owner="ann"))
    with pytest.raises(Forbidden):
        run(ready.moves.rename_folder("output", "anns", "x", owner="bob"))
    assert run(ready.moves.rename_folder("output", "anns", "mine", owner="ann")) == "mine"
    assert run(ready.moves.delete_folder("output", "empty", owner="bob")) == (0, None)


def test_delete_an_empty_folder(ready: Gallery) -> None:
    out = ready.roots["output"]
    (out / "gone" / "inner").mkdir(parents=True)
    index_all(ready)
    assert run(ready.moves.delete_folder("output", "gone")) == (0, None)
    assert not (out / "gone").exists()
    assert ready.db.read(lambda c: c.execute("SELECT COUNT(*) FROM media_dirs").fetchone()[0]) == 0


def test_delete_a_folder_with_files_needs_trash(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "day" / "a.png")
    save_png(out / "day" / "deep" / "b.png")
    index_all(ready)
    with pytest.raises(Conflict) as refused:
        run(ready.moves.delete_folder("output", "day"))
    assert refused.value.code == "FOLDER_NOT_EMPTY" and (out / "day" / "a.png").is_file()

    deleted, batch = run(ready.moves.delete_folder("output", "day", trash=True, by="ann"))

    assert deleted == 2 and batch and not (out / "day").exists() and indexed(ready) == {}
    restored = run(ready.restore(batch=batch))
    assert sorted((r["subfolder"], r["filename"]) for r in restored) == [("day", "a.png"), ("day/deep", "b.png")]


def test_a_folder_holding_files_the_gallery_does_not_show_is_never_deleted(ready: Gallery) -> None:
    out = ready.roots["output"]
    save_png(out / "day" / "a.png")
    (out / "day" / "notes.txt").write_text("mine")
    index_all(ready)
    with pytest.raises(Conflict) as refused:
        run(ready.moves.delete_folder("output", "day", trash=True))
    assert refused.value.code == "FOLDER_NOT_EMPTY" and "notes.txt" in refused.value.message
    assert tree(out) == {"day/a.png", "day/notes.txt"} and "day/a.png" in indexed(ready)
    with pytest.raises(BadRequest) as top:
        run(ready.moves.delete_folder("output", "", trash=True))
    assert top.value.code == "ROOT_FOLDER"
