"""core/llm's Transport with aiohttp: one session made at server start, no cookie jar, no environment proxies or
.netrc, no redirects followed, every answer capped. Requests carry the headers the client gives (the provider's own
key) and nothing of the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson

from ...core.llm.transport import TransportError

ERROR_TEXT = 4096  # bytes of a failed answer's body kept for its message


def _unreachable(exc: BaseException) -> TransportError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportError(None, "the connection timed out")
    if isinstance(exc, asyncio.TimeoutError):  # ServerTimeoutError too: a read that waited too long
        return TransportError(None, "it did not answer in time", timeout=True)
    return TransportError(None, str(exc) or type(exc).__name__)


def _parsed(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:ERROR_TEXT].decode("utf-8", "replace")


class AiohttpTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, raise_for_status=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )  # fmt: skip
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _read(self, response: aiohttp.ClientResponse, cap: int) -> bytes:
        if response.content_length is not None and response.content_length > cap:
            raise TransportError(response.status, f"answered more than {cap} bytes")
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                raise TransportError(response.status, f"answered more than {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _request(
        self, method: str, url: str, headers: dict[str, str], body: dict[str, Any] | None, timeout: float, cap: int
    ) -> tuple[int, Any]:
        limits = aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout))
        data = orjson.dumps(body) if body is not None else None
        sent = {**headers, "Content-Type": "application/json"} if body is not None else headers
        try:
            async with self.session().request(
                method, url, headers=sent, data=data, allow_redirects=False, timeout=limits
            ) as response:
                raw = await self._read(response, cap)
                return response.status, _parsed(raw)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            raise _unreachable(exc) from None

    async def get_json(self, url: str, headers: dict[str, str], *, timeout: float, cap: int) -> tuple[int, Any]:
        return await self._request("GET", url, headers, None, timeout, cap)

    async def post_json(
        self, url: str, headers: dict[str, str], body: dict[str, Any], *, timeout: float, cap: int
    ) -> tuple[int, Any]:
        return await self._request("POST", url, headers, body, timeout, cap)

    async def post_lines(
        self,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        *,
        connect_timeout: float,
        line_timeout: float,
        line_cap: int,
    ) -> AsyncGenerator[bytes, None]:
        limits = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=line_timeout)
        try:
            response = await self.session().post(
                url, headers={**headers, "Content-Type": "application/json"}, data=orjson.dumps(body),
                allow_redirects=False, timeout=limits,
            )  # fmt: skip
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            raise _unreachable(exc) from None
        ended = False
        try:
            if response.status != 200:
                try:
                    text = (await response.content.read(ERROR_TEXT)).decode("utf-8", "replace")
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    text = ""
                raise TransportError(response.status, text)
            pending = b""
            while True:
                try:
                    chunk = await response.content.readany()
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                    raise _unreachable(exc) from None
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line[: line_cap + 1].rstrip(b"\r")
                if len(pending) > line_cap:
                    yield pending[: line_cap + 1]  # the client refuses a line this long
                    return
            if pending:
                yield pending.rstrip(b"\r")
            ended = True
        finally:
            if ended:
                response.release()
            else:
                response.close()  # closes the connection: the provider stops generating
