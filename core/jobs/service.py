"""The job service: submit (idempotent by ``job_id``), several images, cancel, reproduce, requeue lost jobs,
queue numbers and the lookups a caller may make. Every API (CozyGen's own and the compatibility mounts) goes
through it; the routes only parse and serialize.

Who asks comes as a :class:`Caller` of plain values. The service is built once the database is open
(``api/__init__.py`` wires it) with ComfyUI behind the :class:`~..host.Host` seam.

Over 400 lines on purpose: submitting, requeueing and cancelling share one queueing lock and the count of
jobs being recorded, which keep a reset from queueing a job twice; split apart, that invariant would span modules.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..comfyui.claims import Claims
from ..comfyui.partner import EXTRA_DATA_KEY
from ..errors import BadRequest, Conflict, HostNotReady, NotFound, RateLimited
from ..events import Event
from ..graph.fill import Filled, with_seed_offset
from ..graph.models import graph_model
from ..graph.parameter import Parameter
from ..host import Host, Validation
from ..store.db import Database
from . import groups, records
from .model import CANCELLED, FAILED, FINAL_EVENTS, JOB_ID, MAX_IMAGES, PENDING, Job, check_job_id, check_session_id
from .ratelimit import RateLimiter
from .records import Filters
from .tracker import JobTracker, Preview
from .validation import validation_error

if TYPE_CHECKING:  # loaded with the backends, when the server starts (see api/state.py)
    from ..backends.dispatch import Dispatcher

log = logging.getLogger("cozygen")
CATCH_UP_WINDOW = 24 * 3600  # a stream that lost events hears of the jobs that ended this long back at most

Fill = Callable[..., Awaitable[tuple[list[Parameter], Filled]]]  # (workflow, values, caller, revision)
Prompts = list[tuple[str, dict[str, Any], list[str]]]  # (prompt id, graph, outputs to run), in queue order


async def _no_check(_graph: dict[str, Any]) -> None:
    return None


def _no_key(_graph: dict[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class Caller:
    """Who asks, in plain values: ``username`` owns what they create (the default user while auth is off),
    ``sees_all`` for admins (and everyone while auth is off), ``rate_key`` names their submission bucket, and
    ``check_files`` is the graph-file check bound to them (raises 403 for a file that is not theirs to read)."""

    username: str
    sees_all: bool = False
    rate_key: str = ""
    check_files: Callable[[dict[str, Any]], Awaitable[None]] = _no_check

    def may_see(self, username: str | None) -> bool:
        return self.sees_all or username == self.username


def boot_time(event_id: str) -> float:
    """When the server that gave out ``event_id`` (``<boot>-<n>``, boot in hex milliseconds) started; 0 if unknown."""
    boot = event_id.rpartition("-")[0]
    try:
        return int(boot, 16) / 1000 if 0 < len(boot) <= 16 else 0.0
    except ValueError:
        return 0.0


def graphs_of(job: Job) -> list[dict[str, Any]]:
    """The graphs a job queued, one per prompt, in order (a job recorded with its graph)."""
    return [job.graph or {}, *(job.more_graphs.get(p, {}) for p in job.prompt_ids[1:])]


class JobService:
    """Jobs on ComfyUI's queue, recorded before they are queued and followed by the tracker."""

    def __init__(
        self,
        db: Database,
        tracker: JobTracker,
        host: Host,
        *,
        claims: Claims,
        limits: RateLimiter,
        fill: Fill,
        client_id_for: Callable[[str], str],
        partner_key: Callable[[dict[str, Any]], str | None] = _no_key,
        remote: Dispatcher | None = None,
    ) -> None:
        """``fill(workflow, values)`` reads a stored workflow and fills the values in (its form and the filled
        graph); ``client_id_for(job_id)`` is the ComfyUI client id a job's prompts run under; ``partner_key(graph)``
        is the Comfy account key a graph's partner nodes need (None for a graph without any, or with no key set):
        it goes to ComfyUI with the prompt, asked afresh each time a graph is queued, and is never recorded."""
        self.db, self.tracker, self.host = db, tracker, host
        self.claims, self.limits, self.fill, self.client_id_for = claims, limits, fill, client_id_for
        self.partner_key = partner_key
        self.remote = remote  # routing to other backends (core/backends/dispatch.py); None: this ComfyUI only
        # Queueing a job happens under this lock, and so does a queue reset; a job recorded but not yet on
        # ComfyUI's queue is counted in ``recording`` meanwhile, so a reset cannot queue it a second time.
        self._queueing = asyncio.Lock()
        self._recording: collections.Counter[str] = collections.Counter()

    # -- lookups and views ---------------------------------------------------------------------------------
    async def load(self, job_id: str) -> Job | None:
        """A job as it stands: live from the tracker, else from its record."""
        live = self.tracker.live(job_id)
        if live is not None:
            return live
        return await self.db.execute_fn(lambda conn: records.get(conn, job_id))

    async def visible(self, caller: Caller, job_id: str) -> Job:
        """The job, or 404 ``JOB_NOT_FOUND`` unless the caller may see it."""
        job = await self.load(job_id) if JOB_ID.match(job_id) else None
        if job is None or not caller.may_see(job.username):
            raise NotFound(f"no job {job_id}", code="JOB_NOT_FOUND")
        return job

    async def with_graph(self, caller: Caller, job_id: str) -> Job:
        """The job with every graph it queued (404 ``NO_GRAPH`` when none was recorded)."""
        job = await self.visible(caller, job_id)
        stored = await self.db.execute_fn(lambda conn: records.get(conn, job.id, with_graph=True))
        if stored is None or not stored.graph:
            raise NotFound(f"job {job.id} has no recorded graph", code="NO_GRAPH")
        return stored

    async def preview(self, caller: Caller, job_id: str) -> Preview:
        """The latest preview ComfyUI sent for a running job (404 ``NO_PREVIEW``)."""
        job = await self.visible(caller, job_id)
        found = self.tracker.preview(job.id)
        if found is None:
            hint = "it has finished: see its images" if job.finished else "ComfyUI has sent none for it yet"
            raise NotFound(f"no preview for job {job.id}: {hint}", code="NO_PREVIEW")
        return found

    def positions(self, listed: list[Job]) -> dict[str, int]:
        """1-based places on ComfyUI's queue, asked of ComfyUI only when a listed job waits."""
        if not any(j.status == PENDING for j in listed):
            return {}
        _, pending = self.host.queue_snapshot()
        places = {prompt_id: n for n, prompt_id in enumerate(pending, start=1)}
        if self.remote is not None:
            places.update(self.remote.positions(len(pending)))
        return places

    def view(self, job: Job, places: dict[str, int] | None = None) -> dict[str, Any]:
        """The job as the API shows it, with its place on ComfyUI's queue while it waits."""
        places = self.positions([job]) if places is None else places
        waiting = [places[p] for p in job.all_prompts if p in places]
        shown = job.to_dict(queue_position=min(waiting) if waiting else None)
        if job.backend is not None and self.remote is not None and not job.held:
            shown["backend"] = self.remote.named(job.backend)
        return shown

    def views(self, listed: list[Job]) -> list[dict[str, Any]]:
        """Listed jobs as they stand now (progress lives in memory), with their places on the queue."""
        current = [self.tracker.live(j.id) or j for j in listed]
        places = self.positions(current)
        return [self.view(j, places) for j in current]

    async def history(
        self, filters: Filters, *, before: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of jobs, newest first, and the cursor of the next page (None at the end)."""
        found = await self.db.execute_settled(
            lambda conn: records.list_jobs(conn, before=before, limit=limit + 1, filters=filters)
        )
        more, found = len(found) > limit, found[:limit]
        return self.views(found), found[-1].id if more and found else None

    async def exported(self, filters: Filters) -> list[Job]:
        """Every job the filters select, newest first (up to the export's limit)."""
        return await self.db.execute_settled(lambda conn: records.export_jobs(conn, filters))

    async def export(self, filters: Filters) -> list[dict[str, Any]]:
        return [records.export_row(j) for j in await self.exported(filters)]

    async def queue_stats(self) -> dict[str, Any]:
        """ComfyUI's queue lengths and the recent numbers from the records."""
        running, pending = self.host.queue_snapshot()
        counts = await self.db.execute_settled(lambda conn: records.stats(conn, time.time()))
        return {"pending": len(pending), "running": len(running), **counts}

    async def ended_while_away(
        self, caller: Caller, job_id: str | None, session_id: str | None, last_id: str | None, replayed: list[Event],
        complete: bool,
    ) -> list[tuple[str, dict[str, Any]]]:  # fmt: skip
        """For an event stream: the jobs that finished while its client was away and that the replay cannot
        show, from their records (one job: how it ended, unless the client saw it already)."""
        told = {e.data.get("id") for e in replayed if e.kind in FINAL_EVENTS.values()}
        found: list[Job] = []
        if job_id is not None:
            job = None if (last_id and complete) or not JOB_ID.match(job_id) else await self.load(job_id)
            found = [job] if job is not None and job.finished and caller.may_see(job.username) else []
        elif last_id and not complete:  # events were lost (a restart, or a stalled client)
            since = max(boot_time(last_id), time.time() - CATCH_UP_WINDOW)
            chosen = Filters(username=None if caller.sees_all else caller.username, session_id=session_id)
            found = await self.db.execute_settled(lambda conn: records.finished_since(conn, since, chosen))
        return [(FINAL_EVENTS[j.status], {**self.view(j, {}), "from_record": True}) for j in found if j.id not in told]

    # -- submitting ----------------------------------------------------------------------------------------
    async def submit(
        self,
        caller: Caller,
        workflow: Any,
        values: Any,
        *,
        num_images: Any = 1,
        chosen: Any = None,
        session_id: Any = None,
        revision: Any = None,
        backend: Any = None,
    ) -> tuple[Job, bool]:
        """Fill, validate and queue a job (the one way every API submits one): the job and True, or the
        existing job and False for a retry of the same ``job_id``. Raises the 400s, 409s and 429 (409
        ``WORKFLOW_CHANGED`` when ``revision`` is given and the workflow's file is no longer that one; 409
        ``NO_BACKEND`` when no backend can run it). ``backend`` pins one (its id or name)."""
        if not isinstance(workflow, str) or not workflow.strip():
            raise BadRequest('workflow is required: {"workflow": "<name>", "values": {...}}', code="MISSING_WORKFLOW")
        if values is None:
            values = {}
        job_id = check_job_id(chosen) if chosen is not None else self.host.new_prompt_id()
        session_id = check_session_id(session_id)
        if session_id is not None:
            await self._own_session(caller, session_id)
        if not isinstance(num_images, int) or isinstance(num_images, bool) or not 1 <= num_images <= MAX_IMAGES:
            raise BadRequest(
                f"num_images must be a whole number from 1 to {MAX_IMAGES}, not {num_images!r}",
                code="INVALID_NUM_IMAGES",
                extra={"fields": {"num_images": f"a whole number from 1 to {MAX_IMAGES}"}},
            )
        if chosen is not None:
            existing = await self.load(job_id)
            if existing is not None:
                return self._repeated(caller, existing, workflow, values), False
        self.limit_rate(caller)

        schema, filled = await self.fill(workflow, values, caller, revision)
        await caller.check_files(filled.graph)  # no other user's output copied into a job
        client_id = self.client_id_for(job_id)
        self.claims.claim_client(client_id, caller.username)  # nobody else may open a socket under it
        batch = filled.params.get("batch_size")
        batch = batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else 1
        count = num_images if num_images > batch else 1  # more images than a batch: one prompt per image
        graphs = [
            (self.host.new_prompt_id(),
             self.host.run_prompt_handlers(with_seed_offset(filled, schema, n).graph, client_id))
            for n in range(count)
        ]  # fmt: skip
        prompt_id, graph = graphs[0]
        job = Job(
            id=job_id,
            prompt_id=prompt_id,
            workflow=workflow,
            username=caller.username,
            session_id=session_id,
            values=values,
            params=filled.params,
            graph=graph,
            created_at=time.time(),
            model=graph_model(graph),
            prompt_ids=[p for p, _ in graphs] if count > 1 else [],
            more_graphs=dict(graphs[1:]),
            outputs=[node for node in filled.outputs if node in graph],
        )
        if self.remote is not None:
            backend = self.remote.pin(workflow, backend)
        if self.remote is not None and self.remote.needed(backend):
            routed = await self._submit_routed(caller, job, graphs, schema, backend)
            if routed is not None:
                return routed
        if not await self._record_validated(job, graphs, schema):
            existing = await self.load(job_id)  # the same job_id, posted twice at once: the other one queued it
            if existing is None:
                raise Conflict("the job could not be recorded; try again", code="JOB_ID_TAKEN")
            return self._repeated(caller, existing, workflow, values), False
        return self.tracker.live(job.id) or job, True

    async def _submit_routed(
        self, caller: Caller, job: Job, graphs: list[tuple[str, dict[str, Any]]], schema: Any, pin: Any
    ) -> tuple[Job, bool] | None:
        """A job while other backends are enabled (or one is pinned): each prompt goes where routing says; None
        when they all go to this ComfyUI, the usual way. Prompts for this ComfyUI are validated here; the others
        by their backend when they arrive there."""
        remote = self.remote
        assert remote is not None
        from ..backends.dispatch import Refused  # loaded already: the dispatcher exists

        await remote.prepare()
        plan = remote.plan([graph for _, graph in graphs], pin)
        if all(b is not None and b.local for b in plan):
            return None
        routed = list(zip(graphs, plan, strict=True))
        prompts, refusal = await self._validated((p, g) for (p, g), b in routed if b is not None and b.local)
        if refusal is not None:
            raise validation_error(refusal.error, refusal.node_errors, schema)
        outputs = {prompt_id: wanted for prompt_id, _, wanted in prompts}
        first = plan[0] or remote.held_as(pin)  # held: the backend it is pinned to, else a placeholder
        job.backend, job.backend_name = first.id, first.name
        job.backends = {p: b.id for (p, _), b in routed if b is not None}
        job.pinned = pin is not None and str(pin).strip().lower() not in ("", "any")
        held = [p for (p, _), b in routed if b is None]  # every able backend is full: CozyGen holds them
        job.held = plan[0] is None and not job.pinned  # its answer names no backend until one takes it

        def record(conn: Any) -> bool:
            inserted = records.insert(conn, job)
            if inserted and held:
                records.hold(conn, job.id, held)
            return inserted

        if not await self.db.execute_write_fn(record):
            existing = await self.load(job.id)
            if existing is None:
                raise Conflict("the job could not be recorded; try again", code="JOB_ID_TAKEN")
            return self._repeated(caller, existing, job.workflow or "", job.values), False
        work = [(p, g, b, outputs.get(p, [])) for (p, g), b in routed]
        try:
            await remote.launch(job, work, pinned=job.pinned)
        except Refused as refused:  # the one prompt's backend refused the graph: no record left, as a local 400
            await self.db.execute_write_fn(lambda conn: records.forget_unqueued(conn, job))
            raise validation_error(refused.message, refused.extra.get("node_errors") or {}, schema) from None
        return self.tracker.live(job.id) or job, True

    async def reproduce(self, caller: Caller, job_id: str, *, backend: Any = None) -> Job:
        """Queue the graphs a job ran once more, as a new job of the caller's (routed like a new job while other
        backends are enabled: ``backend`` pins one)."""
        original = await self.with_graph(caller, job_id)
        self.limit_rate(caller)
        graphs = [(self.host.new_prompt_id(), graph) for graph in graphs_of(original)]
        if self.remote is not None:
            backend = self.remote.pin(original.workflow, backend)
        if self.remote is not None and self.remote.needed(backend):
            job = self._reproduction(caller, original, graphs)
            routed = await self._submit_routed(caller, job, graphs, None, backend)
            if routed is not None:
                return routed[0]
        prompts, refusal = await self._validated(graphs)
        if refusal is not None:
            raise validation_error(refusal.error, refusal.node_errors, None)
        job = self._reproduction(caller, original, [(p[0], p[1]) for p in prompts])
        await self._record_and_queue(job, prompts[0][2], more=prompts[1:])  # a fresh id: recorded
        return self.tracker.live(job.id) or job

    def _reproduction(self, caller: Caller, original: Job, graphs: list[tuple[str, dict[str, Any]]]) -> Job:
        """A new job of the caller's running ``original``'s graphs again under the prompt ids given."""
        return Job(
            id=self.host.new_prompt_id(),
            prompt_id=graphs[0][0],
            workflow=original.workflow,
            username=caller.username,
            session_id=original.session_id,
            values=original.values,
            params=original.params,
            graph=graphs[0][1],
            created_at=time.time(),
            model=original.model,
            reproduced_from=original.id,
            prompt_ids=[p for p, _ in graphs] if len(graphs) > 1 else [],
            more_graphs=dict(graphs[1:]),
            outputs=list(original.outputs),
        )

    def limit_rate(self, caller: Caller) -> None:
        """The submission token bucket: 429 with ``retry_after`` when the caller's is empty."""
        wait = self.limits.take(caller.rate_key)
        if wait:
            raise RateLimited(
                f"too many jobs submitted; try again in {wait} s", retry_after=wait, extra={"retry_after": wait}
            )

    def _repeated(self, caller: Caller, existing: Job, workflow: str, values: Any) -> Job:
        """The same job posted again (a retry): answer with it and queue nothing."""
        if existing.username != caller.username or existing.workflow != workflow or existing.values != values:
            raise Conflict(
                f"job_id {existing.id} belongs to another job; choose a new id for a new job", code="JOB_ID_TAKEN"
            )
        return existing

    async def _own_session(self, caller: Caller, session_id: str) -> None:
        """A job's session_id must name one of the poster's sessions."""
        found = await self.db.execute_fn(lambda conn: groups.get(conn, session_id))
        if found is None or found.username != caller.username:
            raise BadRequest(
                f"session_id {session_id!r} names none of your sessions; create one with POST /cozygen/api/sessions",
                code="UNKNOWN_SESSION",
            )

    async def _validated(self, graphs: Iterable[tuple[str, dict[str, Any]]]) -> tuple[Prompts, Validation | None]:
        """ComfyUI's own validation of each (prompt id, graph), in order: the prompts ready to queue (with their
        outputs), and the first refusal (None when every graph passed; the graphs after it are not validated)."""
        prompts: Prompts = []
        for prompt_id, graph in graphs:
            validation = await self.host.validate_prompt(prompt_id, graph)
            if not validation.ok:
                return prompts, validation
            prompts.append((prompt_id, graph, validation.outputs))
        return prompts, None

    async def _record_and_queue(self, job: Job, outputs: list[str], more: Prompts) -> bool:
        """Record a new job, then queue it; False (nothing queued) when its id is taken already.

        The record is committed before the job is queued and before any answer or event says it exists: a job
        never runs unrecorded, and an acknowledged job survives ComfyUI being killed. The lock is not held
        while the writer commits, so submissions arriving together share one commit.
        """
        self._recording[job.id] += 1
        try:
            return await self._queue_recorded(job, self._record(job), outputs, more)
        finally:
            self._recorded(job)

    async def _record_validated(self, job: Job, graphs: list[tuple[str, dict[str, Any]]], schema: Any) -> bool:
        """``_record_and_queue`` for a job whose graphs ComfyUI has yet to validate: the record is written while
        they are validated (SQLite's work in the writer thread overlaps ComfyUI's on the loop), and taken back
        before the answer when ComfyUI refuses one (the 400 leaves no record) or anything else fails. Queueing
        still waits for the commit. Raises the validation's 400."""
        self._recording[job.id] += 1
        try:
            writing = self._record(job)
            try:
                prompts, refusal = await self._validated(graphs)
            except BaseException:
                self._take_back(job, writing)
                raise
            if refusal is not None:
                await self._take_back(job, writing)
                raise validation_error(refusal.error, refusal.node_errors, schema)
            return await self._queue_recorded(job, writing, prompts[0][2], prompts[1:])
        finally:
            self._recorded(job)

    def _record(self, job: Job) -> asyncio.Future[bool]:
        """The job's insert, handed to the writer now: True once committed, False when its id was taken."""
        return asyncio.wrap_future(self.db.submit_write(lambda conn: records.insert(conn, job)))

    def _recorded(self, job: Job) -> None:
        self._recording[job.id] -= 1
        if self._recording[job.id] <= 0:
            del self._recording[job.id]

    def _take_back(self, job: Job, writing: asyncio.Future[bool]) -> asyncio.Future[Any]:
        """Remove the record of a job that will not be queued (it runs after the insert: the writer keeps order;
        only this submission's record goes, never another's of the same id)."""
        taking = asyncio.wrap_future(self.db.submit_write(lambda conn: records.forget_unqueued(conn, job)))
        for outcome in (writing, taking):  # retrieved here: a caller that was cancelled never awaits them
            outcome.add_done_callback(lambda done: done.cancelled() or done.exception())
        return taking

    async def _queue_recorded(self, job: Job, writing: Awaitable[bool], outputs: list[str], more: Prompts) -> bool:
        """Once the record is committed, queue the job; False (nothing queued) when its id was taken already."""
        try:
            recorded = await writing
        except Exception as exc:
            log.error("CozyGen: job %s could not be recorded, so it was not queued: %s", job.id, exc)
            raise HostNotReady(
                f"CozyGen could not record the job in its database ({type(exc).__name__}), so it was not "
                "queued; try again"
            ) from None
        if recorded:
            async with self._queueing:
                self._queue(job, outputs, more=more)
        return recorded

    def _queue(self, job: Job, outputs: list[str], more: Prompts) -> None:
        """Follow a recorded, validated job and put its graph on ComfyUI's queue (and, for a job of several
        prompts, the ``more`` ones after it)."""
        _, waiting = self.host.queue_snapshot()
        self.tracker.add(job, queue_position=len(waiting) + 1)  # before queueing: no message can be missed
        queued: list[str] = []
        try:
            for prompt_id, graph, wanted in [(job.prompt_id, job.graph or {}, outputs), *more]:
                extra: dict[str, Any] = {"cozygen_job_id": job.id}
                key = self.partner_key(graph)
                if key:
                    extra[EXTRA_DATA_KEY] = key  # the host keeps it out of ComfyUI's queue and history answers
                client_id = self.client_id_for(job.id)
                self.host.enqueue(graph, wanted, prompt_id=prompt_id, client_id=client_id, extra_data=extra)
                queued.append(prompt_id)
        except Exception as exc:
            log.exception("CozyGen: job %s could not be queued", job.id)
            for prompt_id in queued:
                self.host.remove_pending(prompt_id)
            self.tracker.end(job.id, FAILED, error=f"ComfyUI's queue refused the job: {exc}")
            raise HostNotReady(f"ComfyUI's queue refused the job ({type(exc).__name__}); try again") from None

    # -- requeue, cancel, delete ---------------------------------------------------------------------------
    async def reset(self) -> dict[str, Any]:
        """Re-queue, once, the jobs recorded as unfinished that ComfyUI no longer has: the jobs re-queued and
        those ComfyUI refused this time (as views)."""
        async with self._queueing:
            return await self._requeue_lost()

    async def _requeue_lost(self) -> dict[str, Any]:
        candidates = await self.db.execute_fn(records.lost_candidates)
        running, pending = self.host.queue_snapshot()
        on_comfyui = set(running) | set(pending)
        requeued, failed = [], []
        for lost in candidates:
            if (
                on_comfyui & set(lost.all_prompts)
                or self.tracker.live(lost.id) is not None
                or lost.id in self._recording
            ):
                continue  # really waiting or running, followed by this run (its end is on the way), or being queued
            new_ids = [self.host.new_prompt_id() for _ in lost.all_prompts]
            job = await self._claim_requeue(lost, new_ids)
            if job is None:
                continue  # another reset took it
            prompts, refusal = await self._validated(zip(job.all_prompts, graphs_of(job), strict=True))
            if refusal is not None:
                self.tracker.add(job)
                ended = self.tracker.end(job.id, FAILED, error=f"ComfyUI refused the graph again: {refusal.error}")
                failed.append(self.view(ended or job, {}))
                continue
            self._queue(job, prompts[0][2], more=prompts[1:])
            requeued.append(self.view(self.tracker.live(job.id) or job))
        if failed:
            await self.db.settle()  # the failures answered are recorded
        return {"requeued": requeued, "failed": failed}

    async def _claim_requeue(self, lost: Job, new_ids: list[str]) -> Job | None:
        return await self.db.execute_write_fn(lambda conn: records.claim_requeue(conn, lost, new_ids, time.time()))

    async def cancel(self, caller: Caller, job_id: str) -> tuple[Job, bool]:
        """Stop a job: (the job, True) once it is cancelled, (the job, False) while ComfyUI interrupts it (its
        message will say cancelled). 409 ``JOB_FINISHED`` when it had ended. The answer is recorded on return."""
        done = await self._cancel(await self.visible(caller, job_id))
        await self.db.settle()  # an answer that says cancelled means the record says so
        return done

    def _finished(self, current: Job) -> Conflict:
        return Conflict(
            f"job {current.id} is already {current.status}", code="JOB_FINISHED", extra={"job": self.view(current)}
        )

    async def _cancel(self, job: Job) -> tuple[Job, bool]:
        if job.finished:
            raise self._finished(job)
        if job.backend is not None and self.remote is not None:
            done = await self.remote.cancel(job)
            if done is not None:
                return done
        if len(job.prompt_ids) > 1:
            return self._cancel_several(job)
        if self.host.remove_pending(job.prompt_id):  # still waiting: it never runs
            return self.tracker.end(job.id, CANCELLED) or job, True
        marked = self.tracker.request_cancel(job.id)
        if marked is None:  # finished meanwhile, or not followed by this run
            await self.db.settle()  # an end on its way to the record is in it now
            current = await self.load(job.id)
            if current is None or current.finished:
                raise self._finished(current or job)
            current.status, current.finished_at = CANCELLED, time.time()
            await self.db.execute_write_fn(lambda conn: records.save_state(conn, current))
            return current, True
        if self.host.interrupt(job.prompt_id):  # it runs: ComfyUI's interruption message will say cancelled
            return marked, False
        # Neither waiting nor running on ComfyUI, and no end message came (its final message passes
        # through CozyGen before ComfyUI lets go of the prompt): ComfyUI dropped it.
        ended = self.tracker.end(job.id, CANCELLED)
        if ended is None or ended.status != CANCELLED:
            raise self._finished(ended or job)
        return ended, True

    def _cancel_several(self, job: Job) -> tuple[Job, bool]:
        """Cancel a job of several prompts: the waiting ones leave ComfyUI's queue, the running one is interrupted."""
        if self.tracker.request_cancel(job.id) is None:
            raise self._finished(job)
        removed = [p for p in job.prompt_ids if self.host.remove_pending(p)]
        current = self.tracker.end_prompts(job.id, removed, CANCELLED) or job
        if not current.finished and any(self.host.interrupt(p) for p in job.prompt_ids):
            return current, False
        if not current.finished:  # nothing of it left on ComfyUI
            current = self.tracker.end(job.id, CANCELLED) or current
        if current.status != CANCELLED:
            raise self._finished(current)
        return current, True

    async def delete(self, caller: Caller, job_id: str) -> str:
        """Remove a finished job's record (409 ``JOB_NOT_FINISHED`` while it is pending or running)."""
        job = await self.visible(caller, job_id)
        if not job.finished:
            raise Conflict(
                f"job {job.id} is {job.status}; cancel it first", code="JOB_NOT_FINISHED", extra={"job": self.view(job)}
            )
        if not await self.forget(job):
            raise NotFound(f"no job {job.id}", code="JOB_NOT_FOUND")
        return job.id

    async def forget(self, job: Job) -> bool:
        """Remove a finished job's record (its images stay); False when it is gone or not finished."""
        return await self.db.execute_write_fn(lambda conn: records.delete(conn, job.id))
