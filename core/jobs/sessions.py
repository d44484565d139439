"""The session service: a user's named groups of jobs, listed, made, renamed and deleted (SQL in groups.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..store.db import Database
from . import groups, records
from .groups import Session
from .model import Job
from .records import Filters
from .service import Caller


class SessionService:
    def __init__(self, db: Database, new_id: Callable[[], str]) -> None:
        self.db, self.new_id = db, new_id

    async def find(self, caller: Caller, session_id: str) -> Session | None:
        """The session, when it exists and the caller may see it (the API says 404 in its own words)."""
        found = await self.db.execute_fn(lambda conn: groups.get(conn, session_id))
        return found if found is not None and caller.may_see(found.username) else None

    async def mine(self, caller: Caller) -> list[Session]:
        return await self.db.execute_fn(lambda conn: groups.list_sessions(conn, caller.username))

    async def create(self, caller: Caller, name: str) -> Session:
        made = Session(id=self.new_id(), username=caller.username, name=name, created_at=time.time())
        await self.db.execute_write_fn(lambda conn: groups.create(conn, made))
        return made

    async def rename(self, session: Session, name: str) -> Session:
        await self.db.execute_write_fn(lambda conn: groups.rename(conn, session.id, name))
        session.name = name
        return session

    async def delete(self, session: Session) -> tuple[int, list[dict[str, str]]] | None:
        """Remove the session and its jobs' records: (jobs removed, the images they listed); None while a job
        of it is pending or running (nothing is removed then)."""
        return await self.db.execute_write_fn(lambda conn: groups.delete(conn, session.id))

    async def jobs(self, session: Session, limit: int) -> list[Job]:
        """The session's latest jobs as recorded, newest first."""
        chosen = Filters(session_id=session.id)
        return await self.db.execute_settled(lambda conn: records.list_jobs(conn, limit=limit, filters=chosen))

    async def status_counts(self, found: list[Session]) -> dict[str, dict[str, int]]:
        ids = [s.id for s in found]
        return await self.db.execute_settled(lambda conn: groups.status_counts(conn, ids))
