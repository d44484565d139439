"""Open event streams and sockets end when their sign-in is revoked (issue 13, item 8).

Each test opens, as a user of its own, the gallery stream and ComfyUI's socket with a query token and the job
event stream with the session token (or an API token), revokes, and waits (bounded) for the server to close
every one of them: at once when this server revoked (sign-out, deletion by the admin, an API token revoked),
by the periodic re-check when another process did (``scripts/users.py delete`` on the same database). Another
user's connections, open the whole time, still deliver afterwards.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from household import FORM, Household, bearer, login
from support import PROJECT, post, request

BOUND = 60.0  # seconds a connection may take to be closed: the sweep runs every 2 s
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)


@dataclass
class Person:
    id: int
    name: str
    password: str
    session: dict[str, str]


def new_person(home: Household, name: str) -> Person:
    password = f"{name}-pass-123"
    made = post(f"{home.url}/cozygen/api/users", {"username": name, "password": password}, headers=home.as_("admin"))
    assert made.status == 201, made.body
    return Person(made.json()["id"], name, password, login(home.url, name, password))


@pytest.fixture(scope="module")
def control(household: Household) -> Person:
    return new_person(household, "live-control")


def query_token(home: Household, headers: dict[str, str]) -> str:
    reply = post(f"{home.url}/cozygen/api/query_token", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()["token"]


@dataclass
class Connections:
    gallery: aiohttp.ClientResponse
    events: aiohttp.ClientResponse
    socket: aiohttp.ClientWebSocketResponse

    @property
    def streams(self) -> tuple[aiohttp.ClientResponse, aiohttp.ClientResponse]:
        return self.gallery, self.events

    async def close(self) -> None:
        """Let go of all three, those the server cut included (nothing left for the garbage collector)."""
        for response in self.streams:
            response.release()
        await self.socket.close()


async def open_stream(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
    response = await session.get(url, headers=headers)
    assert response.status == 200, (url, response.status, await response.text())
    async with asyncio.timeout(BOUND):
        assert (await response.content.readuntil(b"\n\n")).startswith(b":ok")  # the handler runs: it is held
    return response


async def open_all(session: aiohttp.ClientSession, home: Household, headers: dict[str, str]) -> Connections:
    """The three connections, as the owner of ``headers`` (query tokens where a browser needs them)."""
    token = query_token(home, headers)
    gallery = await open_stream(session, f"{home.url}/cozygen/api/gallery/stream?recursive=true&token={token}", {})
    events = await open_stream(session, f"{home.url}/cozygen/api/events", headers)
    socket = await session.ws_connect(f"{home.url.replace('http', 'ws', 1)}/ws?token={token}")
    async with asyncio.timeout(BOUND):
        first = await socket.receive()  # ComfyUI greets every socket with the queue's status
    assert first.type == aiohttp.WSMsgType.TEXT, first
    return Connections(gallery, events, socket)


async def stream_closed(response: aiohttp.ClientResponse) -> None:
    try:
        while await response.content.readany():
            pass  # events or heartbeats until the server ends it
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        pass  # cut mid-response: closed all the same


async def socket_closed(socket: aiohttp.ClientWebSocketResponse) -> None:
    while (await socket.receive()).type not in CLOSED:
        pass


async def all_closed(connections: Connections) -> None:
    async with asyncio.timeout(BOUND):
        await asyncio.gather(*(stream_closed(s) for s in connections.streams), socket_closed(connections.socket))


async def still_delivering(home: Household, who: Person, connections: Connections) -> None:
    """A job of ``who``'s reaches their event stream, the socket hears the queue change, and the gallery
    stream still sends (its file event, or a heartbeat)."""
    values = {"prompt": "still listening", "steps": 2, "size": 64, "seed": uuid.uuid4().int % 2**31}  # not cached
    created = await asyncio.to_thread(
        post, f"{home.url}/cozygen/api/jobs", {"workflow": FORM, "values": values}, headers=who.session
    )
    assert created.status == 201, created.body
    job_id = created.json()["job"]["id"].encode()
    async with asyncio.timeout(BOUND):
        seen = b""
        while job_id not in seen:
            chunk = await connections.events.content.readany()
            assert chunk, "the event stream ended"
            seen += chunk
        message = await connections.socket.receive()
        assert message.type == aiohttp.WSMsgType.TEXT, message
        assert await connections.gallery.content.readany()


async def scenario(
    home: Household, control: Person, victim: Person, revoke: Callable[[], Awaitable[Any]], opener: Any = None
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        watching = await open_all(session, home, control.session)
        try:
            doomed = await (opener or open_all)(session, home, victim.session)
            try:
                await revoke()
                await all_closed(doomed)
                assert not watching.socket.closed
                await still_delivering(home, control, watching)
            finally:
                await doomed.close()
        finally:
            await watching.close()


def test_signing_out_closes_open_streams_and_sockets(household: Household, control: Person) -> None:
    victim = new_person(household, "live-logout")

    async def sign_out() -> None:
        reply = await asyncio.to_thread(post, f"{household.url}/cozygen/api/logout", headers=victim.session)
        assert reply.status == 200, reply.body

    asyncio.run(scenario(household, control, victim, sign_out))


def test_deleting_a_user_closes_their_open_streams_and_sockets(household: Household, control: Person) -> None:
    victim = new_person(household, "live-delete")

    async def delete() -> None:
        url = f"{household.url}/cozygen/api/users/{victim.id}"
        reply = await asyncio.to_thread(request, "DELETE", url, headers=household.as_("admin"))
        assert reply.status == 200, reply.body

    asyncio.run(scenario(household, control, victim, delete))


def test_a_user_deleted_by_another_process_is_cut_off_by_the_sweep(household: Household, control: Person) -> None:
    victim = new_person(household, "live-cli")
    data_dir = household.server.user_dir / "cozygen"

    async def delete_from_the_shell() -> None:
        command = [sys.executable, str(PROJECT / "scripts" / "users.py"), "--data-dir", str(data_dir)]
        done = await asyncio.to_thread(
            subprocess.run, [*command, "delete", victim.name], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 and "deleted" in done.stdout, (done.stdout, done.stderr)

    asyncio.run(scenario(household, control, victim, delete_from_the_shell))


def test_revoking_an_api_token_closes_what_it_opened(household: Household, control: Person) -> None:
    victim = new_person(household, "live-token")
    made = post(f"{household.url}/cozygen/api/tokens", {"name": f"live-{uuid.uuid4().hex[:6]}"}, headers=victim.session)
    assert made.status == 201, made.body
    script = bearer(made.json()["token"])

    async def open_with_the_token(session: aiohttp.ClientSession, home: Household, _headers: Any) -> Connections:
        gallery = await open_stream(session, f"{home.url}/cozygen/api/gallery/stream", script)
        events = await open_stream(session, f"{home.url}/cozygen/api/events", script)
        socket = await session.ws_connect(f"{home.url.replace('http', 'ws', 1)}/ws", headers=script)
        async with asyncio.timeout(BOUND):
            assert (await socket.receive()).type == aiohttp.WSMsgType.TEXT
        return Connections(gallery, events, socket)

    async def revoke() -> None:
        url = f"{household.url}/cozygen/api/tokens/{made.json()['id']}"
        reply = await asyncio.to_thread(request, "DELETE", url, headers=victim.session)
        assert reply.status == 200, reply.body

    asyncio.run(scenario(household, control, victim, revoke, open_with_the_token))
    assert request("GET", f"{household.url}/cozygen/api/health", headers=victim.session).status == 200
