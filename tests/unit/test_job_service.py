"""The job service against a fake ComfyUI (FakeHost) and a real SQLite file: submit, retries, several images,
cancel, requeue of lost jobs, and the races only a live server reached before."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from unit.fake_host import FakeHost

from cozygen.core.comfyui.claims import Claims
from cozygen.core.errors import BadRequest, Conflict, HostNotReady, NotFound, RateLimited
from cozygen.core.events import EventHub
from cozygen.core.graph.fill import Filled
from cozygen.core.graph.parameter import Parameter
from cozygen.core.host import Validation
from cozygen.core.jobs import records
from cozygen.core.jobs.model import CANCELLED, COMPLETED, FAILED, INTERRUPTED, PENDING
from cozygen.core.jobs.ratelimit import RateLimiter
from cozygen.core.jobs.service import Caller, JobService
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

FORM = "form.json"
GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 4}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}},
}
SCHEMA = [Parameter(name="seed", label="Seed", type="seed", targets=[("3", "seed")])]
ANN = Caller(username="ann", rate_key="user:ann")
BOB = Caller(username="bob", rate_key="user:bob")


async def fill(name: str, values: Any, *_: Any) -> tuple[list[Parameter], Filled]:
    """A stored workflow of one seed (the real one reads the workflow store)."""
    if name != FORM:
        raise NotFound(f"no workflow {name}", code="WORKFLOW_NOT_FOUND")
    graph = copy.deepcopy(GRAPH)
    seed = values.get("seed", 7)
    graph["3"]["inputs"]["seed"] = seed
    return SCHEMA, Filled(graph=graph, params={"seed": seed, **values})


@dataclass
class World:
    host: FakeHost
    db: Database
    tracker: JobTracker
    service: JobService
    hub: EventHub
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def record(self, job_id: str) -> Any:
        return self.db.read(lambda conn: records.get(conn, job_id))

    def settle(self) -> None:
        self.run(self.db.settle())


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    host = FakeHost(tmp_path / "comfyui")
    db = Database(tmp_path / "jobs.sqlite3")
    db.open(MIGRATIONS)
    hub = EventHub()
    tracker = JobTracker(db, hub, drop_prompts=lambda ids: [host.remove_pending(p) for p in ids])
    host.tap_messages(lambda event, data, _sid: tracker.on_message(event, data))
    service = JobService(
        db, tracker, host, claims=Claims(), limits=RateLimiter(0), fill=fill, client_id_for=lambda j: f"client-{j}"
    )
    yield World(host, db, tracker, service, hub, loop)
    loop.close()
    db.close()


def test_a_job_is_recorded_then_queued_and_followed_to_its_end(world) -> None:
    job, created = world.run(world.service.submit(ANN, FORM, {"seed": 5}))
    assert created and job.status == PENDING and job.username == "ann"
    assert world.record(job.id).prompt_id == job.prompt_id  # recorded before it was queued
    assert [q.prompt_id for q in world.host.pending] == [job.prompt_id]
    queued = world.host.pending[0]
    assert queued.client_id == f"client-{job.id}" and queued.extra_data == {"cozygen_job_id": job.id}
    assert queued.outputs == ["9"] and queued.graph["3"]["inputs"]["seed"] == 5
    assert world.service.view(job)["queue_position"] == 1
    world.host.start()
    world.host.finish(job.prompt_id)
    world.settle()
    assert world.record(job.id).status == COMPLETED


def test_the_same_job_id_posted_again_answers_the_same_job_and_queues_once(world) -> None:
    chosen = str(uuid.uuid4())
    first, created = world.run(world.service.submit(ANN, FORM, {"seed": 5}, chosen=chosen))
    again, created_again = world.run(world.service.submit(ANN, FORM, {"seed": 5}, chosen=chosen))
    assert (created, created_again) == (True, False)
    assert again.id == first.id == chosen and again.prompt_id == first.prompt_id
    assert len(world.host.pending) == 1 and len(world.host.validated) == 1


def test_a_job_id_reused_for_another_body_or_by_another_user_is_a_conflict(world) -> None:
    chosen = str(uuid.uuid4())
    world.run(world.service.submit(ANN, FORM, {"seed": 5}, chosen=chosen))
    for caller, values in ((ANN, {"seed": 6}), (BOB, {"seed": 5})):
        with pytest.raises(Conflict) as refused:
            world.run(world.service.submit(caller, FORM, values, chosen=chosen))
        assert refused.value.code == "JOB_ID_TAKEN"
    assert len(world.host.pending) == 1


def test_two_submits_of_one_job_id_at_once_make_one_job(world) -> None:
    chosen = str(uuid.uuid4())

    async def both() -> list[Any]:
        return await asyncio.gather(*(world.service.submit(ANN, FORM, {"seed": 5}, chosen=chosen) for _ in range(2)))

    answers = world.run(both())
    assert sorted(created for _, created in answers) == [False, True]
    assert {job.id for job, _ in answers} == {chosen} and len({job.prompt_id for job, _ in answers}) == 1
    assert len(world.host.pending) == 1
    world.settle()
    assert len(world.db.read(lambda conn: records.list_jobs(conn))) == 1


def test_bad_submissions_queue_nothing(world) -> None:
    cases = [
        (dict(workflow=None, values={}), "MISSING_WORKFLOW"),
        (dict(workflow=FORM, values={}, chosen="not-a-uuid"), "INVALID_JOB_ID"),
        (dict(workflow=FORM, values={}, num_images=0), "INVALID_NUM_IMAGES"),
        (dict(workflow=FORM, values={}, num_images=True), "INVALID_NUM_IMAGES"),
        (dict(workflow=FORM, values={}, session_id="nobody's"), "UNKNOWN_SESSION"),
    ]
    for kwargs, code in cases:
        workflow, values = kwargs.pop("workflow"), kwargs.pop("values")
        with pytest.raises(BadRequest) as refused:
            world.run(world.service.submit(ANN, workflow, values, **kwargs))
        assert refused.value.code == code
    world.host.refuse = Validation(ok=False, error={"message": "no such node"}, outputs=[], node_errors={})
    with pytest.raises(BadRequest) as refused:
        world.run(world.service.submit(ANN, FORM, {}))
    assert refused.value.code == "INVALID_PROMPT"
    assert world.host.pending == [] and world.db.read(lambda conn: records.list_jobs(conn)) == []


def test_a_job_whose_validation_fails_or_is_cancelled_leaves_no_record(world) -> None:
    """The record is written while ComfyUI validates; whatever ends the submission before the queue takes it
    back (the refusal's 400 above, an error, a cancelled request)."""

    def broken(_prompt_id: str, _graph: Any) -> Validation:
        raise RuntimeError("validation broke")

    world.host.refuse = broken
    with pytest.raises(RuntimeError):
        world.run(world.service.submit(ANN, FORM, {}))

    async def cancelled() -> None:
        started = asyncio.Event()

        def stall(_prompt_id: str, _graph: Any) -> None:
            started.set()

        world.host.refuse = stall
        real = world.host.validate_prompt

        async def slow(prompt_id: str, graph: dict[str, Any]) -> Validation:
            await real(prompt_id, graph)
            await asyncio.sleep(30)
            raise AssertionError("not cancelled")

        world.host.validate_prompt = slow  # type: ignore[method-assign]
        task = asyncio.ensure_future(world.service.submit(ANN, FORM, {}))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    world.run(cancelled())
    world.settle()
    assert world.host.pending == [] and world.db.read(lambda conn: records.list_jobs(conn)) == []
    assert world.service._recording == {}


def test_taking_back_a_refused_record_spares_another_submission_of_the_same_id(world) -> None:
    job, _ = world.run(world.service.submit(ANN, FORM, {"seed": 5}))
    other = dataclasses.replace(job, prompt_id=str(uuid.uuid4()))  # the same id, another submission's prompt
    assert not world.db.submit_write(lambda conn: records.forget_unqueued(conn, other)).result()
    assert world.record(job.id) is not None
    assert world.db.submit_write(lambda conn: records.forget_unqueued(conn, job)).result()  # pending, its own
    assert world.record(job.id) is None


def test_a_queue_that_refuses_fails_the_recorded_job(world) -> None:
    world.host.enqueue_error = RuntimeError("queue full")
    with pytest.raises(HostNotReady):
        world.run(world.service.submit(ANN, FORM, {}))
    world.settle()
    (job,) = world.db.read(lambda conn: records.list_jobs(conn))
    assert job.status == FAILED and "queue full" in job.error


def test_the_rate_limit_answers_429_before_anything_is_filled(world) -> None:
    world.service.limits = RateLimiter(1)
    world.run(world.service.submit(ANN, FORM, {}))
    with pytest.raises(RateLimited):
        world.run(world.service.submit(ANN, FORM, {}))
    world.run(world.service.submit(BOB, FORM, {}))  # a bucket per caller
    assert len(world.host.pending) == 2


def test_several_images_queue_one_prompt_each_with_seed_plus_i(world) -> None:
    job, _ = world.run(world.service.submit(ANN, FORM, {"seed": 10}, num_images=3))
    assert job.all_prompts == [q.prompt_id for q in world.host.pending]
    assert [q.graph["3"]["inputs"]["seed"] for q in world.host.pending] == [10, 11, 12]
    for prompt_id in job.all_prompts:
        world.host.start(prompt_id)
        world.host.finish(prompt_id)
    world.settle()
    assert world.record(job.id).status == COMPLETED
    stored = world.run(world.service.with_graph(ANN, job.id))
    assert [g["3"]["inputs"]["seed"] for g in [stored.graph, *stored.more_graphs.values()]] == [10, 11, 12]


def test_one_failing_image_takes_the_rest_off_the_queue(world) -> None:
    job, _ = world.run(world.service.submit(ANN, FORM, {}, num_images=3))
    world.host.start(job.all_prompts[0])
    world.host.finish(job.all_prompts[0], "execution_error", exception_message="boom")
    assert world.host.pending == []
    world.settle()
    assert world.record(job.id).status == FAILED


def test_cancel_a_waiting_job_and_a_running_one(world) -> None:
    running, _ = world.run(world.service.submit(ANN, FORM, {}))
    waiting, _ = world.run(world.service.submit(ANN, FORM, {}))
    world.host.start(running.prompt_id)
    job, done = world.run(world.service.cancel(ANN, waiting.id))
    assert done and job.status == CANCELLED and world.record(waiting.id).status == CANCELLED
    job, done = world.run(world.service.cancel(ANN, running.id))
    assert not done and job.cancel_requested and world.host.interrupts == [running.prompt_id]
    world.host.finish(running.prompt_id, "execution_interrupted")
    world.settle()
    assert world.record(running.id).status == CANCELLED
    with pytest.raises(Conflict) as again:
        world.run(world.service.cancel(ANN, running.id))
    assert again.value.code == "JOB_FINISHED"
    with pytest.raises(NotFound):
        world.run(world.service.cancel(BOB, waiting.id))  # not bob's to see


def test_a_cancel_that_comes_as_comfyui_hands_the_prompt_out(world) -> None:
    """Off the queue but not yet started: the interrupt lands on a running prompt (202, then cancelled);
    and when ComfyUI dropped it altogether, the job ends cancelled at once."""
    handed, _ = world.run(world.service.submit(ANN, FORM, {}))
    world.host.running.append(world.host.pending.pop(0))  # no execution_start yet
    job, done = world.run(world.service.cancel(ANN, handed.id))
    assert not done and job.status == PENDING and job.cancel_requested
    world.host.emit("execution_start", {"prompt_id": handed.prompt_id})
    assert world.tracker.cancel_requested(handed.prompt_id)  # the state interrupts it again on this
    world.host.finish(handed.prompt_id, "execution_interrupted")
    world.settle()
    assert world.record(handed.id).status == CANCELLED

    dropped, _ = world.run(world.service.submit(ANN, FORM, {}))
    world.host.pending.clear()  # neither waiting nor running
    job, done = world.run(world.service.cancel(ANN, dropped.id))
    assert done and job.status == CANCELLED and world.record(dropped.id).status == CANCELLED


def test_cancelling_a_job_of_several_stops_every_prompt(world) -> None:
    job, _ = world.run(world.service.submit(ANN, FORM, {}, num_images=3))
    first = world.host.start()
    current, done = world.run(world.service.cancel(ANN, job.id))
    assert not done and world.host.pending == [] and world.host.interrupts[-1] == first
    world.host.finish(first, "execution_interrupted")
    world.settle()
    assert world.record(job.id).status == CANCELLED


def test_a_reset_requeues_a_lost_job_once_and_leaves_real_ones(world) -> None:
    lost, _ = world.run(world.service.submit(ANN, FORM, {"seed": 3}))
    kept, _ = world.run(world.service.submit(ANN, FORM, {"seed": 4}))
    world.settle()
    # a restart: the tracker forgets, the records say interrupted, ComfyUI's queue is empty
    world.db.submit_write(lambda conn: records.interrupt_unfinished(conn, 0.0)).result()
    world.tracker = JobTracker(world.db, world.hub)
    world.service.tracker = world.tracker
    world.host.pending = [q for q in world.host.pending if q.prompt_id == kept.prompt_id]
    world.host.running, world.host.pending = world.host.pending, []  # the kept one runs
    done = world.run(world.service.reset())
    assert [j["id"] for j in done["requeued"]] == [lost.id] and done["failed"] == []
    (queued,) = world.host.pending
    assert queued.prompt_id != lost.prompt_id and queued.graph["3"]["inputs"]["seed"] == 3
    assert world.run(world.service.reset()) == {"requeued": [], "failed": []}  # once
    world.settle()
    assert world.record(lost.id).requeued and world.record(lost.id).status == PENDING
    assert world.record(kept.id).status == INTERRUPTED


def test_reproduce_queues_the_same_graph_as_a_new_job(world) -> None:
    original, _ = world.run(world.service.submit(ANN, FORM, {"seed": 9}))
    world.host.start()
    world.host.finish(original.prompt_id)
    world.settle()
    again = world.run(world.service.reproduce(ANN, original.id))
    assert again.id != original.id and again.reproduced_from == original.id
    assert world.host.pending[-1].graph == world.host.history[original.prompt_id].graph


def test_delete_and_lookups_respect_who_asks(world) -> None:
    job, _ = world.run(world.service.submit(ANN, FORM, {}))
    with pytest.raises(Conflict) as busy:
        world.run(world.service.delete(ANN, job.id))
    assert busy.value.code == "JOB_NOT_FINISHED"
    assert world.run(world.service.visible(Caller(username="root", sees_all=True), job.id)).id == job.id
    with pytest.raises(NotFound):
        world.run(world.service.visible(BOB, job.id))
    with pytest.raises(NotFound):
        world.run(world.service.visible(ANN, "nope"))
    world.host.start()
    world.host.finish(job.prompt_id)
    world.settle()
    assert world.run(world.service.delete(ANN, job.id)) == job.id
    with pytest.raises(NotFound):
        world.run(world.service.visible(ANN, job.id))


def test_queue_numbers_count_comfyuis_queue_and_the_records(world) -> None:
    for _ in range(3):
        world.run(world.service.submit(ANN, FORM, {}))
    running = world.host.start()
    world.host.finish(running)
    world.host.start()
    numbers = world.run(world.service.queue_stats())
    assert (numbers["pending"], numbers["running"], numbers["recent"]["completed"]) == (1, 1, 1)
