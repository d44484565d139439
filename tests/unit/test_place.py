"""core.gallery.place and the gallery's restore and copy to input: a free name is claimed on the file system itself, so
restores and copies at the same moment never overwrite a file; partial files of a killed upload or copy go at start."""

from __future__ import annotations

import asyncio
import errno
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from support import at_once

from cozygen.core.errors import Conflict, NotFound
from cozygen.core.gallery import place
from cozygen.core.gallery.service import Gallery, restored_names
from cozygen.core.gallery.sync import scan

THREADS = 16
ROUNDS = 5


def png(n: int) -> bytes:
    """A real PNG of its own (the gallery indexes a PNG only once it is complete)."""
    out = io.BytesIO()
    Image.new("RGB", (n + 1, 1), "red").save(out, format="PNG")
    return out.getvalue()


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# -- core.gallery.place --------------------------------------------------------------------------------
def test_a_move_takes_the_first_free_name_and_never_replaces_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"there first")
    source = tmp_path / "a.png"
    source.write_bytes(b"restored")
    assert place.move_to_free_name(source, folder, restored_names("a.png")) == "a (restored).png"
    assert contents(folder) == {"a.png": b"there first", "a (restored).png": b"restored"}
    assert not source.exists()


def test_rename_exclusive_moves_a_file_keeping_it_and_never_replaces_one(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    source = tmp_path / "a.png"
    source.write_bytes(b"mine")
    inode = source.stat().st_ino
    place.rename_exclusive(source, tmp_path / "keep" / "a.png")
    assert not source.exists() and (tmp_path / "keep" / "a.png").stat().st_ino == inode  # the same file

    (tmp_path / "b.png").write_bytes(b"other")
    with pytest.raises(FileExistsError):
        place.rename_exclusive(tmp_path / "b.png", tmp_path / "keep" / "a.png")
    assert (tmp_path / "keep" / "a.png").read_bytes() == b"mine" and (tmp_path / "b.png").exists()
    with pytest.raises(FileNotFoundError):
        place.rename_exclusive(tmp_path / "gone.png", tmp_path / "keep" / "gone.png")


def test_rename_exclusive_renames_a_folder_only_to_a_free_name(tmp_path: Path) -> None:
    (tmp_path / "old" / "deep").mkdir(parents=True)
    (tmp_path / "taken").mkdir()  # empty: a plain rename would replace it
    with pytest.raises(FileExistsError):
        place.rename_exclusive(tmp_path / "old", tmp_path / "taken")
    place.rename_exclusive(tmp_path / "old", tmp_path / "new")
    assert (tmp_path / "new" / "deep").is_dir() and not (tmp_path / "old").exists()


def test_rename_exclusive_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "no hard links on this file system")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a.png").write_bytes(b"mine")
    (tmp_path / "b.png").write_bytes(b"other")
    with pytest.raises(FileExistsError):
        place.rename_exclusive(tmp_path / "a.png", tmp_path / "b.png")
    place.rename_exclusive(tmp_path / "a.png", tmp_path / "c.png")
    assert contents(tmp_path) == {"b.png": b"other", "c.png": b"mine"}


def test_a_move_with_every_name_taken_leaves_the_source_where_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"there first")
    source = tmp_path / "a.png"
    source.write_bytes(b"mine")
    with pytest.raises(Conflict):
        place.move_to_free_name(source, folder, ["a.png"])
    assert source.read_bytes() == b"mine" and contents(folder) == {"a.png": b"there first"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "out"]


def test_a_source_moved_by_someone_else_first_is_not_found(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(FileNotFoundError):
        place.move_to_free_name(tmp_path / "gone.png", folder, ["gone.png"])
    assert contents(folder) == {}


def test_many_moves_of_same_named_files_at_once_keep_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    sources = []
    for n in range(THREADS):
        (tmp_path / f"s{n}").mkdir()
        sources.append(tmp_path / f"s{n}" / "x.png")
        sources[-1].write_bytes(f"file {n}".encode())
    names = at_once(lambda source: place.move_to_free_name(source, folder, restored_names("x.png")), sources)
    assert len(set(names)) == THREADS
    assert sorted(contents(folder).values()) == sorted(f"file {n}".encode() for n in range(THREADS))


@pytest.mark.parametrize("failure", [errno.EPERM, errno.EXDEV])
def test_without_hard_links_a_placeholder_claims_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: int
) -> None:
    """A file system without hard links (FAT, some shares) or another file system: the name is created with
    O_EXCL first, then the file replaces that empty placeholder (or is copied into it)."""

    def no_link(*_args, **_kwargs) -> None:
        raise OSError(failure, os.strerror(failure))

    real_replace = os.replace

    def replace(src, dst) -> None:
        if failure == errno.EXDEV and ".cozygen-taken-" in str(src):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real_replace(src, dst)

    monkeypatch.setattr(place.os, "link", no_link)
    monkeypatch.setattr(place.os, "replace", replace)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"there first")
    sources = []
    for n in range(THREADS):
        (tmp_path / f"s{n}").mkdir()
        sources.append(tmp_path / f"s{n}" / "a.png")
        sources[-1].write_bytes(f"file {n}".encode())
    names = at_once(lambda source: place.move_to_free_name(source, folder, restored_names("a.png")), sources)
    assert "a.png" not in names and len(set(names)) == THREADS
    found = contents(folder)
    assert found.pop("a.png") == b"there first"
    assert sorted(found.values()) == sorted(f"file {n}".encode() for n in range(THREADS))
    assert not any(source.exists() for source in sources)


def test_a_copy_appears_complete_under_a_free_name_and_leaves_nothing_aside(tmp_path: Path) -> None:
    folder, scratch = tmp_path / "in" / "sub", tmp_path / "in"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"there first")
    source = tmp_path / "a.png"
    source.write_bytes(b"copied" * 1000)
    assert place.copy_to_free_name(source, folder, ["a.png", "b.png"], scratch) == "b.png"
    assert (folder / "b.png").read_bytes() == b"copied" * 1000 and source.exists()
    assert sorted(p.name for p in scratch.iterdir()) == ["sub"]


def test_a_failed_copy_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()

    def broken_copy(src, dst, **_kwargs) -> None:
        Path(dst).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(place.shutil, "copy2", broken_copy)
    source = tmp_path / "a.png"
    source.write_bytes(b"whole")
    with pytest.raises(OSError):
        place.copy_to_free_name(source, folder, ["a.png"], folder)
    assert list(folder.iterdir()) == []


def test_partial_files_of_a_killed_upload_or_copy_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "input"
    (folder / "sub").mkdir(parents=True)
    abandoned = [".cozygen-upload-0123abcd.part", ".cozygen-copy-4567ef.part", ".cozygen-output-89ab.part"]
    kept = ["photo.png", ".cozygen-upload-note.txt", "cozygen-upload-x.part", ".hidden.part"]
    for name in abandoned + kept:
        (folder / name).write_bytes(b"x")
    (folder / ".cozygen-upload-dir.part").mkdir()  # not a file: not ours
    assert sorted(place.remove_abandoned(folder)) == sorted(abandoned)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, ".cozygen-upload-dir.part", "sub"])
    assert place.remove_abandoned(tmp_path / "missing") == []


def test_a_saved_output_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    root = tmp_path / "output"
    (root / "sub").mkdir(parents=True)
    target = root / "sub" / "a.png"
    target.write_bytes(b"an older file of that name")
    with place.saved_whole(target, root) as partial:
        partial.write_bytes(b"half")
        assert target.read_bytes() == b"an older file of that name"  # nothing under the name until done
        partial.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"  # replaced, as ComfyUI's savers overwrite
    with pytest.raises(RuntimeError):
        with place.saved_whole(root / "sub" / "b.png", root) as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("the encoder failed")
    assert sorted(p.name for p in root.rglob("*")) == ["a.png", "sub"]  # no b.png, no partial left


def test_a_saved_output_reaches_a_folder_on_another_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "output"
    (root / "elsewhere").mkdir(parents=True)
    real_replace = os.replace

    def across_disks(src, dst) -> None:
        if Path(src).parent == root:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(place.os, "replace", across_disks)
    with place.saved_whole(root / "elsewhere" / "v.webm", root) as partial:
        partial.write_bytes(b"video")
    assert sorted(p.name for p in root.rglob("*")) == ["elsewhere", "v.webm"]
    assert (root / "elsewhere" / "v.webm").read_bytes() == b"video"


def test_the_gallery_clears_partial_files_when_it_starts(gallery: Gallery) -> None:
    inp = gallery.roots["input"]
    (inp / ".cozygen-upload-feedbeef.part").write_bytes(b"half an upload")
    (inp / "keep.png").write_bytes(b"a file")
    gallery.start()
    try:
        assert sorted(p.name for p in inp.iterdir()) == ["keep.png"]
    finally:
        gallery.stop()


# -- the gallery's restore and copy to input -------------------------------------------------------
def trash_same_named(gallery: Gallery, folder: str, count: int) -> list[str]:
    """Trash ``count`` different files that all had the name <folder>/x.png (one after the other); their ids."""
    out = gallery.roots["output"] / folder
    out.mkdir()
    ids = []
    for n in range(count):
        (out / "x.png").write_bytes(png(n))
        scan(gallery.db, "output", gallery.roots["output"])
        row = gallery.db.read(
            lambda conn: conn.execute("SELECT * FROM media WHERE subfolder = ? AND filename = 'x.png'", (folder,))
        ).fetchone()
        _batch, trashed, errors = asyncio.run(gallery.trash([row]))
        assert errors == [] and len(trashed) == 1
        ids += trashed
    return ids


@pytest.mark.parametrize("round_", range(ROUNDS))  # a race: each round is one more chance to lose a file
def test_restores_of_same_named_files_at_the_same_moment_keep_every_file(gallery: Gallery, round_: int) -> None:
    ids = trash_same_named(gallery, "day", THREADS)
    answers = at_once(lambda trash_id: asyncio.run(gallery.restore(ids=[trash_id])), ids)
    restored = [r for found in answers for r in found]
    files = contents(gallery.roots["output"] / "day")
    assert sorted(files.values()) == sorted(png(n) for n in range(THREADS))  # none overwritten
    assert sorted(r["filename"] for r in restored) == sorted(files)
    assert asyncio.run(gallery.trash_list()) == []


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_same_entry_restored_twice_at_once_comes_back_once(gallery: Gallery, round_: int) -> None:
    (trash_id,) = trash_same_named(gallery, "day", 1)

    def restore(_n: int) -> list[dict]:
        try:
            return asyncio.run(gallery.restore(ids=[trash_id]))
        except NotFound:  # the ones that came second find nothing
            return []

    answers = [r for found in at_once(restore, list(range(THREADS))) for r in found]
    assert contents(gallery.roots["output"] / "day") == {"x.png": png(0)}
    assert [a["filename"] for a in answers] == ["x.png"]


def test_copies_to_input_at_the_same_moment_get_names_of_their_own(gallery: Gallery) -> None:
    out = gallery.roots["output"]
    (out / "a.png").write_bytes(png(7))
    scan(gallery.db, "output", out)
    row = gallery.db.read(lambda conn: conn.execute("SELECT * FROM media WHERE filename = 'a.png'").fetchone())
    names = at_once(lambda _n: asyncio.run(gallery.to_input(row)), list(range(THREADS)))
    files = contents(gallery.roots["input"])
    assert sorted(files) == sorted(set(names)) and len(files) == THREADS
    assert set(files.values()) == {png(7)}
