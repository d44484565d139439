"""Signed session tokens (JWT, HS256) and the secret that signs them.

A token names the user and carries the user's ``token_version``; logout, a
password change or a role change bump that version, so older tokens stop
working at once. ``query`` tokens are short-lived, for the socket and SSE
connections a browser cannot send headers on.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt

ALGORITHM = "HS256"
SESSION_TTL = 7 * 24 * 3600
QUERY_TTL = 5 * 60
SECRET_NAME = "secret.key"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing secret: created once with mode 0600, then read back on every start."""
    path = data_dir / SECRET_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        secret = secrets.token_hex(32)
        handle.write(secret)
    return bytes.fromhex(secret)


def issue(
    secret: bytes,
    *,
    user_id: int,
    username: str,
    version: int,
    kind: str = "session",
    ttl: int | None = None,
    now: float | None = None,
) -> tuple[str, int]:
    """A signed token and its lifetime in seconds."""
    lifetime = ttl if ttl is not None else (QUERY_TTL if kind == "query" else SESSION_TTL)
    issued = int(now if now is not None else time.time())
    claims = {"sub": username, "uid": user_id, "ver": version, "typ": kind, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), lifetime


def decode(secret: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token, or None."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "uid", "ver", "typ"]})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims.get("uid"), int) else None
