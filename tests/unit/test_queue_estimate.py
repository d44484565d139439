"""core.jobs.records.stats: a time estimate only from enough completed runs, overall and per workflow."""

from __future__ import annotations

import uuid

from cozygen.core.jobs import records
from cozygen.core.jobs.model import Job

NOW = 100_000.0


def done(workflow: str, seconds: float, *, status: str = "completed") -> Job:
    return Job(
        id=str(uuid.uuid4()), prompt_id=str(uuid.uuid4()), workflow=workflow, username="ann", status=status,
        created_at=NOW - 100, started_at=NOW - 50, finished_at=NOW - 50 + seconds,
    )  # fmt: skip


def insert(db, *jobs: Job) -> None:
    assert all(db.submit_write(lambda c, j=j: records.insert(c, j)).result() for j in jobs)


def test_no_estimate_from_too_few_runs(db) -> None:
    insert(db, done("a.json", 10), done("b.json", 30), done("a.json", 99, status="failed"))
    numbers = db.read(lambda c: records.stats(c, NOW))
    assert numbers["average_seconds"] == 20.0  # the plain statistic stays
    assert numbers["estimate_seconds"] is None and numbers["estimate_by_workflow"] == {}


def test_an_estimate_per_workflow_from_three_runs(db) -> None:
    insert(db, done("a.json", 10), done("a.json", 12), done("a.json", 14), done("b.json", 40), done("b.json", 40))
    numbers = db.read(lambda c: records.stats(c, NOW))
    assert numbers["estimate_seconds"] == round((10 + 12 + 14 + 40 + 40) / 5, 3)
    assert numbers["estimate_by_workflow"] == {"a.json": 12.0}  # b.json: two runs are not enough
    assert records.ESTIMATE_RUNS == 3
