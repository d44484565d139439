"""``POST /cozygen/api/system/restart`` (admin): answer 202, then stop CozyGen's parts and run ComfyUI again.

The answer is written and flushed first; the restart follows a moment later on the event loop: CozyGen's
state shuts down as at a server stop (the database writer commits what it holds and closes), then the host
replaces the process with a fresh run of the same command line (``Host.restart_process``).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ..core.accounts import users
from ..core.errors import Conflict
from ..core.restart import parse_force, plan_restart
from .auth.credentials import current_user, remote_address
from .responses import json_response, read_json
from .state import CozyGenState

log = logging.getLogger("cozygen")
GRACE_SECONDS = 0.3  # after the answer is flushed: the client reads it before the socket closes


class RestartRoutes:
    def __init__(self, state: CozyGenState, started_at: float) -> None:
        self.state = state
        self.started_at = started_at  # this run's start; the stats of the next run show another
        self.restarting = False

    async def restart(self, request: web.Request) -> web.StreamResponse:
        force = parse_force(await read_json(request) if request.body_exists else None)
        if self.restarting:
            raise Conflict("ComfyUI is already restarting", code="RESTARTING")
        running, pending = self.state.host.queue_snapshot()
        plan = plan_restart(running, pending, force=force)
        user, remote = current_user(request), remote_address(request)
        actor = user.username if user else None
        await self.state.db.execute_write_fn(
            lambda conn: users.audit(conn, "system.restart", actor=actor, remote=remote, detail=plan.audit_detail())
        )
        self.restarting = True
        response = json_response(plan.answer(self.started_at), status=202)
        response.force_close()  # no keep-alive on a connection the restart is about to cut
        await response.prepare(request)
        await response.write_eof()
        log.warning("CozyGen: ComfyUI restart asked by %s (%s)", actor or "a local caller", plan.audit_detail())
        asyncio.get_running_loop().create_task(self._restart())
        return response

    async def _restart(self) -> None:
        await asyncio.sleep(GRACE_SECONDS)
        try:
            await self.state.shutdown()  # pending commits written, the database closed, watchers stopped
        except Exception:
            log.exception("CozyGen: stopping before the restart failed; restarting anyway")
        try:
            self.state.host.restart_process()
        except Exception:
            log.exception("CozyGen: ComfyUI could not be restarted; stop and start it by hand")
            self.restarting = False
