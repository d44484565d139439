"""Accounts: users with roles, personal API tokens, and the audit log.

Functions take a ``sqlite3.Connection`` and run inside the caller's transaction
(``Database.execute_write_fn`` for writes, ``execute_fn`` for reads), so each
operation is one atomic step.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from .access import ROLE_LEVELS
from .passwords import check_strength, hash_password

ROLES = ("admin", "user", "viewer")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
API_TOKEN_PREFIX = "cgt_"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    must_change_password: bool
    token_version: int
    created_at: int
    password_hash: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "must_change_password": self.must_change_password,
            "created_at": self.created_at,
        }

    def can(self, role: str) -> bool:
        return ROLE_LEVELS[self.role] >= ROLE_LEVELS[role]


def _user(row: sqlite3.Row | None) -> User | None:
    return _row_user(row) if row is not None else None


def _row_user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        must_change_password=bool(row["must_change_password"]),
        token_version=row["token_version"],
        created_at=row["created_at"],
        password_hash=row["password_hash"],
    )


def validate_username(username: Any) -> str:
    if not isinstance(username, str) or not USERNAME.match(username.strip()):
        raise BadRequest(
            "the username must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            code="INVALID_USERNAME",
        )
    return username.strip()


def validate_role(role: Any) -> str:
    if role not in ROLES:
        raise BadRequest(f"the role must be one of {', '.join(ROLES)}", code="INVALID_ROLE")
    return role


def validate_password(password: Any) -> str:
    problem = check_strength(password)
    if problem:
        raise BadRequest(problem, code="WEAK_PASSWORD")
    return password


# -- reads ---------------------------------------------------------------------------
def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def get_user(conn: sqlite3.Connection, *, user_id: int | None = None, username: str | None = None) -> User | None:
    if user_id is not None:
        return _user(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())
    return _user(conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone())


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [_row_user(row) for row in conn.execute("SELECT * FROM users ORDER BY username COLLATE NOCASE")]


def any_must_change(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE must_change_password = 1 LIMIT 1").fetchone() is not None


# -- writes --------------------------------------------------------------------------
def create_user(
    conn: sqlite3.Connection, username: Any, password: Any, role: Any = "user", *, must_change: bool = False
) -> User:
    name, secret, role = validate_username(username), validate_password(password), validate_role(role)
    try:
        cursor = conn.execute(
            "INSERT INTO users(username, role, password_hash, must_change_password) VALUES (?, ?, ?, ?)",
            (name, role, hash_password(secret), int(must_change)),
        )
    except sqlite3.IntegrityError:
        raise Conflict(f"a user named {name!r} already exists", code="USER_EXISTS") from None
    created = get_user(conn, user_id=cursor.lastrowid)
    assert created is not None  # inserted just now, in this transaction
    return created


def _require(conn: sqlite3.Connection, user_id: int) -> User:
    user = get_user(conn, user_id=user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", code="USER_NOT_FOUND")
    return user


def _admins(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetchone()[0]


def set_role(conn: sqlite3.Connection, user_id: int, role: Any) -> User:
    """New role; every session, query token and API token of the user stops working."""
    user, role = _require(conn, user_id), validate_role(role)
    if user.role == "admin" and role != "admin" and _admins(conn) == 1:
        raise Conflict("this is the last admin; make another user admin first", code="LAST_ADMIN")
    conn.execute(
        "UPDATE users SET role = ?, token_version = token_version + 1, updated_at = strftime('%s','now') "
        "WHERE id = ?",
        (role, user_id),
    )
    revoke_all_api_tokens(conn, user_id)
    return _require(conn, user_id)


def set_password(
    conn: sqlite3.Connection,
    user_id: int,
    password: Any,
    *,
    must_change: bool = False,
    revoke_api_tokens: bool = True,
) -> User:
    """New password; every session and query token of the user stops working, and their API tokens too
    unless ``revoke_api_tokens`` is False."""
    _require(conn, user_id)
    conn.execute(
        "UPDATE users SET password_hash = ?, must_change_password = ?, token_version = token_version + 1, "
        "updated_at = strftime('%s','now') WHERE id = ?",
        (hash_password(validate_password(password)), int(must_change), user_id),
    )
    if revoke_api_tokens:
        revoke_all_api_tokens(conn, user_id)
    return _require(conn, user_id)


def bump_token_version(conn: sqlite3.Connection, user_id: int, *, revoke_api_tokens: bool = True) -> None:
    """Sign the user out everywhere: every session and query token, and their API tokens unless
    ``revoke_api_tokens`` is False."""
    conn.execute("UPDATE users SET token_version = token_version + 1 WHERE id = ?", (user_id,))
    if revoke_api_tokens:
        revoke_all_api_tokens(conn, user_id)


def delete_user(conn: sqlite3.Connection, user_id: int) -> User:
    user = _require(conn, user_id)
    if user.role == "admin" and _admins(conn) == 1:
        raise Conflict("this is the last admin and cannot be deleted", code="LAST_ADMIN")
    conn.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))  # also ON DELETE CASCADE; said here
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return user


# -- personal API tokens -------------------------------------------------------------------
def token_hash(token: str) -> str:
    """How an API token is stored (and how an open connection remembers which one it used)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(conn: sqlite3.Connection, user_id: int, name: Any) -> tuple[dict[str, Any], str]:
    """A new token for scripts: returns its record and the secret, which is never stored or shown again."""
    _require(conn, user_id)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise BadRequest("give the token a name of 1-100 characters", code="INVALID_TOKEN_NAME")
    token_id = secrets.token_hex(6)
    secret = f"{API_TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        "INSERT INTO api_tokens(id, user_id, name, token_hash) VALUES (?, ?, ?, ?)",
        (token_id, user_id, name.strip(), token_hash(secret)),
    )
    return list_api_tokens(conn, user_id, token_id=token_id)[0], secret


def list_api_tokens(conn: sqlite3.Connection, user_id: int, *, token_id: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL"
    params: tuple[Any, ...] = (user_id,)
    if token_id is not None:
        sql, params = sql + " AND id = ?", (*params, token_id)
    return [dict(row) for row in conn.execute(sql + " ORDER BY created_at, id", params)]


def revoke_api_token(conn: sqlite3.Connection, user_id: int, token_id: str) -> None:
    cursor = conn.execute(
        "UPDATE api_tokens SET revoked_at = strftime('%s','now') WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        (token_id, user_id),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"no active token {token_id!r}", code="TOKEN_NOT_FOUND")


def revoke_all_api_tokens(conn: sqlite3.Connection, user_id: int) -> int:
    """Revoke every active API token of the user; returns how many."""
    sql = "UPDATE api_tokens SET revoked_at = strftime('%s','now') WHERE user_id = ? AND revoked_at IS NULL"
    return conn.execute(sql, (user_id,)).rowcount


def user_for_api_token(conn: sqlite3.Connection, secret: str) -> User | None:
    row = conn.execute(
        "SELECT user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (token_hash(secret),)
    ).fetchone()
    return get_user(conn, user_id=row["user_id"]) if row else None


def touch_api_token(conn: sqlite3.Connection, secret: str) -> None:
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", (int(time.time()), token_hash(secret)))


def live_credentials(
    conn: sqlite3.Connection, user_ids: set[int], token_hashes: set[str]
) -> tuple[dict[int, tuple[str, int]], dict[str, int]]:
    """What open connections are re-checked against: ``{user id: (role, token_version)}`` for the users
    that still exist, and ``{token hash: user id}`` for the API tokens that are still active."""
    found: dict[int, tuple[str, int]] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), 500):  # SQLite's host-parameter limit
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in conn.execute(f"SELECT id, role, token_version FROM users WHERE id IN ({marks})", chunk):
            found[row["id"]] = (row["role"], row["token_version"])
    active: dict[str, int] = {}
    hashes = sorted(token_hashes)
    for start in range(0, len(hashes), 500):
        hash_chunk = hashes[start : start + 500]
        marks = ", ".join("?" for _ in hash_chunk)
        sql = f"SELECT token_hash, user_id FROM api_tokens WHERE revoked_at IS NULL AND token_hash IN ({marks})"
        for row in conn.execute(sql, hash_chunk):
            active[row["token_hash"]] = row["user_id"]
    return found, active


# -- audit -------------------------------------------------------------------------------
def audit(
    conn: sqlite3.Connection,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    remote: str | None = None,
    ok: bool = True,
    detail: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log(actor, action, target, remote, ok, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (actor, action, target, remote, int(ok), detail),
    )


def audit_entries(conn: sqlite3.Connection, *, limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, at, actor, action, target, remote, ok, detail FROM audit_log"
    params: tuple[Any, ...] = ()
    if before_id is not None:
        sql, params = sql + " WHERE id < ?", (before_id,)
    rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [{**dict(row), "ok": bool(row["ok"])} for row in rows]
