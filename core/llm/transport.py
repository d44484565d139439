"""The seam between core/llm and the network (api/llm/transport.py implements it with aiohttp; unit tests hand the
client a fake). A transport sends the provider's own headers only: no cookies, no redirects, answers capped."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol


class TransportError(Exception):
    """A request that got no usable answer. ``status``: the HTTP status of a non-200 answer (``text`` the start of
    its body), or None: unreachable (refused, bad name, the connect timed out: retried once) or, with
    ``timeout``, a line or the answer did not come in time (never retried)."""

    def __init__(self, status: int | None, text: str, *, timeout: bool = False) -> None:
        super().__init__(text)
        self.status, self.text, self.timeout = status, text, timeout


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
    ) -> AsyncGenerator[bytes, None]:
        """An async generator: TransportError(status, text) for a non-200 answer before yielding; then each line
        of the body (without its line ending); closing it (aclose, cancellation) closes the connection."""
        ...
