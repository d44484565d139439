"""Which backend runs a prompt: pure.

The candidates are the enabled backends that are up and lack nothing the graph needs. A pin (the job request's
``backend``, by id or name) keeps only that one. Among the rest the shortest queue wins: CozyGen's own prompts
waiting or running there, or the backend's own /queue lengths when they say more (other clients use it too); a
backend already holding its ``max_jobs`` of CozyGen's comes after those that do not; ties go to the local ComfyUI,
then to the order the backends are listed in. No candidate is a 409 ``NO_BACKEND`` naming, per backend, what it
lacks or why it cannot take work now.
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
    """The runnable candidates, best first."""
    order = {id(c): n for n, c in enumerate(candidates)}
    runnable = [c for c in candidates if c.runnable]
    return sorted(
        runnable,
        key=lambda c: (c.full, c.load, c.backend.id != LOCAL_ID, order[id(c)]),
    )


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


def choose(candidates: Sequence[Candidate], pinned: Backend | None = None) -> Candidate:
    """The best candidate (the pinned one, if it can run the graph); raises :func:`no_backend`."""
    pool = [c for c in candidates if pinned is None or c.backend.id == pinned.id]
    best = ranked(pool)
    if not best:
        raise no_backend(candidates, pinned)
    return best[0]


def spread(candidates: Sequence[Candidate], count: int, pinned: Backend | None = None) -> list[Candidate]:
    """Backends for ``count`` prompts of one job, each chosen as the queues stand after the ones before it."""
    chosen = []
    for _ in range(count):
        best = choose(candidates, pinned)
        best.mine += 1
        chosen.append(best)
    return chosen


def is_down(state: str) -> bool:
    return state == DOWN
