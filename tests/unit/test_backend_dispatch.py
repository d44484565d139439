"""The dispatcher against a fake remote ComfyUI (the RemoteComfyUI protocol in memory), a fake local ComfyUI
(FakeHost), the real tracker and a real SQLite file: send with CozyGen's ids, messages into the tracker, outputs
fetched home with CozyGen's metadata, untrusted names refused, failover, reconcile from /history, re-attach at
start, cancel, and the job service's routed path."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import PROJECT
from unit.fake_host import FakeHost

from cozygen.core.backends.dispatch import Dispatcher, Refused
from cozygen.core.backends.homecoming import with_texts
from cozygen.core.backends.model import DOWN, LOCAL_ID, UP, Backend, Health
from cozygen.core.backends.remote import CONNECTED, RemoteError
from cozygen.core.comfyui.claims import Claims
from cozygen.core.errors import BadRequest, Conflict
from cozygen.core.events import EventHub
from cozygen.core.graph.fill import Filled
from cozygen.core.jobs import records
from cozygen.core.jobs.model import CANCELLED, COMPLETED, INTERRUPTED, PENDING, RUNNING, Job
from cozygen.core.jobs.ratelimit import RateLimiter
from cozygen.core.jobs.service import Caller, JobService
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.store.db import Database

BLUR = json.loads((PROJECT / "workflows" / "cozygen_plain_blur.json").read_text())
LOCAL = Backend(id=LOCAL_ID, name="local", url=None)
ATTIC = Backend(id="b-attic", name="attic", url="http://10.0.0.2:8188")
ANN = Caller(username="ann", rate_key="user:ann")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


@dataclass
class FakeRemote:
    """A remote ComfyUI: what was posted, its queue and history, and files it serves."""

    backend: Backend
    posted: list[tuple[str, Any]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    down: bool = False
    refuse: dict[str, Any] | None = None

    def _check(self) -> None:
        if self.down:
            raise RemoteError(f"backend {self.backend.name} is unreachable")

    async def get_json(self, path: str, *, params: Any = None, cap: int = 0) -> Any:
        self._check()
        if path == "/queue":
            return {"queue_running": [[0, p, {}, {}, []] for p in self.running],
                    "queue_pending": [[1, p, {}, {}, []] for p in self.pending]}  # fmt: skip
        if path.startswith("/history/"):
            prompt_id = path.rsplit("/", 1)[1]
            return {prompt_id: self.history[prompt_id]} if prompt_id in self.history else {}
        raise RemoteError("no such route", status=404)

    async def post_json(self, path: str, body: Any, *, cap: int = 0) -> tuple[int, Any]:
        self._check()
        self.posted.append((path, copy.deepcopy(body)))
        if path == "/prompt":
            if self.refuse is not None:
                return 400, self.refuse
            self.pending.append(body["prompt_id"])
            return 200, {"prompt_id": body["prompt_id"], "number": 1, "node_errors": {}}
        if path == "/queue":
            self.pending = [p for p in self.pending if p not in body.get("delete", [])]
        return 200, None

    async def download(self, params: dict[str, str], dest: Path, *, cap: int = 0) -> int:
        self._check()
        data = self.files.get((params["subfolder"], params["filename"]))
        if data is None:
            raise RemoteError("no such file", status=404)
        dest.write_bytes(data)
        return len(data)

    async def upload_image(self, source: Path, *, name: str, subfolder: str = "") -> dict[str, Any]:
        self.posted.append(("/upload/image", name))
        return {"name": name, "subfolder": "", "type": "input"}

    async def messages(self, client_id: str) -> AsyncIterator[tuple[str, Any]]:
        await asyncio.Event().wait()  # the tests hand messages to on_remote themselves
        yield CONNECTED, None

    async def close(self) -> None:
        return None


class FakeRegistry:
    def __init__(self, backends: list[Backend], local_queue: Callable[[], tuple[list[str], list[str]]]) -> None:
        self._backends = backends
        self.local_queue = local_queue  # as BackendService.health reads this ComfyUI's queue: live
        self.states = {b.id: UP for b in backends}
        self.remotes = {b.id: FakeRemote(b) for b in backends if not b.local}
        self.missing_of: dict[str, list[str]] = {}
        self.watchers: list[Callable[[Backend, Health], None]] = []
        self.failures: list[str] = []
        self.pins: dict[str, str] = {}

    @property
    def only_local(self) -> bool:
        return not any(b.enabled for b in self._backends if not b.local)

    def backends(self) -> list[Backend]:
        return list(self._backends)

    def get(self, id_or_name: str) -> Backend:
        for b in self._backends:
            if id_or_name in (b.id, b.name):
                return b
        raise Conflict("gone")

    def health(self, backend_id: str) -> Health:
        if backend_id == LOCAL.id:
            running, pending = self.local_queue()
            return Health(self.states[backend_id], 0.0, queue_running=len(running), queue_pending=len(pending))
        return Health(state=self.states[backend_id], checked_at=0.0)

    def client(self, backend_id: str) -> FakeRemote:
        return self.remotes[backend_id]

    def missing(self, backend_id: str, graph: dict[str, Any]) -> list[str]:
        return self.missing_of.get(backend_id, [])

    def set_active(self, backend_id: str, count: int) -> None:
        return None

    def watch(self, watcher: Callable[[Backend, Health], None]) -> None:
        self.watchers.append(watcher)

    def report_failure(self, backend_id: str, reason: str) -> None:
        self.failures.append(backend_id)

    async def node_list(self, backend_id: str) -> dict[str, Any] | None:
        return None

    def pin_of(self, workflow: str) -> str | None:
        return self.pins.get(workflow)

    def go_down(self, backend: Backend) -> None:
        self.states[backend.id] = DOWN
        self.remotes[backend.id].down = True
        for watcher in self.watchers:
            watcher(backend, Health(state=DOWN))


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    host: FakeHost
    db: Database
    tracker: JobTracker
    registry: FakeRegistry
    dispatcher: Dispatcher
    output: Path

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @property
    def attic(self) -> FakeRemote:
        return self.registry.remotes[ATTIC.id]

    def say(self, kind: str, data: Any, backend: Backend = ATTIC) -> None:
        self.run(self.dispatcher.on_remote(backend.id, kind, data))
        self.run(self.db.settle())

    def record(self, job_id: str) -> Job:
        found = self.db.read(lambda conn: records.get(conn, job_id))
        assert found is not None
        return found

    def idle(self) -> None:
        self.run(asyncio.sleep(0.01))
        self.run(self.db.settle())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    host = FakeHost(tmp_path / "comfyui")
    db = Database(tmp_path / "jobs.sqlite3")
    from cozygen.core.store.migrations import MIGRATIONS

    db.open(MIGRATIONS)
    tracker = JobTracker(db, EventHub())
    host.tap_messages(lambda event, data, _sid: tracker.on_message(event, data))
    registry = FakeRegistry([LOCAL, ATTIC], host.queue_snapshot)
    roots = {"output": Path(host.output_directory()), "input": Path(host.input_directory())}
    for root in roots.values():
        root.mkdir(parents=True, exist_ok=True)
    dispatcher = Dispatcher(
        registry, tracker, db, host, roots=roots, client_id="cozygen-server", client_id_for=lambda j: f"client-{j}"
    )
    yield World(loop, host, db, tracker, registry, dispatcher, roots["output"])
    loop.run_until_complete(dispatcher.stop())
    loop.close()
    db.close()


def new_job(world: World, *, prompts: int = 1, backend: Backend = ATTIC) -> Job:
    ids = [world.host.new_prompt_id() for _ in range(prompts)]
    job = Job(id=world.host.new_prompt_id(), prompt_id=ids[0], workflow="blur", username="ann",
              graph=copy.deepcopy(BLUR), prompt_ids=ids if prompts > 1 else [],
              more_graphs={p: copy.deepcopy(BLUR) for p in ids[1:]}, backend=backend.id,
              backends={p: backend.id for p in ids})  # fmt: skip
    world.run(world.db.execute_write_fn(lambda conn: records.insert(conn, job)))
    return job


def launch(world: World, job: Job, backends: list[Backend] | None = None) -> None:
    graphs = [job.graph or {}, *(job.more_graphs[p] for p in job.prompt_ids[1:])]
    chosen = backends or [ATTIC] * len(graphs)
    work = [(p, g, b, ["6"]) for p, g, b in zip(job.all_prompts, graphs, chosen, strict=True)]
    world.run(world.dispatcher.launch(job, work))


def test_a_job_goes_plain_with_cozygens_ids_and_comes_home_with_its_metadata(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    path, body = world.attic.posted[-1]
    assert path == "/prompt" and body["prompt_id"] == job.prompt_id and body["client_id"] == "cozygen-server"
    assert body["prompt"]["6"]["class_type"] == "SaveImage" and "1" not in body["prompt"]
    assert body["extra_data"] == {"cozygen_job_id": job.id}
    world.attic.files[("CozyGen", "plain_00001_.png")] = with_texts(png(), [("prompt", '{"plain": true}')])
    world.say("execution_start", {"prompt_id": job.prompt_id})
    assert world.tracker.live(job.id).status == RUNNING
    world.say("executing", {"node": "5", "prompt_id": job.prompt_id})
    world.say("progress", {"value": 3, "max": 10, "node": "5", "prompt_id": job.prompt_id})
    assert world.tracker.live(job.id).step == 3
    images = [{"filename": "plain_00001_.png", "subfolder": "CozyGen", "type": "output"}]
    world.say("executed", {"node": "6", "output": {"images": images}, "prompt_id": job.prompt_id})
    world.say("execution_success", {"prompt_id": job.prompt_id})
    done = world.record(job.id)
    assert done.status == COMPLETED
    assert done.images == [{"filename": "plain_00001_.png", "subfolder": "backends/attic/CozyGen", "type": "output"}]
    with Image.open(world.output / "backends/attic/CozyGen/plain_00001_.png") as saved:
        assert json.loads(saved.text["cozygen"])["prompt_id"] == job.prompt_id
        assert json.loads(saved.text["cozygen"])["params"]["size"] == 512
        assert json.loads(saved.text["prompt"])["6"]["class_type"] == "CozyGenOutput"  # the backend's own went
    assert not [p for p in world.output.iterdir() if p.name.startswith(".")]  # no partial file left


def test_a_second_output_of_the_same_name_never_replaces_the_first(world: World) -> None:
    for _ in range(2):
        job = new_job(world)
        launch(world, job)
        world.attic.files[("", "a.png")] = png()
        world.say("executed", {"node": "6", "output": {"images": [{"filename": "a.png"}]}, "prompt_id": job.prompt_id})
        world.say("execution_success", {"prompt_id": job.prompt_id})
    assert sorted(p.name for p in (world.output / "backends/attic").iterdir()) == ["a.png", "a_1.png"]


@pytest.mark.parametrize(
    "item",
    [
        {"filename": "../escape.png", "subfolder": ""},
        {"filename": "x.png", "subfolder": "../.."},
        {"filename": "x.png", "subfolder": "/etc"},
        {"filename": "x\x00.png", "subfolder": ""},
        {"filename": "x.png", "subfolder": "a\\..\\b"},
        {"filename": "page.html", "subfolder": ""},
        {"filename": ".hidden.png", "subfolder": ""},
        {"filename": "x.png", "subfolder": "", "type": "input"},
        {"filename": "liar.png", "subfolder": ""},  # served, but not a PNG
        "not even an object",
    ],
)
def test_untrusted_output_names_and_content_are_never_written(world: World, item: Any) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.files[("", "liar.png")] = b"<html>hello</html>"
    world.say("executed", {"node": "6", "output": {"images": [item]}, "prompt_id": job.prompt_id})
    world.say("execution_success", {"prompt_id": job.prompt_id})
    done = world.record(job.id)
    assert done.status == COMPLETED and done.images == []
    written = [p for p in world.output.parent.rglob("*") if p.is_file()]
    assert written == [], written


def test_messages_of_a_prompt_not_ours_there_are_ignored(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    world.say("execution_start", {"prompt_id": "someone-elses"})
    world.say("execution_success", {"prompt_id": job.prompt_id}, backend=LOCAL)  # another backend's socket
    assert world.tracker.live(job.id).status == PENDING


def test_a_backend_going_down_interrupts_what_ran_there_and_sends_the_waiting_elsewhere(world: World) -> None:
    ran, waited = new_job(world), new_job(world)
    launch(world, ran)
    launch(world, waited)
    world.say("execution_start", {"prompt_id": ran.prompt_id})

    async def down() -> None:  # the registry tells its watchers on the event loop
        world.registry.go_down(ATTIC)

    world.run(down())
    world.idle()
    lost = world.record(ran.id)
    assert lost.status == INTERRUPTED and lost.error == "backend attic stopped answering while it ran"
    assert [q.prompt_id for q in world.host.pending] == [waited.prompt_id]  # on the local ComfyUI now
    assert world.host.pending[0].graph["6"]["class_type"] == "CozyGenOutput"
    assert (
        world.db.read(lambda c: c.execute("SELECT backend FROM jobs WHERE id = ?", (waited.id,)).fetchone()[0])
        == LOCAL_ID
    )
    world.attic.down = False  # back: the copy it still holds is deleted before anything else
    world.say(CONNECTED, None)
    assert ("/queue", {"delete": [waited.prompt_id]}) in world.attic.posted
    assert world.attic.pending == [ran.prompt_id]


def test_a_backend_unreachable_at_send_time_sends_the_prompt_elsewhere(world: World) -> None:
    world.attic.down = True
    job = new_job(world)
    launch(world, job)
    assert world.registry.failures == [ATTIC.id]
    assert [q.prompt_id for q in world.host.pending] == [job.prompt_id]


def test_a_graph_a_backend_refuses_is_a_400_that_leaves_no_record_like_a_local_refusal(world: World) -> None:
    world.attic.refuse = {"error": {"message": "Prompt outputs failed validation"}, "node_errors": {"5": {}}}
    service = service_of(world, world.dispatcher)
    with pytest.raises(BadRequest) as refused:
        world.run(service.submit(ANN, "blur", {}, backend="attic"))
    assert refused.value.status == 400 and "failed validation" in refused.value.message
    world.idle()
    assert world.db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]) == 0
    assert world.tracker.live_ids() == [] and world.dispatcher.positions() == {}
    several = new_job(world, prompts=2)  # a job of several goes on without its refused prompt, as before
    launch(world, several, [LOCAL, ATTIC])
    world.host.start()
    world.host.finish(several.prompt_ids[0])
    world.run(world.db.settle())
    ended = world.record(several.id)
    assert ended.status == "failed" and "attic refused the graph" in (ended.error or "")


def test_a_reconnect_replays_what_the_history_holds(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    world.attic.pending.clear()
    world.attic.files[("", "done.png")] = png()
    world.attic.history[job.prompt_id] = {
        "outputs": {"6": {"images": [{"filename": "done.png", "subfolder": "", "type": "output"}]}},
        "status": {"status_str": "success", "completed": True, "messages": []},
    }
    world.say(CONNECTED, None)
    done = world.record(job.id)
    assert done.status == COMPLETED and done.images[0]["subfolder"] == "backends/attic"


def test_a_prompt_the_backend_lost_is_sent_again_if_it_never_started_else_interrupted(world: World) -> None:
    fresh, started = new_job(world), new_job(world)
    launch(world, fresh)
    launch(world, started)
    world.say("execution_start", {"prompt_id": started.prompt_id})
    world.attic.pending.clear()  # it restarted: its queue is gone, and its history never had them
    world.attic.posted.clear()
    world.say(CONNECTED, None)
    assert [body["prompt_id"] for path, body in world.attic.posted if path == "/prompt"] == [fresh.prompt_id]
    lost = world.record(started.id)
    assert lost.status == INTERRUPTED and "lost the job while it ran" in (lost.error or "")


def test_jobs_left_on_a_backend_are_reattached_at_start(world: World) -> None:
    job = new_job(world)
    world.run(
        world.db.execute_write_fn(lambda c: c.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job.id,)))
    )
    stale = world.run(world.db.execute_write_fn(lambda c: records.interrupt_unfinished(c, 0.0)))
    assert stale == 0  # a job on another backend is not given up at start
    assert world.run(world.dispatcher.start()) == 1
    world.attic.history[job.prompt_id] = {"outputs": {}, "status": {"status_str": "success", "completed": True}}
    world.say(CONNECTED, None)
    assert world.record(job.id).status == COMPLETED


def test_a_pinned_job_reattached_at_start_stays_pinned_when_its_backend_goes_down(world: World) -> None:
    service = service_of(world, world.dispatcher)
    world.registry.pins = {"blur": ATTIC.id}
    pinned, _ = world.run(service.submit(ANN, "blur", {}))
    loose, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    world.run(world.db.settle())
    assert world.record(pinned.id).pinned and world.record(loose.id).pinned  # both named a backend
    free = new_job(world)
    assert not world.record(free.id).pinned
    world.dispatcher._placements.clear()  # a restart: only the records are left
    assert world.run(world.dispatcher.start()) == 3

    async def down() -> None:
        world.registry.go_down(ATTIC)

    world.run(down())
    world.idle()
    assert world.dispatcher.placed(pinned.prompt_id) == ATTIC.id  # waits for its backend
    assert world.dispatcher.placed(free.prompt_id) is None  # not pinned: sent to this ComfyUI
    assert free.prompt_id in [q.prompt_id for q in world.host.pending]


def test_a_waiting_remote_job_is_cancelled_off_its_queue(world: World) -> None:
    job = new_job(world)
    launch(world, job)
    current, done = world.run(world.dispatcher.cancel(world.tracker.live(job.id)))
    assert done and current.status == CANCELLED
    assert world.attic.pending == []
    running = new_job(world)
    launch(world, running)
    world.say("execution_start", {"prompt_id": running.prompt_id})
    world.attic.pending.remove(running.prompt_id)
    world.attic.running.append(running.prompt_id)
    _current, done = world.run(world.dispatcher.cancel(world.tracker.live(running.id)))
    assert not done and ("/interrupt", {"prompt_id": running.prompt_id}) in world.attic.posted
    world.say("execution_interrupted", {"prompt_id": running.prompt_id})
    assert world.record(running.id).status == CANCELLED


def test_a_job_of_several_images_splits_and_ends_when_both_halves_do(world: World) -> None:
    job = new_job(world, prompts=2)
    launch(world, job, [LOCAL, ATTIC])
    assert [q.prompt_id for q in world.host.pending] == [job.prompt_ids[0]]
    assert [p for p, _ in world.attic.posted] == ["/prompt"]
    world.host.start()
    world.host.finish(job.prompt_ids[0])
    world.say("execution_success", {"prompt_id": job.prompt_ids[1]})
    assert world.record(job.id).status == COMPLETED


def test_a_remote_part_lost_with_its_backend_ends_the_split_job_with_the_reason(world: World) -> None:
    job = new_job(world, prompts=2)
    launch(world, job, [LOCAL, ATTIC])
    world.say("execution_start", {"prompt_id": job.prompt_ids[1]})

    async def down() -> None:
        world.registry.go_down(ATTIC)

    world.run(down())
    world.idle()
    assert world.record(job.id).status == "running"  # the local half has not run yet: the job goes on
    world.host.start()
    world.host.finish(job.prompt_ids[0])
    world.run(world.db.settle())
    ended = world.record(job.id)
    assert ended.status == INTERRUPTED and ended.error == "backend attic stopped answering while it ran"


# -- the job service's routed path ------------------------------------------------------------------------------
async def fill(name: str, values: Any, *_: Any) -> tuple[list[Any], Filled]:
    return [], Filled(graph=copy.deepcopy(BLUR), params=dict(values))


def service_of(world: World, remote: Dispatcher | None) -> JobService:
    return JobService(world.db, world.tracker, world.host, claims=Claims(), limits=RateLimiter(0), fill=fill,
                      client_id_for=lambda j: f"client-{j}", remote=remote)  # fmt: skip


def test_with_only_the_local_comfyui_the_job_path_is_todays(world: World) -> None:
    world.registry._backends = [LOCAL]
    called = []
    world.dispatcher.plan = lambda *a: called.append(a)  # type: ignore[method-assign]
    job, _ = world.run(service_of(world, world.dispatcher).submit(ANN, "blur", {}))
    assert called == [] and job.backend is None
    assert [q.prompt_id for q in world.host.pending] == [job.prompt_id]


def test_the_service_routes_pins_and_refuses_with_what_each_backend_lacks(world: World) -> None:
    service = service_of(world, world.dispatcher)
    job, created = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    assert created and job.backend == ATTIC.id and service.view(job)["backend"] == {"id": ATTIC.id, "name": "attic"}
    assert world.record(job.id).backend == ATTIC.id
    local_job, _ = world.run(service.submit(ANN, "blur", {}))
    assert local_job.backend is None  # a tie goes to this ComfyUI, the usual way
    world.registry.missing_of = {LOCAL_ID: ["node Foo"], ATTIC.id: ["file x.safetensors (Loader.ckpt_name)"]}
    with pytest.raises(Conflict) as refused:
        world.run(service.submit(ANN, "blur", {}))
    assert refused.value.code == "NO_BACKEND"
    assert {b["id"]: b["missing"] for b in refused.value.extra["backends"]} == world.registry.missing_of


def test_a_workflow_pinned_by_an_admin_runs_there_unless_the_request_names_its_own(world: World) -> None:
    service = service_of(world, world.dispatcher)
    world.registry.pins = {"blur": ATTIC.id}
    pinned, _ = world.run(service.submit(ANN, "blur", {}))
    assert pinned.backend == ATTIC.id
    here, _ = world.run(service.submit(ANN, "blur", {}, backend="local"))
    assert here.backend is None
    world.host.pending.clear()  # this ComfyUI ran it (else both are full and the next one is held)
    anywhere, _ = world.run(service.submit(ANN, "blur", {}, backend="any"))
    assert anywhere.backend is None  # "any" is the request's own choice: a tie with the attic goes local
    world.host.pending.clear()  # this ComfyUI ran them: its queue is shorter than the attic's again
    other, _ = world.run(service.submit(ANN, "sharpen", {}))
    assert other.backend is None


def test_a_pinned_job_never_moves_it_fails_with_the_reason_or_waits_for_its_backend(world: World) -> None:
    world.attic.down = True
    job = new_job(world)
    graph = job.graph or {}
    world.run(world.dispatcher.launch(job, [(job.prompt_id, graph, ATTIC, ["6"])], pinned=True))
    world.idle()
    failed = world.record(job.id)
    assert failed.status == "failed" and "attic could not take it" in (failed.error or "")
    assert world.host.pending == []
    world.attic.down = False
    waiting = new_job(world)
    world.run(world.dispatcher.launch(waiting, [(waiting.prompt_id, waiting.graph or {}, ATTIC, ["6"])], pinned=True))

    async def down() -> None:
        world.registry.go_down(ATTIC)

    world.run(down())
    world.idle()
    assert world.host.pending == [] and world.tracker.live(waiting.id).status == PENDING


def test_waiting_remote_jobs_have_their_places_on_their_backend(world: World) -> None:
    first, second = new_job(world), new_job(world)
    launch(world, first)
    launch(world, second)
    assert world.dispatcher.positions() == {first.prompt_id: 1, second.prompt_id: 2}
    world.say("execution_start", {"prompt_id": first.prompt_id})
    assert world.dispatcher.positions() == {second.prompt_id: 1}


def test_a_reproduction_is_routed_like_a_new_job(world: World) -> None:
    service = service_of(world, world.dispatcher)
    job, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    world.say("execution_success", {"prompt_id": job.prompt_id})
    world.registry.missing_of = {LOCAL_ID: ["file x.safetensors (Loader.ckpt_name)"]}
    again = world.run(service.reproduce(ANN, job.id))
    assert again.backend == ATTIC.id and again.reproduced_from == job.id
    assert [body["prompt_id"] for path, body in world.attic.posted if path == "/prompt"][-1] == again.prompt_id
    here = world.run(service.reproduce(ANN, job.id, backend="attic"))
    assert here.backend == ATTIC.id


def test_an_input_image_is_uploaded_first_and_loaded_by_its_name_there(world: World) -> None:
    (Path(world.host.input_directory()) / "photo.png").write_bytes(png())
    job = new_job(world)
    assert job.graph is not None
    job.graph["7"] = {"class_type": "CozyGenImage", "inputs": {"param_name": "image", "image": "photo.png"}}
    job.graph["5"]["inputs"]["image"] = ["7", 0]
    launch(world, job)
    (upload, name), (path, body) = world.attic.posted
    assert upload == "/upload/image" and name.startswith("cozygen-") and name.endswith(".png")
    assert body["prompt"]["7"] == {"class_type": "LoadImage", "inputs": {"image": name}}
    missing = new_job(world)
    assert missing.graph is not None
    missing.graph["7"] = {"class_type": "CozyGenImage", "inputs": {"param_name": "image", "image": "../etc/passwd"}}
    with pytest.raises(Refused):
        launch(world, missing)


# -- max_jobs as a cap: held prompts ----------------------------------------------------------------------------
def held_ids(world: World) -> set[str]:
    return world.db.read(lambda conn: {r[0] for r in conn.execute("SELECT prompt_id FROM job_prompts WHERE held")})


def test_every_able_backend_full_holds_the_job_and_ends_release_the_oldest_first(world: World) -> None:
    service = service_of(world, world.dispatcher)
    first, second, third, fourth = (world.run(service.submit(ANN, "blur", {}))[0] for _ in range(4))
    assert first.backend is None and second.backend == ATTIC.id  # one each: both hold their max_jobs (1)
    assert [q.prompt_id for q in world.host.pending] == [first.prompt_id]
    assert [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"] == [second.prompt_id]
    assert third.status == fourth.status == PENDING and held_ids(world) == {third.prompt_id, fourth.prompt_id}
    places = service.positions([third, fourth])
    assert (places[third.prompt_id], places[fourth.prompt_id]) == (2, 3)  # after the one waiting on each backend
    assert service.view(world.tracker.live(third.id))["backend"] is None  # held for any backend: none named yet
    world.say("execution_start", {"prompt_id": second.prompt_id})
    world.say("execution_success", {"prompt_id": second.prompt_id})
    world.run(world.dispatcher.release())  # what the hold queue's task does when poked
    world.idle()
    posted = [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"]
    assert posted == [second.prompt_id, third.prompt_id]  # the oldest held one, to the backend that freed
    assert world.record(third.id).backend == ATTIC.id and service.view(world.tracker.live(third.id))["backend"] == {
        "id": ATTIC.id, "name": "attic"}  # fmt: skip
    assert held_ids(world) == {fourth.prompt_id}
    world.run(world.dispatcher.release())
    assert world.host.pending[0].prompt_id == first.prompt_id and len(world.host.pending) == 1  # still full
    world.host.start()
    world.host.finish(first.prompt_id)  # a local end is seen through the queue (the poll, or the next job)
    fifth, _ = world.run(service.submit(ANN, "blur", {}))  # before the poll: it does not pass the held one
    world.idle()
    assert [q.prompt_id for q in world.host.pending] == [fourth.prompt_id] and held_ids(world) == {fifth.prompt_id}
    assert world.record(fourth.id).backend == LOCAL_ID


def test_a_pinned_prompt_is_held_for_its_own_backend_only(world: World) -> None:
    service = service_of(world, world.dispatcher)
    there, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    waiting, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    assert waiting.backend == ATTIC.id and held_ids(world) == {waiting.prompt_id}
    assert service.view(world.tracker.live(waiting.id))["backend"] == {"id": ATTIC.id, "name": "attic"}  # its own
    world.run(world.dispatcher.release())
    assert world.host.pending == []  # this ComfyUI is free, but the job waits for the attic
    world.say("execution_success", {"prompt_id": there.prompt_id})
    world.run(world.dispatcher.release())
    assert [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"][-1] == waiting.prompt_id
    assert world.dispatcher.placed(waiting.prompt_id) == ATTIC.id


def test_a_held_job_is_cancelled_at_once_and_never_sent(world: World) -> None:
    service = service_of(world, world.dispatcher)
    busy, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    held, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    cancelled, done = world.run(service.cancel(ANN, held.id))
    assert done and cancelled.status == CANCELLED and world.record(held.id).status == CANCELLED
    world.say("execution_success", {"prompt_id": busy.prompt_id})
    world.run(world.dispatcher.release())
    assert [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"] == [busy.prompt_id]


def test_a_held_prompt_is_held_again_after_a_restart_and_runs_once(world: World) -> None:
    service = service_of(world, world.dispatcher)
    busy, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    held, _ = world.run(service.submit(ANN, "blur", {}, backend="attic"))
    world.run(world.db.settle())
    world.run(world.dispatcher.stop())  # CozyGen stops (or is killed: the record is all that is left)
    tracker = JobTracker(world.db, EventHub())
    again = Dispatcher(world.registry, tracker, world.db, world.host, roots={"output": world.output},
                       client_id="cozygen-server", client_id_for=lambda j: f"client-{j}")  # fmt: skip
    world.dispatcher, world.tracker = again, tracker
    assert world.run(again.start()) == 2
    assert held.prompt_id in again.holding and world.dispatcher.positions() == {busy.prompt_id: 1, held.prompt_id: 2}
    world.run(again.release())
    assert [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"] == [busy.prompt_id]  # still full
    world.say("execution_success", {"prompt_id": busy.prompt_id})
    world.run(again.release())
    world.run(again.release())
    posted = [b["prompt_id"] for path, b in world.attic.posted if path == "/prompt"]
    assert posted == [busy.prompt_id, held.prompt_id] and held_ids(world) == set()
