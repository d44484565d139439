"""The live jobs: the unfinished ones kept current from ComfyUI's messages, their progress and previews."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..events import EventHub
from ..store.db import Database
from .model import (
    CANCELLED,
    ENDED_OWNERS_KEPT,
    FAILED,
    PENDING,
    PREVIEW_PATH,
    PREVIEW_WITH_METADATA,
    PROGRESS_INTERVAL,
    RUNNING,
    TRACKED_MESSAGES,
    UNENCODED_PREVIEW,
    Change,
    Job,
    aggregate,
    apply_message,
    finish,
)
from .records import insert, save_state, set_owner

log = logging.getLogger("cozygen")


@dataclass(frozen=True)
class Preview:
    """The latest preview image ComfyUI sent for a running job (encoded only when someone asks)."""

    number: int
    format: str
    image: Any  # a PIL image
    max_size: int | None


def _remember(recent: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep ``key`` in a map of the latest ``ENDED_OWNERS_KEPT`` (the oldest go first)."""
    recent[key] = value
    while len(recent) > ENDED_OWNERS_KEPT:
        recent.popitem(last=False)


# -- the live jobs --------------------------------------------------------------------------------
class JobTracker:
    """The unfinished jobs, kept current from ComfyUI's messages (any thread may call in)."""

    def __init__(
        self,
        db: Database,
        hub: EventHub,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        progress_interval: float = PROGRESS_INTERVAL,
        drop_prompts: Callable[[list[str]], None] | None = None,
    ) -> None:
        """``clock`` dates the records; ``monotonic`` (any origin: it may read 0 at boot) paces progress and
        previews to one per ``progress_interval``; ``drop_prompts`` is told the prompts of a job of several
        that will not run because another of them failed (takes them off ComfyUI's queue; called outside
        the lock)."""
        self.db, self.hub, self.clock, self.monotonic = db, hub, clock, monotonic
        self.progress_interval = progress_interval
        self._lock = threading.RLock()
        self._by_prompt: dict[str, Job] = {}
        self._by_id: dict[str, Job] = {}
        self._progress_sent: dict[str, float] = {}
        self._parts: dict[str, Job] = {}  # prompt id → that prompt's own state, for jobs of several prompts
        self._previews: dict[str, Preview] = {}
        self._preview_sent: dict[str, float] = {}
        self._executing: str | None = None  # the prompt ComfyUI runs (its plain previews name none)
        # job id -> the job as it was before its end, shown until that end is committed (see _emit)
        self._ending: dict[str, Job] = {}
        # prompt id -> username of jobs that ended lately: their files reach the gallery after the job's end
        self._ended_owners: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        self._posted_by: collections.OrderedDict[str, str] = collections.OrderedDict()  # see claim()
        self.drop_prompts = drop_prompts

    # -- called from the routes -----------------------------------------------------------------
    def add(self, job: Job, *, queue_position: int | None = None) -> None:
        """Follow a job that was just recorded; call before it is queued so no message is missed."""
        with self._lock:
            self._by_prompt[job.prompt_id] = job
            self._by_id[job.id] = job
            if len(job.prompt_ids) > 1:
                for prompt_id in job.prompt_ids:
                    self._by_prompt[prompt_id] = job
                    part = Job(id=job.id, prompt_id=prompt_id, workflow=None, username=None, outputs=list(job.outputs))
                    self._parts[prompt_id] = part
            self.hub.publish("job.queued", job.to_dict(queue_position=queue_position))

    def routed(self, job_id: str, prompt_id: str, backend: str, name: str) -> None:
        """A prompt of a live job was sent to ``backend`` after all (it was held, or its own went down)."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return
            job.backends[prompt_id] = backend
            if prompt_id == job.prompt_id:
                job.backend, job.backend_name, job.held = backend, name, False

    def held(self, job_id: str, prompt_id: str) -> None:
        """A prompt of a live job waits in CozyGen for any backend with room (its answer names no backend yet)."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is not None and prompt_id == job.prompt_id:
                job.held = True

    def follows(self, prompt_id: str) -> bool:
        with self._lock:
            return prompt_id in self._by_prompt

    def adopt(self, job: Job) -> bool:
        """Record and follow a prompt queued straight into ComfyUI (by its editor, another client);
        False when that prompt is followed already."""
        with self._lock:
            if job.prompt_id in self._by_prompt:
                return False
            if job.username is None:
                job.username = self._posted_by.pop(job.prompt_id, None)
            future = self.db.submit_write(lambda conn: insert(conn, job))  # written before any of its changes
            future.add_done_callback(lambda done: self._recorded(job, done))
            self.add(job)
            return True

    def claim(self, prompt_id: str, username: str) -> None:
        """Say whose a prompt queued straight into ComfyUI is (the signed-in user who posted it, known once
        ComfyUI has answered: it may have started, or even ended, by then)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is not None and job.username is not None:
                return
            if job is not None:
                job.username = username
            else:  # not started yet (adopt takes it from here), or ended already (the record is updated)
                _remember(self._posted_by, prompt_id, username)
            if self._ended_owners.get(prompt_id, username) is None:
                self._ended_owners[prompt_id] = username
            self.db.submit_write(lambda conn: set_owner(conn, prompt_id, username))

    def live(self, job_id: str) -> Job | None:
        """A followed job as it stands; a job whose end is not yet committed still shows as it was before."""
        with self._lock:
            job = self._ending.get(job_id) or self._by_id.get(job_id)
            return job.copy() if job is not None else None

    def cancel_requested(self, prompt_id: str) -> bool:
        """Whether the live job this prompt belongs to was asked to stop (its prompt may be just starting)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            return job is not None and job.cancel_requested and not job.finished

    def owner_of(self, prompt_id: str) -> str | None:
        """Whose job ``prompt_id`` belongs to, for a job followed now or lately (None when unknown here)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            return job.username if job is not None else self._ended_owners.get(prompt_id)

    def preview(self, job_id: str) -> Preview | None:
        with self._lock:
            return self._previews.get(job_id)

    def live_ids(self) -> list[str]:
        with self._lock:
            return list(self._by_id)

    def request_cancel(self, job_id: str) -> Job | None:
        """Mark a running job so that its interruption counts as cancelled; None when it is not live."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None or job.finished:
                return None
            job.cancel_requested = True
            for prompt_id in job.prompt_ids:
                part = self._parts.get(prompt_id)
                if part is not None:
                    part.cancel_requested = True
            return job.copy()

    def end_prompts(self, job_id: str, prompt_ids: list[str], status: str, *, error: str | None = None) -> Job | None:
        """Finish some prompts of a live job of several (taken off ComfyUI's queue, say, or lost with their
        backend: ``error`` says why); the job ends with them when nothing else of it is left."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return None
            for prompt_id in prompt_ids:
                part = self._parts.get(prompt_id)
                change = finish(part, status, self.clock(), error=error) if part is not None else None
                if change is not None:
                    self._apply_part(job, change)
            return job.copy()

    def end(self, job_id: str, status: str, *, error: str | None = None) -> Job | None:
        """Finish a live job from outside ComfyUI's messages (removed from the queue, never queued)."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return None
            change = finish(job, status, self.clock(), error=error)
            if change is not None:
                self._emit(job, change)
            return job.copy()

    # -- called from ComfyUI's threads ----------------------------------------------------------
    def on_message(self, event: Any, data: Any, *, local: bool = True) -> None:
        """One message ComfyUI sends; cheap for the ones that concern no job of ours. ``local`` False: another
        backend's (core/backends/dispatch.py), whose running prompt says nothing of this ComfyUI's plain previews."""
        if event in (UNENCODED_PREVIEW, PREVIEW_WITH_METADATA):
            self._on_preview(event, data)
            return
        if event not in TRACKED_MESSAGES or not isinstance(data, Mapping):
            return
        prompt_id = data.get("prompt_id")
        if not isinstance(prompt_id, str):
            return
        if event in ("execution_start", "executing") and local:
            self._executing = prompt_id
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is None:
                return
            part = self._parts.get(prompt_id)
            change = apply_message(part if part is not None else job, event, data, self.clock())
            if change is not None and part is not None:
                self._apply_part(job, change)
            elif change is not None:
                self._emit(job, change)
            left = [p for p in job.prompt_ids if p in self._parts and not self._parts[p].finished]
            drop = left if part is not None and job.status == FAILED else []
            for prompt_id in drop:  # they will not run: the job failed
                finish(self._parts[prompt_id], CANCELLED, self.clock())
        if drop and self.drop_prompts is not None:
            self.drop_prompts(drop)

    def _on_preview(self, event: int, data: Any) -> None:
        """Keep a running job's latest preview and announce it (at most every ``progress_interval``)."""
        image, prompt_id = data, self._executing
        if event == PREVIEW_WITH_METADATA:
            if not (isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Mapping)):
                return
            image, prompt_id = data[0], data[1].get("prompt_id")
        if not (isinstance(image, tuple) and len(image) == 3 and isinstance(prompt_id, str)):
            return
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is None or job.finished:
                return
            previous = self._previews.get(job.id)
            number = previous.number + 1 if previous is not None else 1
            max_size = image[2] if isinstance(image[2], int) and image[2] > 0 else None
            self._previews[job.id] = Preview(number, str(image[0]), image[1], max_size)
            if not self._due(self._preview_sent, job.id):
                return
            self.hub.publish(
                "job.preview",
                {"id": job.id, "session_id": job.session_id, "username": job.username, "preview": number,
                 "url": PREVIEW_PATH.format(job_id=job.id) + f"?n={number}", "step": job.step,
                 "total_steps": job.total_steps, "percent": job.percent},
            )  # fmt: skip

    def _due(self, sent: dict[str, float], job_id: str, *, urgent: bool = False) -> bool:
        """Whether a paced message about ``job_id`` may go now (one never sent may); if so, noted as sent."""
        now = self.monotonic()
        last = sent.get(job_id)  # absent: never sent (no sentinel time, whatever the clock's origin)
        if not urgent and last is not None and now - last < self.progress_interval:
            return False
        sent[job_id] = now
        return True

    def _apply_part(self, job: Job, change: Change) -> None:
        parts = [self._parts[p] for p in job.prompt_ids if p in self._parts]
        folded = aggregate(job, parts, change, self.clock())
        if folded is not None:
            self._emit(job, folded)

    def _emit(self, job: Job, change: Change) -> None:
        """Publish (and write, when it matters) one change; the caller holds the lock, which keeps the order."""
        if change.event == "job.progress" and not self._due(self._progress_sent, job.id, urgent=change.urgent):
            return
        snapshot = job.copy()
        if snapshot.finished:  # previews are for watching a job run
            self._previews.pop(job.id, None)
            self._preview_sent.pop(job.id, None)
        if not change.persist:
            self.hub.publish(change.event, snapshot.to_dict())
            return
        if snapshot.finished:  # told once committed (_written): until then it shows as it was
            self._ending[job.id] = dataclasses.replace(
                snapshot, status=RUNNING if snapshot.started_at is not None else PENDING, finished_at=None, error=None
            )
        else:
            self.hub.publish(change.event, snapshot.to_dict())
        future = self.db.submit_write(lambda conn: save_state(conn, snapshot))
        future.add_done_callback(lambda done: self._written(snapshot, done, change.event))

    def _recorded(self, job: Job, done: Any) -> None:
        if done.exception() is not None:
            log.error("CozyGen: the job of prompt %s could not be recorded: %s", job.prompt_id, done.exception())

    def _written(self, snapshot: Job, done: Any, event: str) -> None:
        error = done.exception()
        if error is not None:
            log.error("CozyGen: job %s could not be saved: %s", snapshot.id, error)
        if snapshot.finished:  # the record is final now: say so, and reads go to the database
            with self._lock:
                self._ending.pop(snapshot.id, None)
                self.hub.publish(event, snapshot.to_dict())
                job = self._by_id.get(snapshot.id)
                if job is not None and job.finished:
                    del self._by_id[snapshot.id]
                    for prompt_id in {job.prompt_id, *job.prompt_ids}:
                        self._by_prompt.pop(prompt_id, None)
                        _remember(self._ended_owners, prompt_id, job.username)
                        self._parts.pop(prompt_id, None)
                    self._progress_sent.pop(snapshot.id, None)
