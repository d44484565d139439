"""Series (core/jobs/repeat.py) over the job service, a fake ComfyUI (FakeHost) and a real SQLite file: N times,
until stopped, the ends (failure, cancel, cap, owner gone), bad input, other users, a restart and the follower."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from unit.fake_host import FakeHost

from cozygen.core.comfyui.claims import Claims
from cozygen.core.errors import BadRequest, NotFound
from cozygen.core.events import EventHub
from cozygen.core.graph.fill import Filled
from cozygen.core.graph.parameter import Parameter
from cozygen.core.host import Validation
from cozygen.core.jobs import records, repeat_records
from cozygen.core.jobs.model import COMPLETED
from cozygen.core.jobs.ratelimit import RateLimiter
from cozygen.core.jobs.repeat import SERIES_EVENT, RepeatService
from cozygen.core.jobs.service import Caller, JobService
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

FORM = "form.json"
SCHEMA = [Parameter(name="seed", label="Seed", type="seed", targets=[("3", "seed")])]
ANN = Caller(username="ann", rate_key="user:ann")
BOB = Caller(username="bob", rate_key="user:bob")
ADMIN = Caller(username="ada", sees_all=True, rate_key="user:ada")


async def fill(name: str, values: Any, *_: Any) -> tuple[list[Parameter], Filled]:
    """A workflow of one seed, drawn anew for each job unless the values pin it (as core/graph/fill does)."""
    if name != FORM:
        raise NotFound(f"no workflow {name}", code="WORKFLOW_NOT_FOUND")
    seed = values.get("seed", random.randint(0, 2**40))
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": seed}}, "9": {"class_type": "SaveImage", "inputs": {}}}
    return SCHEMA, Filled(graph=copy.deepcopy(graph), params={"seed": seed})


@dataclass
class World:
    host: FakeHost
    db: Database
    jobs: JobService
    series: RepeatService
    hub: EventHub
    loop: asyncio.AbstractEventLoop
    allowed: set[str]

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def new_service(self) -> RepeatService:
        return RepeatService(
            self.db, self.jobs, self.hub, caller_for=lambda name: Caller(username=name, rate_key=f"user:{name}"),
            may_submit=lambda _conn, name: name in self.allowed, cap=5,
        )  # fmt: skip

    def finish_next(self, event: str = "execution_success", **data: Any) -> str:
        """Run the waiting prompt to its end, and let the series hear of it: the job's id."""
        job_id = self.host.pending[0].extra_data["cozygen_job_id"]
        prompt_id = self.host.start()
        self.host.finish(prompt_id, event, **data)
        self.run(self.db.settle())
        self.run(self.series.job_ended(job_id))
        return job_id

    def stored(self, series_id: str) -> repeat_records.Series:
        found = self.db.read(lambda conn: repeat_records.get(conn, series_id))
        assert found is not None
        return found

    def seeds(self) -> list[int]:
        return [q.graph["3"]["inputs"]["seed"] for q in self.host.history.values()]


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    host = FakeHost(tmp_path / "comfyui")
    db = Database(tmp_path / "jobs.sqlite3")
    db.open(MIGRATIONS)
    hub = EventHub()
    tracker = JobTracker(db, hub, drop_prompts=lambda ids: [host.remove_pending(p) for p in ids])
    host.tap_messages(lambda event, data, _sid: tracker.on_message(event, data))
    jobs = JobService(
        db, tracker, host, claims=Claims(), limits=RateLimiter(0), fill=fill, client_id_for=lambda j: f"client-{j}"
    )
    world = World(host, db, jobs, None, hub, loop, {"ann", "bob", "ada"})  # type: ignore[arg-type]
    world.series = world.new_service()
    yield world
    loop.close()
    db.close()


def test_n_times_queues_one_job_at_a_time_each_with_a_new_seed_and_ends_done(world) -> None:
    series, first = world.run(world.series.start_series(ANN, FORM, {}, times=3))
    assert series.to_dict()["times"] == 3 and series.status == "running" and first.id == series.current_job
    ended = []
    for _ in range(3):
        assert len(world.host.pending) == 1  # one at a time: the queue stays open to others
        ended.append(world.finish_next())
    assert world.host.pending == []
    stored = world.stored(series.id)
    assert (stored.status, stored.completed, stored.submitted, stored.reason) == ("done", 3, 3, None)
    assert len(set(world.seeds())) == 3 and len(set(ended)) == 3
    owned = world.db.read(lambda conn: [j.username for j in records.list_jobs(conn)])
    assert owned == ["ann"] * 3


def test_a_pinned_seed_stays_the_same(world) -> None:
    world.run(world.series.start_series(ANN, FORM, {"seed": 42}, times=2))
    world.finish_next()
    world.finish_next()
    assert world.seeds() == [42, 42]


def test_until_stopped_goes_on_until_stopped_and_the_last_job_is_counted(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times="until_stopped"))
    world.finish_next()
    world.finish_next()
    assert len(world.host.pending) == 1
    stopped = world.run(world.series.stop(ANN, series.id))
    assert stopped.status == "stopped" and stopped.reason == "stopped by ann"
    world.finish_next()  # the job it had queued runs to its end
    assert world.host.pending == []
    stored = world.stored(series.id)
    assert (stored.status, stored.completed, stored.current_job) == ("stopped", 3, None)
    assert world.run(world.series.stop(ANN, series.id)).status == "stopped"  # again: as it is


def test_stop_may_cancel_the_job_it_queued(world) -> None:
    series, job = world.run(world.series.start_series(ANN, FORM, {}, times=4))
    world.run(world.series.stop(ANN, series.id, cancel_job=True))
    world.run(world.db.settle())
    assert world.host.pending == [] and world.db.read(lambda conn: records.get(conn, job.id)).status == "cancelled"


def test_until_stopped_ends_at_the_cap(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times="until_stopped"))
    for _ in range(5):
        world.finish_next()
    stored = world.stored(series.id)
    assert stored.status == "done" and stored.completed == 5 and "limit of 5" in (stored.reason or "")
    assert world.host.pending == []


def test_a_failed_job_ends_the_series_with_its_reason(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=5))
    world.finish_next()
    failed = world.finish_next("execution_error", exception_message="out of memory")
    stored = world.stored(series.id)
    assert stored.status == "failed" and failed in (stored.reason or "") and "out of memory" in (stored.reason or "")
    assert world.host.pending == [] and stored.completed == 1


def test_a_cancelled_job_stops_the_series(world) -> None:
    series, job = world.run(world.series.start_series(ANN, FORM, {}, times=5))
    world.run(world.jobs.cancel(ANN, job.id))
    world.run(world.series.job_ended(job.id))
    stored = world.stored(series.id)
    assert stored.status == "stopped" and "cancelled" in (stored.reason or "") and world.host.pending == []


def test_an_owner_who_may_no_longer_run_jobs_stops_the_series(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=5))
    world.allowed.discard("ann")
    world.finish_next()
    stored = world.stored(series.id)
    assert stored.status == "stopped" and "ann may no longer" in (stored.reason or "") and world.host.pending == []


def test_deleting_the_owner_stops_the_series(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=5))

    def make_and_delete(conn: Any) -> None:
        conn.execute("INSERT INTO users (username, role, password_hash) VALUES ('ann', 'user', 'x')")
        conn.execute("DELETE FROM users WHERE username = 'ann'")

    world.run(world.db.execute_write_fn(make_and_delete))
    assert world.stored(series.id).status == "stopped"
    world.finish_next()
    assert world.host.pending == []


@pytest.mark.parametrize("times", [0, 1001, -1, "forever", 2.5, True, None, "3", [3]])
def test_bad_times_are_a_400_that_says_what_to_send(world, times) -> None:
    with pytest.raises(BadRequest) as refused:
        world.run(world.series.start_series(ANN, FORM, {}, times=times))
    assert refused.value.code == "INVALID_TIMES" and "until_stopped" in str(refused.value)
    assert world.host.pending == []


def test_a_refused_first_job_leaves_no_series(world) -> None:
    world.host.refuse = Validation(ok=False, error={"message": "no such node"}, outputs=[], node_errors={})
    with pytest.raises(BadRequest):
        world.run(world.series.start_series(ANN, FORM, {}, times=3))
    for bad in (dict(workflow="nope.json"), dict(workflow=FORM, num_images=0), dict(workflow=FORM, session_id=5)):
        with pytest.raises((BadRequest, NotFound)):
            world.run(world.series.start_series(ANN, bad.pop("workflow"), {}, times=3, **bad))
    assert world.run(world.series.listed(ANN)) == []


def test_nobody_sees_or_stops_another_users_series_but_an_admin(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=3))
    with pytest.raises(NotFound):
        world.run(world.series.visible(BOB, series.id))
    with pytest.raises(NotFound):
        world.run(world.series.stop(BOB, series.id))
    assert world.run(world.series.listed(BOB)) == []
    assert [s.id for s in world.run(world.series.listed(ADMIN))] == [series.id]
    assert world.stored(series.id).status == "running"
    assert world.run(world.series.stop(ADMIN, series.id)).reason == "stopped by ada"


def test_a_restart_resumes_a_running_series(world) -> None:
    series, job = world.run(world.series.start_series(ANN, FORM, {}, times=3))
    world.finish_next()
    # the server stops: the job it ran is marked interrupted at the next start, and ComfyUI's queue is empty
    world.host.pending.clear()
    world.run(world.db.execute_write_fn(lambda conn: records.interrupt_unfinished(conn, 0.0)))
    world.jobs.tracker = JobTracker(world.db, world.hub)
    world.host.listeners.clear()
    world.host.tap_messages(lambda event, data, _sid: world.jobs.tracker.on_message(event, data))
    world.series = world.new_service()
    world.run(world.series.sweep(resumed=True))
    assert len(world.host.pending) == 1  # queued again, not counted
    world.finish_next()
    world.finish_next()
    stored = world.stored(series.id)
    assert (stored.status, stored.completed, stored.submitted) == ("done", 3, 4)


def test_a_job_refused_for_a_moment_is_queued_by_the_sweep(world) -> None:
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=2))
    world.jobs.limits = RateLimiter(1)
    world.jobs.limits.take("user:ann")
    world.finish_next()
    assert world.host.pending == [] and world.stored(series.id).status == "running"
    world.jobs.limits = RateLimiter(0)
    world.run(world.series.sweep())
    assert len(world.host.pending) == 1
    world.finish_next()
    assert world.stored(series.id).status == "done"


def test_the_follower_hears_job_ends_and_every_change_is_published(world) -> None:
    async def scenario() -> list[str]:
        watch = world.hub.subscribe()
        world.series.start()
        assert world.hub.subscriber_count == 1  # the follower is no page (Web Push counts the pages open)
        series, _ = await world.series.start_series(ANN, FORM, {}, times=2)
        for _ in range(2):
            while not world.host.pending:
                await asyncio.sleep(0.01)
            world.host.finish(world.host.start())
        while world.stored(series.id).status == "running":
            await asyncio.sleep(0.01)
        await world.series.stop_following()
        world.hub.unsubscribe(watch)
        seen = []
        while not watch.queue.empty():
            event = watch.queue.get_nowait()
            if event.kind == SERIES_EVENT:
                assert event.data["id"] == series.id and event.data["username"] == "ann"
                seen.append(event.data["status"])
        return seen

    seen = world.run(asyncio.wait_for(scenario(), 10))
    assert seen[0] == "running" and seen[-1] == "done"
    assert [j.status for j in world.db.read(lambda conn: records.list_jobs(conn))] == [COMPLETED, COMPLETED]


def test_every_job_of_a_series_is_pinned_to_its_requests_backend(world) -> None:
    asked: list[Any] = []
    submit = world.jobs.submit

    async def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("backend"))
        return await submit(*args, **kwargs)

    world.jobs.submit = spy  # type: ignore[method-assign]
    series, _ = world.run(world.series.start_series(ANN, FORM, {}, times=2, backend="attic"))
    world.finish_next()
    world.finish_next()
    assert asked == ["attic", "attic"]
    stored = world.stored(series.id)
    assert stored.backend == "attic" and stored.to_dict()["backend"] == "attic" and stored.status == "done"
    with pytest.raises(BadRequest) as refused:
        world.run(world.series.start_series(ANN, FORM, {}, times=2, backend={"id": "attic"}))
    assert refused.value.code == "INVALID_BACKEND"
    assert len(world.db.read(lambda conn: repeat_records.listed(conn, "ann", ended=0))) == 0
