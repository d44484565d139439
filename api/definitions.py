"""ComfyUI's node definitions and model lists, shared by every route that needs them."""

from __future__ import annotations

import asyncio
from typing import Any

from . import host


class HostDefinitions:
    """ComfyUI's node definitions and model lists, read in a thread and kept for a few seconds."""

    TTL = 15.0

    def __init__(self) -> None:
        self._value: tuple[dict[str, Any], dict[str, list[str]]] | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Read afresh next time (after a client asked ComfyUI to re-read its model folders)."""
        self._value = None

    async def get(self, *, refresh: bool = False) -> tuple[dict[str, Any], dict[str, list[str]]]:
        async with self._lock:
            loop = asyncio.get_running_loop()
            if refresh or self._value is None or loop.time() - self._read_at > self.TTL:
                self._value = await asyncio.to_thread(read_definitions, refresh)
                self._read_at = loop.time()
            return self._value


def read_definitions(refresh: bool) -> tuple[dict[str, Any], dict[str, list[str]]]:
    models = {folder: host.model_files(folder, refresh=refresh) for folder in host.model_folders()}
    return host.object_info(), models
