"""Uploads, the input folder, thumbnails and their cache (seed 004's routes, paths and shapes kept)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.multipart import BodyPartReader

from ..core.accounts.access import ADMIN, USER, VIEWER
from ..core.errors import BadRequest, Forbidden, NotFound, TooLarge, UnsupportedType
from ..core.gallery import index
from ..core.gallery.place import PARTIAL_SUFFIX, UPLOAD_PREFIX
from ..core.gallery.thumbnails import Thumbnail, ThumbnailCache, clamp_width
from ..core.media.kinds import INPUT_IMAGE_EXTS, extension, kind_of
from ..core.media.uploads import check_size, require, sniff_image, stored_name
from ..core.paths import clean_relative, resolve, split_relative
from .gallery import image_id
from .params import flag, paging
from .responses import json_response
from .routing import Routes
from .seed_errors import seed_route
from .state import CozyGenState
from .visibility import hidden_inputs, record_input, require_visible, require_visible_path

CHUNK = 256 * 1024
CHUNK_TEXT = 128  # aiohttp reads a part without Content-Length in chunks no shorter than its boundary line
MAX_FIELD_BYTES = 4096  # a text field beside an upload (the subfolder)
MAX_EXTRA_PARTS = 16  # fields beside the file


# What aiohttp's multipart reader raises on a malformed body: a missing or wrong boundary, an empty or cut-off
# body, a bad Content-Type/-Encoding/charset of a part, undecodable text, a part header past its line limit.
MALFORMED_MULTIPART = (ValueError, AssertionError, LookupError, RuntimeError, zlib.error, HttpProcessingError)


@contextlib.contextmanager
def multipart_errors(hint: str) -> Iterator[None]:
    """Answer whatever aiohttp's multipart reader raises for a malformed body as a 400/413 with ``hint``."""
    try:
        yield
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("the request body is larger than this server accepts", code="TOO_LARGE") from None
    except LineTooLong:
        raise TooLarge(f"a part's header is too long; {hint}", code="PART_HEADER_TOO_LARGE") from None
    except web.HTTPException as exc:  # aiohttp's other HTTP errors while reading the body are 4xx
        raise BadRequest(
            f"the multipart body could not be read ({exc.reason}); {hint}", code="MALFORMED_MULTIPART"
        ) from None
    except MALFORMED_MULTIPART as exc:
        reason = str(exc)[:200] or type(exc).__name__
        raise BadRequest(f"the multipart body is malformed ({reason}); {hint}", code="MALFORMED_MULTIPART") from None


class MultipartForm:
    """aiohttp's streaming multipart reader, each read answering a malformed body with a 400/413 JSON error
    (and a body that is no multipart with a 415) instead of a 500. The one way CozyGen reads a multipart body."""

    def __init__(self, reader: Any, hint: str) -> None:
        self.reader, self.hint = reader, hint

    @classmethod
    async def open(cls, request: web.Request, hint: str) -> MultipartForm:
        if not request.content_type.startswith("multipart/"):
            raise UnsupportedType(f"send multipart/form-data, not {request.content_type}; {hint}", code="NOT_MULTIPART")
        with multipart_errors(hint):
            return cls(await request.multipart(), hint)

    async def next(self) -> BodyPartReader | None:
        """The next part (a nested multipart is refused); None after the last."""
        with multipart_errors(self.hint):
            part = await self.reader.next()
        if part is not None and not isinstance(part, BodyPartReader):
            raise BadRequest(f"nested multipart parts are not accepted; {self.hint}", code="MALFORMED_MULTIPART")
        return part

    async def chunk(self, part: BodyPartReader, size: int = CHUNK) -> bytes:
        """The next bytes of ``part`` (b"" at its end)."""
        with multipart_errors(self.hint):
            return await part.read_chunk(size)

    async def text(self, part: BodyPartReader, *, max_bytes: int = MAX_FIELD_BYTES) -> str:
        """A short text field, decoded by its charset (UTF-8 unless it says otherwise)."""
        data = b""
        while piece := await self.chunk(part, max(CHUNK_TEXT, max_bytes + 1)):
            data += piece
            if len(data) > max_bytes:
                raise TooLarge(f"the field {part.name!r} is longer than {max_bytes} bytes", code="FIELD_TOO_LARGE")
        with multipart_errors(self.hint):
            return bytes(part.decode(data)).decode(part.get_charset(default="utf-8"))


async def receive_upload(
    request: web.Request, state: CozyGenState, *, fields: tuple[str, ...] = ("image",)
) -> dict[str, Any]:
    """Stream a multipart image into the input folder (size-capped, sniffed); the stored file's details."""
    form = await MultipartForm.open(request, f"send multipart/form-data with the file in a field named {fields[0]!r}")
    part = await form.next()
    if part is None or part.name not in fields:
        hint = f"{fields[0]} field: send the file as the first part, named {fields[0]!r}"
        raise BadRequest(hint, code="MISSING_IMAGE_FIELD")
    input_dir = state.roots["input"]
    partial = input_dir / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}{PARTIAL_SUFFIX}"  # cleaned at start if left
    size = 0
    try:
        with open(partial, "wb") as handle:
            while chunk := await form.chunk(part):
                size += len(chunk)
                check_size(size, state.upload_max_bytes)
                await asyncio.to_thread(handle.write, chunk)
        require(size > 0, "the uploaded file is empty", "EMPTY_UPLOAD")
        subfolder = request.query.get("subfolder", "")
        extras = 0
        while (extra := await form.next()) is not None:
            extras += 1
            if extras > MAX_EXTRA_PARTS:
                raise BadRequest(f"send at most {MAX_EXTRA_PARTS} fields beside the file", code="TOO_MANY_PARTS")
            if extra.name == "subfolder":
                subfolder = (await form.text(extra)).strip()
        folder, sub, _ = resolve(input_dir, clean_relative(subfolder))
        ext, width, height = await asyncio.get_running_loop().run_in_executor(state.image_pool, sniff_image, partial)
        name = stored_name(part.filename, ext)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await record_input(state, request, sub, name)  # before the file appears: no stream shows it to others
        await asyncio.to_thread(os.replace, partial, folder / name)
    finally:
        partial.unlink(missing_ok=True)
    row = await state.gallery.refresh("input", sub, name)
    return {
        "filename": name,
        "size": size,
        "subfolder": sub,
        "type": "input",
        "width": width,
        "height": height,
        "id": row["id"] if row is not None else None,
    }


def thumbnail_response(thumb: Thumbnail, body: bytes | None, versioned: bool) -> web.Response:
    headers = {
        "ETag": thumb.etag,
        "Cache-Control": "private, max-age=31536000, immutable" if versioned else "private, no-cache",
        "Vary": "Accept",
    }
    if body is None:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": thumb.media_type})


async def serve_thumbnail(
    request: web.Request, state: CozyGenState, root: str, subfolder: Any, filename: Any, *, versioned: bool
) -> web.Response:
    """Resolve, make or find, and read a thumbnail in one trip to the image threads."""
    width = clamp_width(request.query.get("w", "384"))
    fmt = "webp" if "image/webp" in request.headers.get("Accept", "") else "jpeg"
    known_etag = request.headers.get("If-None-Match")
    work = functools.partial(
        make_thumbnail, state.thumbnails, state.roots[root], subfolder, filename, width, fmt, known_etag
    )
    thumb, body = await asyncio.get_running_loop().run_in_executor(state.image_pool, work)
    return thumbnail_response(thumb, body, versioned)


def make_thumbnail(
    cache: ThumbnailCache,
    base: Path,
    subfolder: Any,
    filename: Any,
    width: int,
    fmt: str,
    known_etag: str | None,
) -> tuple[Thumbnail, bytes | None]:
    """Resolve, make or find a thumbnail (in an image thread); its bytes unless the client has them already."""
    path, _, name = resolve(base, subfolder, filename)
    if not kind_of(name) or not path.is_file():
        raise NotFound("Source not found", code="SOURCE_NOT_FOUND")
    try:
        thumb = cache.get_or_make(path, width=width, fmt=fmt)
    except FileNotFoundError:
        raise NotFound("Source not found", code="SOURCE_NOT_FOUND") from None
    return thumb, None if known_etag == thumb.etag else thumb.path.read_bytes()


def input_listing(
    conn: Any, sub: str, query: index.FileQuery, exts: tuple[str, ...], show_hidden: bool
) -> tuple[list[Any], list[Any]]:
    """The input folder's subfolders and files of the wanted extensions (in a database reader)."""
    dirs = index.list_dirs(conn, "input", sub, show_hidden=show_hidden)
    files = [f for f in index.list_files(conn, query, limit=None) if not exts or extension(f["filename"]) in exts]
    return dirs, files


class FileRoutes:
    """Uploads, the input folder and thumbnails, over the state's folders, gallery and thumbnail cache."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    @seed_route({"MISSING_IMAGE_FIELD": (BadRequest, "image field")})
    async def upload_image(self, request: web.Request) -> web.Response:
        return json_response(await receive_upload(request, self.state))

    @seed_route({"INVALID_PATH": (BadRequest, "Invalid path")})
    async def list_input(self, request: web.Request) -> web.Response:
        state = self.state
        folder, sub, _ = resolve(state.roots["input"], request.query.get("subfolder", "").rstrip("/"))
        page, per_page = paging(request, "per_page", 50, size_floor=0)
        exts_param = request.query.get("exts")
        exts = (
            INPUT_IMAGE_EXTS
            if exts_param is None
            else tuple(e.strip().lower() for e in exts_param.split(",") if e.strip())
        )
        show_hidden = flag(request, "show_hidden")
        empty = {
            "items": [],
            "page": page,
            "per_page": per_page,
            "total_pages": 0,
            "total_items": 0,
            "cwd": "",
            "base": "input",
        }
        if not await asyncio.to_thread(folder.is_dir):
            return json_response(empty)
        query = index.FileQuery(root="input", subfolder=sub, show_hidden=show_hidden, sort="name", descending=False)
        listing = functools.partial(input_listing, sub=sub, query=query, exts=exts, show_hidden=show_hidden)
        dirs, files = await state.db.execute_fn(listing)
        hidden = await hidden_inputs(request, state, sub)  # per_user: other users' uploads
        files = [f for f in files if f["filename"] not in hidden]
        items = [
            {"name": d["name"], "rel_path": d["path"], "is_dir": True, "size": 0, "mtime": int(d["mtime"])}
            for d in dirs
        ] + [
            {
                "name": f["filename"],
                "rel_path": f"{sub}/{f['filename']}" if sub else f["filename"],
                "is_dir": False,
                "size": f["size"],
                "mtime": int(f["mtime"]),
                "id": f["id"],
            }
            for f in files
        ]
        total = len(items)
        if per_page > 0:
            items = items[(page - 1) * per_page : page * per_page]
        return json_response(
            {
                "items": items,
                "page": page,
                "per_page": per_page,
                "total_pages": (math.ceil(total / per_page) if per_page > 0 else 1) if total else 0,
                "total_items": total,
                "cwd": sub,
                "base": "input",
            }
        )

    @seed_route(
        {
            "INVALID_PATH": (BadRequest, "Invalid path"),
            "SOURCE_NOT_FOUND": (NotFound, "File not found"),
            "IMAGE_NOT_FOUND": (NotFound, "File not found"),
        }
    )
    async def input_file(self, request: web.Request) -> web.StreamResponse:
        if not request.query.get("path", "").strip():
            raise BadRequest("Missing path", code="MISSING_PATH")
        sub, name = split_relative(request.query["path"])
        path, sub, name = resolve(self.state.roots["input"], sub, name)
        await require_visible_path(request, self.state, "input", sub, name)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound("File not found", code="FILE_NOT_FOUND")
        return web.FileResponse(path)

    @seed_route({"INVALID_PATH": (Forbidden, "Invalid path"), "IMAGE_NOT_FOUND": (NotFound, "Source not found")})
    async def thumb(self, request: web.Request) -> web.Response:
        root = "input" if request.query.get("type", "output").lower() == "input" else "output"
        if not request.query.get("filename", "").strip():
            raise BadRequest("Missing filename", code="MISSING_FILENAME")
        subfolder, filename = request.query.get("subfolder", ""), request.query["filename"]
        await require_visible_path(request, self.state, root, subfolder, filename)
        return await serve_thumbnail(request, self.state, root, subfolder, filename, versioned="v" in request.query)

    async def image_thumb(self, request: web.Request) -> web.Response:
        row = await self.state.gallery.get(image_id(request))
        await require_visible(request, self.state, row)
        return await serve_thumbnail(
            request, self.state, row["root"], row["subfolder"], row["filename"], versioned=True
        )

    async def clear_cache(self, _request: web.Request) -> web.Response:
        await asyncio.to_thread(self.state.thumbnails.clear)
        return json_response({"status": "ok", "message": "Cache cleared successfully"})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    files = FileRoutes(state)
    routes.post("/cozygen/upload_image", access=USER)(files.upload_image)
    routes.get("/cozygen/input", access=VIEWER)(files.list_input)
    routes.get("/cozygen/input/file", access=VIEWER)(files.input_file)
    routes.get("/cozygen/thumb", access=VIEWER)(files.thumb)
    routes.get("/cozygen/api/images/{image_id}/thumb", access=VIEWER)(files.image_thumb)
    routes.post("/cozygen/api/clear_cache", access=ADMIN)(files.clear_cache)  # the cache is everyone's
