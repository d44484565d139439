"""Seed 004's prompt_raw: the body's checks, per-user storage, the read side, pruning, and deletion with the job."""

from __future__ import annotations

import pytest

from cozygen.core.errors import BadRequest, TooLarge
from cozygen.core.jobs import prompt_raw, records
from cozygen.core.jobs.model import Job
from cozygen.core.store.db import Database

NOW = 1_700_000_000.0


def write(db: Database, fn):
    return db.submit_write(fn).result(timeout=10)


def record_job(db: Database, prompt_id: str, username: str | None) -> Job:
    job = Job(id=f"job-{prompt_id}", prompt_id=prompt_id, workflow=None, username=username, status="completed")
    assert write(db, lambda conn: records.insert(conn, job))
    return job


def keep(db: Database, prompt_id: str, username: str | None, raw: dict, now: float = NOW) -> None:
    write(db, lambda conn: prompt_raw.store(conn, prompt_id, username, raw, now))


def read(db: Database, prompt_id: str, username: str | None):
    return db.read(lambda conn: prompt_raw.read(conn, prompt_id, username))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "prompt_id required"),
        ({"prompt_id": "  ", "prompt_raw": {"6:text": "x"}}, "prompt_id required"),
        ({"prompt_id": ["p"], "prompt_raw": {"6:text": "x"}}, "prompt_id required"),
        ({"prompt_id": "p"}, "prompt_raw required"),
        ({"prompt_id": "p", "prompt_raw": {}}, "prompt_raw required"),
        ({"prompt_id": "p", "prompt_raw": ["6:text"]}, "prompt_raw required"),
        ({"prompt_id": "p", "prompt_raw": {"6:text": 3, " ": "x"}}, "prompt_raw invalid"),
    ],
)
def test_bad_bodies_get_the_seeds_errors(body, error) -> None:
    with pytest.raises(BadRequest) as caught:
        prompt_raw.parse(body)
    assert caught.value.message == error and caught.value.status == 400


def test_the_map_falls_back_to_the_older_keys_and_keeps_only_text_entries() -> None:
    assert prompt_raw.parse({"prompt_id": "p", "prompt_raw": None, "cozygen_prompt_raw": {"6:text": "$a$"}}) == (
        "p",
        {"6:text": "$a$"},
    )
    assert prompt_raw.parse({"prompt_id": 7, "raw": {"6:text": "$a$", "7:text": None, "": "x"}}) == (
        "7",
        {"6:text": "$a$"},
    )


def test_too_large_maps_are_refused() -> None:
    with pytest.raises(TooLarge):
        prompt_raw.parse({"prompt_id": "p", "prompt_raw": {"6:text": "x" * (prompt_raw.MAX_BYTES + 1)}})
    with pytest.raises(TooLarge):
        prompt_raw.parse({"prompt_id": "p", "prompt_raw": {f"{n}:text": "x" for n in range(1_001)}})


def test_a_map_is_read_by_its_poster_for_their_own_job_only(db: Database) -> None:
    keep(db, "p1", "ann", {"6:text": "$portrait$, smiling"})
    assert read(db, "p1", "ann") is None  # the prompt has not come yet
    record_job(db, "p1", "ann")
    assert read(db, "p1", "ann") == {"6:text": "$portrait$, smiling"}
    assert read(db, "p1", "bob") is None


def test_another_user_neither_overwrites_nor_reads_a_map(db: Database) -> None:
    record_job(db, "p1", "ann")
    keep(db, "p1", "ann", {"6:text": "mine"})
    keep(db, "p1", "bob", {"6:text": "clobbered?"})  # bob posts for ann's prompt id
    assert read(db, "p1", "ann") == {"6:text": "mine"}
    assert read(db, "p1", "bob") is None  # not bob's job
    keep(db, "p1", "ann", {"6:text": "again"})  # the owner may replace their own
    assert read(db, "p1", "ann") == {"6:text": "again"}


def test_auth_off_maps_belong_to_nobody(db: Database) -> None:
    keep(db, "p1", None, {"6:text": "$a$"})
    record_job(db, "p1", None)
    assert read(db, "p1", None) == {"6:text": "$a$"}
    assert read(db, "p1", "ann") is None


def test_a_map_is_deleted_with_its_job(db: Database) -> None:
    job = record_job(db, "p1", "ann")
    keep(db, "p1", "ann", {"6:text": "$a$"})
    assert write(db, lambda conn: records.delete(conn, job.id))
    assert db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM prompt_raw").fetchone()[0]) == 0


def test_orphans_are_pruned_by_age_and_count_per_user(db: Database) -> None:
    record_job(db, "kept", "ann")
    keep(db, "kept", "ann", {"6:text": "old but its job exists"}, now=NOW - 10 * prompt_raw.ORPHAN_SECONDS)
    keep(db, "stale", "ann", {"6:text": "x"}, now=NOW - prompt_raw.ORPHAN_SECONDS - 1)
    for n in range(prompt_raw.MAX_ORPHANS + 5):
        keep(db, f"fresh-{n}", "ann", {"6:text": "x"}, now=NOW + n)
    keep(db, "bobs", "bob", {"6:text": "x"}, now=NOW)
    query = "SELECT prompt_id FROM prompt_raw WHERE username = 'ann'"
    ids = db.read(lambda conn: {row[0] for row in conn.execute(query)})
    assert "kept" in ids and "stale" not in ids
    assert len(ids - {"kept"}) == prompt_raw.MAX_ORPHANS and "fresh-0" not in ids and "fresh-104" in ids
    assert db.read(lambda conn: conn.execute("SELECT 1 FROM prompt_raw WHERE username='bob'").fetchone()) is not None
