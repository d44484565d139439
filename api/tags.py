"""Danbooru tags (seed 004's paths and shapes): categories, autocomplete search and validation.

The index is built on first use in a thread and rebuilt when a list in
``<data dir>/tags/`` changes (its names, sizes and times are compared at most
once a second). Tags from the users' own prompts are read again, in the
background, a little after a job or gallery event says there may be new ones.

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
from typing import Any

from aiohttp import web

from ..core.accounts.access import VIEWER
from ..core.errors import BadRequest
from ..core.tags import history as tag_history
from ..core.tags import index as tags
from ..core.tags.lists import CATEGORY_KEYS, folder_signature
from .params import choice, integer
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .visibility import restricted_to

log = logging.getLogger("cozygen")
CHECK_EVERY = 1.0  # seconds between looks at the tags folder
HISTORY_EVERY = 2.0  # seconds between reads of the user's prompts, when something happened
MAX_LIMIT, DEFAULT_LIMIT, MAX_OFFSET = 200, 80, 1_000_000
MAX_QUERY = 200  # characters
MAX_VALIDATE = 500  # tags in one validate request
MAX_VIEWS = 64  # users whose own index is kept at once


class TagService:
    """The current tag index of one server, loaded lazily and kept fresh."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self._index: tags.TagIndex | None = None
        self._signature: Any = None
        self._checked = 0.0
        self._loading: asyncio.Future | None = None
        self._history_seen: Any = None
        self._history_at = -math.inf  # never read: the first look is due whatever the monotonic clock says
        self._by_owner: dict[str | None, Counter] = {}  # the history tags' counts, per owner
        self._views: dict[str, tags.TagIndex] = {}  # user -> the lists with that user's history alone
        self._views_of: tags.TagIndex | None = None  # the index the views were made from
        self._background: set[asyncio.Task] = set()

    def folder(self) -> Path:
        return self.state.db_ready_data_dir / tags.TAGS_FOLDER

    def _events_seen(self) -> tuple[int, int]:
        return self.state.job_hub.last_seq, self.state.gallery_hub.last_seq

    async def index(self, owner: str | None = None) -> tags.TagIndex:
        """The index with every user's history tags, or with ``owner``'s alone."""
        index = await self._everyones()
        if owner is None:
            return index
        if self._views_of is not index:
            self._views, self._views_of = {}, index
        view = self._views.get(owner)
        if view is None:
            view = await asyncio.to_thread(index.with_history, self._by_owner.get(owner) or Counter())
            if self._views_of is index:  # not made stale while it was built
                if len(self._views) >= MAX_VIEWS:
                    self._views.clear()
                self._views[owner] = view
        return view

    async def _everyones(self) -> tags.TagIndex:
        folder, now = self.folder(), time.monotonic()
        if self._index is None or now - self._checked >= CHECK_EVERY:
            self._checked = now
            signature = folder_signature(folder)  # a few stat calls
            if self._index is None or signature != self._signature:
                await self._reload(folder, signature)
        self._refresh_history()
        assert self._index is not None
        return self._index

    async def _reload(self, folder: Path, signature: Any) -> None:
        if self._loading is None:  # requests that arrive meanwhile wait for the same load
            self._loading = asyncio.ensure_future(self._load(folder, signature))
        loading = self._loading
        try:
            await asyncio.shield(loading)
        finally:
            if self._loading is loading and loading.done():
                self._loading = None

    async def _load(self, folder: Path, signature: Any) -> None:
        seen = self._events_seen()
        started = time.perf_counter()
        index, by_owner = await asyncio.to_thread(self._build, folder)
        self._index, self._by_owner, self._signature, self._history_seen = index, by_owner, signature, seen
        self._history_at = time.monotonic()
        log.info(
            "CozyGen: %d tags from %d list(s) and %d from your prompts, indexed in %.2f s",
            len(index.lists),
            len(index.files),
            len(index.history),
            time.perf_counter() - started,
        )
        self._spawn(asyncio.to_thread(index.lists.warm))

    def _build(self, folder: Path) -> tuple[tags.TagIndex, dict[str | None, Counter]]:
        by_owner = self._history_counts() or {}
        return tags.load_index(folder, tag_history.everyone(by_owner)), by_owner

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
        base = self._index
        if by_owner is not None and base is not None:
            index = await asyncio.to_thread(base.with_history, tag_history.everyone(by_owner))
            if self._index is base:  # a list reloaded meanwhile read the prompts itself
                self._index, self._by_owner = index, by_owner

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class TagRoutes:
    def __init__(self, state: CozyGenState, service: TagService) -> None:
        self.state, self.service = state, service

    async def categories(self, request: web.Request) -> web.Response:
        index = await self.service.index(restricted_to(request, self.state))
        return json_response(
            {"categories": index.categories(), "total": len(index), "lists": index.files, "history": len(index.history)}
        )

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
        index = await self.service.index(restricted_to(request, self.state))
        wanted = category if category not in ("", "all") else None
        typed = q if q.strip("_ ") else ""  # nothing typed yet: every tag (of the category), by count
        search = functools.partial(
            index.search, typed, category=wanted, sort=sort, limit=limit, offset=offset, min_count=min_count
        )
        if sort == "alpha" or not index.ready(wanted):  # sorting by name, or a category's first use
            found = await asyncio.to_thread(search)
        else:  # well under a millisecond: not worth a thread
            found = search()
        return json_response(
            {
                "items": [hit.to_dict() for hit in found.items],
                "total": found.total,
                "limit": limit,
                "offset": offset,
                "q": q,
                "category": category if category != "all" else "",
                "sort": sort,
            }
        )

    async def validate(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        names = body.get("tags", [])
        if not isinstance(names, list):
            raise BadRequest("tags must be a list", code="INVALID_TAGS")
        if len(names) > MAX_VALIDATE:
            raise BadRequest(f"send at most {MAX_VALIDATE} tags at once", code="TOO_MANY_TAGS")
        index = await self.service.index(restricted_to(request, self.state))
        return json_response(await asyncio.to_thread(index.validate, names))


def add_routes(routes: Routes, state: CozyGenState) -> None:
    tag_routes = TagRoutes(state, TagService(state))
    routes.get("/cozygen/api/tags/categories", access=VIEWER)(tag_routes.categories)
    routes.get("/cozygen/api/tags/search", access=VIEWER)(tag_routes.search)
    routes.post("/cozygen/api/tags/validate", access=VIEWER)(tag_routes.validate)
