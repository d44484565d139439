"""Push subscriptions per user and device, and each user's push preferences (SQL over the push tables).

A subscription is what a browser's ``PushSubscription.toJSON()`` gives: the endpoint (a push service URL that is
a capability: whoever knows it can post to that device) and the two keys the payload is encrypted to (RFC 8291).
An endpoint is one browser profile: when another user turns push on in the same browser, it becomes theirs.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from .endpoints import check_endpoint

MAX_PER_USER = 20  # devices; the oldest goes when one more subscribes
MAX_DEVICE = 200


@dataclass(frozen=True)
class Subscription:
    id: int
    username: str
    endpoint: str
    p256dh: str  # base64url, no padding
    auth: str
    device: str
    created_at: float

    def info(self) -> dict[str, Any]:
        """The shape pywebpush takes."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def public(self) -> dict[str, Any]:
        """What its owner is shown: the endpoint's push service, not the capability URL itself."""
        host = self.endpoint.split("://", 1)[-1].split("/", 1)[0]
        return {"id": self.id, "service": host, "device": self.device, "created_at": self.created_at}


@dataclass(frozen=True)
class Prefs:
    on_done: bool = True
    on_failed: bool = True

    def to_dict(self) -> dict[str, bool]:
        return {"on_done": self.on_done, "on_failed": self.on_failed}


def _key(value: Any, name: str, length: int) -> bytes:
    if not isinstance(value, str) or len(value) > 200:
        raise BadRequest(f"keys.{name} must be a base64url string", code="BAD_PUSH_KEYS")
    try:
        raw = base64.urlsafe_b64decode(value.strip().rstrip("=") + "=" * (-len(value.strip().rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(f"keys.{name} must be a base64url string", code="BAD_PUSH_KEYS") from None
    if len(raw) != length:
        raise BadRequest(f"keys.{name} must be {length} bytes", code="BAD_PUSH_KEYS")
    return raw


def parse(data: Any, *, allow_private: bool) -> tuple[str, str, str]:
    """The endpoint and the two keys (base64url, no padding) of a PushSubscription's JSON, checked."""
    if not isinstance(data, dict):
        raise BadRequest("expected the PushSubscription's JSON", code="BAD_PUSH_SUBSCRIPTION")
    endpoint = check_endpoint(data.get("endpoint"), allow_private=allow_private)  # type: ignore[arg-type]
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise BadRequest("keys.p256dh and keys.auth are required", code="BAD_PUSH_KEYS")
    point = _key(keys.get("p256dh"), "p256dh", 65)
    secret = _key(keys.get("auth"), "auth", 16)
    from cryptography.hazmat.primitives.asymmetric import ec  # here: cryptography is slow to import

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise BadRequest("keys.p256dh is not a P-256 public key", code="BAD_PUSH_KEYS") from None
    encode = base64.urlsafe_b64encode
    return endpoint, encode(point).rstrip(b"=").decode(), encode(secret).rstrip(b"=").decode()


def _row(row: sqlite3.Row | tuple) -> Subscription:
    return Subscription(*row)


COLUMNS = "id, username, endpoint, p256dh, auth, device, created_at"


def save(
    conn: sqlite3.Connection, username: str, endpoint: str, p256dh: str, auth: str, device: str, now: float
) -> Subscription:
    """Store (or move to this user, with fresh keys) the subscription of one browser; keeps MAX_PER_USER."""
    conn.execute(
        "INSERT INTO push_subscriptions (username, endpoint, p256dh, auth, device, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(endpoint) DO UPDATE SET username = excluded.username, p256dh = excluded.p256dh,"
        " auth = excluded.auth, device = excluded.device, created_at = excluded.created_at",
        (username, endpoint, p256dh, auth, device[:MAX_DEVICE], now),
    )
    conn.execute(
        "DELETE FROM push_subscriptions WHERE username = ? AND id NOT IN"
        " (SELECT id FROM push_subscriptions WHERE username = ? ORDER BY created_at DESC, id DESC LIMIT ?)",
        (username, username, MAX_PER_USER),
    )
    row = conn.execute(f"SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = ?", (endpoint,)).fetchone()
    return _row(row)


def of_user(conn: sqlite3.Connection, username: str) -> list[Subscription]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM push_subscriptions WHERE username = ? ORDER BY created_at, id", (username,)
    ).fetchall()
    return [_row(r) for r in rows]


def delete_own(conn: sqlite3.Connection, username: str, subscription_id: int) -> bool:
    """Delete one of this user's subscriptions; False when they have none with that id (another's is no one's)."""
    cursor = conn.execute("DELETE FROM push_subscriptions WHERE id = ? AND username = ?", (subscription_id, username))
    return cursor.rowcount > 0


def delete_own_endpoint(conn: sqlite3.Connection, username: str, endpoint: str) -> bool:
    cursor = conn.execute("DELETE FROM push_subscriptions WHERE endpoint = ? AND username = ?", (endpoint, username))
    return cursor.rowcount > 0


def prune(conn: sqlite3.Connection, subscription_id: int, endpoint: str) -> bool:
    """Forget a subscription the push service says is gone (404/410), unless it was renewed meanwhile."""
    cursor = conn.execute("DELETE FROM push_subscriptions WHERE id = ? AND endpoint = ?", (subscription_id, endpoint))
    return cursor.rowcount > 0


def prefs_of(conn: sqlite3.Connection, username: str) -> Prefs:
    row = conn.execute("SELECT on_done, on_failed FROM push_prefs WHERE username = ?", (username,)).fetchone()
    return Prefs(bool(row[0]), bool(row[1])) if row is not None else Prefs()


def parse_prefs(data: Any, current: Prefs) -> Prefs:
    if not isinstance(data, dict) or not set(data) <= {"on_done", "on_failed"}:
        raise BadRequest("expected {on_done, on_failed}", code="BAD_PUSH_PREFS")
    for name, value in data.items():
        if not isinstance(value, bool):
            raise BadRequest(f"{name} must be true or false", code="BAD_PUSH_PREFS")
    return Prefs(data.get("on_done", current.on_done), data.get("on_failed", current.on_failed))


def set_prefs(conn: sqlite3.Connection, username: str, prefs: Prefs, now: float) -> Prefs:
    conn.execute(
        "INSERT INTO push_prefs (username, on_done, on_failed, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(username)"
        " DO UPDATE SET on_done = excluded.on_done, on_failed = excluded.on_failed, updated_at = excluded.updated_at",
        (username, int(prefs.on_done), int(prefs.on_failed), now),
    )
    return prefs
