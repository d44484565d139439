"""How CozyGen talks to another ComfyUI: the protocol of one connection. ``api/backends/client.py`` implements it
with aiohttp over ComfyUI's own API; core code takes a :data:`Connect` and never imports aiohttp. Every answer is
untrusted input: sizes are capped, and a failure is a :class:`RemoteError` with a message a person can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from .model import Backend

MAX_JSON = 64 * 1024 * 1024  # bytes of one JSON answer (/object_info of a big install is ~10 MB)
MAX_FILE = 2 * 1024 * 1024 * 1024  # bytes of one output fetched from /view
CONNECTED, DISCONNECTED = "cozygen.connected", "cozygen.disconnected"  # pseudo-messages of messages()


class RemoteError(Exception):
    """The backend could not be reached, refused, or answered something that is not ComfyUI's; ``status`` is its
    HTTP status when it answered one."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status, self.body = status, body


class RemoteComfyUI(Protocol):
    backend: Backend

    async def get_json(self, path: str, *, params: dict[str, str] | None = None, cap: int = MAX_JSON) -> Any:
        """GET ``path`` (``/queue``, ``/history/<id>``, ``/object_info``, ``/system_stats``) as JSON."""
        ...

    async def post_json(self, path: str, body: Any, *, cap: int = MAX_JSON) -> tuple[int, Any]:
        """POST JSON (``/prompt``, ``/queue`` with ``{"delete": [...]}``, ``/interrupt``): status and JSON answer
        (a 4xx is returned, not raised: ``/prompt``'s 400 carries ComfyUI's node errors)."""
        ...

    async def download(self, params: dict[str, str], dest: Path, *, cap: int = MAX_FILE) -> int:
        """GET ``/view`` with ``filename``, ``subfolder`` and ``type`` into ``dest`` (written whole or not at all);
        the bytes written."""
        ...

    async def upload_image(self, source: Path, *, name: str, subfolder: str = "") -> dict[str, Any]:
        """POST ``/upload/image`` (overwrite): ComfyUI's answer ``{"name", "subfolder", "type"}``."""
        ...

    def messages(self, client_id: str) -> AsyncIterator[tuple[str, Any]]:
        """ComfyUI's websocket messages for ``client_id`` as (type, data), forever: JSON messages only (binary
        previews as ``("preview", (format, bytes))``), reconnecting with backoff; ``CONNECTED`` and
        ``DISCONNECTED`` (data: the reason) are yielded as the socket comes and goes. Ends when closed."""
        ...

    async def close(self) -> None: ...


Connect = Callable[[Backend], RemoteComfyUI]
