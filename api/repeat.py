"""Series over HTTP: one job request run N times or until stopped (core/jobs/repeat.py).

The series service starts with the server once the jobs do: it follows the job hub and queues each series'
next job as its owner. Everyone sees only their own series (an admin sees everyone's, as with jobs).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from ..core.accounts import users
from ..core.accounts.access import ADMIN, USER, VIEWER
from ..core.errors import HostNotReady
from ..core.jobs.repeat import RepeatService
from ..core.jobs.service import Caller
from .jobs import caller
from .params import flag
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState


class RepeatRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.service: RepeatService | None = None

    # -- life -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        state = self.state
        self.service = RepeatService(
            state.db, state.job_service, state.job_hub, caller_for=self.owner_caller, may_submit=self.may_submit
        )
        self.service.start()

    async def stop(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            await service.stop_following()

    def owner_caller(self, username: str) -> Caller:
        """Who queues a series' next job: its owner, in their own submission bucket. The files its graph names
        were checked against them when the series started, and its values do not change."""
        return Caller(username=username, rate_key=f"user:{username}")

    def may_submit(self, conn: sqlite3.Connection, username: str) -> bool:
        """With sign-in on, the owner must still be a user or an admin (deleted or made a viewer: no more jobs)."""
        if not self.state.auth_enabled:
            return True
        user = users.get_user(conn, username=username)
        return user is not None and user.role in (USER, ADMIN)

    @property
    def repeat(self) -> RepeatService:
        if self.service is None:
            raise HostNotReady(self.state.startup_error or "CozyGen is still starting; try again in a moment")
        return self.service

    # -- routes -----------------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        series, job = await self.repeat.start_series(
            caller(request, self.state),
            body.get("workflow"),
            body.get("values", {}),
            num_images=body.get("num_images", 1),
            session_id=body.get("session_id"),
            times=body.get("times"),
            backend=body.get("backend"),
        )
        return json_response({"series": series.to_dict(), "job": self.state.job_service.view(job)}, status=201)

    async def list_own(self, request: web.Request) -> web.Response:
        found = await self.repeat.listed(caller(request, self.state))
        return json_response({"series": [s.to_dict() for s in found]})

    async def get_one(self, request: web.Request) -> web.Response:
        found = await self.repeat.visible(caller(request, self.state), request.match_info["series_id"])
        return json_response({"series": found.to_dict()})

    async def stop_one(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await read_json(request) if request.can_read_body else {}
        cancel_job = body.get("cancel_job", False) is True or flag(request, "cancel_job")
        stopped = await self.repeat.stop(
            caller(request, self.state), request.match_info["series_id"], cancel_job=cancel_job
        )
        return json_response({"series": stopped.to_dict()})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = RepeatRoutes(state)
    state.starters.append(r.start)
    state.stoppers.append(r.stop)
    routes.post("/cozygen/api/series", access=USER)(r.create)
    routes.get("/cozygen/api/series", access=VIEWER)(r.list_own)
    routes.get("/cozygen/api/series/{series_id}", access=VIEWER)(r.get_one)
    routes.post("/cozygen/api/series/{series_id}/stop", access=USER)(r.stop_one)
