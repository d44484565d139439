"""Danbooru tags (seed 004's paths and shapes): categories, autocomplete search and validation.

The index is made at server start, in the background: loaded from ``<data dir>/cache/tags-index.bin``
when that was saved for the same lists (``core.tags.cache``: tens of milliseconds), else built by a
helper process (``core.tags.build``; small lists in a thread) that saves it for the next start. It is
made again when a list in ``<data dir>/tags/`` changes (names, sizes and times are compared at most once
a second). A search that comes before the index is whole waits for it at most ``WAIT``, then answers
with what is ready (the prefix matches of the lists, the tags of the prompts read so far) and says so
with ``"partial": true``; the answer is otherwise seed 004's shape. Validation waits for the whole index.
Tags from the users' own prompts are read again, in the background, a little after a job or gallery
event says there may be new ones.

Whose prompts a request learns from: everyone's, unless ``gallery_visibility`` is
``per_user`` and the caller is not an admin (``visibility.restricted_to``); then
only the caller's own (the tag lists are for everyone). Each such user's index is
the shared lists with their own history table, made on first use and kept until
the prompts are read again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web

from ..core.accounts.access import VIEWER
from ..core.errors import BadRequest
from ..core.tags import build as tag_build
from ..core.tags import cache as tag_cache
from ..core.tags import history as tag_history
from ..core.tags import index as tags
from ..core.tags.lists import CATEGORY_KEYS, Parsed, folder_signature
from ..core.tags.table import TagTable
from .params import choice, integer
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .visibility import restricted_to

log = logging.getLogger("cozygen")
CHECK_EVERY = 1.0  # seconds between looks at the tags folder
HISTORY_EVERY = 2.0  # seconds between reads of the user's prompts, when something happened
WAIT = 0.08  # seconds a search waits for an index in the making before answering with what is ready
START_WAIT = 0.5  # seconds the server's start waits for a saved index (a build is never waited for)
COMPLETE_AFTER = 2.0  # seconds after an index is in before its completion (~0.5 s of CPU) starts in the background
VALIDATE_WAIT = 60.0  # seconds a validation waits for it (every tag would look unknown before)
IN_THREAD = 256 * 1024  # bytes of lists built in a thread; more in a helper process (the GIL: see core.tags.build)
MAX_LIMIT, DEFAULT_LIMIT, MAX_OFFSET = 200, 80, 1_000_000
MAX_QUERY = 200  # characters
MAX_VALIDATE = 500  # tags in one validate request
MAX_VIEWS = 64  # users whose own index is kept at once


class Current(NamedTuple):
    """The index a request is answered from; ``partial`` while the lists or the prompts are still being read."""

    tags: tags.TagIndex
    partial: bool


def empty_table(source: str = "list") -> TagTable:
    return TagTable(Parsed(), source)


class TagService:
    """The current tag index of one server: made at start in the background, kept fresh."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self._lists: TagTable | None = None  # the lists' table (prefix-only while the first build runs)
        self._lists_whole = False  # with word starts and aliases
        self._files: list[dict[str, Any]] = []
        self._index: tags.TagIndex | None = None  # the lists with everyone's history tags
        self._index_whole = False  # made from the whole lists and the prompts read
        self._index_read_prompts = False  # made with the prompts read
        self._changed = asyncio.Event()  # set (and replaced) each time the index is made
        self._wanted: Any = None  # the folder's signature last seen
        self._generation = 0  # of the lists wanted: a load that ends behind it loads again
        self._checked = -math.inf
        self._loading: asyncio.Task | None = None
        self._building = False  # the lists are being read (not loaded from the saved index)
        self._worker: tag_build.Worker | None = None
        self._history_seen: Any = None
        self._history_at = -math.inf  # never read: the first look is due whatever the monotonic clock says
        self._by_owner: dict[str | None, Counter] | None = None  # the history tags' counts, per owner; None: unread
        self._views: dict[str, tags.TagIndex] = {}  # user -> the lists with that user's history alone
        self._views_of: tags.TagIndex | None = None  # the index the views were made from
        self._background: set[asyncio.Task] = set()

    def folder(self) -> Path:
        return self.state.db_ready_data_dir / tags.TAGS_FOLDER

    def cache_file(self) -> Path:
        return tag_cache.cache_path(self.state.db_ready_data_dir)

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """At server start (the database is open): begin loading. A saved index is in within tens of milliseconds:
        that much (at most ``START_WAIT``) the start waits, so the first search after a restart is whole; a build
        goes on in the background."""
        self._check()
        self._refresh_history()
        await self._until(self._answerable, START_WAIT)

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        for task in [*self._background, *([self._loading] if self._loading else [])]:
            task.cancel()

    # -- answers ---------------------------------------------------------------------------
    @property
    def whole(self) -> bool:
        """The index has every list's full index and the prompts read, and no newer lists are being loaded."""
        return self._index_whole and self._loading is None

    async def current(self, owner: str | None = None, *, wait: float = WAIT) -> Current:
        """The index with every user's history tags, or with ``owner``'s alone, and whether it is partial.

        Before anything is ready, while the saved index loads (tens of milliseconds) or the prompts are read the
        first time, this waits up to ``wait``; while the lists are being read it answers at once."""
        self._check()
        self._refresh_history()
        await self._until(self._answerable, wait)
        index = self._index or tags.TagIndex(empty_table(), empty_table("history"))
        partial = not self.whole
        if owner is None:
            return Current(index, partial)
        if self._views_of is not index:
            self._views, self._views_of = {}, index
        view = self._views.get(owner)
        if view is None:
            view = await asyncio.to_thread(index.with_history, self._owner_counts(owner))
            if self._views_of is index:  # not made stale while it was built
                if len(self._views) >= MAX_VIEWS:
                    self._views.clear()
                self._views[owner] = view
        return Current(view, partial)

    def _answerable(self) -> bool:
        if self.whole:
            return True
        if self._index is None:
            return False
        return self._building or (self._loading is None and self._index_read_prompts)

    async def index(self, owner: str | None = None) -> tags.TagIndex:
        return (await self.current(owner)).tags

    async def settle(self, timeout: float) -> bool:
        """Wait (at most ``timeout``) until the index is whole; whether it is."""
        self._check()
        self._refresh_history()
        await self._until(lambda: self.whole, timeout)
        return self.whole

    async def _until(self, done: Any, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done() and (left := deadline - loop.time()) > 0:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                return

    def _owner_counts(self, owner: str) -> Counter:
        return (self._by_owner or {}).get(owner) or Counter()

    def _events_seen(self) -> tuple[int, int]:
        return self.state.job_hub.last_seq, self.state.gallery_hub.last_seq

    # -- the lists -------------------------------------------------------------------------
    def _check(self) -> None:
        """A first look, or a list added, changed or removed: (re)load the lists in the background."""
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return
        self._checked = now
        signature = folder_signature(self.folder())  # a few stat calls
        if signature == self._wanted and self._index is not None:
            return
        self._wanted = signature
        self._generation += 1
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load_while_wanted())

    async def _load_while_wanted(self) -> None:
        try:
            while True:
                generation = self._generation
                try:
                    await self._load(self._wanted)
                except Exception:  # the old index stays; the next change tries again
                    log.exception("CozyGen: the tag lists could not be indexed")
                finally:
                    self._building = False
                if self._generation == generation:
                    break
            await self._compose()
        finally:
            self._loading = None
            self._pulse()

    async def _load(self, signature: Any) -> None:
        started = time.perf_counter()
        folder, path = self.folder(), self.cache_file()
        if not signature:  # no list: nothing to build or save
            self._set_lists(empty_table(), [], whole=True)
            return
        key = await asyncio.to_thread(tag_cache.content_key, folder)
        saved = await asyncio.to_thread(tag_cache.load, path, key)
        if saved is not None and saved.complete:
            self._set_lists(await asyncio.to_thread(_restored, saved), saved.files, whole=True)
            self._finish("loaded from the saved index", started)
            return
        self._building = True
        self._pulse()  # a search waiting for the saved index answers now with what is ready
        if sum(size for _name, size, _mtime in signature) > IN_THREAD and await self._build_in_process(
            folder, path, key
        ):
            self._finish("read and indexed by a helper process", started)
            return
        stages = tag_build.stages(folder)
        while (saved := await asyncio.to_thread(next, stages, None)) is not None:
            await self._take(saved)
            if saved.complete:
                await asyncio.to_thread(_save_quietly, path, saved, key)
        self._finish("read and indexed", started)

    async def _build_in_process(self, folder: Path, path: Path, key: str) -> bool:
        """Build in a helper process, taking each stage it saves; False if it could not (then build here)."""
        try:
            worker = self._worker = await asyncio.to_thread(tag_build.Worker, folder, path, key)
        except OSError as exc:
            log.warning("CozyGen: no helper process for the tag index (%s); building it here", exc)
            return False
        try:
            while (stage := await asyncio.to_thread(worker.next_stage)) is not None:
                saved = await asyncio.to_thread(tag_cache.load, path, key)
                if saved is None:
                    break
                await self._take(saved)
                if stage == tag_build.FULL:
                    return saved.complete
        finally:
            self._worker = None
            await asyncio.to_thread(worker.stop)
        log.warning("CozyGen: the tag index's helper process failed; building it here")
        return False

    async def _take(self, saved: tag_cache.Saved) -> None:
        """A stage of a build: the whole index, or a prefix-only one while no whole index of a list is there."""
        if saved.complete or not self._lists_whole or not self._lists:
            self._set_lists(await asyncio.to_thread(_restored, saved), saved.files, whole=saved.complete)
            await self._compose()

    def _set_lists(self, table: TagTable, files: list[dict[str, Any]], *, whole: bool) -> None:
        self._lists, self._files, self._lists_whole = table, files, whole

    def _finish(self, how: str, started: float) -> None:
        lists = self._lists
        assert lists is not None
        log.info(
            "CozyGen: %d tags from %d list(s) %s in %.2f s",
            len(lists),
            len(self._files),
            how,
            time.perf_counter() - started,
        )
        self._spawn(self._complete_table(lists))

    async def _complete_table(self, table: TagTable) -> None:
        """After the first answers: the name map, the id check and every 1- and 2-character answer. It waits
        ``COMPLETE_AFTER`` first: the first searches after a start (the app opening) would otherwise share the
        CPU and the GIL with it (20-70 ms instead of 2-8 ms); the lazy table answers the same meanwhile."""
        await asyncio.sleep(COMPLETE_AFTER)
        if table is not self._lists:  # newer lists came meanwhile: their own completion follows
            return
        if not await asyncio.to_thread(tag_cache.ids_in_range, table.columns()):
            log.error("CozyGen: the saved tag index %s is damaged; reading the lists again", self.cache_file())
            await asyncio.to_thread(self.cache_file().unlink, missing_ok=True)
            self._wanted, self._checked = None, -math.inf  # the next look loads again
            self._check()
            return
        await asyncio.to_thread(table.finish)
        await asyncio.to_thread(table.warm)

    # -- composing ---------------------------------------------------------------------------
    async def _compose(self) -> None:
        """The index answered from: the lists' table with everyone's history tags (the latest of both)."""
        lists, by_owner, files = self._lists or empty_table(), self._by_owner, self._files
        index = await asyncio.to_thread(_with_history, lists, tag_history.everyone(by_owner or {}), files)
        if lists is (self._lists or lists) and by_owner is self._by_owner:  # nothing newer came meanwhile
            self._index, self._index_whole = index, self._lists_whole and by_owner is not None
            self._index_read_prompts = by_owner is not None
            self._pulse()

    def _pulse(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- the history tags ------------------------------------------------------------------
    def _history_counts(self) -> dict[str | None, Counter] | None:
        try:
            return tag_history.counts_by_owner(self.state.db.read(tag_history.read_history))
        except Exception:  # history is a bonus: the lists still work without it
            log.exception("CozyGen: the tags of your prompts could not be read")
            return None

    def _refresh_history(self) -> None:
        seen = self._events_seen()
        if seen == self._history_seen or time.monotonic() - self._history_at < HISTORY_EVERY:
            return
        self._history_seen, self._history_at = seen, time.monotonic()
        self._spawn(self._reread_history())

    async def _reread_history(self) -> None:
        by_owner = await asyncio.to_thread(self._history_counts)
        self._by_owner = by_owner if by_owner is not None else (self._by_owner or {})
        await self._compose()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _restored(saved: tag_cache.Saved) -> TagTable:
    return TagTable(saved.columns, lazy=True)


def _with_history(lists: TagTable, counts: Counter, files: list[dict[str, Any]]) -> tags.TagIndex:
    return tags.TagIndex(lists, tags.history_table(lists, counts), files)


def _save_quietly(path: Path, saved: tag_cache.Saved, key: str) -> None:
    try:
        tag_cache.save(path, saved.columns, key=key, complete=saved.complete, files=saved.files)
    except OSError as exc:  # the index works; the next start builds it again
        log.warning("CozyGen: the tag index could not be saved to %s: %s", path, exc)


class TagRoutes:
    def __init__(self, state: CozyGenState, service: TagService) -> None:
        self.state, self.service = state, service

    async def categories(self, request: web.Request) -> web.Response:
        index, partial = await self.service.current(restricted_to(request, self.state))
        body = {
            "categories": index.categories(),
            "total": len(index),
            "lists": index.files,
            "history": len(index.history),
        }
        return json_response(marked(body, partial))

    async def search(self, request: web.Request) -> web.Response:
        """Tags matching ``q``; an empty ``q`` (the seed's default, how its tag library opens) lists every tag
        (of ``category`` when one is given) by count."""
        q = request.query.get("q", "").strip().lower()
        if len(q) > MAX_QUERY:
            raise BadRequest(f"q is longer than {MAX_QUERY} characters", code="INVALID_Q")
        category = request.query.get("category", "").strip().lower()
        if category not in ("", "all") and category not in CATEGORY_KEYS:
            raise BadRequest(
                f"category must be one of {', '.join(CATEGORY_KEYS)} (or empty for all), not {category!r}",
                code="INVALID_CATEGORY",
            )
        sort = choice(request, "sort", tags.SORTS, "count")
        limit = integer(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        offset = integer(request, "offset", 0, low=0, high=MAX_OFFSET)
        min_count = integer(request, "min_count", 0, low=0, high=2**62)
        index, partial = await self.service.current(restricted_to(request, self.state))
        wanted = category if category not in ("", "all") else None
        typed = q if q.strip("_ ") else ""  # nothing typed yet: every tag (of the category), by count
        search = functools.partial(
            index.search, typed, category=wanted, sort=sort, limit=limit, offset=offset, min_count=min_count
        )
        if sort == "alpha" or not index.ready(wanted):  # sorting by name, or a category's first use
            found = await asyncio.to_thread(search)
        else:  # well under a millisecond: not worth a thread
            found = search()
        body = {
            "items": [hit.to_dict() for hit in found.items],
            "total": found.total,
            "limit": limit,
            "offset": offset,
            "q": q,
            "category": category if category != "all" else "",
            "sort": sort,
        }
        return json_response(marked(body, partial))

    async def validate(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        names = body.get("tags", [])
        if not isinstance(names, list):
            raise BadRequest("tags must be a list", code="INVALID_TAGS")
        if len(names) > MAX_VALIDATE:
            raise BadRequest(f"send at most {MAX_VALIDATE} tags at once", code="TOO_MANY_TAGS")
        await self.service.settle(VALIDATE_WAIT)
        index, partial = await self.service.current(restricted_to(request, self.state))
        return json_response(marked(await asyncio.to_thread(index.validate, names), partial))


def marked(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Seed 004's shape, with ``"partial": true`` added while the index is still being made."""
    return {**body, "partial": True} if partial else body


def add_routes(routes: Routes, state: CozyGenState) -> None:
    service = TagService(state)
    state.tag_service = service
    state.starters.append(service.start)  # made at server start, in the background
    state.stoppers.append(service.stop)
    tag_routes = TagRoutes(state, service)
    routes.get("/cozygen/api/tags/categories", access=VIEWER)(tag_routes.categories)
    routes.get("/cozygen/api/tags/search", access=VIEWER)(tag_routes.search)
    routes.post("/cozygen/api/tags/validate", access=VIEWER)(tag_routes.validate)
