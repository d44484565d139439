"""The seam between core/llm and the network (api/llm/transport.py implements it with aiohttp; unit tests hand the
client a fake). A transport sends the provider's own headers only: no cookies, no redirects, answers capped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class TransportError(Exception):
    """A request that got no usable answer: ``status`` None when unreachable or timed out, else the HTTP status
    (``text`` the start of its body)."""

    def __init__(self, status: int | None, text: str, *, timeout: bool = False, streamed: bool = False) -> None:
        super().__init__(text)
        self.status, self.text = status, text
        self.timeout = timeout  # it did not answer (connect, a line or the whole) in time
        self.streamed = streamed  # some of the body had been read when it failed (never retried)


class Transport(Protocol):
    async def get_json(self, url: str, headers: dict[str, str], *, timeout: float, cap: int) -> tuple[int, Any]:
        """(status, the body parsed as JSON, or its text when it is not JSON); TransportError when unreachable,
        timed out, or the body is larger than ``cap`` bytes."""
        ...

    async def post_json(
        self, url: str, headers: dict[str, str], body: dict[str, Any], *, timeout: float, cap: int
    ) -> tuple[int, Any]: ...

    def post_lines(
        self,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        *,
        connect_timeout: float,
        line_timeout: float,
        line_cap: int,
    ) -> AsyncIterator[bytes]:
        """An async generator: TransportError(status, text) for a non-200 answer before yielding; then each line
        of the body (without its line ending); closing it (aclose, cancellation) closes the connection."""
        ...
