"""Who made a request, and the audit log's line for a change an admin made (core/accounts/users.audit)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core.accounts import users
from .auth.credentials import current_user, remote_address
from .state import CozyGenState


def actor(request: web.Request) -> str | None:
    user = current_user(request)
    return user.username if user else None


def changed_fields(body: Any) -> str:
    """The names of the fields a change sent (never their values: a secret or key stays out of the audit log)."""
    return ", ".join(sorted(str(key)[:32] for key in body)) if isinstance(body, dict) else ""


async def record(
    state: CozyGenState, request: web.Request, action: str, target: str | None, *, ok: bool = True,
    detail: str | None = None,
) -> None:  # fmt: skip
    """One line of the audit log: the action, by whom, from where, on what, whether it succeeded."""
    who, remote = actor(request), remote_address(request)
    await state.db.execute_write_fn(
        lambda conn: users.audit(conn, action, actor=who, target=target, remote=remote, ok=ok, detail=detail)
    )
