"""Managing the gallery's files: folders (create, rename, delete), moves, bulk delete, and zips streamed as built.

Bulk routes act on a selection (api/gallery_selection.py: ids, or a listing's query string), which holds only what
the caller may see. Under ``gallery_visibility: per_user`` a user who is not an admin renames or deletes only
folders holding nothing but their own files.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, NotFound, RateLimited, TooLarge
from ..core.gallery.index import ROOTS
from ..core.paths import clean_relative
from .gallery import actor
from .gallery_selection import selected_rows
from .params import bool_field, choice, flag, text_field
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .visibility import restricted_to

if TYPE_CHECKING:  # the zip writer loads with the first zip: importing CozyGen stays cheap
    from ..core.gallery.zipstream import ZipEntry, ZipTickets

log = logging.getLogger("cozygen")
MAX_ZIP_STREAMS = 4  # zips being sent at once (each has a thread)
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


def root_field(body: dict[str, Any]) -> str:
    root = body.get("type", "output")
    if root not in ROOTS:
        raise BadRequest(f"type must be one of {', '.join(ROOTS)}", code="INVALID_TYPE")
    return str(root)


def zip_filename(name: Any, count: int) -> str:
    """The zip's file name: the caller's (made safe, ``.zip`` added), or ``cozygen-<n>-files.zip``."""
    if name is not None and not isinstance(name, str):
        raise BadRequest("name must be text: the zip's file name", code="INVALID_NAME")
    cleaned = _UNSAFE_NAME.sub("_", (name or "").strip()).strip(" ._")[:100]
    if not cleaned:
        return f"cozygen-{count}-files.zip"
    return cleaned if cleaned.lower().endswith(".zip") else f"{cleaned}.zip"


def attachment(filename: str) -> str:
    """A Content-Disposition for ``filename``: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def zip_entries(rows: list[Any], path_of: Any) -> list[ZipEntry]:
    """Each file under its relative path; a selection of both roots puts each under ``output/`` or ``input/``."""
    from ..core.gallery.zipstream import ZipEntry

    mixed = len({row["root"] for row in rows}) > 1
    entries = []
    for row in rows:
        name = f"{row['subfolder']}/{row['filename']}" if row["subfolder"] else row["filename"]
        entries.append(ZipEntry(path_of(row), f"{row['root']}/{name}" if mixed else name))
    return entries


class GalleryManageRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self._tickets: ZipTickets | None = None
        self.streams = 0

    @property
    def tickets(self) -> ZipTickets:
        if self._tickets is None:
            from ..core.gallery.zipstream import ZipTickets

            self._tickets = ZipTickets()
        return self._tickets

    # -- folders ---------------------------------------------------------------------------
    async def create_folder(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        root = root_field(body)
        parent = text_field(body, "parent", "", code="INVALID_PATH")
        made = await self.state.gallery.moves.create_folder(root, parent, body.get("name"))
        return json_response({"ok": True, "type": root, "subfolder": made}, status=201)

    async def rename_folder(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        root = root_field(body)
        subfolder = text_field(body, "subfolder", code="INVALID_PATH")
        owner = restricted_to(request, self.state)
        renamed = await self.state.gallery.moves.rename_folder(root, subfolder, body.get("name"), owner=owner)
        return json_response({"ok": True, "type": root, "subfolder": renamed})

    async def delete_folder(self, request: web.Request) -> web.Response:
        root = choice(request, "type", ROOTS, "output")
        if not request.query.get("subfolder", "").strip():
            raise BadRequest(f"name the folder to delete: ?subfolder=<folder of the {root} folder>", code="ROOT_FOLDER")
        deleted, batch = await self.state.gallery.moves.delete_folder(
            root,
            request.query["subfolder"].strip(),
            trash=flag(request, "trash"),
            owner=restricted_to(request, self.state),
            by=actor(request),
        )
        return json_response({"ok": True, "deleted": deleted, "batch": batch})

    # -- files -----------------------------------------------------------------------------
    async def move(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        to = body.get("to")
        if not isinstance(to, str):
            raise BadRequest(
                'send "to": the destination folder, relative to its root ("" for the top)', code="INVALID_PATH"
            )
        to = clean_relative(to, what="destination folder")
        rename = bool_field(body, "rename", False)
        rows = await selected_rows(request, self.state, body)
        if "type" in body:
            root = root_field(body)
            if any(row["root"] != root for row in rows):
                raise BadRequest(f"the selection holds files outside the {root} folder", code="MIXED_ROOTS")
        report = await self.state.gallery.moves.move(rows, to, rename=rename)
        return json_response({"ok": True, "moved": report.moved, "errors": report.errors})

    async def delete_many(self, request: web.Request) -> web.Response:
        rows = await selected_rows(request, self.state, await read_json(request))
        batch, trashed, errors = await self.state.gallery.trash(rows, by=actor(request))
        answer: dict[str, Any] = {"ok": True, "deleted": len(trashed), "batch": batch, "trash_ids": trashed}
        if errors:
            answer["errors"] = errors
        return json_response(answer)

    # -- zips ------------------------------------------------------------------------------
    async def zip_ticket(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        from ..core.gallery import zipstream

        zip_filename(body.get("name"), 0)  # a bad name is refused before the selection is read
        max_files, max_bytes = zipstream.limits()
        rows = await selected_rows(request, self.state, body, limit=max_files)
        size = sum(int(row["size"] or 0) for row in rows)
        if size > max_bytes:
            raise TooLarge(
                f"the selection is {_gib(size)}; a zip holds at most {_gib(max_bytes)} "
                f"({zipstream.ENV_MAX_BYTES}): select fewer files",
                code="TOO_LARGE",
            )
        name = zip_filename(body.get("name"), len(rows))
        entries = zip_entries(rows, self.state.gallery.path_of)
        ticket = self.tickets.add(actor(request), entries, name=name, size=size)
        return json_response(
            {
                "url": f"/cozygen/api/gallery/zip/{ticket.id}",
                "files": ticket.files,
                "bytes": ticket.bytes,
                "expires_in": int(self.tickets.seconds),
            }
        )

    async def zip_download(self, request: web.Request) -> web.StreamResponse:
        ticket = self.tickets.get(request.match_info["ticket"], actor(request))
        if ticket is None:
            raise NotFound(
                "no such download: it expired (a zip link lasts 10 minutes) or another user asked for it; ask again",
                code="ZIP_NOT_FOUND",
            )
        if self.streams >= MAX_ZIP_STREAMS:
            raise RateLimited(f"{MAX_ZIP_STREAMS} zips are being sent already; try again shortly", retry_after=5)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": attachment(ticket.name),
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            }
        )
        from ..core.gallery.zipstream import ZipStream

        self.streams += 1
        stream = ZipStream(ticket.entries)
        try:
            await response.prepare(request)
            stream.start()
            async for chunk in stream.chunks():
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:  # the client went away: the thread stops at its next chunk
            pass
        except Exception:  # a zip cut short must not look whole: drop the connection before the last chunk
            log.exception("CozyGen: sending a zip failed")
            if request.transport is not None:
                request.transport.abort()
        finally:
            stream.cancel()
            self.streams -= 1
        return response


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def add_routes(routes: Routes, state: CozyGenState) -> None:
    manage = GalleryManageRoutes(state)
    routes.post("/cozygen/api/gallery/folders", access=USER)(manage.create_folder)
    routes.patch("/cozygen/api/gallery/folders", access=USER)(manage.rename_folder)
    routes.delete("/cozygen/api/gallery/folders", access=USER)(manage.delete_folder)
    routes.post("/cozygen/api/gallery/move", access=USER)(manage.move)
    routes.post("/cozygen/api/gallery/delete_many", access=USER)(manage.delete_many)
    routes.post("/cozygen/api/gallery/zip", access=VIEWER)(manage.zip_ticket)
    routes.get("/cozygen/api/gallery/zip/{ticket}", access=VIEWER)(manage.zip_download)
