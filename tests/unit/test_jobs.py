"""core.jobs: the job state machine, its records, the live tracker and ComfyUI's validation errors."""

from __future__ import annotations

import time
import uuid

import pytest

from cozygen.core import jobs
from cozygen.core.db import Database
from cozygen.core.errors import BadRequest
from cozygen.core.events import EventHub
from cozygen.core.jobs import Job, JobTracker, apply_message, validation_error
from cozygen.core.migrations import MIGRATIONS
from cozygen.core.workflow_fill import FieldErrors
from cozygen.core.workflow_schema import Parameter


def new_job(**fields) -> Job:
    base = {"id": str(uuid.uuid4()), "prompt_id": str(uuid.uuid4()), "workflow": "w.json", "username": "ann"}
    return Job(**{**base, **fields})


def run(job: Job, *messages: tuple[str, dict]) -> list[str | None]:
    events = []
    for event, data in messages:
        change = apply_message(job, event, {"prompt_id": job.prompt_id, **data}, now=100.0)
        events.append(change.event if change else None)
    return events


def test_a_job_moves_through_comfyuis_messages() -> None:
    job = new_job()
    assert job.status == "pending" and job.percent == 0
    events = run(
        job,
        ("execution_start", {}),
        ("execution_cached", {"nodes": []}),
        ("executing", {"node": "5"}),
        ("progress", {"value": 3, "max": 12, "node": "5"}),
        ("progress", {"value": 12, "max": 12, "node": "5"}),
        ("executing", {"node": "6"}),
        (
            "executed",
            {"node": "6", "output": {"images": [{"filename": "a.png", "subfolder": "CozyGen", "type": "output"}]}},
        ),
        ("execution_success", {}),
        ("executing", {"node": None}),
    )
    assert events == [
        "job.started",
        None,
        "job.progress",
        "job.progress",
        "job.progress",
        "job.progress",
        "job.image",
        "job.completed",
        None,
    ]
    assert job.status == "completed" and (job.step, job.total_steps) == (12, 12) and job.percent == 100
    assert job.images == [{"filename": "a.png", "subfolder": "CozyGen", "type": "output"}]
    assert job.started_at == job.finished_at == 100.0 and job.node == "6"
    assert run(job, ("execution_error", {"exception_message": "late"})) == [None]  # finished stays finished
    assert job.status == "completed" and job.error is None


def test_percent_follows_the_steps_of_the_node_reporting_progress() -> None:
    job = new_job()
    run(job, ("execution_start", {}), ("progress", {"value": 1, "max": 4, "node": "5"}))
    assert job.percent == 25.0 and job.status == "running"
    run(job, ("progress", {"value": "x", "max": 4}))  # garbage changes nothing
    assert job.step == 1


def test_errors_and_interruptions() -> None:
    failed = new_job()
    events = run(
        failed,
        ("execution_start", {}),
        ("execution_error", {"node_id": "7", "exception_message": "value 80 is outside\n", "exception_type": "E"}),
    )
    assert events == ["job.started", "job.failed"]
    assert failed.status == "failed" and failed.error == "value 80 is outside" and failed.node == "7"

    stopped, cancelled = new_job(), new_job(cancel_requested=True)
    assert run(stopped, ("execution_start", {}), ("execution_interrupted", {}))[-1] == "job.interrupted"
    assert run(cancelled, ("execution_start", {}), ("execution_interrupted", {}))[-1] == "job.cancelled"
    assert (stopped.status, cancelled.status) == ("interrupted", "cancelled")


def test_a_missed_start_is_inferred_from_the_first_node() -> None:
    job = new_job()
    assert run(job, ("executing", {"node": "3"})) == ["job.started"]
    assert job.status == "running" and job.node == "3"


def test_job_ids_must_be_lowercase_uuids() -> None:
    good = str(uuid.uuid4())
    assert jobs.check_job_id(good) == good
    for bad in (good.upper(), good.replace("-", ""), "x", 5, None, good + " "):
        with pytest.raises(BadRequest):
            jobs.check_job_id(bad)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "jobs.sqlite3")
    database.open(MIGRATIONS)
    yield database
    database.close()


def test_records_insert_once_list_newest_first_and_page(db) -> None:
    made = [
        new_job(created_at=1000.0 + n, params={"seed": n}, graph={"1": {"class_type": "X", "inputs": {}}})
        for n in range(5)
    ]
    assert all(db.submit_write(lambda c, j=j: jobs.insert(c, j)).result() for j in made)
    duplicate = new_job(id=made[0].id)
    assert db.submit_write(lambda c: jobs.insert(c, duplicate)).result() is False
    first = db.read(lambda c: jobs.list_jobs(c, limit=2))
    assert [j.id for j in first] == [made[4].id, made[3].id] and first[0].graph is None
    rest = db.read(lambda c: jobs.list_jobs(c, before=first[-1].id, limit=10))
    assert [j.id for j in rest] == [made[2].id, made[1].id, made[0].id]
    full = db.read(lambda c: jobs.get(c, made[2].id, with_graph=True))
    assert full.params == {"seed": 2} and full.graph == {"1": {"class_type": "X", "inputs": {}}}
    assert db.read(lambda c: jobs.list_jobs(c, username="bob")) == []
    with pytest.raises(BadRequest):
        db.read(lambda c: jobs.list_jobs(c, before="unknown"))


def test_unfinished_jobs_of_a_previous_run_become_interrupted(db) -> None:
    running, done = new_job(status="running"), new_job(status="completed")
    for job in (running, done):
        db.submit_write(lambda c, j=job: jobs.insert(c, j)).result()
    assert db.submit_write(lambda c: jobs.interrupt_unfinished(c, 5.0)).result() == 1
    after = db.read(lambda c: jobs.get(c, running.id))
    assert after.status == "interrupted" and after.finished_at == 5.0 and "stopped" in after.error
    assert db.read(lambda c: jobs.get(c, done.id)).status == "completed"


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_the_tracker_writes_transitions_but_keeps_progress_in_memory(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub, progress_interval=3600)
    job = new_job(created_at=1.0)
    db.submit_write(lambda c: jobs.insert(c, job)).result()
    tracker.add(job, queue_position=2)
    tracker.on_message("status", {"status": {}})  # not about a job
    tracker.on_message("execution_start", {"prompt_id": "someone-else"})
    tracker.on_message("execution_start", {"prompt_id": job.prompt_id})
    for value in range(1, 6):
        tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": value, "max": 10, "node": "5"})
    wait_until(lambda: db.read(lambda c: jobs.get(c, job.id)).status == "running")
    stored = db.read(lambda c: jobs.get(c, job.id))
    assert stored.step == 0  # progress is not written
    live = tracker.live(job.id)
    assert (live.status, live.step, live.total_steps) == ("running", 5, 10)
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert kinds == ["job.queued", "job.started", "job.progress"]  # the rest were throttled
    assert hub.since(f"{hub.boot}-0")[0][0].data["queue_position"] == 2

    tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": 10, "max": 10, "node": "5"})  # the last step
    tracker.on_message("execution_success", {"prompt_id": job.prompt_id})
    wait_until(lambda: tracker.live(job.id) is None)  # final and written: reads go to the database
    stored = db.read(lambda c: jobs.get(c, job.id))
    assert stored.status == "completed" and (stored.step, stored.total_steps) == (10, 10)
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert kinds[-2:] == ["job.progress", "job.completed"]


def test_a_cancelled_waiting_job_ends_without_comfyui(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub)
    job = new_job()
    db.submit_write(lambda c: jobs.insert(c, job)).result()
    tracker.add(job)
    ended = tracker.end(job.id, "cancelled")
    assert ended.status == "cancelled" and ended.started_at is None
    wait_until(lambda: db.read(lambda c: jobs.get(c, job.id)).status == "cancelled")
    again = tracker.end(job.id, "failed")  # an end cannot be overwritten
    assert again is None or again.status == "cancelled"
    assert tracker.request_cancel(job.id) is None


def test_comfyuis_validation_errors_name_fields_or_nodes() -> None:
    schema = [Parameter(name="steps", label="Steps", type="int", targets=[("3", "steps")])]
    on_field = {
        "3": {
            "class_type": "KSampler",
            "errors": [
                {
                    "type": "value_bigger_than_max",
                    "message": "Value 500 bigger than max of 100",
                    "details": "steps",
                    "extra_info": {"input_name": "steps"},
                }
            ],
        }
    }
    error = validation_error({"message": "Prompt outputs failed validation"}, on_field, schema)
    assert isinstance(error, FieldErrors) and error.errors == {"steps": "Value 500 bigger than max of 100: steps"}

    on_node = {
        "5": {
            "class_type": "CozyGenProceduralImage",
            "errors": [
                {
                    "message": "Value 0 smaller than min of 1",
                    "details": "batch_size",
                    "extra_info": {"input_name": "batch_size"},
                }
            ],
        }
    }
    error = validation_error({"message": "Prompt outputs failed validation"}, on_node, schema)
    assert error.code == "NODE_ERRORS" and error.status == 400
    assert error.to_dict()["nodes"] == {
        "5": {"class_type": "CozyGenProceduralImage", "errors": ["Value 0 smaller than min of 1: batch_size"]}
    }
    assert "node 5 (CozyGenProceduralImage)" in error.message

    bare = validation_error(
        {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": ""}, {}, schema
    )
    assert bare.code == "INVALID_PROMPT" and "Prompt has no outputs" in bare.message
