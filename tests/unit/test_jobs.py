"""core.jobs: the job state machine, its records, the live tracker and ComfyUI's validation errors."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from cozygen.core.errors import BadRequest
from cozygen.core.events import EventHub
from cozygen.core.graph import models
from cozygen.core.graph.fill import FieldErrors
from cozygen.core.graph.parameter import Parameter
from cozygen.core.jobs import model, records
from cozygen.core.jobs.model import Job, apply_message
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.jobs.validation import validation_error

PROJECT = Path(__file__).resolve().parents[2]


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


def test_app_modes_chosen_outputs_are_the_results_and_are_kept_with_the_record(db) -> None:
    picture = {"images": [{"filename": "a.png", "subfolder": "", "type": "output"}]}
    preview = {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]}
    job = new_job(outputs=["9", "4:7"])
    events = run(
        job,
        ("execution_start", {}),
        ("executed", {"node": "8", "output": preview}),  # an output the author did not choose
        ("executed", {"node": "4:7", "output": picture}),  # a chosen one inside a subgraph
        ("executed", {"node": "9", "output": picture}),
    )
    assert events == ["job.started", None, "job.image", "job.image"]
    assert [i["filename"] for i in job.images] == ["a.png", "a.png"]
    everything = new_job()
    assert run(everything, ("executed", {"node": "8", "output": preview})) == ["job.image"]
    db.submit_write(lambda c: records.insert(c, job)).result()
    assert db.read(lambda c: records.get(c, job.id)).outputs == ["9", "4:7"]
    assert job.copy().outputs == ["9", "4:7"] and job.copy().outputs is not job.outputs


def test_a_video_of_cozygen_video_output_is_a_result_as_an_image_is() -> None:
    video = {"filename": "clip_00001_.webm", "subfolder": "CozyGen", "type": "output", "format": "video/webm"}
    gif = {**video, "filename": "clip_00002_.gif", "format": "image/gif"}
    job = new_job()
    events = run(job, ("executed", {"node": "2", "output": {"videos": [video]}}),
                 ("executed", {"node": "3", "output": {"gifs": [gif]}}))  # fmt: skip
    assert events == ["job.image", "job.image"]
    assert job.images == [{"filename": "clip_00001_.webm", "subfolder": "CozyGen", "type": "output"},
                          {"filename": "clip_00002_.gif", "subfolder": "CozyGen", "type": "output"}]  # fmt: skip


def test_job_ids_must_be_lowercase_uuids() -> None:
    good = str(uuid.uuid4())
    assert model.check_job_id(good) == good
    for bad in (good.upper(), good.replace("-", ""), "x", 5, None, good + " "):
        with pytest.raises(BadRequest):
            model.check_job_id(bad)


def test_records_insert_once_list_newest_first_and_page(db) -> None:
    made = [
        new_job(created_at=1000.0 + n, params={"seed": n}, graph={"1": {"class_type": "X", "inputs": {}}})
        for n in range(5)
    ]
    assert all(db.submit_write(lambda c, j=j: records.insert(c, j)).result() for j in made)
    duplicate = new_job(id=made[0].id)
    assert db.submit_write(lambda c: records.insert(c, duplicate)).result() is False
    first = db.read(lambda c: records.list_jobs(c, limit=2))
    assert [j.id for j in first] == [made[4].id, made[3].id] and first[0].graph is None
    rest = db.read(lambda c: records.list_jobs(c, before=first[-1].id, limit=10))
    assert [j.id for j in rest] == [made[2].id, made[1].id, made[0].id]
    full = db.read(lambda c: records.get(c, made[2].id, with_graph=True))
    assert full.params == {"seed": 2} and full.graph == {"1": {"class_type": "X", "inputs": {}}}
    assert db.read(lambda c: records.list_jobs(c, username="bob")) == []
    with pytest.raises(BadRequest):
        db.read(lambda c: records.list_jobs(c, before="unknown"))


def test_unfinished_jobs_of_a_previous_run_become_interrupted(db) -> None:
    running, done = new_job(status="running"), new_job(status="completed")
    for job in (running, done):
        db.submit_write(lambda c, j=job: records.insert(c, j)).result()
    assert db.submit_write(lambda c: records.interrupt_unfinished(c, 5.0)).result() == 1
    after = db.read(lambda c: records.get(c, running.id))
    assert after.status == "interrupted" and after.finished_at == 5.0 and "stopped" in after.error
    assert db.read(lambda c: records.get(c, done.id)).status == "completed"


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_the_tracker_writes_transitions_but_keeps_progress_in_memory(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub, progress_interval=3600)
    job = new_job(created_at=1.0)
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job, queue_position=2)
    tracker.on_message("status", {"status": {}})  # not about a job
    tracker.on_message("execution_start", {"prompt_id": "someone-else"})
    tracker.on_message("execution_start", {"prompt_id": job.prompt_id})
    for value in range(1, 6):
        tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": value, "max": 10, "node": "5"})
    wait_until(lambda: db.read(lambda c: records.get(c, job.id)).status == "running")
    stored = db.read(lambda c: records.get(c, job.id))
    assert stored.step == 0  # progress is not written
    live = tracker.live(job.id)
    assert (live.status, live.step, live.total_steps) == ("running", 5, 10)
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert kinds == ["job.queued", "job.started", "job.progress"]  # the rest were throttled
    assert hub.since(f"{hub.boot}-0")[0][0].data["queue_position"] == 2

    tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": 10, "max": 10, "node": "5"})  # the last step
    tracker.on_message("execution_success", {"prompt_id": job.prompt_id})
    wait_until(lambda: tracker.live(job.id) is None)  # final and written: reads go to the database
    stored = db.read(lambda c: records.get(c, job.id))
    assert stored.status == "completed" and (stored.step, stored.total_steps) == (10, 10)
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert kinds[-2:] == ["job.progress", "job.completed"]


def test_the_first_progress_and_preview_go_out_even_right_after_boot(db) -> None:
    """The pacing clock is monotonic and may read 0 on a machine booted a moment ago: nothing sent yet is
    never "too soon", and after that one message per interval goes."""
    from PIL import Image

    now = [0.0]
    hub = EventHub()
    tracker = JobTracker(db, hub, monotonic=lambda: now[0], progress_interval=10)
    job = new_job()
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job)
    tracker.on_message("execution_start", {"prompt_id": job.prompt_id})
    picture = Image.new("RGB", (8, 8), "red")
    for value in (1, 2):  # at boot: the first goes, the second is too soon
        tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": value, "max": 10, "node": "5"})
        tracker.on_message(model.UNENCODED_PREVIEW, ("JPEG", picture, 256))
    now[0] = 10.0
    tracker.on_message("progress", {"prompt_id": job.prompt_id, "value": 3, "max": 10, "node": "5"})
    tracker.on_message(model.UNENCODED_PREVIEW, ("JPEG", picture, 256))
    events = [e for e in hub.since(f"{hub.boot}-0")[0] if e.kind in ("job.progress", "job.preview")]
    assert [(e.kind, e.data.get("step")) for e in events] == [
        ("job.progress", 1), ("job.preview", 1), ("job.progress", 3), ("job.preview", 3),
    ]  # fmt: skip


def test_the_tracker_tells_drop_prompts_which_prompts_of_a_failed_job_will_not_run(db) -> None:
    dropped: list[list[str]] = []
    tracker = JobTracker(db, EventHub(), drop_prompts=dropped.append)
    prompts = [str(uuid.uuid4()) for _ in range(3)]
    job = new_job(prompt_id=prompts[0], prompt_ids=prompts)
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job)
    tracker.on_message("execution_start", {"prompt_id": prompts[0]})
    tracker.on_message("execution_error", {"prompt_id": prompts[0], "exception_message": "boom"})
    assert dropped == [prompts[1:]]


def test_a_cancelled_waiting_job_ends_without_comfyui(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub)
    job = new_job()
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job)
    ended = tracker.end(job.id, "cancelled")
    assert ended.status == "cancelled" and ended.started_at is None
    wait_until(lambda: db.read(lambda c: records.get(c, job.id)).status == "cancelled")
    again = tracker.end(job.id, "failed")  # an end cannot be overwritten
    assert again is None or again.status == "cancelled"
    assert tracker.request_cancel(job.id) is None


def test_a_prompt_whose_job_was_asked_to_stop_says_so_until_it_ends(db) -> None:
    """What CozyGen asks when ComfyUI starts a prompt: a cancel that raced its start is made again then."""
    tracker = JobTracker(db, EventHub())
    job = new_job()
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job)
    assert not tracker.cancel_requested(job.prompt_id)
    tracker.request_cancel(job.id)
    assert tracker.cancel_requested(job.prompt_id) and not tracker.cancel_requested("another prompt")
    tracker.end(job.id, "cancelled")
    assert not tracker.cancel_requested(job.prompt_id)


def test_an_end_is_told_only_once_it_is_committed(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub)
    job = new_job()
    db.submit_write(lambda c: records.insert(c, job)).result()
    tracker.add(job)
    tracker.on_message("execution_start", {"prompt_id": job.prompt_id})
    db.submit_write(lambda c: None).result()  # its start is written
    release, holding = threading.Event(), threading.Event()

    def hold(_conn) -> None:  # the writer is busy (a burst of gallery writes, a slow disk)
        holding.set()
        release.wait(30)

    db.submit_write(hold)
    assert holding.wait(30)
    tracker.on_message("execution_success", {"prompt_id": job.prompt_id})
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert "job.completed" not in kinds  # not on disk yet: a client told now could be contradicted by a crash
    assert tracker.live(job.id).status == "running" and tracker.live(job.id).finished_at is None
    assert db.read(lambda c: records.get(c, job.id)).status == "running"
    assert tracker.request_cancel(job.id) is None  # yet it cannot be cancelled any more
    release.set()
    wait_until(lambda: tracker.live(job.id) is None)
    assert db.read(lambda c: records.get(c, job.id)).status == "completed"
    events = hub.since(f"{hub.boot}-0")[0]
    assert [e.kind for e in events][-1] == "job.completed" and events[-1].data["status"] == "completed"


def test_a_job_that_ended_after_it_was_found_lost_is_not_queued_again(db) -> None:
    lost = new_job(status="running", graph={"1": {"class_type": "X", "inputs": {}}})
    db.submit_write(lambda c: records.insert(c, lost)).result()
    (found,) = db.read(records.lost_candidates)
    lost.status, lost.finished_at = "completed", 3.0  # its end was written meanwhile
    db.submit_write(lambda c: records.save_state(c, lost)).result()
    assert db.submit_write(lambda c: records.claim_requeue(c, found, ["again"], 4.0)).result() is None
    assert db.read(lambda c: records.get(c, lost.id)).status == "completed"


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


def insert_all(db, *made: Job) -> None:
    assert all(db.submit_write(lambda c, j=j: records.insert(c, j)).result() for j in made)


def test_history_filters_by_date_workflow_model_user_and_text(db) -> None:
    day = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    a = new_job(created_at=day + 10, workflow="a.json", model="x.safetensors", params={"prompt": "a red fox_1"})
    b = new_job(created_at=day + 86_400 + 5, workflow="b.json", model="procedural", params={"prompt": "50% blue"})
    c = new_job(created_at=day + 2 * 86_400, workflow="a.json", username="bob", params={"prompt": "red barn"})
    insert_all(db, a, b, c)

    def ids(**chosen) -> list[str]:
        return [j.id for j in db.read(lambda conn: records.list_jobs(conn, filters=records.Filters(**chosen)))]

    assert ids() == [c.id, b.id, a.id]
    assert ids(workflow="a.json") == [c.id, a.id]
    assert ids(model="procedural") == [b.id]
    assert ids(username="bob") == [c.id]
    assert ids(text="RED") == [c.id, a.id]  # case-insensitive, over the parameters
    assert ids(text="fox_1") == [a.id] and ids(text="x_1") == [a.id] and ids(text="o_") == []  # _ is literal
    assert ids(text="50%") == [b.id] and ids(text="%") == [b.id]
    assert ids(since=day + 86_400, until=day + 2 * 86_400) == [b.id]  # from/to are parsed by api.params
    assert ids(since=day + 11) == [c.id, b.id] and ids(until=day + 11) == [a.id]
    exported = db.read(lambda conn: records.export_jobs(conn, records.Filters(workflow="a.json"), limit=1))
    assert [j.id for j in exported] == [c.id]


def test_the_model_is_read_from_the_graph() -> None:
    loader = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15/dream.safetensors"}}}
    unet = {"10": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux.gguf"}}, **loader}
    assert models.graph_model(loader) == "sd15/dream.safetensors"
    assert models.graph_model(unet) == "sd15/dream.safetensors"  # node 4 comes before node 10
    assert models.graph_model({"5": {"class_type": "CozyGenProceduralImage", "inputs": {"seed": 1}}}) == "procedural"
    assert models.graph_model({"1": {"class_type": "KSampler", "inputs": {"model": ["4", 0]}}}) is None
    assert models.graph_model(None) is None
    shipped = json.loads((PROJECT / "workflows" / "sd15_txt2img.json").read_text())  # the name comes by a link
    chosen = next(n["inputs"]["value"] for n in shipped.values() if n["inputs"].get("param_name") == "checkpoint")
    assert models.graph_model(shipped) == chosen and chosen.endswith(".safetensors")
    looped = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ["2", 0]}},
              "2": {"class_type": "X", "inputs": {"value": ["2", 0]}}}  # fmt: skip
    assert models.graph_model(looped) is None


def test_export_rows_delete_and_queue_numbers(db) -> None:
    now = 100_000.0
    done = new_job(
        status="completed", created_at=now - 50, started_at=now - 40, finished_at=now - 30, model="procedural",
        params={"prompt": "a fox", "seed": 7}, images=[{"filename": "a.png", "subfolder": "CozyGen", "type": "output"}],
    )  # fmt: skip
    slow = new_job(status="completed", created_at=now - 90, started_at=now - 80, finished_at=now - 50)
    failed = new_job(status="failed", created_at=now - 20, finished_at=now - 10, workflow="other.json")
    old = new_job(status="failed", created_at=now - 200_000, finished_at=now - 199_000)
    waiting = new_job(created_at=now - 5)
    insert_all(db, done, slow, failed, old, waiting)
    row = records.export_row(done)
    assert list(row) == list(records.EXPORT_COLUMNS)
    assert (row["seed"], row["prompt"], row["images"], row["model"]) == (7, "a fox", ["CozyGen/a.png"], "procedural")
    assert records.export_row(new_job(params={"positive_prompt": "p", "seed": True}))["prompt"] == "p"

    numbers = db.read(lambda c: records.stats(c, now))
    assert numbers["recent"] == {"completed": 2, "failed": 1, "cancelled": 0, "interrupted": 0}
    assert numbers["by_workflow"] == {"w.json": 3, "other.json": 1}
    assert numbers["by_model"] == {"procedural": 1, "": 3}
    assert numbers["average_seconds"] == 20.0 and numbers["failure_rate"] == round(1 / 3, 4)
    every = db.read(records.status_counts)
    assert every == {"procedural": {"completed": 1}, "": {"completed": 1, "failed": 2, "pending": 1}}
    assert db.read(lambda c: records.status_counts(c, since=now - 100))[""] == {
        "completed": 1,
        "failed": 1,
        "pending": 1,
    }

    assert db.submit_write(lambda c: records.delete(c, waiting.id)).result() is False  # not finished
    assert db.submit_write(lambda c: records.delete(c, done.id)).result() is True
    assert db.read(lambda c: records.get(c, done.id)) is None and db.read(lambda c: records.get(c, waiting.id))


def test_lost_jobs_are_claimed_for_requeueing_once(db) -> None:
    graph = {"1": {"class_type": "X", "inputs": {}}}
    running = new_job(status="running", graph=graph, step=3, started_at=5.0)
    stale = new_job(status="running", graph=graph)
    stopped = new_job(status="interrupted", graph=graph)  # interrupted by someone, not by a restart
    no_graph = new_job(status="pending")
    insert_all(db, running, stale, stopped, no_graph)
    assert db.submit_write(lambda c: records.interrupt_unfinished(c, 9.0)).result() == 3
    fresh = new_job(status="pending", graph=graph, created_at=time.time())
    insert_all(db, fresh)
    found = db.read(records.lost_candidates)
    assert sorted(j.id for j in found) == sorted([running.id, stale.id, fresh.id])
    assert all(j.graph == graph for j in found)

    lost = next(j for j in found if j.id == running.id)
    claimed = db.submit_write(lambda c: records.claim_requeue(c, lost, ["new-prompt"], 10.0)).result()
    assert claimed.prompt_id == "new-prompt" and claimed.status == "pending" and claimed.requeued
    assert db.submit_write(lambda c: records.claim_requeue(c, lost, ["other"], 11.0)).result() is None
    stored = db.read(lambda c: records.get(c, running.id))
    assert (stored.prompt_id, stored.status, stored.requeued, stored.step, stored.finished_at, stored.error) == (
        "new-prompt", "pending", True, 0, None, None,
    )  # fmt: skip
    assert running.id not in [j.id for j in db.read(records.lost_candidates)]


def test_a_job_of_several_prompts_aggregates_them(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub, progress_interval=0)
    prompts = [str(uuid.uuid4()) for _ in range(3)]
    job = new_job(prompt_id=prompts[0], prompt_ids=prompts)
    db.submit_write(lambda c: records.insert(c, job)).result()
    assert db.read(lambda c: records.get(c, job.id)).prompt_ids == prompts
    tracker.add(job)

    def send(n: int, event: str, **data) -> None:
        tracker.on_message(event, {"prompt_id": prompts[n], **data})

    def image(n: int) -> dict:
        return {"images": [{"filename": f"{n}.png", "subfolder": "", "type": "output"}]}

    send(0, "execution_start")
    send(0, "progress", value=5, max=10, node="5")
    live = tracker.live(job.id)
    assert (live.status, live.step, live.total_steps, live.percent) == ("running", 5, 10, 16.7)
    send(0, "executed", output=image(0))
    send(0, "execution_success")
    live = tracker.live(job.id)
    assert live.status == "running" and live.prompts_done == 1 and live.percent == 33.3
    send(1, "execution_start")
    send(1, "progress", value=10, max=10, node="5")
    send(1, "executed", output=image(1))
    send(1, "execution_success")
    assert tracker.live(job.id).status == "running" and tracker.live(job.id).percent == 66.7
    send(2, "execution_start")
    send(2, "executed", output=image(2))
    send(2, "execution_success")
    wait_until(lambda: tracker.live(job.id) is None)
    stored = db.read(lambda c: records.get(c, job.id))
    assert stored.status == "completed" and [i["filename"] for i in stored.images] == ["0.png", "1.png", "2.png"]
    kinds = [e.kind for e in hub.since(f"{hub.boot}-0")[0]]
    assert kinds[:2] == ["job.queued", "job.started"] and kinds.count("job.started") == 1
    assert kinds[-1] == "job.completed" and kinds.count("job.completed") == 1
    tracker.on_message("execution_start", {"prompt_id": prompts[1]})  # followed no more
    assert tracker.live(job.id) is None


def test_one_failing_prompt_fails_the_job_and_cancelling_ends_the_rest(db) -> None:
    hub = EventHub()
    tracker = JobTracker(db, hub)

    def last(job_id: str) -> dict:
        db.submit_write(lambda c: None).result()  # an end is told once written: after every write before this
        return [e.data for e in hub.since(f"{hub.boot}-0")[0] if e.data["id"] == job_id][-1]

    dropped: list[list[str]] = []
    tracker.drop_prompts = dropped.append
    prompts = [str(uuid.uuid4()) for _ in range(3)]
    failing = new_job(prompt_id=prompts[0], prompt_ids=prompts)
    tracker.add(failing)
    tracker.on_message("execution_start", {"prompt_id": prompts[0]})
    tracker.on_message("execution_success", {"prompt_id": prompts[0]})
    assert last(failing.id)["status"] == "running"
    tracker.on_message("execution_error", {"prompt_id": prompts[1], "exception_message": "boom", "node_id": "5"})
    failed = last(failing.id)
    assert failed["status"] == "failed" and failed["error"] == "boom" and failed["node"] == "5"
    assert dropped == [[prompts[2]]]  # the third will not run: off ComfyUI's queue

    others = [str(uuid.uuid4()) for _ in range(2)]
    cancelled = new_job(prompt_id=others[0], prompt_ids=others)
    tracker.add(cancelled)
    tracker.on_message("execution_start", {"prompt_id": others[0]})
    assert tracker.request_cancel(cancelled.id).cancel_requested
    assert tracker.end_prompts(cancelled.id, [others[1]], "cancelled").status == "running"
    tracker.on_message("execution_interrupted", {"prompt_id": others[0]})
    assert last(cancelled.id)["status"] == "cancelled"

    waiting = [str(uuid.uuid4()) for _ in range(2)]
    removed = new_job(prompt_id=waiting[0], prompt_ids=waiting)
    tracker.add(removed)
    assert tracker.end_prompts(removed.id, waiting[:1], "cancelled").status == "pending"
    assert tracker.end_prompts(removed.id, waiting[1:], "cancelled").status == "cancelled"


def test_seed_offsets_move_every_seed_parameter() -> None:
    from cozygen.core.graph.fill import Filled, with_seed_offset

    graph = {"2": {"class_type": "CozyGenSeed", "inputs": {"seed": 7}}, "5": {"class_type": "K", "inputs": {"seed": 7}}}
    schema = [
        Parameter.from_dict({"name": "seed", "type": "seed", "targets": [["2", "seed"], ["5", "seed"]]}),
        Parameter.from_dict({"name": "steps", "type": "int", "targets": [["5", "steps"]]}),
    ]
    filled = Filled(graph=graph, params={"seed": 7, "steps": 3})
    moved = with_seed_offset(filled, schema, 2)
    assert moved.params == {"seed": 9, "steps": 3}
    assert moved.graph["2"]["inputs"]["seed"] == moved.graph["5"]["inputs"]["seed"] == 9
    assert graph["2"]["inputs"]["seed"] == 7 and filled.params["seed"] == 7  # the original is untouched


def test_a_prompt_queued_elsewhere_is_adopted_once(db) -> None:
    tracker = JobTracker(db, EventHub())
    foreign = new_job(workflow=None, username=None, params={"seed": 3})
    assert not tracker.follows(foreign.prompt_id)
    assert tracker.adopt(foreign) is True and tracker.follows(foreign.prompt_id)
    assert tracker.adopt(new_job(prompt_id=foreign.prompt_id)) is False
    tracker.on_message("execution_start", {"prompt_id": foreign.prompt_id})
    wait_until(lambda: getattr(db.read(lambda c: records.get(c, foreign.id)), "status", None) == "running")
    assert db.read(lambda c: records.get(c, foreign.id)).params == {"seed": 3}


def test_sessions_count_rename_and_take_their_jobs_with_them(db) -> None:
    from cozygen.core.jobs import groups as sessions

    mine = sessions.Session(id="s1", username="ann", name="one", created_at=1.0)
    theirs = sessions.Session(id="s2", username="bob", name="two", created_at=2.0)
    for made in (mine, theirs):
        db.submit_write(lambda c, s=made: sessions.create(c, s)).result()
    done = new_job(
        session_id="s1", status="completed", images=[{"filename": "a.png", "subfolder": "", "type": "output"}]
    )
    running = new_job(session_id="s2", status="running")
    insert_all(db, done, running, new_job())
    assert [(s.id, s.job_count) for s in db.read(lambda c: sessions.list_sessions(c, "ann"))] == [("s1", 1)]
    assert db.submit_write(lambda c: sessions.rename(c, "s1", "uno")).result()
    assert db.read(lambda c: sessions.get(c, "s1")).name == "uno"
    assert db.submit_write(lambda c: sessions.delete(c, "s2")).result() is None  # a job still runs
    removed, images = db.submit_write(lambda c: sessions.delete(c, "s1")).result()
    assert removed == 1 and [i["filename"] for i in images] == ["a.png"]
    assert db.read(lambda c: sessions.get(c, "s1")) is None and db.read(lambda c: records.get(c, done.id)) is None
    assert db.read(lambda c: records.get(c, running.id)) is not None
    with pytest.raises(BadRequest):
        sessions.check_name(" ")


def test_previews_of_both_kinds_go_to_the_running_job_and_end_with_it(db) -> None:
    from PIL import Image

    hub = EventHub()
    tracker = JobTracker(db, hub, progress_interval=0)
    job, other = new_job(), new_job()
    for made in (job, other):
        db.submit_write(lambda c, made=made: records.insert(c, made)).result()
        tracker.add(made)
    picture = Image.new("RGB", (32, 32), "red")
    tracker.on_message(model.UNENCODED_PREVIEW, ("JPEG", picture, 256))  # before anything runs: nobody's
    assert tracker.preview(job.id) is None
    tracker.on_message("execution_start", {"prompt_id": job.prompt_id})
    tracker.on_message(model.UNENCODED_PREVIEW, ("JPEG", picture, 256))  # plain previews name no prompt
    tracker.on_message(model.PREVIEW_WITH_METADATA, (("PNG", picture, None), {"prompt_id": other.prompt_id}))
    tracker.on_message(model.PREVIEW_WITH_METADATA, ("garbage",))
    first, second = tracker.preview(job.id), tracker.preview(other.id)
    assert (first.number, first.format, first.max_size) == (1, "JPEG", 256)
    assert (second.number, second.format, second.max_size) == (1, "PNG", None)
    previews = [e.data for e in hub.since(f"{hub.boot}-0")[0] if e.kind == "job.preview"]
    assert [(p["id"], p["preview"]) for p in previews] == [(job.id, 1), (other.id, 1)]
    assert previews[0]["url"] == f"/cozygen/api/jobs/{job.id}/preview?n=1" and previews[0]["username"] == "ann"

    tracker.on_message("execution_success", {"prompt_id": job.prompt_id})
    assert tracker.preview(job.id) is None and tracker.preview(other.id) is not None
    tracker.on_message(model.UNENCODED_PREVIEW, ("JPEG", picture, 256))  # the finished job gets no more
    assert tracker.preview(job.id) is None


def test_every_prompt_of_a_job_is_owned_and_keeps_its_graph(db) -> None:
    prompts = [str(uuid.uuid4()) for _ in range(3)]
    graphs = [{"1": {"class_type": "X", "inputs": {"seed": 10 + n}}} for n in range(3)]
    several = new_job(
        prompt_id=prompts[0],
        prompt_ids=prompts,
        graph=graphs[0],
        more_graphs=dict(zip(prompts[1:], graphs[1:], strict=False)),
        status="completed",
    )
    single = new_job(username="bob", graph=graphs[0])
    insert_all(db, several, single)
    stored = db.read(lambda c: records.get(c, several.id, with_graph=True))
    assert stored.graph == graphs[0] and stored.more_graphs == dict(zip(prompts[1:], graphs[1:], strict=False))
    assert db.read(lambda c: records.get(c, several.id)).more_graphs == {}  # only asked for with the graph
    assert all(db.read(lambda c, p=p: records.owns_prompt(c, "ann", p)) for p in prompts)
    assert not db.read(lambda c: records.owns_prompt(c, "bob", prompts[1]))
    assert db.read(lambda c: records.owns_prompt(c, "bob", single.prompt_id))
    assert not db.read(lambda c: records.owns_prompt(c, "ann", None))

    lost = db.read(lambda c: records.get(c, single.id, with_graph=True))
    moved = str(uuid.uuid4())
    assert db.submit_write(lambda c: records.claim_requeue(c, lost, [moved], 5.0)).result() is not None
    assert db.read(lambda c: records.owns_prompt(c, "bob", moved))  # a re-queued prompt belongs to the job too

    assert db.submit_write(lambda c: records.delete(c, several.id)).result()
    assert not any(db.read(lambda c, p=p: records.owns_prompt(c, "ann", p)) for p in prompts)
    left = db.read(lambda c: c.execute("SELECT COUNT(*) FROM job_prompts WHERE job_id = ?", (several.id,)).fetchone())
    assert left[0] == 0


def test_a_lost_job_of_several_prompts_is_requeued_whole_with_every_graph(db) -> None:
    prompts = [str(uuid.uuid4()) for _ in range(3)]
    graphs = [{"1": {"class_type": "X", "inputs": {"seed": 20 + n}}} for n in range(3)]
    lost = new_job(
        prompt_id=prompts[0],
        prompt_ids=prompts,
        graph=graphs[0],
        more_graphs=dict(zip(prompts[1:], graphs[1:], strict=True)),
        status="running",
    )
    insert_all(db, lost)
    (found,) = [j for j in db.read(records.lost_candidates) if j.id == lost.id]
    assert found.more_graphs == dict(zip(prompts[1:], graphs[1:], strict=True))
    fresh = [str(uuid.uuid4()) for _ in range(3)]
    claimed = db.submit_write(lambda c: records.claim_requeue(c, found, fresh, 9.0)).result()
    assert claimed.prompt_id == fresh[0] and claimed.prompt_ids == fresh and claimed.status == "pending"
    assert claimed.more_graphs == dict(zip(fresh[1:], graphs[1:], strict=True))
    stored = db.read(lambda c: records.get(c, lost.id, with_graph=True))
    assert stored.prompt_ids == fresh and stored.graph == graphs[0] and stored.requeued
    assert stored.more_graphs == dict(zip(fresh[1:], graphs[1:], strict=True))
    assert all(db.read(lambda c, p=p: records.owns_prompt(c, "ann", p)) for p in fresh)
    assert lost.id not in [j.id for j in db.read(records.lost_candidates)]  # once only


def test_a_prompt_posted_to_comfyui_belongs_to_who_posted_it_whenever_comfyui_answers(db) -> None:
    tracker = JobTracker(db, EventHub())
    early, live, ended = (new_job(username=None, workflow=None) for _ in range(3))

    tracker.claim(early.prompt_id, "ann")  # ComfyUI answered before the prompt started
    assert tracker.adopt(early)
    assert tracker.live(early.id).username == "ann"

    assert tracker.adopt(live)
    tracker.claim(live.prompt_id, "bob")  # it started first
    assert tracker.live(live.id).username == "bob"
    tracker.claim(live.prompt_id, "eve")  # an owner is never replaced
    assert tracker.live(live.id).username == "bob"

    assert tracker.adopt(ended)
    tracker.on_message("execution_start", {"prompt_id": ended.prompt_id})
    tracker.on_message("execution_success", {"prompt_id": ended.prompt_id})
    wait_until(lambda: tracker.live(ended.id) is None)
    tracker.claim(ended.prompt_id, "cy")  # it was over before ComfyUI's answer went out
    assert tracker.owner_of(ended.prompt_id) == "cy"
    wait_until(lambda: db.read(lambda c: records.get(c, ended.id)).username == "cy")
    for job, who in ((early, "ann"), (live, "bob"), (ended, "cy")):
        wait_until(lambda job=job, who=who: db.read(lambda c: records.owns_prompt(c, who, job.prompt_id)))
