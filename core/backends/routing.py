"""Which backend runs a prompt: pure.

The candidates are the enabled backends that are up and lack nothing the graph needs. A pin (the job request's
``backend``, by id or name) keeps only that one. ``max_jobs`` is a cap: a backend holding that many of CozyGen's
prompts (for the local ComfyUI, its whole queue) takes no more, and when every able one is full the prompt is held
(``choose`` answers None; core/backends/holding.py keeps it until one frees). Among the rest the shortest queue
wins: CozyGen's own prompts waiting or running there, or the backend's own /queue lengths when they say more
(other clients use it too); ties go to the local ComfyUI, then to the order the backends are listed in. No able
candidate at all is a 409 ``NO_BACKEND`` naming, per backend, what it lacks or why it cannot take work now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, Conflict
from .model import DISABLED, DOWN, LOCAL_ID, UP, Backend


@dataclass
class Candidate:
    """One backend as routing sees it: its health state, what the graph needs that it lacks, and its load."""

    backend: Backend
    state: str
    missing: list[str] = field(default_factory=list)
    mine: int = 0  # CozyGen's prompts waiting or running there
    queued: int = 0  # its own queue's length (running + pending), as last seen

    @property
    def runnable(self) -> bool:
        return self.backend.enabled and self.state == UP and not self.missing

    @property
    def load(self) -> int:
        return max(self.mine, self.queued)

    @property
    def full(self) -> bool:
        """Holding its ``max_jobs`` of CozyGen's (the local queue is all CozyGen's as far as routing knows)."""
        return (self.load if self.backend.local else self.mine) >= self.backend.max_jobs

    def why_not(self) -> str:
        if not self.backend.enabled:
            return DISABLED
        return self.state if self.state != UP else "up"


def find_pin(backends: Sequence[Backend], pin: Any) -> Backend | None:
    """The backend a request pins (its id or its name, any case); None for no pin. 400 for an unknown one."""
    if pin is None or (isinstance(pin, str) and pin.strip().lower() in ("", "any")):
        return None
    if not isinstance(pin, str):
        raise BadRequest('backend must be the id or the name of a backend, or "any"', code="INVALID_BACKEND")
    wanted = pin.strip()
    for backend in backends:
        if backend.id == wanted or backend.name.lower() == wanted.lower():
            return backend
    raise BadRequest(f"no backend {wanted!r}; GET /cozygen/api/backends lists them", code="UNKNOWN_BACKEND")


def ranked(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The runnable candidates with room for one more prompt, best first."""
    order = {id(c): n for n, c in enumerate(candidates)}
    free = [c for c in candidates if c.runnable and not c.full]
    return sorted(free, key=lambda c: (c.load, c.backend.id != LOCAL_ID, order[id(c)]))


def no_backend(candidates: Sequence[Candidate], pinned: Backend | None = None) -> Conflict:
    """409 ``NO_BACKEND``: per backend what it lacks (``missing``) and its state."""
    listed = [c for c in candidates if pinned is None or c.backend.id == pinned.id]
    parts = []
    for c in listed:
        if c.missing:
            parts.append(f"{c.backend.name} lacks {', '.join(c.missing[:5])}" + (" ..." if len(c.missing) > 5 else ""))
        elif not c.runnable:
            parts.append(f"{c.backend.name} is {c.why_not()}")
    detail = "; ".join(parts) or "no backend is enabled"
    return Conflict(
        f"no backend can run this job: {detail}",
        code="NO_BACKEND",
        extra={
            "backends": [
                {"id": c.backend.id, "name": c.backend.name, "missing": list(c.missing), "state": c.why_not()}
                for c in listed
            ]
        },
    )


def choose(candidates: Sequence[Candidate], pinned: Backend | None = None) -> Candidate | None:
    """The best candidate with room (only the pinned one, when pinned); None when every one able to run the graph
    is full (the prompt is held); raises :func:`no_backend` when none is able at all."""
    pool = [c for c in candidates if pinned is None or c.backend.id == pinned.id]
    if not any(c.runnable for c in pool):
        raise no_backend(candidates, pinned)
    best = ranked(pool)
    return best[0] if best else None


def spread(candidates: Sequence[Candidate], count: int, pinned: Backend | None = None) -> list[Candidate | None]:
    """Backends for ``count`` prompts of one job, each chosen as the queues stand after the ones before it (None:
    held, every able backend is full)."""
    chosen = []
    for _ in range(count):
        best = choose(candidates, pinned)
        if best is not None:
            best.mine += 1
            best.queued += 1  # the local ComfyUI's load is its whole queue
        chosen.append(best)
    return chosen


def is_down(state: str) -> bool:
    return state == DOWN
