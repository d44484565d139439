"""The workflow cards' newest output (core.workflows.latest) and the folder tiles' previews (index.folder_previews),
on a real SQLite file: one query each, the per-user rule, and deleted files left out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.gallery import index
from cozygen.core.store.db import connect, migrate
from cozygen.core.store.migrations import MIGRATIONS
from cozygen.core.workflows.latest import latest_outputs


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "cards.sqlite3")
    migrate(conn, MIGRATIONS)
    yield conn
    conn.close()


def media(conn: sqlite3.Connection, filename: str, subfolder: str = "", **fields: Any) -> int:
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
    return index.upsert_files(conn, [body])[0]


def job(conn: sqlite3.Connection, job_id: str, workflow: str, user: str, created: float, status: str = "completed"):
    conn.execute(
        "INSERT INTO jobs (id, prompt_id, workflow, username, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, f"p-{job_id}", workflow, user, status, created),
    )


def count_statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


# -- latest per workflow ------------------------------------------------------------------------
def test_latest_is_the_first_image_of_the_newest_completed_job(conn: sqlite3.Connection) -> None:
    job(conn, "old", "a.json", "ann", 1.0)
    job(conn, "new", "a.json", "ann", 2.0)
    job(conn, "failed", "a.json", "ann", 3.0, status="failed")
    job(conn, "b1", "b.json", "bob", 1.5)
    media(conn, "old.png", prompt_id="p-old", mtime=10)
    media(conn, "new_1.png", prompt_id="p-new", mtime=20)
    media(conn, "new_2.png", prompt_id="p-new", mtime=21)
    media(conn, "failed.png", prompt_id="p-failed", mtime=30)  # a failed job's partial output does not count
    media(conn, "b.png", "sub", prompt_id="p-b1", mtime=5)
    seen = count_statements(conn)
    found = latest_outputs(conn, ["a.json", "b.json", "c.json"])
    assert len(seen) == 1  # one query for the whole list
    assert {k: (r["subfolder"], r["filename"]) for k, r in found.items()} == {
        "a.json": ("", "new_1.png"),
        "b.json": ("sub", "b.png"),
    }


def test_latest_per_user_and_deleted_files(conn: sqlite3.Connection) -> None:
    job(conn, "ann1", "a.json", "ann", 1.0)
    job(conn, "bob1", "a.json", "bob", 2.0)
    media(conn, "ann.png", prompt_id="p-ann1")
    media(conn, "bob.png", prompt_id="p-bob1")
    assert latest_outputs(conn, ["a.json"])["a.json"]["filename"] == "bob.png"
    assert latest_outputs(conn, ["a.json"], "ann")["a.json"]["filename"] == "ann.png"
    assert latest_outputs(conn, ["a.json"], "eve") == {}
    index.remove_file(conn, "output", "", "bob.png")  # deleted: the older image that still exists shows
    assert latest_outputs(conn, ["a.json"])["a.json"]["filename"] == "ann.png"
    assert latest_outputs(conn, ["a.json"], "bob") == {}
    assert latest_outputs(conn, []) == {}


def test_latest_skips_hidden_and_non_images(conn: sqlite3.Connection) -> None:
    job(conn, "j", "v.json", "ann", 1.0)
    media(conn, "clip.mp4", prompt_id="p-j", kind="video")
    media(conn, "x.png", ".hidden", prompt_id="p-j", hidden=1)
    assert latest_outputs(conn, ["v.json"]) == {}


# -- folder previews ----------------------------------------------------------------------------
def test_previews_newest_four_at_any_depth_in_one_query(conn: sqlite3.Connection) -> None:
    for n in range(6):
        media(conn, f"a{n}.png", "a", mtime=100 + n)
    media(conn, "deep.png", "a/b/c", mtime=200)
    media(conn, "sibling.png", "ab", mtime=300)  # "ab" is not inside "a"
    media(conn, "clip.mp4", "a", kind="video", mtime=400)
    media(conn, "secret.png", "a/.h", hidden=1, mtime=500)
    media(conn, "one.png", "ab", mtime=1)
    index.upsert_dirs(conn, "output", [(p, 1.0, p.endswith(".h")) for p in ("a", "a/b", "a/b/c", "ab", "a/.h")])
    seen = count_statements(conn)
    found = index.folder_previews(conn, "output", ["a", "ab", "empty"], show_hidden=False)
    assert len(seen) == 1
    assert [r["filename"] for r in found["a"]] == ["deep.png", "a5.png", "a4.png", "a3.png"]
    assert [r["filename"] for r in found["ab"]] == ["sibling.png", "one.png"]
    assert "empty" not in found
    shown = index.folder_previews(conn, "output", ["a"], show_hidden=True)
    assert shown["a"][0]["filename"] == "secret.png"
    assert len(index.folder_previews(conn, "output", ["a"], show_hidden=False, limit=1)["a"]) == 1
    assert index.folder_previews(conn, "output", [], show_hidden=False) == {}


def test_previews_per_user_show_only_their_images(conn: sqlite3.Connection) -> None:
    job(conn, "ann1", "w.json", "ann", 1.0)
    job(conn, "bob1", "w.json", "bob", 1.0)
    media(conn, "ann.png", "shared", prompt_id="p-ann1", mtime=1)
    media(conn, "bob.png", "shared", prompt_id="p-bob1", mtime=2)
    media(conn, "nobody.png", "shared", mtime=3)
    assert [
        r["filename"]
        for r in index.folder_previews(conn, "output", ["shared"], show_hidden=False, owner="ann")["shared"]
    ] == ["ann.png"]
    everyone = index.folder_previews(conn, "output", ["shared"], show_hidden=False)["shared"]
    assert [r["filename"] for r in everyone] == ["nobody.png", "bob.png", "ann.png"]
    assert index.folder_previews(conn, "output", ["shared"], show_hidden=False, owner="eve") == {}
