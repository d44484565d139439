"""Prompts CozyGen holds while every backend able to run them is full (each holds its ``max_jobs`` of CozyGen's
prompts): kept in arrival order and released oldest first to whichever able backend frees first.

This module keeps the order and wakes the releaser; releasing (routing and sending) is the dispatcher's. The
releaser is woken by an event the dispatcher pokes (a remote prompt's end, a backend coming up or enabled) and by
a slow poll while anything is held: a local prompt's end is seen only through ComfyUI's own queue, and a raised
``max_jobs`` only through the backend list. Each held prompt is also recorded as held (``job_prompts.held``,
migration 24), so a restart holds it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("cozygen")
HOLD_POLL = 1.0  # seconds between looks while anything is held


@dataclass
class Held:
    """One prompt CozyGen keeps back: sent nowhere yet."""

    prompt_id: str
    job_id: str
    graph: dict[str, Any]
    pin: str | None = None  # the backend it waits for (its job was pinned there); None: any able one


class HoldQueue:
    """The held prompts, oldest first, and the task that offers them to the backends while any are held."""

    def __init__(self, release: Callable[[], Awaitable[None]], *, poll: float = HOLD_POLL) -> None:
        self._release, self.poll = release, poll
        self._held: dict[str, Held] = {}  # prompt id -> held prompt, in arrival order
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._held

    def oldest_first(self) -> list[Held]:
        return list(self._held.values())

    def hold(self, held: Held) -> None:
        """Keep a prompt back (at the end of the line) and make sure something will offer it again."""
        self._held[held.prompt_id] = held
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cozygen-hold-queue")

    def take(self, prompt_id: str) -> Held | None:
        """Take a prompt out of the line (released, cancelled or ended); None when it is not held."""
        return self._held.pop(prompt_id, None)

    def of_job(self, job_id: str) -> list[Held]:
        return [h for h in self._held.values() if h.job_id == job_id]

    def poke(self) -> None:
        """A backend may have room now: offer the held prompts again (soon, on the releaser's task)."""
        if self._held:
            self._wake.set()

    def positions(self, after: int) -> dict[str, int]:
        """1-based places of the held prompts, counted after the ``after`` prompts already waiting on backends."""
        return {prompt_id: after + n for n, prompt_id in enumerate(self._held, start=1)}

    async def _run(self) -> None:
        while self._held:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            try:
                await self._release()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CozyGen: held prompts could not be offered to the backends")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
