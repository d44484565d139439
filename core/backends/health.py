"""Whether a backend answers: one probe (``GET /queue`` with a short timeout, the ComfyUI version on request), and
the monitor that probes every backend in turn: every ~5 s while it has CozyGen jobs, every ~30 s otherwise. A
backend is ``down`` after ``FAILURES`` probes (or socket failures) in a row, ``up`` at its first answer again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import DOWN, UP, Health
from .remote import RemoteComfyUI, RemoteError

if TYPE_CHECKING:
    from .service import BackendService

log = logging.getLogger("cozygen")
PROBE_TIMEOUT = 4.0  # seconds
BUSY_EVERY, IDLE_EVERY, TICK = 5.0, 30.0, 1.0
FAILURES = 2  # probes failed in a row before a backend counts as down
QUEUE_CAP = 4 * 1024 * 1024  # bytes of a /queue answer (it carries every queued graph)


@dataclass
class Probe:
    ok: bool
    latency_ms: float
    running: int = 0
    pending: int = 0
    version: str | None = None
    error: str | None = None


def queue_lengths(answer: Any) -> tuple[int, int]:
    """(running, pending) of ComfyUI's ``/queue`` answer; RemoteError when it is not one."""
    if not isinstance(answer, dict):
        raise RemoteError("its /queue answer is not ComfyUI's (no queue_running/queue_pending)")
    running, pending = answer.get("queue_running"), answer.get("queue_pending")
    if not isinstance(running, list) or not isinstance(pending, list):
        raise RemoteError("its /queue answer is not ComfyUI's (no queue_running/queue_pending)")
    return len(running), len(pending)


def comfyui_version(stats: Any) -> str | None:
    system = stats.get("system") if isinstance(stats, dict) else None
    version = system.get("comfyui_version") if isinstance(system, dict) else None
    return version[:64] if isinstance(version, str) else None


async def probe(client: RemoteComfyUI, *, timeout: float = PROBE_TIMEOUT, version: bool = False) -> Probe:
    """One look at a backend: never raises (a failure is a Probe with ``error``)."""
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(client.get_json("/queue", cap=QUEUE_CAP), timeout)
        running, pending = queue_lengths(answer)
        found = None
        if version:
            found = comfyui_version(await asyncio.wait_for(client.get_json("/system_stats", cap=1024 * 1024), timeout))
    except asyncio.TimeoutError:
        return Probe(False, _ms(started), error=f"no answer within {timeout:g} s")
    except RemoteError as exc:
        return Probe(False, _ms(started), error=str(exc))
    return Probe(True, _ms(started), running, pending, found)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def next_health(old: Health, seen: Probe, failures: int, now: float) -> Health:
    """The health after a probe; ``failures``: failed probes in a row, this one included."""
    if seen.ok:
        return Health(
            state=UP,
            checked_at=now,
            latency_ms=seen.latency_ms,
            queue_running=seen.running,
            queue_pending=seen.pending,
            comfyui_version=seen.version or old.comfyui_version,
        )
    down = failures >= FAILURES or old.state == DOWN
    return Health(
        state=DOWN if down else old.state,
        checked_at=now,
        latency_ms=None,
        error=seen.error,
        queue_running=old.queue_running,
        queue_pending=old.queue_pending,
        comfyui_version=old.comfyui_version,
        down_since=(old.down_since or now) if down else None,
    )


class HealthMonitor:
    """The task that probes the service's remote backends (started by the service, stopped with it)."""

    def __init__(self, service: BackendService, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.clock = clock
        self.due: dict[str, float] = {}  # backend id -> monotonic time of its next probe
        self.task: asyncio.Task | None = None
        self.wake = asyncio.Event()
        self.stopped = False

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self.run(), name="cozygen-backend-health")

    async def stop(self) -> None:
        self.stopped = True  # wait_for may swallow a cancel that meets a wake (3.11): the loop checks this too
        self.wake.set()
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def soon(self, backend_id: str) -> None:
        """Probe this backend at the next tick (it was added, changed, or a socket failed)."""
        self.due[backend_id] = 0.0
        self.wake.set()

    async def run(self) -> None:
        while not self.stopped:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the monitor must outlive any one bad answer
                log.exception("CozyGen: the backend health monitor failed a round")
            if self.stopped:
                return
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), TICK)
            except asyncio.TimeoutError:
                pass

    async def tick(self) -> None:
        now = self.clock()
        due = [
            backend
            for backend in self.service.backends()
            if not backend.local and backend.enabled and self.due.get(backend.id, 0.0) <= now
        ]
        if not due:
            return
        await asyncio.gather(*(self.check(backend.id) for backend in due))

    async def check(self, backend_id: str) -> None:
        every = BUSY_EVERY if self.service.active(backend_id) else IDLE_EVERY
        self.due[backend_id] = self.clock() + every
        await self.service.check(backend_id)
