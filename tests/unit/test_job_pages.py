"""core/jobs/pages.py on a real SQLite file: offset pages of jobs with totals (statuses, owner, text, dates) and of
completed jobs' outputs joined to the gallery (kind, owner, moved and deleted files)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cozygen.core.gallery import index
from cozygen.core.jobs import pages, records
from cozygen.core.jobs.model import CANCELLED, COMPLETED, FAILED, PENDING, Job
from cozygen.core.store.db import connect, migrate
from cozygen.core.store.migrations import MIGRATIONS


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "pages.sqlite3")
    migrate(conn, MIGRATIONS)
    yield conn
    conn.close()


def job(n: int, status: str = COMPLETED, user: str = "ada", images: tuple[str, ...] = ()) -> Job:
    return Job(
        id=f"00000000-0000-4000-8000-{n:012d}",
        prompt_id=f"00000000-0000-4000-9000-{n:012d}",
        workflow="blur.json",
        username=user,
        status=status,
        params={"prompt": f"prompt {n}"},
        images=[{"filename": name, "subfolder": "CozyGen", "type": "output"} for name in images],
        created_at=1000.0 + n,
    )


def media(conn: sqlite3.Connection, name: str, kind: str = "image", subfolder: str = "CozyGen") -> int:
    entry = {"root": "output", "subfolder": subfolder, "filename": name, "kind": kind, "hidden": 0, "size": 10,
             "mtime": 5.0, "mtime_ns": 5, "has_prompt": 0}  # fmt: skip
    return index.upsert_files(conn, [entry])[0]


def test_a_page_of_jobs_by_offset_with_its_total(conn: sqlite3.Connection) -> None:
    for n, status in enumerate([COMPLETED, FAILED, CANCELLED, PENDING, COMPLETED]):
        records.insert(conn, job(n, status, user="ada" if n != 4 else "bob"))
    found, total = pages.jobs(conn, pages.JobPage(), offset=1, limit=2)
    assert total == 5 and [j.id[-1] for j in found] == ["3", "2"]  # newest first
    failed, total = pages.jobs(conn, pages.JobPage(statuses=(FAILED, CANCELLED)), offset=0, limit=10)
    assert total == 2 and {j.status for j in failed} == {FAILED, CANCELLED}
    mine, total = pages.jobs(conn, pages.JobPage(username="bob"), offset=0, limit=10)
    assert total == 1 and mine[0].username == "bob"
    assert pages.jobs(conn, pages.JobPage(text="prompt 2"), offset=0, limit=10)[1] == 1
    assert pages.jobs(conn, pages.JobPage(text="blur"), offset=0, limit=10)[1] == 5  # the workflow's name too
    assert pages.jobs(conn, pages.JobPage(text="100%"), offset=0, limit=10)[1] == 0  # LIKE's wildcards are text
    assert pages.jobs(conn, pages.JobPage(since=1002.0, until=1004.0), offset=0, limit=10)[1] == 2
    assert pages.jobs(conn, pages.JobPage(statuses=()), offset=0, limit=10) == ([], 0)


def test_outputs_are_completed_jobs_files_still_in_the_gallery(conn: sqlite3.Connection) -> None:
    records.insert(conn, job(1, images=("a.png", "b.mp4")))
    records.insert(conn, job(2, images=("c.png", "gone.png")))  # gone.png is no longer in the gallery
    records.insert(conn, job(3, FAILED, images=("d.png",)))
    records.insert(conn, job(4, user="bob", images=("e.png",)))
    ids = {
        name: media(conn, name, "video" if name.endswith(".mp4") else "image")
        for name in "a.png b.mp4 c.png d.png e.png".split()
    }
    rows, total = pages.outputs(conn, username=None, kinds=None, offset=0, limit=10)
    assert total == 4 and [r["filename"] for r in rows] == ["e.png", "c.png", "a.png", "b.mp4"]  # newest job first
    assert rows[2]["job_id"] == job(1).id and rows[2]["id"] == ids["a.png"]
    rows, total = pages.outputs(conn, username="ada", kinds=["video"], offset=0, limit=10)
    assert total == 1 and rows[0]["filename"] == "b.mp4"
    rows, total = pages.outputs(conn, username="ada", kinds=None, offset=1, limit=1)
    assert total == 3 and [r["filename"] for r in rows] == ["a.png"]
    assert pages.outputs(conn, username=None, kinds=[], offset=0, limit=10) == ([], 0)  # text: none here

    assert pages.output(conn, ids["c.png"])["job_id"] == job(2).id
    assert pages.output(conn, ids["d.png"]) is None  # its job failed
    assert pages.output(conn, 99999) is None
    moved = records.move_images(conn, "output", {("CozyGen", "c.png"): ("kept", "c.png")}, [], by_name=True)
    index.remove_file(conn, "output", "CozyGen", "c.png")
    new_id = media(conn, "c.png", subfolder="kept")
    assert moved == 1 and pages.output(conn, new_id)["job_id"] == job(2).id  # found by name at its new place
