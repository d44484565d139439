"""Thumbnails of new outputs made in the background as they arrive, so the gallery opens at cached speed.

The gallery hub announces every output file the watcher indexes (``file.created``, ``file.modified``); ``follow``
hands each to ``ThumbnailWarmer.offer``, which only queues it. One daemon thread at a lower CPU priority renders
the queue, newest first, at the sizes the app asks for (``sizes``), and only while ComfyUI's queue is idle
(``busy``): a generation never waits for a thumbnail.

* The queue is bounded (``max_queue``, the oldest dropped) and keyed by path (an offer again moves the file to the
  front); a file older than ``max_age`` seconds is skipped, so a restored backup of old files renders nothing.
  Rendering waits until arrivals pause for ``settle`` seconds: a bulk copy into the output folder is indexed first,
  and only its newest ``max_queue`` files are warmed after it.
* A file gone by its turn is skipped; a render that fails is logged and skipped. The cache's size cap holds (the
  cache evicts as for any write), and a ``clear`` of the cache drops what was queued before it.
* ``COZYGEN_THUMB_WARM``: ``idle`` (the default: render while ComfyUI's queue is empty), ``always`` (render
  during generations too, still at the lower priority) or ``off``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..events import EventHub
from ..models.partfile import lower_priority
from .thumbnail_render import media_kind
from .thumbnails import ThumbnailCache

log = logging.getLogger("cozygen")

ENV_WARM = "COZYGEN_THUMB_WARM"
MODES = ("idle", "always", "off")
# What the app asks for (web/app/src): the grid at its default size and job results at 384 px, folder tiles,
# the queue, workflow cards and the image picker at 192 px; every browser's Accept for an <img> has image/webp.
DEFAULT_SIZES: tuple[tuple[int, str], ...] = ((384, "webp"), (192, "webp"))
MAX_SIZES = 4  # the defaults and the sizes requests asked for most, at most this many per file
MAX_QUEUE = 2000  # files waiting, at most; the oldest are dropped first
MAX_AGE = 2 * 3600.0  # seconds: an older file is left to its first request
IDLE_POLL = 0.25  # seconds between two looks at ComfyUI's queue while it is busy
SETTLE = 0.5  # seconds without a new arrival before rendering starts (generations arrive a few a second at most)
KINDS = frozenset({"image", "video", "audio"})  # what the thumbnail route serves


def mode_from_env() -> str:
    raw = os.environ.get(ENV_WARM, "").strip().lower()
    if raw in ("", "1", "on", "true", "yes"):
        return "idle"
    if raw in ("0", "false", "no"):
        return "off"
    if raw not in MODES:
        log.warning("CozyGen: %s must be idle, always or off (not %r); using idle", ENV_WARM, raw)
        return "idle"
    return raw


class ThumbnailWarmer:
    """A bounded, deduplicated queue of new files and the one low-priority thread that renders it."""

    def __init__(
        self,
        cache: ThumbnailCache,
        roots: dict[str, Path],
        *,
        busy: Callable[[], bool],
        mode: str = "idle",
        max_queue: int = MAX_QUEUE,
        max_age: float = MAX_AGE,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``busy`` says whether ComfyUI is running or holding a prompt (asked from the warm thread)."""
        self.cache, self.roots = cache, {k: Path(v) for k, v in roots.items()}
        self.busy, self.mode = busy, mode if mode in MODES else "idle"
        self.max_queue, self.max_age, self.settle, self.clock = max_queue, max_age, settle, clock
        self._last_offer = -math.inf  # time.monotonic() of the last arrival
        self.made = self.skipped = self.dropped = 0  # thumbnails made, files skipped and dropped (read by tests)
        self._queue: OrderedDict[tuple[str, str, str], int] = OrderedDict()  # path -> cache generation, newest last
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._following: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    # -- arrivals (any thread; cheap: the event loop calls it) ------------------------------------
    def offer(self, root: str, subfolder: str, filename: str, mtime: float | None = None) -> bool:
        """Queue a new or changed file; False when it is not one to warm (off, unknown root, kind, too old)."""
        if not self.enabled or root not in self.roots or media_kind(filename) not in KINDS:
            return False
        if mtime is not None and mtime < self.clock() - self.max_age:
            return False
        key = (root, subfolder, filename)
        with self._wake:
            self._queue.pop(key, None)
            self._queue[key] = self.cache.generation
            self._last_offer = time.monotonic()
            while len(self._queue) > self.max_queue:
                self._queue.popitem(last=False)
                self.dropped += 1
            if len(self._queue) == 1:  # the thread waits for a first file only (a burst wakes it once)
                self._wake.notify()
        return True

    # -- the thread ------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="cozygen-thumb-warm", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread after the file it is on (daemon: it never holds the process's exit)."""
        with self._wake:
            self._stopping = True
            self._queue.clear()
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        lower_priority()
        while True:
            with self._wake:
                while not self._stopping and not self._queue:
                    self._wake.wait()
                if self._stopping:
                    return
                settling = self.settling()
                if settling > 0:
                    self._wake.wait(settling)
                    continue
            if self.mode == "idle" and self._busy():
                with self._wake:
                    self._wake.wait(IDLE_POLL)  # a stop wakes it sooner
                continue
            self.step()

    def settling(self) -> float:
        """Seconds until arrivals have paused long enough to render (0: now)."""
        return max(0.0, self._last_offer + self.settle - time.monotonic())

    def _busy(self) -> bool:
        try:
            return bool(self.busy())
        except Exception:  # ComfyUI not up yet, or going down: count it as busy
            log.debug("thumbnail warm: cannot read ComfyUI's queue", exc_info=True)
            return True

    def step(self) -> bool:
        """Render the newest queued file; False when the queue was empty."""
        with self._wake:
            if not self._queue:
                return False
            (root, subfolder, filename), generation = self._queue.popitem(last=True)
        source = self.roots[root] / subfolder / filename if subfolder else self.roots[root] / filename
        try:
            if self.clock() - os.stat(source).st_mtime > self.max_age:
                self.skipped += 1
                return True
            self.made += self.cache.warm(source, self.sizes(), generation)
        except FileNotFoundError:
            self.skipped += 1  # gone (deleted, moved) before its turn
        except Exception:
            self.skipped += 1
            log.exception("CozyGen: the thumbnail of %s/%s could not be made ahead", subfolder, filename)
        return True

    def sizes(self) -> list[tuple[int, str]]:
        """The defaults, then the sizes recent requests asked for most (a larger grid, a JPEG-only client)."""
        wanted = list(DEFAULT_SIZES)
        for size in self.cache.asked_sizes():
            if size not in wanted and len(wanted) < MAX_SIZES:
                wanted.append(size)
        return wanted

    # -- the gallery hub ---------------------------------------------------------------------------
    def follow(self, hub: EventHub) -> None:
        """Offer every file the gallery hub announces (call on the running loop, once)."""
        if not self.enabled or self._following is not None:
            return
        self._following = asyncio.get_running_loop().create_task(self._follow(hub), name="cozygen-thumb-warm")

    async def _follow(self, hub: EventHub) -> None:
        sub = hub.subscribe(internal=True)
        try:
            while True:
                events = [await sub.queue.get()]
                while not sub.queue.empty():  # a burst: taken in one wake-up
                    events.append(sub.queue.get_nowait())
                sub.overflowed = False  # a burst too large to follow: the files missed are left to their requests
                for event in events:
                    self.on_event(event.kind, event.data)
        finally:
            hub.unsubscribe(sub)

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind not in ("file.created", "file.modified"):
            return
        item = data.get("item")
        if isinstance(item, dict) and isinstance(item.get("filename"), str):
            mtime = item.get("mtime")
            self.offer(
                str(item.get("type")),
                str(item.get("subfolder") or ""),
                item["filename"],
                mtime if isinstance(mtime, int | float) else None,
            )

    async def close(self) -> None:
        """Stop following and stop the thread (without waiting on the event loop)."""
        task, self._following = self._following, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.stop)
