"""core.paths and core.media.kinds: cleaning user-supplied paths, resolving them under a root, media kinds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cozygen.core.errors import BadRequest
from cozygen.core.media.kinds import extension, is_hidden, kind_of
from cozygen.core.paths import (
    MAX_NAME_BYTES,
    PathRejected,
    clean_name,
    clean_relative,
    resolve,
    split_relative,
    within,
)


# -- clean_relative -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("a", "a"),
        ("a/b/c", "a/b/c"),
        ("a//b", "a/b"),
        ("a///b//", "a/b"),
        ("./a/./b/.", "a/b"),
        ("a/", "a"),
        ("sub folder/ünï cödé", "sub folder/ünï cödé"),
        ("..a/b..", "..a/b.."),  # dots inside a name are not a parent reference
        ("ab:c/d", "ab:c/d"),  # a colon that is not after a single drive letter
        ("x" * MAX_NAME_BYTES, "x" * MAX_NAME_BYTES),
    ],
)
def test_clean_relative_accepts_and_normalises(value: object, expected: str) -> None:
    assert clean_relative(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "/etc",
        "/",
        "//server/share",
        "..",
        "../a",
        "a/../b",
        "a/..",
        "./../a",
        "a\x00b",
        "a\\b",
        "..\\a",
        "C:/Windows",
        "c:relative",
        "a:b",  # drive-relative on Windows
        "Z:",
        "x" * (MAX_NAME_BYTES + 1),
        "a/" + "é" * 128,  # 256 bytes in UTF-8, though only 128 characters
        5,
        b"a/b",
        ["a"],
    ],
)
def test_clean_relative_rejects(value: object) -> None:
    with pytest.raises(PathRejected) as caught:
        clean_relative(value)
    assert caught.value.code == "INVALID_PATH"
    assert caught.value.status == 400
    assert isinstance(caught.value, BadRequest)


def test_clean_relative_names_what_was_wrong() -> None:
    with pytest.raises(PathRejected, match="the folder may not contain '..'"):
        clean_relative("a/../b", what="folder")
    with pytest.raises(PathRejected, match="NUL"):
        clean_relative("a\x00")
    with pytest.raises(PathRejected, match="backslash"):
        clean_relative("a\\b")
    with pytest.raises(PathRejected, match="absolute"):
        clean_relative("/a")


# -- clean_name -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"), [("a.png", "a.png"), ("  a b.png  ", "a b.png"), (".hidden", ".hidden")]
)
def test_clean_name_accepts_bare_names(value: str, expected: str) -> None:
    assert clean_name(value) == expected


@pytest.mark.parametrize("value", ["a/b.png", "/a.png", ".", "..", "a\\b.png", "C:a.png", "a\x00.png", "n" * 256])
def test_clean_name_rejects_anything_but_one_name(value: str) -> None:
    with pytest.raises(PathRejected) as caught:
        clean_name(value)
    assert caught.value.code == "INVALID_PATH"


@pytest.mark.parametrize("value", [None, "", "   ", 3])
def test_clean_name_reports_a_missing_name(value: object) -> None:
    with pytest.raises(PathRejected) as caught:
        clean_name(value)
    assert caught.value.code == "MISSING_FILENAME"


# -- within and resolve -----------------------------------------------------------------
def test_within_joins_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert within(tmp_path, "a/b") == Path(os.path.realpath(tmp_path)) / "a" / "b"
    assert within(tmp_path, "") == Path(os.path.realpath(tmp_path))
    # paths that do not exist yet are fine: an upload target, a folder about to be made
    assert within(tmp_path, "new/file.png").name == "file.png"


def test_within_refuses_a_symlink_that_leads_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "file_escape.png").symlink_to(outside / "secret.png")
    for relative in ("escape", "escape/secret.png", "escape/missing.png", "file_escape.png"):
        with pytest.raises(PathRejected, match="outside"):
            within(root, relative)
    with pytest.raises(PathRejected):
        resolve(root, "escape", "secret.png")
    with pytest.raises(PathRejected):
        resolve(root, "", "file_escape.png")


def test_within_allows_a_symlink_that_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.png").write_bytes(b"x")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    path = within(tmp_path, "alias/x.png")
    assert path.read_bytes() == b"x"


def test_within_a_root_that_is_itself_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert within(tmp_path / "link", "a.png") == Path(os.path.realpath(tmp_path / "real")) / "a.png"


def test_resolve_returns_the_path_and_cleaned_parts(tmp_path: Path) -> None:
    base = Path(os.path.realpath(tmp_path))
    assert resolve(tmp_path, "a//b/./", "c.png") == (base / "a" / "b" / "c.png", "a/b", "c.png")
    assert resolve(tmp_path, None, "c.png") == (base / "c.png", "", "c.png")
    assert resolve(tmp_path, "a") == (base / "a", "a", "")
    for subfolder, filename in (("../x", "c.png"), ("a", "../c.png"), ("/abs", None), ("a", "b/c.png")):
        with pytest.raises(PathRejected):
            resolve(tmp_path, subfolder, filename)


# -- split_relative ---------------------------------------------------------------------
def test_split_relative() -> None:
    assert split_relative("a/b/c.png") == ("a/b", "c.png")
    assert split_relative("c.png") == ("", "c.png")
    assert split_relative("./a//c.png") == ("a", "c.png")
    for bad in ("../c.png", "/c.png", "a\\c.png"):
        with pytest.raises(PathRejected) as caught:
            split_relative(bad)
        assert caught.value.code == "INVALID_PATH"
    for missing in ("", ".", None, "//"):
        with pytest.raises(PathRejected) as caught:
            split_relative(missing)
        assert caught.value.code in ("MISSING_PATH", "INVALID_PATH")
    with pytest.raises(PathRejected) as caught:
        split_relative("")
    assert caught.value.code == "MISSING_PATH"


# -- media kinds ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.png", "image"),
        ("A.JPG", "image"),
        ("x.jpeg", "image"),
        ("x.tar.webp", "image"),
        ("x.GIF", "image"),
        ("x.tiff", "image"),
        ("clip.mp4", "video"),
        ("clip.WebM", "video"),
        ("clip.mov", "video"),
        ("song.flac", "audio"),
        ("song.mp3", "audio"),
        ("notes.txt", None),
        ("workflow.json", None),
        ("png", None),
        ("noext", None),
        ("trailing.", None),
        ("a.png.txt", None),
    ],
)
def test_kind_of(name: str, kind: str | None) -> None:
    assert kind_of(name) == kind


def test_extension() -> None:
    assert extension("A.PNG") == "png"
    assert extension("a.b.c") == "c"
    assert extension("none") == ""


@pytest.mark.parametrize(
    ("subfolder", "filename", "hidden"),
    [
        ("", "a.png", False),
        ("a/b", "c.png", False),
        ("", ".a.png", True),
        (".cache", "a.png", True),
        ("a/.b/c", "d.png", True),
        ("a/.b", "", True),
        ("a.b/c", "d.e.png", False),
        ("", "", False),
    ],
)
def test_is_hidden(subfolder: str, filename: str, hidden: bool) -> None:
    assert is_hidden(subfolder, filename) is hidden
