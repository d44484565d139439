"""Series: one job request run N times, or again and again until its owner stops it, on the server.

A series queues one job at a time, through :meth:`JobService.submit` as its owner, so each job goes through the
same fill as a tap on Generate: a seed the request does not pin (randomize, -1, or a workflow seed that draws one
per job) is drawn anew for every job. When that job ends (its final event on the job hub), the next one is
queued. One at a time keeps ComfyUI's queue open to everyone else, and the same way serves N times and until
stopped: the series lives in SQLite (``repeat_records``), so it goes on while the phone is locked and after a
restart (the job a restart interrupted is queued again, not counted).

A series ends when it has completed its N jobs (``done``), when until-stopped reaches ``cap`` jobs (``done``),
when a job of it fails (``failed``, with the job's error: a series never loops on a failure), when a job of it
is cancelled or interrupted, when its owner stops it, or when its owner may no longer run jobs (``stopped``).
A sweep every ``sweep_every`` seconds catches a job end whose event was missed and queues a job that ComfyUI
or the rate limit refused for a moment.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import BadRequest, Conflict, CozyGenError, HostNotReady, NotFound, RateLimited
from ..events import EventHub, Subscription
from ..store.db import Database
from . import repeat_records as store
from .model import CANCELLED, COMPLETED, FAILED, FINAL_EVENTS, INTERRUPTED, MAX_IMAGES, check_session_id
from .repeat_records import DONE, RUNNING, STOPPED, Series
from .service import Caller, JobService

log = logging.getLogger("cozygen")
MAX_TIMES = 1000  # "run N times": N from 1 to this
CAP = 1000  # until stopped: a series ends after this many jobs
MAX_RUNNING = 5  # running series per user
UNTIL_STOPPED = "until_stopped"
SERIES_EVENT = "series.changed"
SWEEP_EVERY = 10.0

MaySubmit = Callable[[sqlite3.Connection, str], bool]  # (connection, username) -> may they still queue jobs


def check_times(value: Any) -> int | None:
    """``times``: a whole number from 1 to MAX_TIMES, or "until_stopped" (None)."""
    if value == UNTIL_STOPPED:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TIMES:
        return value
    raise BadRequest(
        f'times must be a whole number from 1 to {MAX_TIMES}, or "{UNTIL_STOPPED}" to repeat until you stop it; '
        f"not {value!r}",
        code="INVALID_TIMES",
        extra={"fields": {"times": f'a whole number from 1 to {MAX_TIMES}, or "{UNTIL_STOPPED}"'}},
    )


class RepeatService:
    """Series of jobs, each queued when the one before it ends."""

    def __init__(
        self,
        db: Database,
        jobs: JobService,
        hub: EventHub,
        *,
        caller_for: Callable[[str], Caller],
        may_submit: MaySubmit,
        cap: int = CAP,
        sweep_every: float = SWEEP_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``caller_for(username)`` is who queues a series' next jobs (its owner, with no request at hand);
        ``may_submit`` says whether the owner may still queue jobs (a user deleted or made a viewer may not)."""
        self.db, self.jobs, self.hub = db, jobs, hub
        self.caller_for, self.may_submit, self.cap, self.sweep_every, self.clock = (
            caller_for, may_submit, cap, sweep_every, clock
        )  # fmt: skip
        self._lock = asyncio.Lock()  # one change of a series at a time: a job's end is handled once
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- what the routes call --------------------------------------------------------------------------
    async def start_series(
        self,
        caller: Caller,
        workflow: Any,
        values: Any,
        *,
        num_images: Any = 1,
        session_id: Any = None,
        times: Any,
        backend: Any = None,
    ) -> tuple[Series, Any]:
        """Start a series and queue its first job (the 400s of a job come from it): the series and that job.
        ``backend`` pins its jobs as a single job's request does (an unknown one is the first job's 400)."""
        count = check_times(times)
        if backend is not None and (not isinstance(backend, str) or len(backend) > 200):
            raise BadRequest('backend must be the id or the name of a backend, or "any"', code="INVALID_BACKEND")
        if not isinstance(workflow, str) or not workflow.strip():
            raise BadRequest('workflow is required: {"workflow": "<name>", "values": {...}}', code="MISSING_WORKFLOW")
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise BadRequest("values must be an object of parameter name → value", code="INVALID_VALUES")
        if not isinstance(num_images, int) or isinstance(num_images, bool) or not 1 <= num_images <= MAX_IMAGES:
            raise BadRequest(
                f"num_images must be a whole number from 1 to {MAX_IMAGES}, not {num_images!r}",
                code="INVALID_NUM_IMAGES",
                extra={"fields": {"num_images": f"a whole number from 1 to {MAX_IMAGES}"}},
            )
        session_id = check_session_id(session_id)
        now = self.clock()
        series = Series(
            id=str(uuid.uuid4()), username=caller.username, workflow=workflow, values=values, num_images=num_images,
            session_id=session_id, times=count, created_at=now, updated_at=now, submitted=1,
            current_job=str(uuid.uuid4()), backend=backend,
        )  # fmt: skip
        async with self._lock:
            mine = await self.db.execute_fn(lambda conn: store.listed(conn, caller.username, ended=0))
            if len(mine) >= MAX_RUNNING:
                raise Conflict(
                    f"you have {len(mine)} series running; stop one before starting another", code="TOO_MANY_SERIES"
                )
            await self.db.execute_write_fn(lambda conn: store.insert(conn, series))
            try:
                job, _ = await self.jobs.submit(
                    caller,
                    workflow,
                    values,
                    num_images=num_images,
                    chosen=series.current_job,
                    session_id=session_id,
                    backend=backend,
                )
            except BaseException:
                await self.db.execute_write_fn(lambda conn: store.delete(conn, series.id))
                raise
            self._publish(series)
        return series, job

    async def visible(self, caller: Caller, series_id: str) -> Series:
        """The series, or 404 ``SERIES_NOT_FOUND`` unless the caller may see it (its owner, an admin)."""
        found = await self.db.execute_fn(lambda conn: store.get(conn, series_id))
        if found is None or not caller.may_see(found.username):
            raise NotFound(f"no series {series_id}", code="SERIES_NOT_FOUND")
        return found

    async def listed(self, caller: Caller) -> list[Series]:
        """The caller's running series and their latest ended ones (everyone's for an admin)."""
        username = None if caller.sees_all else caller.username
        return await self.db.execute_fn(lambda conn: store.listed(conn, username))

    async def stop(self, caller: Caller, series_id: str, *, cancel_job: bool = False) -> Series:
        """Queue no further job of the series (stopping a series that has ended answers it as it is). The job
        it queued last runs to its end, unless ``cancel_job``."""
        async with self._lock:
            series = await self.visible(caller, series_id)
            if series.status == RUNNING:
                await self._end(series, STOPPED, f"stopped by {caller.username}")
        if cancel_job and series.current_job:
            try:
                await self.jobs.cancel(caller, series.current_job)
            except (Conflict, NotFound):
                pass  # it had ended, or was never queued
        return series

    # -- following the jobs ----------------------------------------------------------------------------
    def start(self) -> None:
        """Follow the job hub and resume the running series (call on the running loop, once the jobs are)."""
        self._sub = self.hub.subscribe(internal=True)  # no page: Web Push counts the hub's other followers
        loop = asyncio.get_running_loop()
        for work in (self._follow(self._sub), self._sweeping()):
            task = loop.create_task(work, name="cozygen-series")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop_following(self) -> None:
        if self._sub is not None:
            self.hub.unsubscribe(self._sub)
            self._sub = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, sub: Subscription) -> None:
        finals = set(FINAL_EVENTS.values())
        while True:
            event = await sub.queue.get()
            sub.overflowed = False  # an end missed then is found by the sweep
            job_id = event.data.get("id")
            if event.kind in finals and isinstance(job_id, str):
                try:
                    await self.job_ended(job_id)
                except Exception:
                    log.exception("CozyGen: the series of job %s could not go on", job_id)

    async def _sweeping(self) -> None:
        resumed = True  # the first pass runs at start: a job a restart interrupted is queued again
        while True:
            try:
                await self.sweep(resumed=resumed)
            except Exception:
                log.exception("CozyGen: the series could not be checked")
            resumed = False
            await asyncio.sleep(self.sweep_every)

    async def job_ended(self, job_id: str) -> None:
        """A job ended: the next job of its series, if it has one."""
        async with self._lock:
            series = await self.db.execute_fn(lambda conn: store.with_job(conn, job_id))
            if series is None:
                return
            if series.status == RUNNING:
                await self._go_on(series, resumed=False)
                return
            job = await self.jobs.load(job_id)  # the last job of a stopped series: counted when it completed
            if job is not None and job.finished:
                series.completed += job.status == COMPLETED
                series.current_job = None
                await self._save(series)

    async def sweep(self, *, resumed: bool = False) -> None:
        """Every running series has its job queued or running (``resumed``: at start, after a restart)."""
        async with self._lock:
            for series in await self.db.execute_fn(store.running):
                await self._go_on(series, resumed=resumed)

    # -- the steps -------------------------------------------------------------------------------------
    async def _go_on(self, series: Series, *, resumed: bool) -> None:
        """Queue the next job of a running series once its current one has ended (or is gone)."""
        job = await self.jobs.load(series.current_job) if series.current_job else None
        if job is not None and not job.finished:
            return  # it waits or runs
        if job is None:  # never queued (refused for a moment) or gone: queue it again under the same id
            await self._submit(series, series.current_job)
            return
        series.current_job = None  # it has ended: counted once, here
        if job.status == FAILED:
            await self._end(series, store.FAILED, f"job {job.id} failed: {job.error or 'see the job'}")
            return
        if job.status == CANCELLED or (job.status == INTERRUPTED and not resumed):
            await self._end(series, STOPPED, f"its job was {job.status}")
            return
        series.completed += job.status == COMPLETED  # interrupted by a restart: run again, not counted
        if series.times is not None and series.completed >= series.times:
            await self._end(series, DONE, None)
        elif series.times is None and series.submitted >= self.cap:
            await self._end(series, DONE, f"reached the limit of {self.cap} runs")
        elif not await self.db.execute_fn(lambda conn: self.may_submit(conn, series.username)):
            await self._end(series, STOPPED, f"{series.username} may no longer run jobs")
        else:
            series.submitted += 1
            await self._submit(series, None)

    async def _submit(self, series: Series, job_id: str | None) -> None:
        """Queue a job of the series as its owner (``job_id``: again under that id, else a new job)."""
        series.current_job = job_id or str(uuid.uuid4())
        await self._save(series)  # the id is written first: the job's end always finds its series
        try:
            await self.jobs.submit(
                self.caller_for(series.username), series.workflow, series.values, num_images=series.num_images,
                chosen=series.current_job, session_id=series.session_id, backend=series.backend,
            )  # fmt: skip
        except (RateLimited, HostNotReady) as exc:  # for a moment: the sweep tries again
            log.info("CozyGen: series %s waits to queue its next job: %s", series.id, exc)
        except CozyGenError as exc:  # the workflow, a model or a file is gone: it will not work again
            await self._end(series, store.FAILED, f"its next job was refused: {exc}")
        except Exception as exc:
            log.exception("CozyGen: series %s could not queue its next job", series.id)
            await self._end(series, store.FAILED, f"its next job could not be queued ({type(exc).__name__})")

    async def _end(self, series: Series, status: str, reason: str | None) -> None:
        series.status, series.reason = status, reason
        await self._save(series)

    async def _save(self, series: Series) -> None:
        series.updated_at = self.clock()
        await self.db.execute_write_fn(lambda conn: store.save(conn, series))
        self._publish(series)

    def _publish(self, series: Series) -> None:
        self.hub.publish(SERIES_EVENT, series.to_dict())
