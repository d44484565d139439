"""ComfyUI's node definitions and model lists, shared by every route that needs them."""

from __future__ import annotations

import asyncio
from typing import Any

from . import host


class HostDefinitions:
    """ComfyUI's node definitions and model lists, read in a thread and kept for a few seconds.

    Once that time is up, callers get the copy they had while a fresh one is read in the background,
    so no request waits for ComfyUI's /object_info (several milliseconds) except the first and a refresh.
    """

    TTL = 15.0

    def __init__(self) -> None:
        self._value: tuple[dict[str, Any], dict[str, list[str]]] | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()
        self._renewing: asyncio.Task | None = None

    def invalidate(self) -> None:
        """Read afresh next time (after a client asked ComfyUI to re-read its model folders)."""
        self._value = None

    async def get(self, *, refresh: bool = False) -> tuple[dict[str, Any], dict[str, list[str]]]:
        value = self._value
        if value is not None and not refresh:
            if asyncio.get_running_loop().time() - self._read_at > self.TTL and self._renewing is None:
                self._renewing = asyncio.create_task(self._renew())
            return value
        async with self._lock:
            if refresh or self._value is None:
                await self._read(refresh)
            return self._value  # type: ignore[return-value]

    async def _read(self, refresh: bool) -> None:
        self._value = await asyncio.to_thread(read_definitions, refresh)
        self._read_at = asyncio.get_running_loop().time()

    async def _renew(self) -> None:
        try:
            async with self._lock:
                if asyncio.get_running_loop().time() - self._read_at > self.TTL:
                    await self._read(False)
        finally:
            self._renewing = None


def read_definitions(refresh: bool) -> tuple[dict[str, Any], dict[str, list[str]]]:
    models = {folder: host.model_files(folder, refresh=refresh) for folder in host.model_folders()}
    return host.object_info(), models
