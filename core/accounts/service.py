"""Account operations behind the account routes (api/accounts.py), with no HTTP in them: password checks
behind the login throttle, first-run setup, password and role changes, API tokens, and the audit log.

Every call takes the address the request came from (``remote``) where it writes to the audit log.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from ..errors import Conflict, Forbidden, RateLimited, Unauthorized
from ..store.db import Database
from . import users
from .login_throttle import Attempt, LoginLimits
from .passwords import dummy_hash, verify_password
from .users import User


class AccountService:
    """The accounts of one database; ``limits`` throttles password guesses."""

    def __init__(self, db: Database, limits: LoginLimits) -> None:
        self.db = db
        self.limits = limits

    async def audit(
        self,
        action: str,
        *,
        actor: str | None,
        remote: str,
        target: str | None = None,
        ok: bool = True,
        detail: str | None = None,
    ) -> None:
        await self.db.execute_write_fn(
            lambda conn: users.audit(conn, action, actor=actor, target=target, remote=remote, ok=ok, detail=detail)
        )

    async def password_attempt(self, username: str, remote: str, action: str) -> Attempt:
        """A password check behind the login throttle, reserved before the (slow, threaded) check: it counts as
        failed until it succeeds, so parallel guesses cannot all pass before the first failure is counted."""
        attempt, wait = self.limits.reserve(username, remote)
        if attempt is None:
            await self.audit(action, actor=username, remote=remote, ok=False, detail="throttled")
            raise RateLimited(f"too many wrong passwords; try again in {wait} s", retry_after=wait)
        return attempt

    async def sign_in(self, username: str, password: str, remote: str) -> User:
        """The user these credentials name (audited either way), or Unauthorized."""
        attempt = await self.password_attempt(username, remote, "login")
        user = await self.db.execute_fn(lambda conn: users.get_user(conn, username=username))
        valid = await asyncio.to_thread(verify_password, password, user.password_hash if user else dummy_hash())
        if user is None or not valid:
            await self.audit("login", actor=username, remote=remote, ok=False, detail="invalid credentials")
            raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
        attempt.succeeded()
        await self.audit("login", actor=user.username, remote=remote)
        return user

    async def status(self) -> tuple[bool, bool]:
        """Whether some user still has a password to change, and whether no user exists yet (setup needed)."""
        must_change = await self.db.execute_fn(users.any_must_change)
        needs_setup = await self.db.execute_fn(users.count_users) == 0
        return must_change, needs_setup

    async def sign_out_everywhere(self, user: User, remote: str, *, revoke_api_tokens: bool) -> None:
        await self.db.execute_write_fn(
            lambda conn: users.bump_token_version(conn, user.id, revoke_api_tokens=revoke_api_tokens)
        )
        detail = "api tokens revoked" if revoke_api_tokens else None
        await self.audit("logout", actor=user.username, remote=remote, detail=detail)

    async def set_up(self, username: Any, password: Any, remote: str) -> User:
        """The first admin, while no user exists (Conflict after that)."""

        def create_first(conn: sqlite3.Connection) -> User:
            if users.count_users(conn):
                raise Conflict("setup is done: a user already exists; sign in instead", code="SETUP_DONE")
            return users.create_user(conn, username, password, "admin")

        user = await self.db.execute_write_fn(create_first)
        await self.audit("setup", actor=user.username, remote=remote, target=user.username)
        return user

    async def change_own_password(
        self, user: User, current: Any, new_password: Any, remote: str, *, revoke_api_tokens: bool
    ) -> User:
        """A new password for a user who proves the current one (checked behind the throttle)."""
        if not isinstance(current, str):
            raise Forbidden("send your current password as current_password", code="WRONG_PASSWORD")
        action = "password.change"
        attempt = await self.password_attempt(user.username, remote, action)
        if not await asyncio.to_thread(verify_password, current, user.password_hash):
            await self.audit(action, actor=user.username, remote=remote, ok=False, detail="wrong current password")
            raise Forbidden("the current password is wrong", code="WRONG_PASSWORD")
        attempt.succeeded()
        return await self.db.execute_write_fn(
            lambda conn: users.set_password(conn, user.id, new_password, revoke_api_tokens=revoke_api_tokens)
        )

    async def update_user(self, user_id: int, changes: dict[str, Any], *, revoke_api_tokens: bool) -> User:
        """A new ``role`` and/or ``password`` (with ``must_change_password``, default true) for a user; a new
        role revokes their API tokens whatever ``revoke_api_tokens`` says."""

        def change(conn: sqlite3.Connection) -> User:
            user = None
            if "role" in changes:
                user = users.set_role(conn, user_id, changes["role"])
            if "password" in changes:
                must_change = bool(changes.get("must_change_password", True))
                user = users.set_password(
                    conn, user_id, changes["password"], must_change=must_change, revoke_api_tokens=revoke_api_tokens
                )
            if user is None:
                raise ValueError("update_user needs a role or a password")  # the route checks first
            return user

        return await self.db.execute_write_fn(change)
