"""Jobs on other ComfyUI servers: routing a job's prompts, sending them, following each backend's websocket into
the same :class:`~..jobs.tracker.JobTracker` as local jobs, fetching outputs home, cancel, failover and re-attach.

A prompt keeps CozyGen's prompt id wherever it runs (POST /prompt carries it), so the tracker needs no mapping.
One websocket per backend, under CozyGen's own client id, carries the messages of every prompt CozyGen sent
there; they are handled in order: an ``executed`` message goes on to the tracker once the files it names are
home, under their local names, so the job's end is told after its images exist here.

Failure: a backend the health monitor marks down (its probes, or this socket, failed in a row) has its prompts
that had not started sent elsewhere (the old copy is deleted from its queue when it answers again, and its
messages about them are ignored); a prompt that had started there ends ``interrupted`` with the reason, never
run twice. A socket that comes back is reconciled with the backend's /history and /queue (messages missed while
it was away), which is also how jobs left running elsewhere are re-attached when CozyGen starts. A job pinned to a
backend never moves: it fails with the reason when the backend cannot take it, or waits for it to come back.

``max_jobs`` is a cap while routing is in use: a prompt whose able backends are all full is held (holding.py,
recorded as held) and released oldest first to the first that frees; a restart holds it again.

Over 400 lines on purpose: sending, following, failover, cancel and reconcile all move the same placements (which
prompt is where, started or not, what was fetched), and split apart that bookkeeping would span modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import CozyGenError
from ..graph.node_values import resolve_image_ref
from ..host import Host
from ..jobs.model import CANCELLED, FAILED, INTERRUPTED, PREVIEW_WITH_METADATA, RUNNING, TRACKED_MESSAGES, Job
from ..jobs.tracker import JobTracker
from ..store.db import Database
from . import homecoming, routing
from .holding import Held, HoldQueue
from .model import DOWN, LOCAL_ID, UP, Backend, Health
from .plain import image_refs, make_plain
from .remote import CONNECTED, DISCONNECTED, RemoteComfyUI, RemoteError

log = logging.getLogger("cozygen")
FINAL = frozenset({"execution_success", "execution_error", "execution_interrupted"})
QUEUE_CAP = 16 * 1024 * 1024  # a /queue answer carries every queued graph
HISTORY_CAP = 16 * 1024 * 1024
ANSWER_CAP = 1024 * 1024  # /prompt's answer: its id and the node errors
MAX_PREVIEW = 8 * 1024 * 1024
MAX_OUTPUTS = 1024  # outputs of one prompt fetched home at most
FETCH_TIMEOUT = 900.0  # seconds for one output to come home
MAX_ERROR = 4000  # characters of a backend's error message kept
PROMPT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # what a backend may call a prompt (it goes into its URLs)


class Registry(Protocol):
    """What dispatch reads of the backends (core/backends/service.py's BackendService)."""

    @property
    def only_local(self) -> bool: ...
    def backends(self) -> list[Backend]: ...
    def get(self, id_or_name: str) -> Backend: ...
    def health(self, backend_id: str) -> Health: ...
    def client(self, backend_id: str) -> RemoteComfyUI: ...
    def missing(self, backend_id: str, graph: dict[str, Any]) -> list[str]: ...
    def set_active(self, backend_id: str, count: int) -> None: ...
    def watch(self, watcher: Callable[[Backend, Health], None]) -> None: ...
    def report_failure(self, backend_id: str, reason: str) -> None: ...
    def pin_of(self, workflow: str) -> str | None: ...
    async def node_list(self, backend_id: str) -> dict[str, Any] | None: ...


class Refused(CozyGenError):
    """The backend's ComfyUI refused the graph (its /prompt answered 400): its error and node errors."""

    status = 400
    code = "INVALID_PROMPT"


@dataclass
class Placement:
    """One prompt of a job on a remote backend."""

    prompt_id: str
    job_id: str
    backend_id: str
    graph: dict[str, Any]  # CozyGen's own graph of the prompt (written into the outputs' metadata)
    remote_id: str = ""  # the id the backend gave it (CozyGen's own, unless the backend ignored it)
    started: bool = False
    pinned: bool = False  # the job asked for this backend: it never moves to another
    fetched: set[tuple[str, str]] = field(default_factory=set)  # (subfolder, filename) there, fetched or tried

    def __post_init__(self) -> None:
        self.remote_id = self.remote_id or self.prompt_id


class LazyPreview:
    """A backend's preview bytes, decoded only when someone asks for the picture (api/jobs.py converts it)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def convert(self, mode: str) -> Any:
        import io

        from PIL import Image

        return Image.open(io.BytesIO(self.data)).convert(mode)


def upload_name(path: Path) -> str:
    """What an input image is called on a backend: named by its content (uploading it again changes nothing)."""
    return f"cozygen-{hashlib.sha256(path.read_bytes()).hexdigest()[:24]}{path.suffix.lower()}"


class Dispatcher:
    """Routing and the prompts CozyGen keeps on other backends (one per CozyGen server, built at start)."""

    def __init__(
        self,
        registry: Registry,
        tracker: JobTracker,
        db: Database,
        host: Host,
        *,
        roots: Mapping[str, Path],
        client_id: str,
        client_id_for: Callable[[str], str],
    ) -> None:
        """``client_id`` is CozyGen's own on every backend; ``client_id_for(job_id)`` the local one of a job."""
        self.registry, self.tracker, self.db, self.host = registry, tracker, db, host
        self.roots, self.client_id, self.client_id_for = roots, client_id, client_id_for
        self._placements: dict[str, Placement] = {}
        self._by_remote: dict[tuple[str, str], str] = {}  # (backend, its prompt id) -> CozyGen's
        self._running: dict[str, str] = {}  # backend -> the prompt it runs (its previews name none)
        self._stale: dict[str, set[str]] = {}  # backend -> prompt ids sent elsewhere since: delete there
        self._followers: dict[str, asyncio.Task] = {}
        self._ended_at: dict[str, float] = {}  # backend -> when a prompt of CozyGen's last left it (wall clock)
        self._counted: dict[str, int] = {}  # backend -> CozyGen's prompts there, as last told to the registry
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self.holding = HoldQueue(self.release)  # prompts kept back while every able backend is full
        self._releasing = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None  # set by start (the server's)
        registry.watch(self._health_changed)

    # -- routing ------------------------------------------------------------------------------------------
    def needed(self, pin: Any) -> bool:
        """Whether a job must be routed: another backend is enabled, one is pinned, or the local one is off."""
        return pin is not None or not self.registry.only_local or not self.registry.get(LOCAL_ID).enabled

    def pin(self, workflow: str | None, requested: Any) -> Any:
        """A job's pin: the request's own ``backend`` (``"any"`` included) wins, else the workflow's (an admin's)."""
        return requested if requested is not None or workflow is None else self.registry.pin_of(workflow)

    def candidates(self, graph: dict[str, Any], exclude: Iterable[str] = ()) -> list[routing.Candidate]:
        left_out = set(exclude)
        found = []
        for backend in self.registry.backends():
            health = self.registry.health(backend.id)
            missing = self.registry.missing(backend.id, graph) if backend.enabled else []
            if backend.local and missing == ["its node list (/object_info) is not known yet"]:
                missing = []  # the local ComfyUI validates the graph itself before it is queued
            state = DOWN if backend.id in left_out else health.state
            mine = sum(1 for p in self._placements.values() if p.backend_id == backend.id)
            seen_since = backend.local or (health.checked_at or 0.0) > self._ended_at.get(backend.id, 0.0)
            queued = health.queue_running + health.queue_pending if seen_since else 0  # else it counts ours gone
            found.append(routing.Candidate(backend, state, missing, mine=mine, queued=queued))
        return found

    async def prepare(self) -> None:
        """Before routing: this ComfyUI's node list is known (read once after a start; until then the local
        backend would seem able to run a graph naming a model it lacks), and the prompts held already had their
        turn at any backend that freed (a new one never passes them)."""
        if self.registry.get(LOCAL_ID).enabled:
            await self.registry.node_list(LOCAL_ID)
        if self.holding:
            await self.release()

    def plan(self, graphs: list[dict[str, Any]], pin: Any) -> list[Backend | None]:
        """The backend of each prompt of a job; None for one held (every able backend is full). 400 for an
        unknown pin, 409 ``NO_BACKEND`` when no backend could run it."""
        pinned = routing.find_pin(self.registry.backends(), pin)
        # the prompts of a job differ in their seeds only: one check of the first serves them all
        return [c.backend if c else None for c in routing.spread(self.candidates(graphs[0]), len(graphs), pinned)]

    def held_as(self, pin: Any) -> Backend:
        """A held job's backend until it is sent: the one it is pinned to, else this ComfyUI (a placeholder)."""
        return routing.find_pin(self.registry.backends(), pin) or self.registry.get(LOCAL_ID)

    # -- sending ------------------------------------------------------------------------------------------
    async def launch(
        self, job: Job, prompts: list[tuple[str, dict[str, Any], Backend | None, list[str]]], *, pinned: bool = False
    ) -> None:
        """Follow a recorded job and queue each of its prompts where it was routed: (prompt id, graph, backend
        (None: held, recorded so by the caller), outputs to run (local prompts; validated)). A remote refusal of
        a job of one prompt raises Refused before the tracker follows the job (the caller removes its record, as
        of a local refusal); a prompt whose backend fails is sent to another that can run it, unless ``pinned``
        (then it fails with the reason)."""
        alone = len(prompts) == 1 and prompts[0][2] is not None and not prompts[0][2].local
        if not alone:
            self.tracker.add(job)
        for prompt_id, graph, backend, outputs in prompts:
            if backend is None:
                self._keep(Held(prompt_id, job.id, graph, pin=job.backend if pinned else None))
                continue
            if backend.local:
                self._enqueue_local(job.id, prompt_id, graph, outputs)
                continue
            follow = (lambda: self.tracker.add(job)) if alone else None
            try:
                await self._send(Placement(prompt_id, job.id, backend.id, graph, pinned=pinned), follow=follow)
            except Refused as refused:
                if alone:
                    raise
                self._end(prompt_id, job.id, FAILED, f"backend {backend.name} refused the graph: {refused.message}")

    def _enqueue_local(self, job_id: str, prompt_id: str, graph: dict[str, Any], outputs: list[str]) -> None:
        extra = {"cozygen_job_id": job_id}
        self.host.enqueue(graph, outputs, prompt_id=prompt_id, client_id=self.client_id_for(job_id), extra_data=extra)

    async def _send(
        self, place: Placement, *, tried: frozenset[str] = frozenset(), follow: Callable[[], None] | None = None
    ) -> None:
        """POST the plain graph to the placement's backend; on a failure to reach it, route again without it
        (to the local ComfyUI too); with nowhere left, the prompt waits for its backend to answer again. Raises
        Refused (nothing kept) when the backend refuses the graph. ``follow`` is called once the prompt is not
        refused, before its messages count (a job of one prompt is followed only then)."""
        backend = self.registry.get(place.backend_id)
        self._placements[place.prompt_id] = place
        self._follow(backend.id)
        try:
            client = self.registry.client(backend.id)
            uploaded = await self._upload_images(client, place.graph)
            body = {
                "prompt": make_plain(place.graph, uploaded),
                "client_id": self.client_id,
                "prompt_id": place.prompt_id,
                "extra_data": {"cozygen_job_id": place.job_id},
            }
            status, answer = await client.post_json("/prompt", body, cap=ANSWER_CAP)
        except Refused:
            self._placements.pop(place.prompt_id, None)
            self._active()
            raise
        except RemoteError as exc:
            if follow is not None:
                follow()
            self.registry.report_failure(backend.id, str(exc))
            if place.pinned:
                self._end(place.prompt_id, place.job_id, FAILED, f"backend {backend.name} could not take it: {exc}")
                return
            await self._elsewhere(place, tried | {backend.id}, str(exc))
            return
        given = answer.get("prompt_id") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(given, str) or not PROMPT_ID.match(given):
            self._placements.pop(place.prompt_id, None)
            self._active()
            raise _refusal(status, answer)
        if follow is not None:
            follow()
        place.remote_id = given
        self._by_remote[(backend.id, place.remote_id)] = place.prompt_id
        self._active()

    async def _elsewhere(self, place: Placement, tried: frozenset[str], reason: str) -> None:
        """Send a prompt that has not started to another backend that can run it (the local one included); held
        when every one able is full."""
        try:
            best = routing.choose(self.candidates(place.graph, exclude=tried))
        except CozyGenError:
            log.warning("CozyGen: prompt %s waits for a backend (%s)", place.prompt_id, reason)
            return  # kept: sent again when its backend answers (see _reconcile)
        old = place.backend_id
        if best is None or old != best.backend.id:
            self._stale.setdefault(old, set()).add(place.remote_id)
            self._by_remote.pop((old, place.remote_id), None)
        if best is None:
            await self._hold(place.prompt_id, place.job_id, place.graph)
            return
        self._placements.pop(place.prompt_id, None)
        await self._move(place.prompt_id, place.job_id, place.graph, best.backend, tried=tried)

    async def _move(
        self, prompt_id: str, job_id: str, graph: dict[str, Any], backend: Backend, *, pinned: bool = False,
        tried: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        """Send a prompt that has not started to ``backend`` (recorded first: never run twice)."""
        from ..jobs import records

        await self.db.execute_write_fn(lambda c: records.move_prompt(c, job_id, prompt_id, backend.id))
        job = self.tracker.live(job_id)
        if job is not None and job.cancel_requested:  # cancelled while it was neither held nor sent
            self._end(prompt_id, job_id, CANCELLED, None)
            return
        self.tracker.routed(job_id, prompt_id, backend.id, backend.name)
        if backend.local:
            self._active()
            validation = await self.host.validate_prompt(prompt_id, graph)
            if not validation.ok:
                self._end(prompt_id, job_id, FAILED, f"ComfyUI refused the graph: {validation.error}")
                return
            self._enqueue_local(job_id, prompt_id, graph, validation.outputs)
            return
        try:
            await self._send(Placement(prompt_id, job_id, backend.id, graph, pinned=pinned), tried=tried)
        except Refused as refused:
            self._end(prompt_id, job_id, FAILED, f"backend {backend.name} refused the graph: {refused.message}")

    # -- holding ------------------------------------------------------------------------------------------
    async def _hold(self, prompt_id: str, job_id: str, graph: dict[str, Any], pin: str | None = None) -> None:
        """Keep a prompt back (recorded as held first) until a backend able to run it has room."""
        from ..jobs import records

        self._placements.pop(prompt_id, None)
        self._active()
        await self.db.execute_write_fn(lambda c: records.hold(c, job_id, [prompt_id]))
        self._keep(Held(prompt_id, job_id, graph, pin=pin))

    def _keep(self, held: Held) -> None:
        """Into the hold queue; a job held for any backend names none until one takes it."""
        self.holding.hold(held)
        if held.pin is None:
            self.tracker.held(held.job_id, held.prompt_id)

    async def release(self) -> None:
        """Offer the held prompts, oldest first, to the able backends with room (the hold queue's task calls it,
        and prepare before a new job is routed, so a new prompt never passes an older one)."""
        async with self._releasing:
            for held in self.holding.oldest_first():
                if held.prompt_id not in self.holding:
                    continue  # cancelled meanwhile
                job = self.tracker.live(held.job_id)
                if job is None or job.finished:
                    self.holding.take(held.prompt_id)
                    continue
                try:
                    pinned = self.registry.get(held.pin) if held.pin is not None else None
                except CozyGenError:
                    self.holding.take(held.prompt_id)
                    self._end(held.prompt_id, held.job_id, FAILED, f"backend {held.pin} no longer exists")
                    continue
                try:
                    best = routing.choose(self.candidates(held.graph), pinned)
                except CozyGenError:
                    continue  # no backend able now (down, disabled): it waits for one to come back
                if best is None:
                    continue
                self.holding.take(held.prompt_id)
                await self._move(held.prompt_id, held.job_id, held.graph, best.backend, pinned=pinned is not None)

    async def _upload_images(self, client: RemoteComfyUI, graph: dict[str, Any]) -> dict[str, str]:
        """Upload the input images the graph loads; their names on the backend by reference."""
        names: dict[str, str] = {}
        for ref in image_refs(graph):
            try:
                path = await asyncio.to_thread(resolve_image_ref, ref, self.roots["input"], self.roots["output"])
            except ValueError as exc:
                raise Refused(str(exc), code="INVALID_IMAGE") from None
            name = await asyncio.to_thread(upload_name, path)  # read and hashed off the loop
            answer = await client.upload_image(path, name=name)
            sub, got = answer.get("subfolder"), answer.get("name")
            names[ref] = f"{sub}/{got}" if isinstance(sub, str) and sub else str(got or name)
        return names

    # -- following ----------------------------------------------------------------------------------------
    def _follow(self, backend_id: str) -> None:
        task = self._followers.get(backend_id)
        if task is None or task.done():
            self._followers[backend_id] = asyncio.get_running_loop().create_task(
                self._read(backend_id), name=f"cozygen-backend-{backend_id}"
            )

    async def _read(self, backend_id: str) -> None:
        """One backend's websocket, for as long as CozyGen runs and the backend exists."""
        while not self._stopping:
            try:
                client = self.registry.client(backend_id)
            except CozyGenError:
                return  # removed
            async for kind, data in client.messages(self.client_id):
                try:
                    await self.on_remote(backend_id, kind, data)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("CozyGen: a message of backend %s could not be handled", backend_id)
            await asyncio.sleep(0.5)  # its client was closed (settings changed): take the new one

    async def on_remote(self, backend_id: str, kind: str, data: Any) -> None:
        """One message of a backend's websocket (public for the tests)."""
        if kind == CONNECTED:
            await self._reconcile(backend_id)
            return
        if kind == DISCONNECTED:
            if any(p.backend_id == backend_id for p in self._placements.values()):
                self.registry.report_failure(backend_id, str(data))
            return
        if kind == "preview":
            self._preview(backend_id, data)
            return
        if kind not in TRACKED_MESSAGES or not isinstance(data, dict):
            return
        prompt_id = self._by_remote.get((backend_id, str(data.get("prompt_id"))))
        place = self._placements.get(prompt_id) if prompt_id else None
        if place is None or place.backend_id != backend_id:
            return
        await self._apply(place, kind, {**data, "prompt_id": place.prompt_id})

    async def _apply(self, place: Placement, kind: str, data: dict[str, Any]) -> None:
        if kind == "executed":
            images = await self._fetch(place, data.get("output"))
            if not images:
                return
            data = {**data, "output": {**data["output"], "images": images}}
        elif kind in ("execution_start", "executing", "progress"):
            place.started = True
            self._running[place.backend_id] = place.prompt_id
        elif kind == "execution_error":
            data = {
                k: str(v)[:MAX_ERROR] if k in ("exception_message", "exception_type") else v for k, v in data.items()
            }
        if kind in FINAL:
            self._placements.pop(place.prompt_id, None)
            self._by_remote.pop((place.backend_id, place.remote_id), None)
            self._active()
        self.tracker.on_message(kind, data, local=False)

    async def _fetch(self, place: Placement, output: Any) -> list[dict[str, str]]:
        """The files an ``executed`` output names (``images``; ``videos`` and ``gifs`` from a backend running
        CozyGen Video Output itself), fetched home (each once): outputs into the output folder, previews (``temp``)
        into this ComfyUI's temp folder; their local entries."""
        lists = [output.get(key) for key in ("images", "videos", "gifs")] if isinstance(output, Mapping) else []
        items = [item for listed in lists if isinstance(listed, list) for item in listed[:256]]
        if isinstance(output, dict):  # the backend's names of them leave the message: only "images" (local) go on
            output.pop("videos", None)
            output.pop("gifs", None)
        if not items:
            return []
        backend = self.registry.get(place.backend_id)
        client = self.registry.client(backend.id)
        folder = homecoming.backend_folder(backend)
        found = []
        for item in items[:256]:
            checked = homecoming.checked_item(item)
            if checked is None:
                log.warning("CozyGen: backend %s named an output CozyGen does not fetch: %.200r", backend.name, item)
                continue
            if homecoming.folder_type(item) == "temp":  # NUL is in no checked subfolder: never an output's key
                checked = (f"\0temp/{checked[0]}", checked[1])
            if checked in place.fetched:
                continue
            if len(place.fetched) >= MAX_OUTPUTS:
                log.warning("CozyGen: backend %s named more than %d outputs for one prompt", backend.name, MAX_OUTPUTS)
                break
            place.fetched.add(checked)  # tried once: a name that failed is not fetched again either
            fetch = homecoming.fetch_home(
                client, item, output_root=self.roots["output"], folder=folder, graph=place.graph,
                prompt_id=place.prompt_id, temp_root=Path(self.host.temp_directory()),
            )  # fmt: skip
            try:
                local = await asyncio.wait_for(fetch, FETCH_TIMEOUT)  # a backend dripping bytes holds its socket
            except (RemoteError, CozyGenError, OSError, asyncio.TimeoutError) as exc:
                log.warning("CozyGen: output %.200r of backend %s not fetched: %s", item, backend.name, exc)
                continue
            if local is not None:
                found.append(local)
        return found

    def _preview(self, backend_id: str, data: Any) -> None:
        prompt_id = self._running.get(backend_id)
        if prompt_id is None or prompt_id not in self._placements:
            return
        if not (isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], bytes)):
            return
        if len(data[1]) > MAX_PREVIEW:
            return
        image = (str(data[0]), LazyPreview(data[1]), None)
        self.tracker.on_message(PREVIEW_WITH_METADATA, (image, {"prompt_id": prompt_id}), local=False)

    # -- ending, cancelling -------------------------------------------------------------------------------
    def _end(self, prompt_id: str, job_id: str, status: str, error: str | None) -> None:
        """End one prompt from outside the backend's messages (the whole job when it is its only prompt)."""
        place = self._placements.pop(prompt_id, None)
        if place is not None:
            self._by_remote.pop((place.backend_id, place.remote_id), None)
        self._active()
        job = self.tracker.live(job_id)
        if job is None:
            return
        if len(job.prompt_ids) > 1:
            self.tracker.end_prompts(job_id, [prompt_id], status, error=error)
        else:
            self.tracker.end(job_id, status, error=error)

    def owns(self, job: Job) -> bool:
        return any(p in self._placements for p in job.all_prompts)

    async def cancel(self, job: Job) -> tuple[Job, bool] | None:
        """Stop a live job with prompts on other backends: waiting ones leave their queues, a running one is
        interrupted (its message says cancelled); None when the job is not followed here."""
        marked = self.tracker.request_cancel(job.id)
        if marked is None:
            return None
        removed = []
        for prompt_id in job.all_prompts:
            if self.holding.take(prompt_id) is not None:  # held: nothing was sent
                removed.append(prompt_id)
                continue
            place = self._placements.get(prompt_id)
            if place is None:  # a prompt of the job on the local ComfyUI
                if self.host.remove_pending(prompt_id):
                    removed.append(prompt_id)
                else:
                    self.host.interrupt(prompt_id)
                continue
            client = self.registry.client(place.backend_id)
            try:
                if not place.started:
                    await client.post_json("/queue", {"delete": [place.remote_id]}, cap=ANSWER_CAP)
                    queue = await client.get_json("/queue", cap=QUEUE_CAP)
                    if place.remote_id not in _ids(queue, "queue_running"):
                        removed.append(prompt_id)
                        self._placements.pop(prompt_id, None)
                        continue
                await client.post_json("/interrupt", {"prompt_id": place.remote_id}, cap=ANSWER_CAP)
            except RemoteError as exc:
                log.warning("CozyGen: cancel of prompt %s on backend %s: %s", prompt_id, place.backend_id, exc)
        self._active()
        if len(job.prompt_ids) > 1:
            current = self.tracker.end_prompts(job.id, removed, CANCELLED) or marked
        elif removed:
            current = self.tracker.end(job.id, CANCELLED) or marked
        else:
            current = self.tracker.live(job.id) or marked
        return current, current.status == CANCELLED

    def drop(self, prompt_ids: list[str]) -> None:
        """Prompts that will not run (the rest of a job of several that failed): off their backends' queues."""
        for prompt_id in prompt_ids:
            self.holding.take(prompt_id)
            place = self._placements.pop(prompt_id, None)
            if place is not None:
                self._stale.setdefault(place.backend_id, set()).add(place.remote_id)
                self._spawn(self._delete_stale(place.backend_id))
        self._active()

    # -- failure, reconnection, re-attach -----------------------------------------------------------------
    def _health_changed(self, backend: Backend, health: Health) -> None:
        if health.state == UP and backend.enabled:
            self.holding.poke()  # up or enabled again: room for what is held
        if backend.local or self._stopping:
            return
        if health.state == DOWN or not backend.enabled:
            self._spawn(self._fail_over(backend.id, backend.name, health.state))

    async def _fail_over(self, backend_id: str, name: str, state: str) -> None:
        """A backend went down (or was disabled): its prompts that had not started go elsewhere; one that was
        running there ends interrupted (down only: a disabled backend finishes what it runs)."""
        for place in [p for p in self._placements.values() if p.backend_id == backend_id]:
            if place.started:
                if state == DOWN:
                    reason = f"backend {name} stopped answering while it ran"
                    self._end(place.prompt_id, place.job_id, INTERRUPTED, reason)
                continue
            if not place.pinned:  # a pinned one waits for its backend
                await self._elsewhere(place, frozenset({backend_id}), f"backend {name} is {state}")

    async def _delete_stale(self, backend_id: str) -> None:
        stale = self._stale.get(backend_id)
        if not stale:
            return
        try:
            await self.registry.client(backend_id).post_json("/queue", {"delete": sorted(stale)}, cap=ANSWER_CAP)
        except (RemoteError, CozyGenError):
            return
        self._stale.pop(backend_id, None)

    async def _reconcile(self, backend_id: str) -> None:
        """The socket (re)connected: what happened to CozyGen's prompts there while nobody listened."""
        await self._delete_stale(backend_id)
        places = [p for p in self._placements.values() if p.backend_id == backend_id]
        if not places:
            return
        client = self.registry.client(backend_id)
        try:
            queue = await client.get_json("/queue", cap=QUEUE_CAP)
            running, pending = _ids(queue, "queue_running"), _ids(queue, "queue_pending")
            for place in places:
                if self._placements.get(place.prompt_id) is not place:
                    continue
                found = await client.get_json(f"/history/{place.remote_id}", cap=HISTORY_CAP)
                entry = found.get(place.remote_id) if isinstance(found, dict) else None
                if isinstance(entry, dict):
                    await self._replay(place, entry)
                elif place.remote_id in running:
                    if not place.started:
                        await self._apply(place, "execution_start", {"prompt_id": place.prompt_id})
                elif place.remote_id not in pending:
                    await self._lost(place)
        except RemoteError as exc:
            log.warning("CozyGen: backend %s could not be reconciled: %s", backend_id, exc)
            self.registry.report_failure(backend_id, str(exc))

    async def _replay(self, place: Placement, entry: dict[str, Any]) -> None:
        """A prompt the backend's /history holds: its outputs and its end, as the socket would have said."""
        pid = place.prompt_id
        if not place.started:
            await self._apply(place, "execution_start", {"prompt_id": pid})
        outputs = entry.get("outputs")
        for node, output in outputs.items() if isinstance(outputs, dict) else ():
            await self._apply(place, "executed", {"node": node, "output": output, "prompt_id": pid})
        found = entry.get("status")
        status: dict[str, Any] = found if isinstance(found, dict) else {}
        listed = status.get("messages")
        messages: list[Any] = listed if isinstance(listed, list) else []
        said = {
            m[0]: m[1]
            for m in messages
            if isinstance(m, list) and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], dict)
        }
        if status.get("status_str") == "success" or "execution_success" in said:
            await self._apply(place, "execution_success", {"prompt_id": pid})
        elif "execution_error" in said:
            await self._apply(place, "execution_error", {**said["execution_error"], "prompt_id": pid})
        elif status.get("completed") is False or "execution_interrupted" in said:
            await self._apply(place, "execution_interrupted", {"prompt_id": pid})

    async def _lost(self, place: Placement) -> None:
        """Neither in the backend's queue nor in its history (it restarted): sent again if it never started."""
        backend = self.registry.get(place.backend_id)
        if place.started:
            self._end(place.prompt_id, place.job_id, INTERRUPTED, f"backend {backend.name} lost the job while it ran")
            return
        self._placements.pop(place.prompt_id, None)
        try:
            await self._send(
                Placement(place.prompt_id, place.job_id, place.backend_id, place.graph, pinned=place.pinned)
            )
        except Refused as refused:
            self._end(place.prompt_id, place.job_id, FAILED, f"backend {backend.name} refused: {refused.message}")

    async def start(self) -> int:
        """Re-attach the jobs a previous run left on other backends; how many prompts were found."""
        from ..jobs import records

        self.loop = asyncio.get_running_loop()
        found = await self.db.execute_fn(records.remote_unfinished)
        count = 0
        for job, backends, held in found:
            self.tracker.add(job)
            for prompt_id, graph in zip(job.all_prompts, _graphs(job), strict=True):
                if prompt_id in held:  # sent nowhere: held again, in the order the jobs came
                    self._keep(Held(prompt_id, job.id, graph, pin=job.backend if job.pinned else None))
                    count += 1
                    continue
                backend_id = backends.get(prompt_id) or job.backend or LOCAL_ID
                try:
                    backend = self.registry.get(backend_id)
                except CozyGenError:
                    self._end(prompt_id, job.id, INTERRUPTED, f"backend {backend_id} no longer exists")
                    continue
                if backend.local:
                    self._end(prompt_id, job.id, INTERRUPTED, "ComfyUI stopped before this job finished")
                    continue
                started = job.status == RUNNING
                place = Placement(prompt_id, job.id, backend.id, graph, started=started, pinned=job.pinned)
                self._placements[prompt_id] = place
                self._by_remote[(backend.id, prompt_id)] = prompt_id
                self._follow(backend.id)
                count += 1
        self._active()
        return count

    async def stop(self) -> None:
        self._stopping = True
        await self.holding.stop()
        tasks = [*self._followers.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # -- small helpers ------------------------------------------------------------------------------------
    def _active(self) -> None:
        """Tell the registry how many of CozyGen's prompts each backend holds (the monitor looks more often)."""
        counts: dict[str, int] = {}
        for place in self._placements.values():
            counts[place.backend_id] = counts.get(place.backend_id, 0) + 1
        now = time.time()
        for backend_id in {*counts, *self._counted}:
            if counts.get(backend_id, 0) < self._counted.get(backend_id, 0):
                self._ended_at[backend_id] = now  # its queue as last seen may still count the prompt that left
            with contextlib.suppress(CozyGenError):
                self.registry.set_active(backend_id, counts.get(backend_id, 0))
        if sum(counts.values()) < sum(self._counted.values()):
            self.holding.poke()  # a prompt left a backend: room for a held one
        self._counted = counts

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def positions(self, local_waiting: int = 0) -> dict[str, int]:
        """1-based places of CozyGen's waiting prompts on each other backend, in the order they were sent (what
        other clients queued there is not counted); held prompts come after the longest of those lines and
        ``local_waiting`` (the prompts waiting on this ComfyUI's queue)."""
        places: dict[str, int] = {}
        counts: dict[str, int] = {}
        for place in self._placements.values():
            if not place.started:
                counts[place.backend_id] = counts.get(place.backend_id, 0) + 1
                places[place.prompt_id] = counts[place.backend_id]
        if self.holding:
            places.update(self.holding.positions(max([local_waiting, *counts.values()])))
        return places

    def named(self, backend_id: str) -> dict[str, str]:
        """A job's backend as its answer shows it: id and name."""
        try:
            return {"id": backend_id, "name": self.registry.get(backend_id).name}
        except CozyGenError:
            return {"id": backend_id, "name": backend_id}  # removed since

    def placed(self, prompt_id: str) -> str | None:
        """The backend a prompt waits or runs on (None: local, or not followed)."""
        place = self._placements.get(prompt_id)
        return place.backend_id if place is not None else None


def _refusal(status: int, answer: Any) -> Refused:
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    nodes = answer.get("node_errors") if isinstance(answer, dict) else None
    text = str(message or f"HTTP {status}")[:500]
    return Refused(text, extra={"node_errors": nodes if isinstance(nodes, dict) else {}})


def _ids(queue: Any, key: str) -> set[str]:
    items = queue.get(key) if isinstance(queue, dict) else None
    if not isinstance(items, list):
        raise RemoteError(f"its /queue answer is not ComfyUI's (no {key})")
    return {str(i[1]) for i in items if isinstance(i, list) and len(i) > 1}


def _graphs(job: Job) -> list[dict[str, Any]]:
    return [job.graph or {}, *(job.more_graphs.get(p, {}) for p in job.prompt_ids[1:])]
