"""The gallery: seed 004's routes (paths and shapes kept) plus native search, cursors and images by id."""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, CozyGenError, Forbidden, NotFound
from ..core.gallery import index, marks
from ..core.gallery.service import Gallery, directory_item, item
from ..core.graph.summary import parse_prompt_text, summarize_png_text
from ..core.jobs import prompt_raw
from ..core.media.kinds import is_hidden, kind_of
from ..core.media.pnginfo import read_png_info
from ..core.paths import resolve
from . import sse
from .audit import actor
from .auth.credentials import current_user
from .params import bool_field, choice, flag, integer, paging, path_id, text_field, timestamp
from .responses import TooDeep, json_response, loads_bounded, read_json
from .routing import Routes
from .seed_errors import seed_route
from .state import CozyGenState
from .visibility import (
    own_inputs,
    owned_prompts,
    record_input,
    require_visible,
    require_visible_path,
    restricted_to,
    stream_filter,
)

DELETE_ALL_CONFIRM = ("delete-all", "delete_all", "deleteall")
# Seed 004's answers to the errors of its gallery routes (api/seed_errors.py)
FORBIDDEN, NOT_THERE = (Forbidden, "forbidden"), (NotFound, "not found")
LIST_ERRORS = {"INVALID_PATH": FORBIDDEN, "BAD_PAGING": (BadRequest, "bad paging"), "FOLDER_NOT_FOUND": NOT_THERE}
NO_PROMPT = (NotFound, "prompt metadata not found")
PROMPT_ERRORS = {"INVALID_PATH": NO_PROMPT, "SOURCE_NOT_FOUND": NO_PROMPT, "IMAGE_NOT_FOUND": NO_PROMPT}
DELETE_ERRORS = {"INVALID_PATH": FORBIDDEN, "FILE_NOT_FOUND": NOT_THERE, "IMAGE_NOT_FOUND": NOT_THERE}
DELETE_ALL_ERRORS = {
    "INVALID_JSON": (BadRequest, "invalid json payload"),
    "CONFIRM_REQUIRED": (BadRequest, "confirm flag required"),
    "INVALID_PATH": FORBIDDEN,
    "FOLDER_NOT_FOUND": NOT_THERE,
}
STREAM_ERRORS = {"INVALID_PATH": (Forbidden, "Invalid path"), "FOLDER_NOT_FOUND": (NotFound, "Not found")}


def file_query(request: web.Request, root: str, subfolder: str, recursive: bool, owner: str | None) -> index.FileQuery:
    """The listing's filters and order from its query string (each new one optional: without them, seed 004's
    listing as it always was)."""
    sort = choice(request, "sort", index.SORT_NAMES, "mtime")
    min_size = integer(request, "min_size", None, low=0, code="INVALID_SIZE")
    max_size = integer(request, "max_size", None, low=0, code="INVALID_SIZE")
    if min_size is not None and max_size is not None and min_size > max_size:
        raise BadRequest(f"min_size ({min_size}) is larger than max_size ({max_size})", code="INVALID_SIZE")
    since, until = timestamp(request, "since"), timestamp(request, "until", end=True)
    if since is not None and until is not None and since >= until:
        raise BadRequest("since must come before until", code="INVALID_DATE")
    return index.FileQuery(
        root=root,
        subfolder=subfolder,
        recursive=recursive,
        show_hidden=flag(request, "show_hidden") or is_hidden(subfolder),
        kind=choice(request, "kind", index.KIND_FILTERS, "all"),
        search=request.query.get("search", "").strip() or None,
        model=request.query.get("model", "").strip() or None,
        sort=sort,
        descending=choice(request, "order", ("desc", "asc"), "asc" if sort == "name" else "desc") == "desc",
        owner=owner,
        user=marks_user(request),
        favourite=flag(request, "favourite"),
        rejected=choice(request, "rejected", index.REJECTED, "show"),
        min_rating=integer(request, "min_rating", 0, low=0, high=index.TOP_RATING, code="INVALID_RATING"),
        min_size=min_size,
        max_size=max_size,
        since=since,
        until=until,
    )


async def listing_query(request: web.Request, state: CozyGenState) -> index.FileQuery:
    """The files a gallery listing's query string asks for, as the caller may see them (a 404 for a folder that
    does not exist). The listing and the bulk actions' ``{"query": ...}`` selections both read it."""
    root = choice(request, "type", index.ROOTS, "output")
    sub, there = await asyncio.to_thread(folder_there, state.roots[root], request.query.get("subfolder", ""))
    query = file_query(request, root, sub, flag(request, "recursive"), restricted_to(request, state))
    if not there:
        raise NotFound(f"no folder {sub!r} in the {root} folder", code="FOLDER_NOT_FOUND")
    return query


def folder_there(base: Any, subfolder: Any) -> tuple[str, bool]:
    """A listed folder, cleaned, and whether it exists (blocking: resolving follows links on the disk)."""
    folder, sub, _ = resolve(base, subfolder)
    return sub, folder.is_dir()


def marks_user(request: web.Request) -> str:
    """Whose marks a request reads and sets: the signed-in user's (everyone's one set with auth off)."""
    user = current_user(request)
    return user.username if user else marks.NO_USER


def listed(row: Any, found: dict[int, Any], *, include_meta: bool = False) -> dict[str, Any]:
    """A file as the listing gives it: the seed's item, its details, and the caller's marks of it."""
    return {
        **item(row, include_meta=include_meta),
        "size": row["size"],
        "kind": "animated" if row["animated"] else row["kind"],
        "width": row["width"],
        "height": row["height"],
        "created": row["created"],
        "marks": found.get(row["id"], marks.UNMARKED),
    }


def page_of(conn: Any, query: index.FileQuery, *, offset: int, limit: int, cursor: str | None) -> tuple[list, dict]:
    """A page of files and the caller's marks of them, read together."""
    rows = index.list_files(conn, query, offset=offset, limit=limit, cursor=cursor)
    return rows, marks.read(conn, query.user, [r["id"] for r in rows]) if rows else {}


def page_with_folders(
    query: index.FileQuery, with_dirs: bool, total_files: int, page: int, per_page: int, cursor: str | None, conn: Any
) -> tuple[list, list, list, dict, dict, bool]:
    """A listing's page in one read: the folders (when listed), those on this page, its files, the caller's marks
    of them, the folders' previews, and whether more files follow."""
    dirs = (
        index.list_dirs(conn, query.root, query.subfolder, show_hidden=query.show_hidden, owner=query.owner)
        if with_dirs
        else []
    )
    limit = per_page or max(len(dirs) + total_files, 1)
    offset = 0 if cursor is not None else (page - 1) * limit
    dir_page = dirs[offset : offset + limit]
    file_offset, file_limit = max(0, offset - len(dirs)), limit - len(dir_page)
    rows, found = page_of(conn, query, offset=file_offset, limit=file_limit + 1, cursor=cursor or None)
    more, rows = len(rows) > file_limit, rows[:file_limit]
    paths = [d["path"] for d in dir_page]
    previews = (  # one query for the page's folders, per user as the listing
        index.folder_previews(conn, query.root, paths, show_hidden=query.show_hidden, owner=query.owner)
        if paths
        else {}
    )
    return dirs, dir_page, rows, found, previews, more


def narrowed(query: index.FileQuery) -> bool:
    """Whether a listing picks files by more than their folder, kind and rejects: then it lists no folders."""
    return bool(
        query.search
        or query.model
        or query.favourite
        or query.rejected == "only"
        or query.min_rating
        or query.min_size is not None
        or query.max_size is not None
        or query.since is not None
        or query.until is not None
    )


def image_id(request: web.Request, *, prefix: str = "") -> int:
    """The ``{image_id}`` of the path (after ``prefix``): a 400 when it is no number, a 404 when no image can
    have it."""
    return path_id(request, "image_id", what="image", missing_code="IMAGE_NOT_FOUND", prefix=prefix)


async def read_text_chunks(path: os.PathLike) -> dict[str, str]:
    info = await asyncio.to_thread(read_png_info, path, scan_all=True)
    return info.text if info is not None else {}


def stream_accepts(
    event: Any, *, root: str, sub: str, recursive: bool, show_hidden: bool, visible: Callable[[Any], bool]
) -> bool:
    """Whether a gallery stream of ``root``/``sub`` passes ``event`` on to its client."""
    data = event.data
    if not event.kind.startswith("file."):
        return True
    if data["type"] != root or not visible(data):
        return False
    entries = [data["item"]] + ([data["from"]] if "from" in data else [])
    if not show_hidden:
        entries = [e for e in entries if not is_hidden(e["subfolder"], e["filename"])]
    return any(
        e["subfolder"] == sub or (recursive and (not sub or e["subfolder"].startswith(sub + "/"))) for e in entries
    )


class GalleryRoutes:
    """The gallery's routes over the state's gallery, database and folders."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    @property
    def gallery(self) -> Gallery:
        return self.state.gallery

    def output_folder(self, subfolder: Any) -> tuple[Any, str]:
        folder, sub, _ = resolve(self.state.roots["output"], subfolder)
        return folder, sub

    @seed_route(LIST_ERRORS)
    async def list_page(self, request: web.Request) -> web.Response:
        state = self.state
        query = await listing_query(request, state)
        recursive, include_meta = query.recursive, flag(request, "include_meta")
        page, per_page = paging(request, "per_page", 20, size_floor=0, size_ceiling=500)
        cursor = request.query.get("cursor")
        with_dirs = not recursive and not narrowed(query) and cursor is None  # per user: the folders of their files
        total_files = await self.gallery.count(query)
        read = functools.partial(page_with_folders, query, with_dirs, total_files, page, per_page, cursor)
        dirs, dir_page, rows, found, previews, more = await state.db.execute_fn(read)  # one trip to a reader
        total = len(dirs) + total_files
        items = [directory_item(d, previews.get(d["path"], [])) for d in dir_page]
        items += [listed(r, found, include_meta=include_meta) for r in rows]
        body = {
            "items": items,
            "page": None if cursor is not None else page,
            "per_page": per_page,
            "total_pages": (1 if per_page == 0 else math.ceil(total / per_page)) if total else 0,
            "total_items": total,
            "next_cursor": index.encode_cursor(rows[-1], query.sort) if more and rows else None,
        }
        return json_response(body)

    @seed_route(PROMPT_ERRORS)
    async def prompt(self, request: web.Request) -> web.Response:
        """A PNG's prompt graph, and the raw prompts (before $alias$ expansion) when the file or the caller's
        own job of its prompt holds them."""
        if not request.query.get("filename", "").strip():
            raise BadRequest("missing filename", code="MISSING_FILENAME")
        path, sub, name = resolve(
            self.state.roots["output"], request.query.get("subfolder", "").strip(), request.query["filename"]
        )
        await require_visible_path(request, self.state, "output", sub, name)
        text = await read_text_chunks(path) if name.lower().endswith(".png") and path.is_file() else {}
        prompt = parse_prompt_text(text.get("prompt"))
        if prompt is None:
            raise NotFound("prompt metadata not found", code="PROMPT_NOT_FOUND")
        body: dict[str, Any] = {"prompt": prompt}
        raw = _json_object(text.get("cozygen_prompt_raw")) or await self.stored_raw(request, sub, name)
        if raw:
            body["cozygen_prompt_raw"] = raw
        return json_response(body)

    async def stored_raw(self, request: web.Request, sub: str, name: str) -> dict[str, str] | None:
        """The caller's raw prompts of the job that saved this output, if they posted any."""
        row = await self.gallery.find("output", sub, name)
        if row is None or not row["prompt_id"]:
            return None
        prompt_id, username = row["prompt_id"], actor(request)
        return await self.state.db.execute_fn(lambda conn: prompt_raw.read(conn, prompt_id, username))

    async def store_prompt_raw(self, request: web.Request) -> web.Response:
        """Seed 004's ``prompt_raw``: the caller's raw prompts of a prompt they queue next (durable when answered)."""
        try:
            body = await read_json(request)
        except CozyGenError as error:
            if error.code not in ("INVALID_JSON", "JSON_TOO_DEEP"):
                raise
            raise BadRequest("invalid json payload", code=error.code, extra={"detail": error.message}) from None
        prompt_id, raw = prompt_raw.parse(body)
        username, now = actor(request), time.time()
        await self.state.db.execute_write_fn(lambda conn: prompt_raw.store(conn, prompt_id, username, raw, now))
        return json_response({"ok": True})

    @seed_route(DELETE_ERRORS)
    async def delete_one(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        filename = text_field(body, "filename", "", code="MISSING_FILENAME").strip()
        if not filename:
            raise BadRequest("missing filename", code="MISSING_FILENAME")
        if "/" in filename or "\\" in filename:
            raise BadRequest("invalid filename", code="INVALID_FILENAME")
        path, sub, name = resolve(self.state.roots["output"], text_field(body, "subfolder", ""), filename)
        if not kind_of(name):
            raise BadRequest("only images, videos and audio files can be deleted here", code="NOT_MEDIA")
        row = await self.gallery.find_or_index("output", sub, name)
        if row is None:
            raise NotFound(f"no file {name!r} in {sub or 'the output folder'}", code="FILE_NOT_FOUND")
        await require_visible(request, self.state, row)
        batch, trashed, errors = await self.gallery.trash([row], by=actor(request))
        if errors:  # the disk refused (the seed's 500)
            raise CozyGenError(f"unable to delete file: {errors[0]}", code="DELETE_FAILED")
        return json_response(
            {"ok": True, "filename": name, "subfolder": sub, "id": row["id"], "batch": batch, "trash_ids": trashed}
        )

    @seed_route(DELETE_ALL_ERRORS)
    async def delete_all(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        confirm = body.get("confirm")
        if not isinstance(confirm, str) or confirm.strip().lower() not in DELETE_ALL_CONFIRM:
            raise BadRequest('confirm flag required: send "confirm": "delete-all"', code="CONFIRM_REQUIRED")
        recursive = bool_field(body, "recursive", True)
        folder, sub = self.output_folder(text_field(body, "subfolder", ""))
        if not await asyncio.to_thread(folder.is_dir):
            raise NotFound(f"no folder {sub!r} in the output folder", code="FOLDER_NOT_FOUND")
        owner = restricted_to(request, self.state)  # per_user: only the caller's own outputs
        query = index.FileQuery(root="output", subfolder=sub, recursive=recursive, show_hidden=True, owner=owner)
        rows = await self.state.db.execute_fn(lambda conn: index.list_files(conn, query, limit=None))
        batch, trashed, errors = await self.gallery.trash(rows, by=actor(request))
        answer: dict[str, Any] = {"ok": True, "deleted": len(trashed), "batch": batch}
        if errors:
            answer["errors"] = errors
        return json_response(answer)

    @seed_route(STREAM_ERRORS)
    async def stream(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        root = choice(request, "type", ("output", "input"), "output")
        folder, sub, _ = resolve(state.roots[root], request.query.get("subfolder", ""))
        if not await asyncio.to_thread(folder.is_dir):
            raise NotFound(f"no folder {sub!r}", code="FOLDER_NOT_FOUND")
        recursive, show_hidden = flag(request, "recursive"), flag(request, "show_hidden") or is_hidden(sub)
        visible = stream_filter(request, state, await owned_prompts(request, state), await own_inputs(request, state))
        accept = functools.partial(
            stream_accepts, root=root, sub=sub, recursive=recursive, show_hidden=show_hidden, visible=visible
        )
        return await sse.stream(request, self.gallery.hub, accept=accept)

    # -- native: images by id, trash, restore, copy to input ---------------------------------
    async def visible_image(self, request: web.Request) -> Any:
        row = await self.gallery.get(image_id(request))
        await require_visible(request, self.state, row)
        return row

    async def image_file(self, request: web.Request) -> web.StreamResponse:
        row = await self.visible_image(request)
        return web.FileResponse(self.gallery.path_of(row), headers={"Cache-Control": "private, max-age=3600"})

    async def image_metadata(self, request: web.Request) -> web.Response:
        row = await self.visible_image(request)
        user, image = marks_user(request), row["id"]
        found = await self.state.db.execute_fn(lambda conn: marks.read(conn, user, [image]))
        return json_response({**await metadata_of(self.gallery, row), "marks": found.get(image, marks.UNMARKED)})

    async def delete_image(self, request: web.Request) -> web.Response:
        row = await self.visible_image(request)
        batch, trashed, errors = await self.gallery.trash([row], by=actor(request))
        if errors:
            raise BadRequest(f"unable to delete file: {errors[0]}", code="DELETE_FAILED")
        return json_response({"ok": True, "id": row["id"], "batch": batch, "trash_ids": trashed})

    async def trash_list(self, request: web.Request) -> web.Response:
        found = await self.gallery.trash_list()
        if restricted_to(request, self.state) is not None:  # per_user: what the caller deleted
            found = [entry for entry in found if entry["deleted_by"] == actor(request)]
        return json_response({"items": found})

    async def restore(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        deleter = actor(request) if restricted_to(request, self.state) is not None else None  # per_user: own deletes
        restored = await self.gallery.restore(ids=body.get("ids"), batch=body.get("batch"), deleted_by=deleter)
        return json_response({"ok": True, "restored": restored})

    async def to_input(self, request: web.Request) -> web.Response:
        row = await self.visible_image(request)
        name = await self.gallery.to_input(row)
        await record_input(self.state, request, "", name)
        return json_response({"ok": True, "filename": name, "subfolder": "", "type": "input"})

    async def models(self, request: web.Request) -> web.Response:
        owner = restricted_to(request, self.state)  # per_user: the models of the caller's own outputs
        return json_response({"models": await self.state.db.execute_fn(lambda conn: index.models(conn, owner=owner))})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    gallery = GalleryRoutes(state)
    routes.get("/cozygen/api/gallery", access=VIEWER)(gallery.list_page)
    routes.get("/cozygen/api/gallery/prompt", access=VIEWER)(gallery.prompt)
    routes.post("/cozygen/api/prompt_raw", access=USER)(gallery.store_prompt_raw)
    routes.post("/cozygen/api/gallery/delete", access=USER)(gallery.delete_one)
    routes.post("/cozygen/api/gallery/delete_all", access=USER)(gallery.delete_all)
    routes.get("/cozygen/api/gallery/stream", access=VIEWER)(gallery.stream)
    routes.get("/cozygen/api/images/{image_id}", access=VIEWER)(gallery.image_file)
    routes.get("/cozygen/api/images/{image_id}/metadata", access=VIEWER)(gallery.image_metadata)
    routes.delete("/cozygen/api/images/{image_id}", access=USER)(gallery.delete_image)
    routes.get("/cozygen/api/gallery/trash", access=VIEWER)(gallery.trash_list)
    routes.post("/cozygen/api/gallery/restore", access=USER)(gallery.restore)
    routes.post("/cozygen/api/images/{image_id}/to-input", access=USER)(gallery.to_input)
    routes.get("/cozygen/api/gallery/models", access=VIEWER)(gallery.models)


async def metadata_of(gallery: Gallery, row: Any) -> dict[str, Any]:
    """Standard fields, CozyGen's parameters and the raw prompt graph of an indexed file."""
    text = await read_text_chunks(gallery.path_of(row)) if row["filename"].lower().endswith(".png") else {}
    prompt, fields = summarize_png_text(text) if text else (None, {})
    record = _json_object(text.get("cozygen"))
    return {
        **item(row),
        "kind": row["kind"],
        "size": row["size"],
        "width": row["width"],
        "height": row["height"],
        "prompt_id": row["prompt_id"],
        "fields": fields or (orjson.loads(row["summary"]) if row["summary"] else {}),
        "params": record.get("params") or {},
        "prompt": prompt,
    }


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = loads_bounded(text) if text else None
    except (orjson.JSONDecodeError, TooDeep):  # a file's text: unreadable is empty
        return {}
    return value if isinstance(value, dict) else {}
