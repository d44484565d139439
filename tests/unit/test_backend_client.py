"""AiohttpComfyUI against a small aiohttp server on loopback that plays a ComfyUI (and misbehaves on request):
the backend's own credentials and nothing else, answers capped, downloads whole or not at all, websocket messages
(JSON and binary previews) with reconnects."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from cozygen.api.backends import client as client_module
from cozygen.api.backends.client import AiohttpComfyUI, connector, new_session
from cozygen.core.backends.model import Backend
from cozygen.core.backends.remote import CONNECTED, DISCONNECTED, RemoteError


class Fake:
    """The fake ComfyUI: records each request's headers; ``mode`` picks how /queue answers."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.mode = "ok"
        self.sockets: list[web.WebSocketResponse] = []
        self.uploads: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/queue", self.queue)
        app.router.add_get("/view", self.view)
        app.router.add_post("/prompt", self.prompt)
        app.router.add_post("/upload/image", self.upload)
        app.router.add_get("/ws", self.ws)
        return app

    async def queue(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        if self.mode == "redirect":
            raise web.HTTPFound("http://127.0.0.1:9/elsewhere")
        if self.mode == "html":
            return web.Response(text="<html>hello</html>", content_type="text/html")
        if self.mode == "huge":
            response = web.StreamResponse()  # no length announced: the cap must count
            await response.prepare(request)
            for _ in range(64):
                await response.write(b" " * 65536)
            await response.write_eof()
            return response
        if self.mode == "denied":
            return web.json_response({"error": "no"}, status=401)
        response = web.json_response({"queue_running": [], "queue_pending": [[1]]})
        response.set_cookie("session", "from-backend")
        return response

    async def view(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("filename") == "big.png":
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(20):
                await response.write(b"x" * 1024)
            await response.write_eof()
            return response
        return web.Response(body=b"\x89PNG-bytes", content_type="image/png")

    async def prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "bad" in body:
            return web.json_response({"error": {"type": "invalid_prompt"}, "node_errors": {}}, status=400)
        return web.json_response({"prompt_id": body.get("prompt_id"), "number": 1})

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.uploads.append({key: form[key] for key in form if key != "image"})
        image = form["image"]
        return web.json_response({"name": image.filename, "subfolder": form.get("subfolder", ""), "type": "input"})

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "status", "data": {"sid": request.query.get("clientId")}})
        await socket.send_str("not json")
        await socket.send_bytes(struct.pack(">II", 1, 2) + b"PNGDATA")
        await socket.send_json({"type": "executing", "data": {"node": "3"}})
        async for message in socket:
            if message.type == WSMsgType.TEXT and message.data == "close":
                break
        await socket.close()
        return socket


@pytest.fixture
def served():
    loop = asyncio.new_event_loop()
    fake = Fake()
    runner = web.AppRunner(fake.app())
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield loop, fake, f"http://127.0.0.1:{port}"
    loop.run_until_complete(runner.cleanup())
    loop.close()


def backend(url: str, **kwargs: Any) -> Backend:
    return Backend(id="b1", name="attic", url=url, **kwargs)


def run(loop: asyncio.AbstractEventLoop, work: Any) -> Any:
    async def wrapped() -> Any:
        session = new_session()
        try:
            return await work(session)
        finally:
            await session.close()

    return loop.run_until_complete(wrapped())


def test_the_backends_own_credentials_and_no_cookie_kept(served) -> None:
    loop, fake, url = served

    async def work(session) -> Any:
        client = AiohttpComfyUI(backend(url, auth_kind="bearer", secret="tok"), session)
        first = await client.get_json("/queue")
        await client.get_json("/queue")
        basic = AiohttpComfyUI(backend(url, auth_kind="basic", auth_user="u", secret="p"), session)
        await basic.get_json("/queue")
        return first

    assert run(loop, work) == {"queue_running": [], "queue_pending": [[1]]}
    assert fake.seen[0]["Authorization"] == "Bearer tok"
    assert "Cookie" not in fake.seen[1]  # the cookie the backend set is not sent back
    assert fake.seen[2]["Authorization"] == "Basic dTpw"


@pytest.mark.parametrize(
    ("mode", "words"),
    [("redirect", "HTTP 302"), ("html", "not JSON"), ("huge", "larger than"), ("denied", "credentials")],
)
def test_answers_that_are_not_comfyuis_are_remote_errors(served, mode: str, words: str) -> None:
    loop, fake, url = served
    fake.mode = mode

    async def work(session) -> Any:
        await AiohttpComfyUI(backend(url), session).get_json("/queue", cap=1024 * 1024)

    with pytest.raises(RemoteError) as raised:
        run(loop, work)
    assert words in str(raised.value)
    assert len(fake.seen) == 1  # a redirect is not followed


def test_unreachable_is_a_remote_error_naming_the_backend(served) -> None:
    loop, _, _ = served

    async def work(session) -> Any:
        await AiohttpComfyUI(backend("http://127.0.0.1:9"), session).get_json("/queue")

    with pytest.raises(RemoteError, match="attic is unreachable"):
        run(loop, work)


def test_post_json_returns_a_4xx_with_its_body(served) -> None:
    loop, _, url = served

    async def work(session) -> Any:
        client = AiohttpComfyUI(backend(url), session)
        return await client.post_json("/prompt", {"prompt_id": "p1"}), await client.post_json("/prompt", {"bad": 1})

    ok, refused = run(loop, work)
    assert ok == (200, {"prompt_id": "p1", "number": 1})
    assert refused[0] == 400 and refused[1]["error"]["type"] == "invalid_prompt"


def test_download_is_whole_or_nothing(served, tmp_path: Path) -> None:
    loop, _, url = served

    async def work(session) -> Any:
        client = AiohttpComfyUI(backend(url), session)
        size = await client.download({"filename": "a.png", "type": "output"}, tmp_path / "a.png")
        try:
            await client.download({"filename": "big.png", "type": "output"}, tmp_path / "big.png", cap=4096)
        except RemoteError as exc:
            return size, str(exc)
        return size, None

    size, error = run(loop, work)
    assert size == 10 and (tmp_path / "a.png").read_bytes() == b"\x89PNG-bytes"
    assert error is not None and "larger than 4096" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no partial file left


def test_upload_image(served, tmp_path: Path) -> None:
    loop, fake, url = served
    source = tmp_path / "in.png"
    source.write_bytes(b"png")

    async def work(session) -> Any:
        return await AiohttpComfyUI(backend(url), session).upload_image(source, name="job-in.png", subfolder="cz")

    assert run(loop, work) == {"name": "job-in.png", "subfolder": "cz", "type": "input"}
    assert fake.uploads == [{"overwrite": "true", "type": "input", "subfolder": "cz"}]


def test_messages_json_and_previews_then_reconnect_after_a_close(served, monkeypatch) -> None:
    loop, fake, url = served
    monkeypatch.setattr(client_module, "BACKOFF", (0.01,))

    async def work(session) -> list[Any]:
        client = AiohttpComfyUI(backend(url), session)
        seen: list[Any] = []
        async for kind, data in client.messages("cozygen-x"):
            seen.append((kind, data))
            if kind == "executing" and len(fake.sockets) == 1:
                await fake.sockets[0].close()  # the backend drops the socket: a reconnect follows
            if kind == "executing" and len(fake.sockets) == 2:
                await client.close()
        return seen

    seen = loop.run_until_complete(asyncio.wait_for(run_async(work), 20))
    kinds = [k for k, _ in seen]
    assert kinds[:4] == [CONNECTED, "status", "preview", "executing"]
    assert seen[1][1] == {"sid": "cozygen-x"} and seen[2][1] == ("PNG", b"PNGDATA")
    assert DISCONNECTED in kinds and kinds.count(CONNECTED) == 2


async def run_async(work: Any) -> Any:
    session = new_session()
    try:
        return await work(session)
    finally:
        await session.close()


def test_the_connector_shares_one_session_and_closes_it(served) -> None:
    loop, _, url = served
    connect, fetch_json, close = connector()

    async def work() -> Any:
        one, two = connect(backend(url)), connect(backend(url))
        assert one.session is two.session  # type: ignore[attr-defined]
        answer = await fetch_json(url + "/queue", {})
        await close()
        return answer, one.session.closed  # type: ignore[attr-defined]

    assert loop.run_until_complete(work()) == ({"queue_running": [], "queue_pending": [[1]]}, True)
