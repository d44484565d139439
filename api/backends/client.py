"""One connection to another ComfyUI over its own HTTP and websocket API: core/backends/remote.py's
``RemoteComfyUI`` with aiohttp. Requests carry the backend's own credentials and nothing else (a session with no
cookie jar, no redirects followed); every answer is capped and parsed as untrusted input."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ...core.backends.model import Backend
from ...core.backends.profiles import FetchJson
from ...core.backends.remote import CONNECTED, DISCONNECTED, MAX_FILE, MAX_JSON, Connect, RemoteComfyUI, RemoteError

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 60.0  # seconds: a backend that takes longer to answer is treated as down
THREAD_PARSE = 256 * 1024  # JSON bodies larger than this are parsed in a thread (an /object_info is ~10 MB)
MAX_WS_MESSAGE = 64 * 1024 * 1024  # a websocket message (a binary preview) larger than this closes the socket
BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between reconnects of the websocket
PREVIEW_IMAGE = 1  # ComfyUI's binary event type of a preview (then 4 bytes of format: 1 JPEG, 2 PNG)
PREVIEW_FORMATS = {1: "JPEG", 2: "PNG"}


def new_session() -> aiohttp.ClientSession:
    """The session every backend client shares: no cookies kept (nothing a backend sets reaches another request),
    no environment proxies or .netrc credentials."""
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout, trust_env=False, raise_for_status=False
    )


def connector() -> tuple[Connect, FetchJson, Callable[[], Awaitable[None]]]:
    """A ``Connect`` for the backend service, a ``FetchJson`` for the profiles (an LLM provider's model list), and
    the closing of the session they share (made on first use, on the running loop)."""
    session: aiohttp.ClientSession | None = None

    def shared() -> aiohttp.ClientSession:
        nonlocal session
        if session is None or session.closed:
            session = new_session()
        return session

    def connect(backend: Backend) -> RemoteComfyUI:
        return AiohttpComfyUI(backend, shared())

    async def fetch_json(url: str, headers: dict[str, str]) -> Any:
        return await get_url_json(shared(), url, headers)

    async def close() -> None:
        if session is not None:
            await session.close()

    return connect, fetch_json, close


async def get_url_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], *, cap: int = 8 * 1024 * 1024
) -> Any:
    """GET a URL's JSON (an LLM provider's model list), capped, no redirects; RemoteError on any failure."""
    try:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if response.status != 200:
                raise RemoteError(f"{url} answered HTTP {response.status}", status=response.status)
            raw = await read_capped(response, cap, url)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise RemoteError(f"{url} is unreachable: {str(exc) or type(exc).__name__}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RemoteError(f"{url} answered something that is not JSON") from None


async def read_capped(response: aiohttp.ClientResponse, cap: int, who: str) -> bytes:
    """The whole body, or RemoteError as soon as it passes ``cap`` bytes (announced or sent)."""
    if response.content_length is not None and response.content_length > cap:
        raise RemoteError(f"{who} sent an answer larger than {cap} bytes")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise RemoteError(f"{who} sent an answer larger than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def auth_headers(backend: Backend) -> dict[str, str]:
    """The backend's own credentials: a bearer token or basic auth (never the caller's)."""
    if backend.auth_kind == "bearer" and backend.secret:
        return {"Authorization": f"Bearer {backend.secret}"}
    if backend.auth_kind == "basic" and backend.auth_user is not None:
        pair = f"{backend.auth_user}:{backend.secret or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


def _refused(backend: Backend, status: int) -> str:
    if status in (401, 403):
        return f"backend {backend.name} refused CozyGen's credentials (HTTP {status}): check its token or password"
    if status == 404:
        return f"backend {backend.name} has no such route (HTTP 404): is its URL a ComfyUI?"
    return f"backend {backend.name} answered HTTP {status}"


class AiohttpComfyUI:
    """``RemoteComfyUI`` over aiohttp. ``session`` is shared (see :func:`new_session`) and not closed here."""

    def __init__(self, backend: Backend, session: aiohttp.ClientSession) -> None:
        if not backend.url:
            raise ValueError("the local ComfyUI is not reached over HTTP")
        self.backend = backend
        self.session = session
        self.base = backend.url.rstrip("/")
        self.headers = auth_headers(backend)
        self._closed = asyncio.Event()
        self._sockets: set[Any] = set()

    def url(self, path: str) -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def _unreachable(self, exc: BaseException) -> RemoteError:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else (str(exc) or type(exc).__name__)
        return RemoteError(f"backend {self.backend.name} is unreachable at {self.base}: {reason}")

    async def _body(self, response: aiohttp.ClientResponse, cap: int) -> bytes:
        return await read_capped(response, cap, f"backend {self.backend.name}")

    async def _json(self, raw: bytes, status: int) -> Any:
        try:
            if len(raw) > THREAD_PARSE:
                return await asyncio.to_thread(orjson.loads, raw)
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RemoteError(
                f"backend {self.backend.name} answered something that is not JSON (HTTP {status}): is it a ComfyUI?",
                status=status,
            ) from None

    async def get_json(self, path: str, *, params: dict[str, str] | None = None, cap: int = MAX_JSON) -> Any:
        try:
            async with self.session.get(
                self.url(path), params=params, headers=self.headers, allow_redirects=False
            ) as response:
                if response.status >= 300:
                    raise RemoteError(_refused(self.backend, response.status), status=response.status)
                raw = await self._body(response, cap)
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        return await self._json(raw, status)

    async def post_json(self, path: str, body: Any, *, cap: int = MAX_JSON) -> tuple[int, Any]:
        data = orjson.dumps(body)
        headers = {**self.headers, "Content-Type": "application/json"}
        try:
            async with self.session.post(self.url(path), data=data, headers=headers, allow_redirects=False) as response:
                status = response.status
                if status >= 500 or status in (401, 403, 404) or 300 <= status < 400:
                    raise RemoteError(_refused(self.backend, status), status=status)
                raw = await self._body(response, cap)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        if not raw.strip():
            return status, None  # /interrupt and /queue answer 200 with an empty body
        return status, await self._json(raw, status)

    async def download(self, params: dict[str, str], dest: Path, *, cap: int = MAX_FILE) -> int:
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        size = 0
        try:
            async with self.session.get(
                self.url("/view"), params=params, headers=self.headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise RemoteError(_refused(self.backend, response.status), status=response.status)
                if response.content_length is not None and response.content_length > cap:
                    raise RemoteError(f"backend {self.backend.name} sent a file larger than {cap} bytes")
                handle = await asyncio.to_thread(open, partial, "wb")
                try:
                    async for chunk in response.content.iter_chunked(1024 * 1024):
                        size += len(chunk)
                        if size > cap:
                            raise RemoteError(f"backend {self.backend.name} sent a file larger than {cap} bytes")
                        await asyncio.to_thread(handle.write, chunk)
                finally:
                    await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, dest)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
        return size

    async def upload_image(self, source: Path, *, name: str, subfolder: str = "") -> dict[str, Any]:
        content = await asyncio.to_thread(source.read_bytes)
        form = aiohttp.FormData()
        form.add_field("image", content, filename=name, content_type="application/octet-stream")
        form.add_field("overwrite", "true")
        form.add_field("type", "input")
        if subfolder:
            form.add_field("subfolder", subfolder)
        status, answer = await self.post_json_form("/upload/image", form)
        if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
            raise RemoteError(
                f"backend {self.backend.name} did not take the image {name} (HTTP {status})", status=status
            )
        return answer

    async def post_json_form(self, path: str, form: aiohttp.FormData) -> tuple[int, Any]:
        try:
            async with self.session.post(
                self.url(path), data=form, headers=self.headers, allow_redirects=False
            ) as response:
                status = response.status
                if status >= 500 or status in (401, 403, 404):
                    raise RemoteError(_refused(self.backend, status), status=status)
                raw = await self._body(response, 1024 * 1024)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from None
        return status, await self._json(raw, status) if raw.strip() else None

    async def messages(self, client_id: str) -> AsyncIterator[tuple[str, Any]]:
        attempt = 0
        while not self._closed.is_set():
            reason = "closed"
            try:
                socket = await self.session.ws_connect(
                    self.url("/ws"),
                    params={"clientId": client_id},
                    headers=self.headers,
                    heartbeat=30.0,
                    max_msg_size=MAX_WS_MESSAGE,
                    autoclose=True,
                    autoping=True,
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                reason = str(self._unreachable(exc))
            else:
                self._sockets.add(socket)
                attempt = 0
                yield CONNECTED, None
                try:
                    async for message in socket:
                        parsed = _parse(message)
                        if parsed is not None:
                            yield parsed
                    reason = f"backend {self.backend.name} closed its websocket"
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    reason = str(self._unreachable(exc))
                finally:
                    self._sockets.discard(socket)
                    await socket.close()
            if self._closed.is_set():
                return
            yield DISCONNECTED, reason
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)

    async def close(self) -> None:
        self._closed.set()
        for socket in list(self._sockets):
            await socket.close()


def _parse(message: Any) -> tuple[str, Any] | None:
    """A websocket message as (type, data): JSON text messages, and binary previews as ("preview", (format,
    bytes)); anything else (other binary events, malformed text) is dropped."""
    if message.type == aiohttp.WSMsgType.TEXT:
        try:
            decoded = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            return None
        if isinstance(decoded, dict) and isinstance(decoded.get("type"), str):
            return decoded["type"], decoded.get("data")
        return None
    if message.type == aiohttp.WSMsgType.BINARY and len(message.data) >= 8:
        event, kind = struct.unpack(">II", message.data[:8])
        if event == PREVIEW_IMAGE:
            return "preview", (PREVIEW_FORMATS.get(kind, "JPEG"), bytes(message.data[8:]))
    return None
