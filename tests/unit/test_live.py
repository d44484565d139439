"""api.live: open connections are closed when their sign-in is revoked (a real SQLite database, fake sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

from cozygen.api.auth.credentials import Credential
from cozygen.api.live import HELD_KEY, LiveConnections
from cozygen.core.accounts import users
from cozygen.core.store.db import Database


class Transport:
    def __init__(self) -> None:
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


class Request(dict):
    """What ``hold`` reads of an aiohttp request: its transport, and a place to keep the entry."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = Transport()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(db: Database, fn: Any) -> Any:
    return db.submit_write(fn).result()


def session_of(user: users.User, level: str = "viewer") -> tuple[Credential, str]:
    return Credential(user, "query", version=user.token_version), level


async def run_live(db: Database, body: Any) -> Any:
    live = LiveConnections(period=2.0, clock=Clock())
    live.start(db.execute_fn)
    try:
        return await body(live)
    finally:
        await live.stop()


def test_revoking_a_user_closes_only_their_connections_and_spares_the_request_that_did_it(db: Database) -> None:
    bob = write(db, lambda conn: users.create_user(conn, "bob", "bob-pass-1234", "user"))
    alice = write(db, lambda conn: users.create_user(conn, "alice", "alice-pass-123", "user"))
    stream, doing_it, others = Request(), Request(), Request()

    async def body(live: LiveConnections) -> None:
        with live.hold(stream, *session_of(bob)), live.hold(doing_it, *session_of(bob)):
            with live.hold(others, *session_of(alice)):
                assert len(live) == 3 and await live.revoke(bob.id) == 0  # nothing revoked yet
                write(db, lambda conn: users.bump_token_version(conn, bob.id))
                assert await live.revoke(bob.id, spare=doing_it) == 1
                assert stream.transport.closing and not doing_it.transport.closing
                assert not others.transport.closing and stream[HELD_KEY].closed
        assert len(live) == 0  # every handler ended: nothing is held

    asyncio.run(run_live(db, body))


def test_the_sweep_rechecks_old_connections_against_the_database(db: Database) -> None:
    """What another process changed (a deleted user, a lower role, a revoked API token) closes connections."""
    gone = write(db, lambda conn: users.create_user(conn, "gone", "gone-pass-123", "user"))
    demoted = write(db, lambda conn: users.create_user(conn, "demoted", "demo-pass-123", "user"))
    scripted = write(db, lambda conn: users.create_user(conn, "scripted", "scri-pass-123", "user"))
    kept = write(db, lambda conn: users.create_user(conn, "kept", "kept-pass-1234", "user"))
    record, secret = write(db, lambda conn: users.create_api_token(conn, scripted.id, "script"))
    requests = {name: Request() for name in ("gone", "demoted", "scripted", "kept", "young")}

    async def body(live: LiveConnections) -> None:
        clock = live._clock
        with (
            live.hold(requests["gone"], *session_of(gone)),
            live.hold(requests["demoted"], *session_of(demoted, "user")),
            live.hold(requests["scripted"], Credential(scripted, "bearer", api_token=users.token_hash(secret)), "user"),
            live.hold(requests["kept"], *session_of(kept)),
        ):
            assert await live.sweep() == 0  # too young to re-check
            clock.now += live.period
            assert await live.sweep() == 0  # all still valid
            with live.hold(requests["young"], *session_of(gone)):
                write(db, lambda conn: users.delete_user(conn, gone.id))
                # another process's change of role only (no version bump): the route needed more than a viewer
                write(db, lambda conn: conn.execute("UPDATE users SET role = 'viewer' WHERE id = ?", (demoted.id,)))
                write(db, lambda conn: users.revoke_api_token(conn, scripted.id, record["id"]))
                assert await live.sweep() == 3
                closed = {name for name, request in requests.items() if request.transport.closing}
                assert closed == {"gone", "demoted", "scripted"}  # the young one waits for the next round
                clock.now += live.period
                assert await live.sweep() == 1 and requests["young"].transport.closing
            assert not requests["kept"].transport.closing

    asyncio.run(run_live(db, body))


def test_an_expired_query_token_does_not_close_its_open_stream(db: Database) -> None:
    """Only revocation closes a stream: the query token's five minutes count only when it opens."""
    vera = write(db, lambda conn: users.create_user(conn, "vera", "vera-pass-123", "viewer"))
    stream = Request()

    async def body(live: LiveConnections) -> None:
        with live.hold(stream, *session_of(vera)):
            live._clock.now += 24 * 3600
            assert await live.sweep() == 0 and not stream.transport.closing

    asyncio.run(run_live(db, body))


def test_signing_out_and_new_passwords_revoke_api_tokens_unless_asked_not_to(db: Database) -> None:
    ada = write(db, lambda conn: users.create_user(conn, "ada", "ada-pass-1234", "user"))

    def token() -> str:
        return write(db, lambda conn: users.create_api_token(conn, ada.id, "t"))[1]

    def works(secret: str) -> bool:
        return db.read(lambda conn: users.user_for_api_token(conn, secret)) is not None

    first = token()
    write(db, lambda conn: users.bump_token_version(conn, ada.id, revoke_api_tokens=False))
    assert works(first)
    write(db, lambda conn: users.bump_token_version(conn, ada.id))
    assert not works(first)
    second = token()
    write(db, lambda conn: users.set_password(conn, ada.id, "another-pass-1", revoke_api_tokens=False))
    assert works(second)
    write(db, lambda conn: users.set_password(conn, ada.id, "third-pass-123"))
    assert not works(second)
    third = token()
    write(db, lambda conn: users.set_role(conn, ada.id, "viewer"))
    assert not works(third)
    fourth = token()
    write(db, lambda conn: users.delete_user(conn, ada.id))
    assert not works(fourth)
    assert db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0]) == 0
