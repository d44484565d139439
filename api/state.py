"""CozyGen's server-side state: the data folder and the database, opened at server start.

Nothing here runs at import. ``startup`` is registered on ComfyUI's aiohttp
``on_startup``; it creates the data folder and migrates the database in a
thread, so ComfyUI's event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from ..core.datadir import DB_NAME, ensure_data_dir, resolve_data_dir
from ..core.db import Database
from ..core.errors import HostNotReady
from ..core.migrations import MIGRATIONS
from . import host

log = logging.getLogger("cozygen")


class CozyGenState:
    def __init__(self) -> None:
        self._db: Database | None = None
        self.data_dir: Path | None = None
        self.startup_error: str | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise HostNotReady(self.startup_error or "CozyGen is still starting; try again in a moment")
        return self._db

    @property
    def ready(self) -> bool:
        return self._db is not None

    def _open(self) -> tuple[Path, Database, list[int]]:
        data_dir = ensure_data_dir(resolve_data_dir(host.user_directory()))
        db = Database(data_dir / DB_NAME)
        applied = db.open(MIGRATIONS)
        return data_dir, db, applied

    async def startup(self, _app: Any = None) -> None:
        try:
            data_dir, db, applied = await asyncio.to_thread(self._open)
        except Exception as exc:  # CozyGen must never take ComfyUI down with it
            self.startup_error = f"CozyGen could not open its data folder: {exc}"
            log.exception("CozyGen: %s", self.startup_error)
            return
        self.data_dir, self._db = data_dir, db
        if applied:
            log.info("CozyGen: database %s migrated to version %d", db.path, applied[-1])
        log.info("CozyGen: data folder %s", data_dir)

    async def shutdown(self, _app: Any = None) -> None:
        if self._db is not None:
            await asyncio.to_thread(self._db.close)
            self._db = None
