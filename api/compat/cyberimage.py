"""CyberImage (seed 002) gallery and image routes at /cozygen/compat/cyberimage/api/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from aiohttp import web

from ...core import gallery_index as index
from ...core.access import USER, VIEWER
from ...core.errors import BadRequest
from ..params import integer
from ..responses import json_response
from ..routing import Routes
from ..state import CozyGenState

BASE = "/cozygen/compat/cyberimage/api"


def image_id(request: web.Request) -> int:
    raw = request.match_info["image_id"]
    try:
        return int(raw.removeprefix("img_"))
    except ValueError:
        raise BadRequest(f"unknown image id {raw!r}; use an id from the gallery", code="INVALID_ID") from None


def fields_of(row: Any) -> dict[str, Any]:
    return orjson.loads(row["summary"]) if row["summary"] else {}


def gallery_image(row: Any) -> dict[str, Any]:
    fields = fields_of(row)
    return {
        "id": str(row["id"]),
        "model_id": row["model"],
        "prompt": row["positive"],
        "created_at": dt.datetime.fromtimestamp(row["mtime"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {"num_inference_steps": fields.get("steps"), "guidance_scale": fields.get("cfg")},
    }


def add_routes(routes: Routes, state: CozyGenState) -> None:
    @routes.get(f"{BASE}/gallery", access=VIEWER)
    async def gallery(request: web.Request) -> web.Response:
        page = integer(request, "page", 1, low=1)
        limit = integer(request, "limit", 20, low=1, high=50)
        query = index.FileQuery(
            root="output",
            recursive=True,
            kind="image",
            search=request.query.get("search", "").strip() or None,
            model=request.query.get("model", "").strip() or None,
        )
        rows = await state.db.execute_fn(
            lambda conn: index.list_files(conn, query, offset=(page - 1) * limit, limit=limit)
        )
        total = await state.gallery.count(query)
        return json_response(
            {
                "images": [gallery_image(r) for r in rows],
                "page": page,
                "limit": limit,
                "has_more": page * limit < total,
                "total": total,
            }
        )

    @routes.get(f"{BASE}/get_image/{{image_id}}", access=VIEWER)
    async def get_image(request: web.Request) -> web.StreamResponse:
        row = await state.gallery.get(image_id(request))
        return web.FileResponse(state.gallery.path_of(row))

    @routes.get(f"{BASE}/image/{{image_id}}/metadata", access=VIEWER)
    async def metadata(request: web.Request) -> web.Response:
        row = await state.gallery.get(image_id(request))
        fields = fields_of(row)
        return json_response(
            {
                "model_id": row["model"],
                "prompt": row["positive"],
                "negative_prompt": row["negative"],
                "settings": {
                    "num_inference_steps": fields.get("steps"),
                    "guidance_scale": fields.get("cfg"),
                    "height": row["height"],
                    "width": row["width"],
                },
                "generation_time": row["mtime"],
                "image_number": 1,
                "total_images": 1,
            }
        )

    @routes.delete(f"{BASE}/image/{{image_id}}", access=USER)
    async def delete(request: web.Request) -> web.Response:
        row = await state.gallery.get(image_id(request))
        user = request.get("cozygen_user")
        _, _, errors = await state.gallery.trash([row], by=user.username if user else None)
        if errors:
            raise BadRequest(f"unable to delete the image: {errors[0]}", code="DELETE_FAILED")
        return json_response({"status": "success", "message": "Image deleted successfully"})
