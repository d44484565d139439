"""Signed session tokens (JWT, HS256) and the secret that signs them.

A token names the user and carries the user's ``token_version``; logout, a
password change or a role change bump that version, so older tokens stop
working at once. ``query`` tokens are short-lived, for the socket and SSE
connections a browser cannot send headers on.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from ..store.datadir import put_private

log = logging.getLogger("cozygen")
ALGORITHM = "HS256"
SESSION_TTL = 7 * 24 * 3600
QUERY_TTL = 5 * 60
SECRET_NAME = "secret.key"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing secret: created once with mode 0600, then read back on every start.

    It is written whole to a private file first and then put under its name, so a kill mid-write never leaves
    an empty or cut-short secret to sign with. One that is not a whole secret (a kill of an older version left
    it) is replaced, which signs everyone out.
    """
    path = data_dir / SECRET_NAME
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        return _new_secret(path, replace=False)
    except (ValueError, UnicodeDecodeError):
        secret = b""
    if len(secret) < 32:
        log.warning("CozyGen: %s was not a whole signing secret; made a new one (everyone signs in again)", path)
        return _new_secret(path, replace=True)
    return secret


def _new_secret(path: Path, *, replace: bool) -> bytes:
    put_private(path, secrets.token_hex(32).encode("ascii"), replace=replace)
    return bytes.fromhex(path.read_text().strip())


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
    import jwt  # here, not at import: PyJWT brings cryptography, a third of CozyGen's import time

    return jwt.encode(claims, secret, algorithm=ALGORITHM), lifetime


def decode(secret: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token, or None."""
    import jwt

    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "uid", "ver", "typ"]})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims.get("uid"), int) else None
