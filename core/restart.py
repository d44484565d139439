"""Restarting ComfyUI: whether it may restart now, and what the restart costs.

ComfyUI keeps its queue in memory, so a restart loses every prompt on it. An admin is refused (409) while any
job runs or waits, unless they say ``force``; the answer then names how many were lost. CozyGen's own records of
those jobs are marked interrupted at the next start (``jobs.records.interrupt_unfinished``), where a reset can
queue them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import BadRequest, Conflict


@dataclass(frozen=True)
class RestartPlan:
    running: int  # prompts ComfyUI is executing (every client's)
    queued: int  # prompts waiting on ComfyUI's queue
    forced: bool

    @property
    def lost(self) -> int:
        return self.running + self.queued

    def answer(self, started_at: float) -> dict[str, Any]:
        """The 202 body: ``started_at`` is this run's start, which the next run's stats will not repeat."""
        return {
            "restarting": True,
            "running_jobs": self.running,
            "queued_jobs": self.queued,
            "jobs_lost": self.lost,
            "started_at": started_at,
        }

    def audit_detail(self) -> str:
        return f"forced, {self.lost} job(s) lost" if self.forced and self.lost else "no job on the queue"


def parse_force(body: Any) -> bool:
    """``{"force": true}`` (or no body at all): any other ``force`` is a 400."""
    if body is None:
        return False
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object such as {"force": true}', code="INVALID_BODY")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequest("force must be true or false", code="INVALID_FORCE")
    return force


def plan_restart(running: list[str], pending: list[str], *, force: bool) -> RestartPlan:
    """The restart to do now, or 409 ``JOBS_ON_QUEUE`` while prompts run or wait and ``force`` is not set."""
    plan = RestartPlan(running=len(running), queued=len(pending), forced=force)
    if plan.lost and not force:
        raise Conflict(
            f"{plan.running} job(s) running and {plan.queued} queued on ComfyUI: a restart loses them. "
            'Wait until the queue is empty, or send {"force": true} to restart anyway.',
            code="JOBS_ON_QUEUE",
            extra={"running_jobs": plan.running, "queued_jobs": plan.queued},
        )
    return plan
