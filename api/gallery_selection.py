"""What a bulk action acts on: a list of image ids, or everything a gallery listing's query string matches.

``{"ids": [3, 5, 8]}`` names images; ``{"query": "subfolder=cats&recursive=1&search=tabby"}`` selects every file
the gallery listing with that query string would list ("select all matching the current filter"). Either way
the caller gets only what they may see: an id they may not see is refused as if it did not exist.
"""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web
from yarl import URL

from ..core.errors import BadRequest, NotFound, TooLarge
from ..core.gallery import index
from .gallery import listing_query
from .params import INT64_MAX, INT64_MIN
from .state import CozyGenState
from .visibility import owned_prompts, require_visible, restricted_to

MAX_SELECTED = 50_000  # files one bulk action may name or match
MAX_QUERY = 4096  # characters of a selection's query string


async def selected_rows(
    request: web.Request, state: CozyGenState, body: Any, *, limit: int = MAX_SELECTED
) -> list[Any]:
    """The index rows a bulk request's body selects, in listing order for a query and in the given order for ids;
    400 for a malformed selection, 404 for an id the caller cannot see, 413 above ``limit`` files."""
    if not isinstance(body, dict) or ("ids" in body) == ("query" in body):
        raise BadRequest(
            'send the selection as {"ids": [image ids]} or {"query": "<the gallery listing\'s query string>"}',
            code="INVALID_SELECTION",
        )
    if "ids" in body:
        return await _rows_by_id(request, state, body["ids"], limit)
    text = body["query"]
    if not isinstance(text, str) or len(text) > MAX_QUERY:
        raise BadRequest(f"query must be a query string of at most {MAX_QUERY} characters", code="INVALID_SELECTION")
    query = await listing_query(cast(web.Request, _AsListing(request, text.lstrip("?"))), state)
    rows = await state.db.execute_fn(lambda conn: index.list_files(conn, query, limit=limit + 1))
    _check_size(len(rows), limit)
    return rows


class _AsListing:
    """The request as though its query string were ``query`` (``Request.clone`` refuses once the body was read)."""

    def __init__(self, request: web.Request, query: str) -> None:
        self._request = request
        self.rel_url = URL(request.path).with_query(query)
        self.query = self.rel_url.query

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def __getitem__(self, key: str) -> Any:  # the request's storage: who is calling
        return self._request[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._request.get(key, default)


async def _rows_by_id(request: web.Request, state: CozyGenState, ids: Any, limit: int) -> list[Any]:
    valid = isinstance(ids, list) and all(
        isinstance(i, int) and not isinstance(i, bool) and INT64_MIN <= i <= INT64_MAX for i in ids
    )
    if not valid:
        raise BadRequest("ids must be a list of image ids (whole numbers)", code="INVALID_SELECTION")
    unique = list(dict.fromkeys(ids))
    _check_size(len(unique), limit)
    found = await state.db.execute_fn(lambda conn: index.get_files(conn, unique))
    restricted = restricted_to(request, state) is not None
    mine = await owned_prompts(request, state) if restricted else set()  # one read for thousands of outputs
    rows = []
    for image_id in unique:
        row = found.get(image_id)
        if row is None or (restricted and row["root"] == "output" and row["prompt_id"] not in mine):
            raise NotFound(f"no image with id {image_id}", code="IMAGE_NOT_FOUND")
        if restricted and row["root"] != "output":
            await require_visible(request, state, row)
        rows.append(row)
    return rows


def _check_size(count: int, limit: int) -> None:
    if count == 0:
        raise BadRequest("the selection is empty: select at least one file", code="EMPTY_SELECTION")
    if count > limit:
        raise TooLarge(
            f"the selection holds more than {limit:,} files; narrow the filter or act on a folder at a time",
            code="TOO_MANY_FILES",
        )
