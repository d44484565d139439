"""The MCP tools over CozyGen's services, for one HTTP request: the same caller, checks and services the REST
routes use (api/jobs.py's Caller, the job service, the gallery and its visibility, the workflow store), so an
assistant sees and may do exactly what its user may over REST."""

from __future__ import annotations

import asyncio
import functools
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from ...core.accounts.access import ROLE_LEVELS
from ...core.errors import BadRequest, Forbidden, NotFound, TooLarge
from ...core.gallery import index
from ...core.mcp import views
from ...core.mcp.tools import ORIGINAL_MAX_BYTES, TOOLS, ImagePart, Tool, ToolResult, check_arguments, find
from ..auth.credentials import current_user
from ..files import make_thumbnail
from ..jobs import caller
from ..state import CozyGenState
from ..visibility import require_visible, restricted_to
from ..workflows import callers_store, form_of

ORIGINAL_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                  ".gif": "image/gif"}  # fmt: skip
THUMBNAIL_WIDTH = 384  # the thumbnails generate answers with


class McpTools:
    """The tools one request may call (``request`` is the aiohttp request that carried the MCP message)."""

    def __init__(self, state: CozyGenState, request: web.Request) -> None:
        self.state, self.request = state, request

    def allowed(self, tool: Tool) -> bool:
        """Whether the caller's role reaches the tool's level (everyone, while auth is off)."""
        user = current_user(self.request)
        return user is None or ROLE_LEVELS[user.role] >= ROLE_LEVELS[tool.level]

    def listed(self) -> list[Tool]:
        return [tool for tool in TOOLS if self.allowed(tool)]

    async def call(self, name: str, arguments: Any) -> ToolResult:
        """Run a tool; CozyGen's errors (bad arguments included) propagate for the protocol layer to report."""
        tool = find(name)
        if not self.allowed(tool):
            user = current_user(self.request)
            raise Forbidden(f"{name} needs the {tool.level} role; you are {user.role if user else 'nobody'}",
                            code="ROLE_REQUIRED")  # fmt: skip
        args = check_arguments(tool, arguments)
        method = getattr(self, tool.name)
        try:
            return await method(**args)
        except NotFound as error:
            if error.code != "WORKFLOW_NOT_FOUND":
                raise
            raise NotFound(f"no workflow {args['workflow']!r}: list_workflows names them", code=error.code) from None

    # -- the tools -----------------------------------------------------------------------------------------
    async def list_workflows(self) -> ToolResult:
        store = callers_store(self.state, caller(self.request, self.state))
        return ToolResult({"workflows": await asyncio.to_thread(store.names)})

    async def get_workflow_parameters(self, workflow: str) -> ToolResult:
        store = callers_store(self.state, caller(self.request, self.state))
        parameters = (await form_of(self.state, store, workflow)).schema
        return ToolResult({"workflow": workflow, "parameters": [views.parameter(p.to_dict()) for p in parameters]})

    async def generate(
        self, workflow: str, values: dict[str, Any] | None, num_images: int, wait: bool, timeout_seconds: float
    ) -> ToolResult:
        service, asking = self.state.job_service, caller(self.request, self.state)
        job, _ = await service.submit(asking, workflow, values or {}, num_images=num_images)
        if wait:
            load = functools.partial(service.visible, asking, job.id)
            job = await views.wait_for_end(self.state.job_hub, load, timeout_seconds)
        result = await self.job_result(service.view(job), job.images)
        if wait and not job.finished:
            result.data["note"] = f"still {job.status} after {timeout_seconds:g} s: poll get_job with its job_id"
        if job.finished and result.data["images"]:
            result.images = await self.thumbnails([i["id"] for i in result.data["images"]], THUMBNAIL_WIDTH)
        return result

    async def get_job(self, job_id: str) -> ToolResult:
        service = self.state.job_service
        job = await service.visible(caller(self.request, self.state), job_id)
        return await self.job_result(service.view(job), job.images)

    async def search_gallery(
        self, query: str | None, model: str | None, kind: str, limit: int, cursor: str | None, include_others: bool
    ) -> ToolResult:
        user = current_user(self.request)
        owner = restricted_to(self.request, self.state) if include_others or user is None else user.username
        chosen = index.FileQuery(
            root="output",
            recursive=True,
            kind=kind,
            search=(query or "").strip() or None,
            model=(model or "").strip() or None,
            owner=owner,
        )
        rows = await self.state.db.execute_fn(
            lambda conn: index.list_files(conn, chosen, limit=limit + 1, cursor=cursor or None)
        )
        more, rows = len(rows) > limit, rows[:limit]
        return ToolResult(
            {
                "images": [views.image(row) for row in rows],
                "next_cursor": index.encode_cursor(rows[-1], chosen.sort) if more and rows else None,
            }
        )

    async def fetch_image(self, image_id: int, size: str, max_width: int) -> ToolResult:
        row = await self.visible_row(image_id)
        shown = views.image(row)
        if size == "thumbnail":
            return ToolResult(shown, await self.thumbnails([image_id], max_width))
        suffix = PurePosixPath(row["filename"]).suffix.lower()
        if row["kind"] != "image" or suffix not in ORIGINAL_TYPES:
            raise BadRequest(f"image {image_id} is a {row['kind']} ({suffix or 'no extension'}) that cannot be sent "
                             'as an original image: ask for size "thumbnail"', code="NOT_AN_IMAGE")  # fmt: skip
        if row["size"] > ORIGINAL_MAX_BYTES:
            raise TooLarge(
                f"image {image_id} is {row['size']} bytes, over the {ORIGINAL_MAX_BYTES} a tool answer may carry: "
                'ask for size "thumbnail" (max_width up to 1024)',
                code="IMAGE_TOO_LARGE",
            )
        path = self.state.gallery.path_of(row)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"no image with id {image_id}", code="IMAGE_NOT_FOUND") from None
        if len(data) > ORIGINAL_MAX_BYTES:  # grew since it was indexed
            raise TooLarge(f"image {image_id} is over {ORIGINAL_MAX_BYTES} bytes", code="IMAGE_TOO_LARGE")
        return ToolResult(shown, [ImagePart(data, ORIGINAL_TYPES[suffix])])

    # -- shared --------------------------------------------------------------------------------------------
    async def visible_row(self, image_id: int) -> Any:
        """The gallery file, or 404 as over REST when the caller may not see it."""
        row = await self.state.gallery.get(image_id)
        await require_visible(self.request, self.state, row)
        return row

    async def job_result(self, shown: dict[str, Any], images: list[dict[str, Any]]) -> ToolResult:
        return ToolResult(views.job(shown, await self.state.gallery.rows_of(images)))

    async def thumbnails(self, image_ids: list[int], width: int) -> list[ImagePart]:
        """JPEG thumbnails from the shared thumbnail cache, each checked as visible to the caller."""
        parts = []
        for image_id in image_ids:
            row = await self.visible_row(image_id)
            work = functools.partial(make_thumbnail, self.state.thumbnails, self.state.roots[row["root"]],
                                     row["subfolder"], row["filename"], width, "jpeg", None)  # fmt: skip
            thumb, body = await asyncio.get_running_loop().run_in_executor(self.state.image_pool, work)
            parts.append(ImagePart(body or b"", thumb.media_type))
        return parts
